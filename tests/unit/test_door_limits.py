"""Limits at the door (eventlog_api): every request body is UTF-8, its JSON well-formed, at most
MAX_JSON_DEPTH deep, with finite numbers of bounded size and no lone surrogates, and times lie
in the bounds (eventlog.models.base), or the request is a JSON 400 naming the problem and nothing
is stored. Properties (hypothesis, derandomized) and examples through the handlers."""

import base64
import json
import math
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from eventlog_api import MAX_JSON_DEPTH, MAX_NUMBER_DIGITS, RequestEvent, parse_json
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from eventlog.base.errors import InvalidInputError
from eventlog.models.base import EARLIEST_TIME, LATEST_TIME
from eventlog.models.events import EventIn
from tests.support.handlers import (
    HttpResponse,
    invoke_http,
    sample_event,
    set_caller,
    set_headers,
    set_path,
    set_query,
)

# Fast and the same on every run.
PURE = settings(derandomize=True, max_examples=150, deadline=None)
# Through a handler on moto: fewer examples; the fixtures' state is shared by the examples.
HANDLER = settings(
    derandomize=True,
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
EVENTS = "/apps/{app_id}/events"
RULE = "/apps/{app_id}/alert-rules/{rule_id}"
FORM = "application/x-www-form-urlencoded"


def send(
    function: str,
    method: str,
    resource: str,
    body: bytes | str | None,
    *,
    role: str = "ingest",
    caller_app: int | None = None,
    headers: dict[str, str | None] | None = None,
    query: dict[str, Any] | None = None,
    **path: Any,
) -> HttpResponse:
    """A request as API Gateway passes it; bytes are sent base64-encoded, as the API's binary
    media types (*/*) have every body sent."""
    event = sample_event("stats_timeseries")
    event["httpMethod"] = event["requestContext"]["httpMethod"] = method
    event["resource"] = event["requestContext"]["resourcePath"] = resource
    set_query(set_path(event, **path), query)
    if isinstance(body, bytes):
        event["body"], event["isBase64Encoded"] = base64.b64encode(body).decode(), True
    else:
        event["body"], event["isBase64Encoded"] = body, False
    set_headers(event, headers or {})
    set_caller(event, role, caller_app, f"k_{role}_tests")
    return invoke_http(function, event)


def ingest(app_id: int, body: bytes | str, **headers: str) -> HttpResponse:
    return send("ingest", "POST", EVENTS, body, caller_app=app_id, headers=headers, app_id=app_id)


def assert_refused(reply: HttpResponse, *words: str) -> None:
    assert reply.status == 400, reply.text
    assert reply.content_type == "application/json"
    assert reply.body["error"] == "VALIDATION_ERROR"
    for word in words:
        assert word in reply.body["message"], reply.body


def nested(depth: int, kind: str = "list") -> str:
    """JSON text of `depth` nested containers around a 1."""
    if kind == "list":
        return "[" * depth + "1" + "]" * depth
    return '{"a":' * depth + "1" + "}" * depth


def event_text(**fields: Any) -> str:
    return json.dumps({"message": "door", **fields})


# The hostile bodies, each with the words its 400 must say.
HOSTILE: dict[str, tuple[bytes | str, str]] = {
    "not UTF-8": (b'{"message": "caf\xe9"}', "not UTF-8"),
    "UTF-16": ('{"message": "x"}'.encode("utf-16"), "not UTF-8"),
    "33 deep": (f'{{"message": "x", "data": {nested(32, "dict")}}}', "nests deeper than 32"),
    "10,000 deep arrays": (nested(10_000), "nests deeper than 32"),
    "40,000 deep objects": (nested(40_000, "dict"), "nests deeper than 32"),
    "a 1000-digit integer": ('{"message": "x", "count": ' + "9" * 1000 + "}", "1000 digits"),
    "a 39-digit integer": ('{"message": "x", "data": {"n": -' + "1" * 39 + "}}", "39 digits"),
    "NaN": ('{"message": "x", "data": {"n": NaN}}', "NaN is not a JSON number"),
    "Infinity": ('{"message": "x", "data": {"n": Infinity}}', "Infinity is not a JSON number"),
    "-Infinity": ('{"message": "x", "data": {"n": -Infinity}}', "-Infinity is not"),
    "1e999": ('{"message": "x", "data": {"n": 1e999}}', "too large"),
    "-1e400": ('{"message": "x", "data": {"n": -1e400}}', "too large"),
    "a lone surrogate": ('{"message": "x\\ud800"}', "message holds a lone surrogate"),
    "a lone low surrogate in a key": ('{"message": "x", "data": {"\\udc00": 1}}', "lone surr"),
    "malformed": ('{"message": "x",', "malformed JSON"),
}


# ---------------------------------------------------------------- properties of the door


@PURE
@given(
    depth=st.integers(MAX_JSON_DEPTH + 1, 5000),
    kinds=st.lists(st.sampled_from(["list", "dict"]), min_size=1, max_size=4),
)
def test_anything_nested_deeper_than_the_limit_is_refused(depth, kinds):
    text = "1"
    for level in range(depth):
        kind = kinds[level % len(kinds)]
        text = f"[{text}]" if kind == "list" else f'{{"k": {text}}}'
    with pytest.raises(InvalidInputError, match="nests deeper than 32") as refused:
        parse_json(text)
    assert refused.value.details == [{"field": "body", "message": refused.value.message}]


@PURE
@given(depth=st.integers(0, MAX_JSON_DEPTH), kind=st.sampled_from(["list", "dict"]))
def test_up_to_the_limit_is_accepted(depth, kind):
    value = parse_json(nested(depth, kind))
    for _ in range(depth):
        value = value[0] if kind == "list" else value["a"]
    assert value == 1


@PURE
@given(
    text=st.text(max_size=30),
    surrogate=st.integers(0xD800, 0xDFFF).map(chr),
    position=st.integers(0, 30),
    as_key=st.booleans(),
)
def test_any_string_with_a_lone_surrogate_is_refused(text, surrogate, position, as_key):
    bad = text[:position] + surrogate + text[position:]
    body = json.dumps({bad: 1} if as_key else {"message": [bad]})  # \\udXXX escapes
    with pytest.raises(InvalidInputError, match="lone surrogate"):
        parse_json(body)


@PURE
@given(body=st.binary(min_size=1, max_size=200))
def test_any_body_not_utf8_is_refused_before_parsing(body):
    try:
        body.decode()
    except UnicodeDecodeError:
        pass
    else:
        assume(False)
    event = RequestEvent({"body": base64.b64encode(body).decode(), "isBase64Encoded": True})
    with pytest.raises(InvalidInputError, match="not UTF-8"):
        event.json_body  # noqa: B018 - the property reads it


JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(10**MAX_NUMBER_DIGITS) + 1, 10**MAX_NUMBER_DIGITS - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children),
    max_leaves=25,
)


