"""Admin: apps, keys, bearer tokens, deleting events, alert rules and subscriptions (admin
credentials only; the authorizer enforces it)."""

from http import HTTPStatus
from typing import Annotated

import alert_rule_routes
import subscription_routes
import tracker_admin_routes
from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from deletion_deadline import DELETION_RESPONSES, Cursor, deletion_deadline, with_cursor
from eventlog_api import AppId, create_resolver, json_response, known_query

from eventlog.access import apps, keys, tokens
from eventlog.access.auth import JTI_PATTERN
from eventlog.base.config import get_settings
from eventlog.events import deletion
from eventlog.models.admin import (
    App,
    AppCreated,
    AppPage,
    Key,
    KeyCreated,
    KeyIn,
    KeyPage,
    TokenIn,
    TokenOut,
    TokenRevoked,
)
from eventlog.models.base import AppName, Label
from eventlog.models.events import Event, EventsDeleted

# A missing setting stops the cold start here, named, rather than some request later.
get_settings()
logger = Logger()
app = create_resolver()
app.include_router(alert_rule_routes.router)
app.include_router(subscription_routes.router)
app.include_router(tracker_admin_routes.router)

PageLimit = Annotated[int, Query(ge=1, le=100)]


@app.post(
    "/apps/<app_id>",
    status_code=HTTPStatus.CREATED,
    summary="Create an app; its ingest key is returned this once",
)
def create_app(
    app_id: Annotated[AppName, Path(description="The new app's name")],
) -> Response[AppCreated]:
    # API Gateway allows one variable name per path level, so the name arrives as {app_id}.
    created = apps.create_app(app_id)
    logger.info("app created", extra={"app_id": created.id, "app_name": created.name})
    return json_response(created, HTTPStatus.CREATED)


@app.get("/apps", summary="List the apps")
def list_apps(
    limit: PageLimit = 20, cursor: Annotated[int | None, Query(ge=0)] = None
) -> Response[AppPage]:
    known_query(app, ("limit", "cursor"))
    return json_response(apps.list_apps(limit, cursor))


@app.get("/apps/<app_id>", summary="Get an app")
def get_app(app_id: AppId) -> Response[App]:
    return json_response(apps.get_app(app_id))


@app.post(
    "/keys",
    status_code=HTTPStatus.CREATED,
    summary="Create an admin, user or ingest key; the key is returned this once",
)
def create_key(request: Annotated[KeyIn, Body()]) -> Response[KeyCreated]:
    created = keys.create_key(request)
    logger.info("key created", extra={"key_id": created.id, "role": created.role})
    return json_response(created, HTTPStatus.CREATED)


@app.get("/keys", summary="List keys (never their values), or one app's")
def list_keys(
    limit: PageLimit = 20,
    cursor: Annotated[str | None, Query(max_length=40)] = None,
    app_id: Annotated[int | None, Query(ge=1)] = None,
) -> Response[KeyPage]:
    known_query(app, ("limit", "cursor", "app_id"))
    return json_response(keys.list_keys(limit, cursor, app_id))


@app.delete("/keys/<key_id>", summary="Revoke a key")
def revoke_key(key_id: str) -> Response[Key]:
    revoked = keys.revoke_key(key_id)
    logger.info("key revoked", extra={"key_id": key_id})
    return json_response(revoked)


@app.post(
    "/tokens",
    status_code=HTTPStatus.CREATED,
    summary="Mint a bearer token (a JWT with a role and an app)",
)
def create_token(request: Annotated[TokenIn, Body()]) -> Response[TokenOut]:
    minted = tokens.mint_token(request)
    logger.info("token minted", extra={"jti": minted.jti, "role": request.role.value})
    return json_response(minted, HTTPStatus.CREATED)


@app.delete("/tokens/<jti>", summary="Revoke a bearer token before it expires")
def revoke_token(
    jti: Annotated[str, Path(pattern=JTI_PATTERN, description="The token's jti")],
) -> Response[TokenRevoked]:
    revoked = tokens.revoke_token(jti)
    logger.info("token revoked", extra={"jti": jti})
    return json_response(revoked)


@app.delete(
    "/apps/<app_id>/events",
    responses=DELETION_RESPONSES,
    summary="Delete every event of a name, and its counts",
)
def delete_events_named(
    app_id: AppId,
    name: Annotated[Label, Query(description="Delete every event of this name")],
    cursor: Cursor = None,
) -> Response[EventsDeleted]:
    result = deletion.delete_named(app_id, name, deletion_deadline(app.lambda_context), cursor)
    logger.info(
        "events deleted by name",
        extra={"app_id": app_id, "event_name": name, "deleted": result.summary.deleted},
    )
    return with_cursor(json_response(result.summary), result.cursor)


@app.delete("/apps/<app_id>/events/<event_id>", summary="Delete an event, and its counts")
def delete_event(app_id: AppId, event_id: str) -> Response[Event]:
    deleted = deletion.delete_event(app_id, event_id)
    logger.info("event deleted", extra={"app_id": app_id, "event_id": event_id})
    return json_response(deleted)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
