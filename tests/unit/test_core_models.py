"""eventlog.models: what the API accepts and refuses, field by field."""

from datetime import UTC, datetime

import pytest
from pydantic import TypeAdapter, ValidationError

from eventlog.access.principal import Principal, Role
from eventlog.models.admin import KeyIn, TokenIn
from eventlog.models.base import AppName, Level
from eventlog.models.events import EventIn, EventQuery


def refused_fields(model, data) -> set[str]:
    with pytest.raises(ValidationError) as caught:
        model.model_validate(data)
    return {".".join(str(part) for part in error["loc"]) for error in caught.value.errors()}


# ---------------------------------------------------------------- EventIn


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"message": "m"}, {"message": "m", "level": Level.INFO, "count": 1}),
        ({"name": "signup"}, {"name": "signup", "level": Level.INFO}),
        ({"message": "m", "level": "error"}, {"level": Level.ERROR}),
        ({"message": "m", "level": "Critical"}, {"level": Level.CRITICAL}),
        ({"message": "m", "level": "DEBUG"}, {"level": Level.DEBUG}),
        ({"message": "m", "count": 1_000_000}, {"count": 1_000_000}),
        (
            {"message": "m", "occurred_at": "2026-02-10T12:00:00+02:00"},
            {"occurred_at": datetime(2026, 2, 10, 10, tzinfo=UTC)},
        ),
        (
            {"message": "m", "occurred_at": "2026-02-10T10:00:00"},
            {"occurred_at": datetime(2026, 2, 10, 10, tzinfo=UTC)},
        ),
        (
            {"message": "m", "sent_at": "2026-02-10T11:00:00+01:00"},
            {"sent_at": datetime(2026, 2, 10, 10, tzinfo=UTC)},
        ),
        ({"message": "m", "event_id": "a-Z_0.9:@/+="}, {"event_id": "a-Z_0.9:@/+="}),
        ({"message": "m", "event_id": "x" * 128}, {"event_id": "x" * 128}),
        ({"message": "x" * 10_000}, {"message": "x" * 10_000}),
        ({"name": "n" * 200}, {"name": "n" * 200}),
        ({"name": "ünïcödé ✓"}, {"name": "ünïcödé ✓"}),
        ({"message": "m", "data": {}}, {"data": {}}),
        ({"message": "m", "tags": {"a": [1, {"b": None}]}}, {"tags": {"a": [1, {"b": None}]}}),
        ({"message": "", "name": "n"}, {"message": "", "name": "n"}),
    ],
)
def test_event_in_accepts(data, expected):
    event = EventIn.model_validate(data)
    assert {field: getattr(event, field) for field in expected} == expected


@pytest.mark.parametrize(
    ("data", "fields"),
    [
        ({}, {""}),
        ({"level": "info"}, {""}),
        ({"message": ""}, {""}),
        ({"message": None, "name": None}, {""}),
        ({"message": "m", "level": "LOUD"}, {"level"}),
        ({"message": "m", "level": 40}, {"level"}),
        ({"message": "m", "level": ""}, {"level"}),
        ({"message": "m", "count": 0}, {"count"}),
        ({"message": "m", "count": 1_000_001}, {"count"}),
        ({"message": "m", "count": "2"}, {"count"}),
        ({"message": "m", "count": 2.0}, {"count"}),
        ({"message": "m", "count": True}, {"count"}),
        ({"message": "m", "occurred_at": "yesterday"}, {"occurred_at"}),
        ({"message": "m", "occurred_at": "2026-13-01T00:00:00Z"}, {"occurred_at"}),
        ({"message": "m", "sent_at": "later"}, {"sent_at"}),
        ({"message": 1}, {"message"}),
        ({"message": "x" * 10_001}, {"message"}),
        ({"name": ""}, {"name"}),
        ({"name": "n" * 201}, {"name"}),
        ({"name": "tab\there"}, {"name"}),
        ({"message": "m", "service": "line\nbreak"}, {"service"}),
        ({"message": "m", "data": "text"}, {"data"}),
        ({"message": "m", "stack": ["frame"]}, {"stack"}),
        ({"message": "m", "tags": 1}, {"tags"}),
        ({"message": "m", "event_id": ""}, {"event_id"}),
        ({"message": "m", "event_id": "x" * 129}, {"event_id"}),
        ({"message": "m", "event_id": "a b"}, {"event_id"}),
        ({"message": "m", "event_id": 7}, {"event_id"}),
        ({"message": "m", "id": "01JKZ0000000000000000000AA"}, {"id"}),
        ({"message": "m", "received_at": "2026-02-10T10:00:00Z"}, {"received_at"}),
        ({"message": "m", "app_id": 2}, {"app_id"}),
        (
            {"message": 1, "level": "x", "count": 0, "colour": "red"},
            {"message", "level", "count", "colour"},
        ),
    ],
)
def test_event_in_refuses(data, fields):
    assert refused_fields(EventIn, data) == fields


