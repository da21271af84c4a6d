"""Admin: alert rules of an app (/apps/{app_id}/alert-rules)."""

from http import HTTPStatus
from typing import Annotated

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from eventlog_api import AppId, json_response, known_query

from eventlog.delivery import alerts
from eventlog.models.alerts import AlertRule, AlertRuleIn, AlertRulePage, AlertRuleUpdate

logger = Logger(child=True)
router = Router()


@router.post(
    "/apps/<app_id>/alert-rules",
    status_code=HTTPStatus.CREATED,
    summary="Create an alert rule: which events notify, how, how often",
)
def create_rule(app_id: AppId, request: Annotated[AlertRuleIn, Body()]) -> Response[AlertRule]:
    rule = alerts.create_rule(app_id, request)
    logger.info("alert rule created", extra={"app_id": app_id, "rule_id": rule.id})
    return json_response(rule, HTTPStatus.CREATED)


@router.get("/apps/<app_id>/alert-rules", summary="List an app's alert rules")
def list_rules(
    app_id: AppId,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
) -> Response[AlertRulePage]:
    known_query(router, ("limit", "cursor"))
    return json_response(alerts.list_rules(app_id, limit, cursor))


@router.get("/apps/<app_id>/alert-rules/<rule_id>", summary="Get an alert rule")
def get_rule(app_id: AppId, rule_id: str) -> Response[AlertRule]:
    return json_response(alerts.get_rule(app_id, rule_id))


@router.patch(
    "/apps/<app_id>/alert-rules/<rule_id>", summary="Change an alert rule (the fields sent)"
)
def update_rule(
    app_id: AppId, rule_id: str, request: Annotated[AlertRuleUpdate, Body()]
) -> Response[AlertRule]:
    rule = alerts.update_rule(app_id, rule_id, request)
    logger.info("alert rule updated", extra={"app_id": app_id, "rule_id": rule_id})
    return json_response(rule)


@router.delete("/apps/<app_id>/alert-rules/<rule_id>", summary="Delete an alert rule")
def delete_rule(app_id: AppId, rule_id: str) -> Response[AlertRule]:
    rule = alerts.delete_rule(app_id, rule_id)
    logger.info("alert rule deleted", extra={"app_id": app_id, "rule_id": rule_id})
    return json_response(rule)
