"""Seed 001 (event tracker): daily counts, history, hourly frequencies and the histogram."""

from aws_lambda_powertools.event_handler.api_gateway import Router

router = Router()