# ---------------------------------------------------------------- EventQuery


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({}, {"limit": 20, "offset": 0, "cursor": None, "level": None}),
        ({"limit": "1"}, {"limit": 1}),
        ({"limit": 50}, {"limit": 50}),
        ({"offset": 10_000}, {"offset": 10_000}),
        ({"level": "warning"}, {"level": Level.WARNING}),
        (
            {"since": "2026-02-10T10:00:00Z", "until": "2026-02-10T10:00:01Z"},
            {"since": datetime(2026, 2, 10, 10, tzinfo=UTC)},
        ),
        ({"since": "2026-02-10T12:00:00+02:00"}, {"since": datetime(2026, 2, 10, 10, tzinfo=UTC)}),
        ({"cursor": "abc", "offset": 0}, {"cursor": "abc"}),
    ],
)
def test_event_query_accepts(data, expected):
    query = EventQuery.model_validate(data)
    assert {field: getattr(query, field) for field in expected} == expected


@pytest.mark.parametrize(
    ("data", "fields"),
    [
        ({"limit": 0}, {"limit"}),
        ({"limit": 51}, {"limit"}),
        ({"limit": "many"}, {"limit"}),
        ({"offset": -1}, {"offset"}),
        ({"offset": 10_001}, {"offset"}),
        ({"level": "LOUD"}, {"level"}),
        ({"name": ""}, {"name"}),
        ({"since": "yesterday"}, {"since"}),
        ({"until": "2026-02-30"}, {"until"}),
        ({"since": "2026-02-10T11:00:00Z", "until": "2026-02-10T10:00:00Z"}, {""}),
        ({"since": "2026-02-10T10:00:00Z", "until": "2026-02-10T10:00:00Z"}, {""}),
        ({"cursor": "abc", "offset": 5}, {""}),
        ({"cursor": "x" * 2049}, {"cursor"}),
        ({"colour": "red"}, {"colour"}),
    ],
)
def test_event_query_refuses(data, fields):
    assert refused_fields(EventQuery, data) == fields


# ---------------------------------------------------------------- names, keys, tokens, principals


@pytest.mark.parametrize("name", ["a", "Shop", "my-app", "my_app.v2", "A1-b2_c3.d4", "x" * 64])
def test_app_name_accepts(name):
    assert TypeAdapter(AppName).validate_python(name) == name


@pytest.mark.parametrize(
    "name", ["", "1app", "-app", "_app", ".app", "my app", "app!", "ü", "x" * 65, "a/b"]
)
def test_app_name_refuses(name):
    with pytest.raises(ValidationError):
        TypeAdapter(AppName).validate_python(name)


@pytest.mark.parametrize(
    "data",
    [
        {"role": "admin"},
        {"role": "admin", "label": "ops"},
        {"role": "user", "app_id": 1},
        {"role": "ingest", "app_id": 7, "label": "ci"},
    ],
)
def test_key_in_accepts(data):
    assert KeyIn.model_validate(data).role is Role(data["role"])


@pytest.mark.parametrize(
    ("data", "fields"),
    [
        ({}, {"role"}),
        ({"role": "owner"}, {"role"}),
        ({"role": "ADMIN"}, {"role"}),
        ({"role": "admin", "app_id": 1}, {""}),
        ({"role": "user"}, {""}),
        ({"role": "ingest"}, {""}),
        ({"role": "user", "app_id": 0}, {"app_id"}),
        ({"role": "user", "app_id": 1, "label": ""}, {"label"}),
        ({"role": "user", "app_id": 1, "label": "x" * 201}, {"label"}),
        ({"role": "user", "app_id": 1, "key": "mine"}, {"key"}),
    ],
)
def test_key_in_refuses(data, fields):
    assert refused_fields(KeyIn, data) == fields


@pytest.mark.parametrize(
    "data",
    [
        {"role": "admin"},
        {"role": "user", "app_id": 1, "expires_in": 60},
        {"role": "ingest", "app_id": 1, "expires_in": 31_536_000, "subject": "ci"},
    ],
)
def test_token_in_accepts(data):
    token = TokenIn.model_validate(data)
    assert token.role is Role(data["role"])
    assert token.expires_in == data.get("expires_in", 3600)
    assert token.subject == data.get("subject", "eventlog-client")


@pytest.mark.parametrize(
    ("data", "fields"),
    [
        ({"role": "root"}, {"role"}),
        ({"role": "user"}, {""}),
        ({"role": "admin", "app_id": 3}, {""}),
        ({"role": "admin", "expires_in": 59}, {"expires_in"}),
        ({"role": "admin", "expires_in": 31_536_001}, {"expires_in"}),
        ({"role": "admin", "subject": ""}, {"subject"}),
        ({"role": "admin", "claims": {}}, {"claims"}),
    ],
)
def test_token_in_refuses(data, fields):
    assert refused_fields(TokenIn, data) == fields


@pytest.mark.parametrize(
    ("data", "app_id", "may"),
    [
        ({"role": "admin", "key_id": "k"}, 5, True),
        ({"role": "user", "app_id": 5, "key_id": "k"}, 5, True),
        ({"role": "user", "app_id": 5, "key_id": "k"}, 6, False),
        ({"role": "ingest", "app_id": 5, "key_id": "k"}, 6, False),
    ],
)
def test_principal_may_use_its_own_app_only_unless_admin(data, app_id, may):
    assert Principal(**data).may_use_app(app_id) is may


@pytest.mark.parametrize("role", ["user", "ingest"])
def test_principal_outside_admin_needs_an_app(role):
    with pytest.raises(ValueError, match="needs an app"):
        Principal(role=role, key_id="k")
