"""Every route reaches DynamoDB by key or index only: a Scan on a request path is a defect.

The conftest guard checks this after every test on the fake AWS; here each route is called once
on purpose, with data in place, so no route goes unchecked however the other tests change.
"""

from collections.abc import Callable
from typing import Any

import pytest

from eventlog.access.principal import Role
from eventlog.access.tokens import mint_token
from eventlog.models.admin import TokenIn

# (name, call): call(api, world) makes one request and returns the reply, or the policy.
ROUTES: list[tuple[str, Callable[[Any, dict], Any]]] = [
    ("GET /health", lambda api, w: api.health()),
    ("POST events (one)", lambda api, w: api.ingest(w["app"].id, {"message": "m"})),
    (
        "POST events (one, event_id)",
        lambda api, w: api.ingest(w["app"].id, {"message": "m", "event_id": "e-1"}),
    ),
    (
        "POST events (batch)",
        lambda api, w: api.ingest(
            w["app"].id, [{"message": "a"}, {"message": "b", "event_id": "e-2"}, {"count": 0}]
        ),
    ),
    (
        "POST events (Idempotency-Key)",
        lambda api, w: api.ingest(
            w["app"].id, {"message": "m"}, headers={"Idempotency-Key": "k-1"}
        ),
    ),
    ("GET events", lambda api, w: api.list_events(w["app"].id)),
    (
        "GET events (filters)",
        lambda api, w: api.list_events(
            w["app"].id, level="error", name="n", service="s", since="2026-01-01T00:00:00Z"
        ),
    ),
    ("GET events (offset)", lambda api, w: api.list_events(w["app"].id, limit=1, offset=2)),
    (
        "GET events (cursor)",
        lambda api, w: api.list_events(w["app"].id, limit=1, cursor=w["cursor"]),
    ),
    ("GET event", lambda api, w: api.get_event(w["app"].id, w["event_id"])),
    *[
        (f"GET stats/{route}", lambda api, w, r=route: api.stats(w["app"].id, r))
        for route in ("timeseries", "by-level", "by-name", "top-messages", "hourly")
    ],
    (
        "GET stats/timeseries (by name)",
        lambda api, w: api.stats(w["app"].id, "timeseries", interval="hour", name="n"),
    ),
    (
        "GET stats/timeseries (by minute)",
        lambda api, w: api.stats(w["app"].id, "timeseries", interval="minute", level="error"),
    ),
    (
        "GET stats/by-level (by service)",
        lambda api, w: api.stats(w["app"].id, "by-level", service="s"),
    ),
    ("GET stats/hourly.png", lambda api, w: api.hourly_png(w["app"].id, tz="Asia/Kolkata")),
    ("DELETE events?name=", lambda api, w: api.delete_events(w["app"].id, name="n")),
    ("DELETE event", lambda api, w: api.delete_event(w["app"].id, w["event_id"])),
    ("POST /apps/{name}", lambda api, w: api.create_app("another")),
    ("GET /apps", lambda api, w: api.list_apps(limit=1)),
    ("GET /apps (cursor)", lambda api, w: api.list_apps(limit=1, cursor=w["app"].id)),
    ("GET /apps/{id}", lambda api, w: api.get_app(w["app"].id)),
    ("POST /keys", lambda api, w: api.create_key({"role": "user", "app_id": w["app"].id})),
    ("POST /keys (admin)", lambda api, w: api.create_key({"role": "admin"})),
    ("GET /keys", lambda api, w: api.list_keys(limit=1)),
    ("GET /keys (app)", lambda api, w: api.list_keys(app_id=w["app"].id)),
    ("DELETE /keys/{id}", lambda api, w: api.revoke_key(w["user_key"].id)),
    ("POST /tokens", lambda api, w: api.create_token({"role": "user", "app_id": w["app"].id})),
    (
        "authorizer (x-api-key)",
        lambda api, w: api.authorize({"x-api-key": w["user_key"].key}, app_id=w["app"].id),
    ),
    (
        "authorizer (admin key)",
        lambda api, w: api.authorize({"x-api-key": w["admin_key"].key}, app_id=w["app"].id),
    ),
    (
        "authorizer (X-INGEST-KEY)",
        lambda api, w: api.authorize(
            {"X-INGEST-KEY": w["app"].ingest_key}, "POST", app_id=w["app"].id
        ),
    ),
    (
        "authorizer (Bearer)",
        lambda api, w: api.authorize({"Authorization": f"Bearer {w['token']}"}, app_id=w["app"].id),
    ),
]


@pytest.fixture
def world(api, app, user_key, admin_key) -> dict:
    """An app with events, a user and an admin key, a token and a page cursor."""
    created = api.ingest(app.id, [{"message": f"m{i}", "level": "error"} for i in range(3)])
    assert created.status == 201
    return {
        "app": app,
        "user_key": user_key,
        "admin_key": admin_key,
        "event_id": created.body["items"][0]["id"],
        "cursor": api.list_events(app.id, limit=1).body["next_cursor"],
        "token": mint_token(TokenIn(role=Role.USER, app_id=app.id)).token,
    }


@pytest.mark.parametrize(("route", "call"), ROUTES, ids=[route for route, _ in ROUTES])
def test_route_uses_keys_and_indexes_only(api, world, dynamodb_calls, route, call):
    dynamodb_calls.clear()
    reply = call(api, world)
    status = getattr(reply, "status", 200)
    assert status < 300, (route, getattr(reply, "text", reply))
    if route not in ("GET /health", "POST /tokens"):  # the only two that need no table
        assert dynamodb_calls.operations, "the guard saw no DynamoDB call at all"
    assert not dynamodb_calls.forbidden(), f"{route}: {dynamodb_calls.operations}"


def test_the_guard_sees_a_scan(aws, dynamodb_calls):
    from eventlog.storage import db

    db.client().scan(TableName=db.events_table().name, Limit=1)
    assert dynamodb_calls.forbidden() == ["Scan"]
    dynamodb_calls.clear()  # seen: the guard at teardown has nothing left to object to