@PURE
@given(value=JSON_VALUES, ensure_ascii=st.booleans())
def test_any_finite_json_within_the_limits_round_trips(value, ensure_ascii):
    text = json.dumps(value, ensure_ascii=ensure_ascii)
    assert parse_json(text) == value
    assert RequestEvent({"body": text, "isBase64Encoded": False}).json_body == value


@PURE
@given(
    digits=st.integers(MAX_NUMBER_DIGITS + 1, 4400),
    negative=st.booleans(),
)
def test_integers_longer_than_dynamodb_keeps_are_refused(digits, negative):
    number = ("-" if negative else "") + "7" * digits
    with pytest.raises(InvalidInputError, match=f"{digits} digits"):
        parse_json(f'{{"n": {number}}}')


@PURE
@given(mantissa=st.integers(1, 9), exponent=st.integers(309, 100_000), sign=st.sampled_from("-+"))
def test_numbers_overflowing_a_double_are_refused(mantissa, exponent, sign):
    with pytest.raises(InvalidInputError, match="too large"):
        parse_json(f"[{sign.strip('+')}{mantissa}.5e{exponent}]")


OFFSETS = st.integers(-(24 * 60 - 1), 24 * 60 - 1).map(lambda m: timezone(timedelta(minutes=m)))
ANY_TIME = st.builds(
    lambda moment, offset: moment.replace(tzinfo=offset).isoformat(),
    # Half near the bounds (either side of them), half anywhere datetime reaches.
    st.datetimes(min_value=datetime(1969, 12, 30), max_value=datetime(2200, 1, 2))
    | st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59)),
    OFFSETS,
)


@PURE
@given(occurred_at=ANY_TIME, sent_at=ANY_TIME | st.none())
def test_any_time_with_any_offset_is_accepted_within_the_bounds_or_refused(occurred_at, sent_at):
    body = {"message": "x", "occurred_at": occurred_at, "sent_at": sent_at}
    try:
        event = EventIn.model_validate(body)
    except ValidationError as error:
        assert {item["loc"][0] for item in error.errors()} <= {"occurred_at", "sent_at"}
        return
    assert event.occurred_at is not None
    assert event.occurred_at.tzinfo == UTC
    assert EARLIEST_TIME <= event.occurred_at <= LATEST_TIME
    assert event.sent_at is None or EARLIEST_TIME <= event.sent_at <= LATEST_TIME


