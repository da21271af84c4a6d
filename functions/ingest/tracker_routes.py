"""Seed 001 (event tracker): POST /api/v1/events/{name}."""

from aws_lambda_powertools.event_handler.api_gateway import Router

router = Router()
