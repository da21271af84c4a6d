"""Admin: subscriptions of an app (/apps/{app_id}/subscriptions), forwarded by the propagator."""

from http import HTTPStatus
from typing import Annotated

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from eventlog_api import AppId, json_response, known_query

from eventlog.delivery import subscriptions
from eventlog.models.subscriptions import (
    Subscription,
    SubscriptionIn,
    SubscriptionPage,
    SubscriptionUpdate,
)

logger = Logger(child=True)
router = Router()


@router.post(
    "/apps/<app_id>/subscriptions",
    status_code=HTTPStatus.CREATED,
    summary="Subscribe a URL to an app's new events, in signed batches",
)
def create_subscription(
    app_id: AppId, request: Annotated[SubscriptionIn, Body()]
) -> Response[Subscription]:
    created = subscriptions.create_subscription(app_id, request)
    logger.info("subscription created", extra={"app_id": app_id, "subscription_id": created.id})
    return json_response(created, HTTPStatus.CREATED)


@router.get("/apps/<app_id>/subscriptions", summary="List an app's subscriptions")
def list_subscriptions(
    app_id: AppId,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
) -> Response[SubscriptionPage]:
    known_query(router, ("limit", "cursor"))
    return json_response(subscriptions.list_subscriptions(app_id, limit, cursor))


@router.get(
    "/apps/<app_id>/subscriptions/<subscription_id>",
    summary="Get a subscription and how its deliveries go",
)
def get_subscription(app_id: AppId, subscription_id: str) -> Response[Subscription]:
    return json_response(subscriptions.get_subscription(app_id, subscription_id))


@router.patch(
    "/apps/<app_id>/subscriptions/<subscription_id>",
    summary="Change a subscription (the fields sent); re-enable it",
)
def update_subscription(
    app_id: AppId, subscription_id: str, request: Annotated[SubscriptionUpdate, Body()]
) -> Response[Subscription]:
    updated = subscriptions.update_subscription(app_id, subscription_id, request)
    logger.info(
        "subscription updated", extra={"app_id": app_id, "subscription_id": subscription_id}
    )
    return json_response(updated)


@router.delete("/apps/<app_id>/subscriptions/<subscription_id>", summary="Delete a subscription")
def delete_subscription(app_id: AppId, subscription_id: str) -> Response[Subscription]:
    deleted = subscriptions.delete_subscription(app_id, subscription_id)
    logger.info(
        "subscription deleted", extra={"app_id": app_id, "subscription_id": subscription_id}
    )
    return json_response(deleted)