# ---------------------------------------------------------------- properties through the handler


@HANDLER
@given(occurred_at=ANY_TIME, sent_at=ANY_TIME | st.none())
def test_times_anywhere_get_a_201_or_a_400_naming_them_never_a_5xx(api, app, occurred_at, sent_at):
    before = len(api.all_events(app.id))
    reply = ingest(app.id, event_text(occurred_at=occurred_at, sent_at=sent_at))
    assert reply.status in (201, 400), reply.text
    stored = api.all_events(app.id)
    if reply.status == 400:
        assert {detail["field"] for detail in reply.body["details"]} <= {"occurred_at", "sent_at"}
        assert len(stored) == before
    else:
        occurred = datetime.fromisoformat(reply.body["occurred_at"])
        assert EARLIEST_TIME <= occurred <= LATEST_TIME
        assert len(stored) == before + 1


@HANDLER
@given(depth=st.integers(MAX_JSON_DEPTH, 400), batch=st.booleans())
def test_deep_data_is_refused_whole_by_the_native_route(api, app, depth, batch):
    event = f'{{"message": "x", "data": {nested(depth, "dict")}}}'
    reply = ingest(app.id, f"[{event}]" if batch else event)
    assert_refused(reply, "nests deeper than 32")
    assert api.all_events(app.id) == []


# ---------------------------------------------------------------- every hostile class, by route


def test_the_native_route_refuses_each_hostile_body_and_stores_nothing(api, app):
    for body, words in HOSTILE.values():
        assert_refused(ingest(app.id, body), words)
        assert_refused(ingest(app.id, f"[{body}]" if isinstance(body, str) else body), words)
    assert api.all_events(app.id) == []
    assert ingest(app.id, event_text()).status == 201  # and the app still answers
    assert len(api.all_events(app.id)) == 1


def test_seed_000_refuses_each_hostile_body_and_stores_nothing(api, app):
    for body, words in HOSTILE.values():
        assert_refused(send("ingest", "POST", "/events", body, caller_app=app.id), words)
    assert api.all_events(app.id) == []


def test_seed_002_refuses_each_hostile_body_with_its_own_answer(api, app):
    for body in [*(body for body, _ in HOSTILE.values()), "", " \n"]:
        reply = send("ingest", "POST", "/logs", body, caller_app=app.id)
        assert (reply.status, reply.body) == (400, {"error": "Invalid log data"}), body[:50]
    assert api.all_events(app.id) == []


def test_seed_003_refuses_each_hostile_body_and_stores_nothing(api, app):
    for body, words in HOSTILE.values():
        assert_refused(send("ingest", "POST", "/api/event", body, caller_app=app.id), words)
    assert api.all_events(app.id) == []


def test_a_model_parameter_route_refuses_each_hostile_body(api, aws, app):
    # POST /keys: Powertools parses the body for its Body() parameter, through the same door.
    keys = api.admin_request("GET", "/keys", query={"app_id": app.id}).body["items"]
    for body, words in HOSTILE.values():
        assert_refused(send("admin", "POST", "/keys", body, role="admin"), words)
    assert api.admin_request("GET", "/keys", query={"app_id": app.id}).body["items"] == keys


# ---------------------------------------------------------------- content types


@pytest.mark.parametrize("content_type", [FORM, "text/plain", "application/json; charset=utf-8"])
def test_a_json_body_is_json_whatever_its_content_type(api, aws, app, content_type):
    headers = {"Content-Type": content_type}
    key = json.dumps({"role": "user", "app_id": app.id})
    created = send("admin", "POST", "/keys", key, role="admin", headers=headers)
    assert created.status == 201, created.text
    assert created.body["role"] == "user"
    token = json.dumps({"role": "user", "app_id": app.id})
    minted = send("admin", "POST", "/tokens", token, role="admin", headers=headers)
    assert minted.status == 201, minted.text
    assert ingest(app.id, event_text(), **headers).status == 201


def test_a_form_encoded_body_is_malformed_json_not_an_invalid_role(aws):
    reply = send("admin", "POST", "/keys", "role=user&app_id=1", role="admin")
    assert_refused(reply, "malformed JSON")


