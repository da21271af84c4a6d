"""Seed 000 (event logging): GET /events and GET /events/{event_id}."""

from aws_lambda_powertools.event_handler.api_gateway import Router

router = Router()
