"""The API's documentation: GET /docs (Swagger UI) and GET /openapi.json."""

from aws_lambda_powertools.event_handler.api_gateway import Router

router = Router()