@pytest.mark.parametrize("content_type", ["application/xml", "multipart/form-data", FORM, "x/y"])
def test_patch_with_any_content_type_reads_json_and_never_fails(api, aws, app, content_type):
    (rule,) = api.admin_request("GET", "/apps/{app_id}/alert-rules", app_id=app.id).body["items"]
    path = {"app_id": app.id, "rule_id": rule["id"]}
    headers = {"Content-Type": content_type}
    bad = send(
        "admin", "PATCH", RULE, "<enabled>no</enabled>", role="admin", headers=headers, **path
    )
    assert_refused(bad, "malformed JSON")
    good = send("admin", "PATCH", RULE, '{"enabled": false}', role="admin", headers=headers, **path)
    assert (good.status, good.body["enabled"]) == (200, False)


# ---------------------------------------------------------------- times


@pytest.mark.parametrize(
    "occurred_at",
    [
        "0001-01-01T00:00:00+01:00",
        "0001-01-01T00:30:00+23:59",
        "9999-12-31T23:59:59-01:00",
        "9999-12-31T23:00:00-23:59",
        "1969-12-31T23:59:59Z",
        "2200-01-01T00:00:01Z",
        "2200-01-01T00:00:00-00:01",
    ],
)
def test_times_out_of_bounds_or_overflowing_are_400_naming_the_field(api, app, occurred_at):
    reply = ingest(app.id, event_text(occurred_at=occurred_at))
    assert_refused(reply, "invalid event")
    assert reply.body["details"][0]["field"] == "occurred_at"
    assert "1970-01-01T00:00:00Z .. 2200-01-01T00:00:00Z" in reply.body["details"][0]["message"]
    assert api.all_events(app.id) == []


@pytest.mark.parametrize("moment", ["1970-01-01T00:00:00Z", "2200-01-01T00:00:00Z"])
def test_the_bounds_themselves_are_accepted(api, app, moment):
    reply = ingest(app.id, event_text(occurred_at=moment))
    assert reply.status == 201, reply.text
    assert reply.body["occurred_at"] == moment


def test_a_skew_correction_leaving_the_bounds_rejects_that_event_alone(api, app):
    now = datetime.now(UTC)
    skewed = event_text(occurred_at="1970-01-02T00:00:00Z", sent_at="2199-01-01T00:00:00Z")
    reply = ingest(app.id, skewed)
    assert_refused(reply, "invalid sent_at", "outside 1970-01-01T00:00:00Z")
    assert reply.body["details"][0]["field"] == "sent_at"
    late = event_text(occurred_at="2199-12-31T00:00:00Z", sent_at="1970-01-01T00:00:00Z")
    fine = event_text(occurred_at=now.isoformat(), sent_at=now.isoformat())
    batch = ingest(app.id, f"[{skewed}, {fine}, {late}]")
    assert batch.status == 207, batch.text
    assert [item["status"] for item in batch.body["items"]] == ["rejected", "accepted", "rejected"]
    for item in (batch.body["items"][0], batch.body["items"][2]):
        assert item["errors"][0]["field"] == "sent_at"
    assert len(api.all_events(app.id)) == 1


def test_a_skew_correction_within_the_bounds_still_applies(api, app):
    sent = datetime.now(UTC) - timedelta(hours=1)  # the client's clock is an hour behind
    reply = ingest(app.id, event_text(occurred_at="2020-01-01T00:00:00Z", sent_at=sent.isoformat()))
    assert reply.status == 201
    occurred = datetime.fromisoformat(reply.body["occurred_at"])
    assert abs(occurred - datetime(2020, 1, 1, 1, tzinfo=UTC)) < timedelta(minutes=1)


@pytest.mark.parametrize("name", ["since", "until"])
@pytest.mark.parametrize(
    "moment", ["1969-12-31T23:59:59Z", "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"]
)
def test_since_and_until_out_of_bounds_are_400_naming_them(api, app, name, moment):
    for reply in (
        api.list_events(app.id, **{name: moment}),
        api.stats(app.id, "timeseries", **{name: moment}),
        api.stats(app.id, "by-level", **{name: moment}),
        api.stats(app.id, "top-messages", **{name: moment}),
    ):
        assert_refused(reply, f"invalid {name}")
        assert [detail["field"] for detail in reply.body["details"]] == [name]


def test_a_finite_float_at_the_edge_is_kept(api, app):
    data = {"big": 1.7976931348623157e308, "small": 5e-324, "int": int("9" * MAX_NUMBER_DIGITS)}
    reply = ingest(app.id, event_text(data=data))
    assert reply.status == 201, reply.text
    assert reply.body["data"] == data
    (stored,) = api.all_events(app.id)
    assert stored["data"] == data
    assert math.isfinite(stored["data"]["big"])
