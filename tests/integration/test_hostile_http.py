"""Hostile input over real HTTP: each class of README.md's "Security" table, sent to the local
stack as a client would send it (raw bytes through http.client: bodies that are not UTF-8, escape
sequences of lone surrogates, deep nesting, huge numbers), on the native routes and on every seed
route that takes a body (seed 004's `POST /apps/{app_id}/events` is the native route). Each gets
the status the table promises and a JSON body naming the problem.

Afterwards every listing and statistic of the app the requests were aimed at still answers, and
holds what it held before plus the valid events sent alongside rejected ones (207): nothing of
a rejected request was stored.

Two rows of the table are tested elsewhere: the anonymous flood (the local gateway meters no
usage plan; tests/unit/test_authorizer.py checks the anonymous usage key) and slow receivers
(tests/unit/test_outbound.py, tests/unit/test_notifier.py).

The module runs a stack of its own: it revokes credentials and tries to revoke the last admin key.
"""

import http.client
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
from eventlog_api import MAX_BODY_BYTES, MAX_JSON_DEPTH

from local_stack import LocalStackProcess
from tests.support.local_stack import TEST_STACK_PARAMETERS, StackSession

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
NAME = "hostile-seeded"  # the seed 001 name the app holds before any hostile request
STATS = ["timeseries", "by-level", "by-name", "top-messages", "hourly", "notifications"]


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    credential: str  # "ingest" or "admin"

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


INGEST_ROUTES = [
    Route("POST", "/apps/{app_id}/events", "ingest"),  # native, and seed 004
    Route("POST", "/events", "ingest"),  # seed 000
    Route("POST", f"/api/v1/events/{NAME}", "ingest"),  # seed 001
    Route("POST", "/api/event", "ingest"),  # seed 003
    Route("POST", "/event", "ingest"),  # seed 003, without /api
]
ADMIN_ROUTES = [
    Route("POST", "/keys", "admin"),
    Route("POST", "/tokens", "admin"),
    Route("POST", "/apps/{app_id}/alert-rules", "admin"),
    Route("PATCH", "/apps/{app_id}/alert-rules/{rule_id}", "admin"),
    Route("POST", "/apps/{app_id}/subscriptions", "admin"),
]
# Every route with a body but seed 002's POST /logs, which answers with its own body.
BODY_ROUTES = [pytest.param(route, id=str(route)) for route in INGEST_ROUTES + ADMIN_ROUTES]


@dataclass
class Reply:
    status: int
    content_type: str
    body: bytes

    def json(self) -> Any:
        assert self.content_type == JSON, f"{self.status} {self.content_type}: {self.body[:200]!r}"
        return json.loads(self.body)


@dataclass
class Target:
    """The app every hostile request is aimed at, its credentials, and what it holds."""

    url: str
    app_id: int
    rule_id: str
    headers: dict[str, dict[str, str]]  # "ingest", "user", "admin"
    accepted: list[dict[str, Any]] = field(default_factory=list)  # events stored on purpose
    created_keys: list[str] = field(default_factory=list)
    before: dict[str, Any] = field(default_factory=dict)

    def send(
        self,
        method: str,
        path: str,
        body: bytes | str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        """One request as the bytes say: nothing re-encoded, no header added but Host and
        Content-Length."""
        address = urlsplit(self.url)
        connection = http.client.HTTPConnection(address.hostname, address.port, timeout=30)
        try:
            raw = body.encode() if isinstance(body, str) else body
            connection.request(method, path, body=raw, headers=headers or {})
            response = connection.getresponse()
            return Reply(response.status, response.getheader("Content-Type", ""), response.read())
        finally:
            connection.close()

    def call(
        self, route: Route, body: bytes | str | None, content_type: str | None = JSON
    ) -> Reply:
        path = route.path.format(app_id=self.app_id, rule_id=self.rule_id)
        headers = dict(self.headers[route.credential])
        if content_type:
            headers["Content-Type"] = content_type
        return self.send(route.method, path, body, headers)


def assert_refused(
    reply: Reply, *words: str, status: int = 400, code: str = "VALIDATION_ERROR"
) -> dict[str, Any]:
    body = reply.json()
    assert (reply.status, body["error"]) == (status, code), body
    said = json.dumps(body)
    for word in words:
        assert word in said, f"{word!r} not in {said[:500]}"
    return body


def nested(depth: int, kind: str) -> str:
    """`depth` nested objects or arrays around a 1."""
    if kind == "objects":
        return '{"a":' * depth + "1" + "}" * depth
    return "[" * depth + "1" + "]" * depth


def event(**fields: Any) -> str:
    return json.dumps({"message": "hostile", **fields})


# ---------------------------------------------------------------- the stack and the app


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStackProcess]:
    """This module's own stack (the session's admin key must survive this module)."""
    with LocalStackProcess(port=0, parameters=TEST_STACK_PARAMETERS) as running:
        yield running


@pytest.fixture(scope="module")
def session(stack: LocalStackProcess) -> Iterator[StackSession]:
    with StackSession(stack) as http:
        yield http


def _created(reply: Any) -> Any:
    assert reply.status_code in (200, 201), reply.text
    return reply.json() if reply.content else None


@pytest.fixture(scope="module")
def target(session: StackSession) -> Target:
    """An app holding one event from each body route (one of them as deep as the limit lets
    `data` be), and a snapshot of every listing and statistic before any hostile request."""
    http = session
    app = _created(http.post(f"/apps/hostile-{uuid.uuid4().hex[:8]}", headers=http.admin))
    user_key = _created(
        http.post("/keys", json={"role": "user", "app_id": app["id"]}, headers=http.admin)
    )
    ingest = {"X-INGEST-KEY": app["ingest_key"]}
    deepest = json.loads(nested(MAX_JSON_DEPTH - 1, "objects"))  # the body's object is level 1
    _created(
        http.post(
            f"/apps/{app['id']}/events", json={"message": "deep", "data": deepest}, headers=ingest
        )
    )
    _created(
        http.post("/events", json={"event_type": "INFO", "service_name": "s0"}, headers=ingest)
    )
    _created(http.post(f"/api/v1/events/{NAME}", headers=ingest))
    _created(http.post("/logs", json={"level": "info", "message": "seed 002"}, headers=ingest))
    _created(
        http.post("/api/event", json=[{"event_type": "t3", "event_payload": "p3"}], headers=ingest)
    )
    (rule,) = _created(http.get(f"/apps/{app['id']}/alert-rules", headers=http.admin))["items"]
    found = Target(
        url=http.base_url,
        app_id=app["id"],
        rule_id=rule["id"],
        headers={"ingest": ingest, "user": {"x-api-key": user_key["key"]}, "admin": http.admin},
    )
    found.before = snapshot(http, found)
    assert len(found.before["native"]) == 5, found.before["native"]
    return found


def snapshot(http: StackSession, target: Target) -> dict[str, Any]:
    """Every listing and statistic of the app, each checked to answer 200."""
    user, admin, app_id = target.headers["user"], target.headers["admin"], target.app_id

    def read(path: str, headers: dict[str, str] = user, kind: str = JSON) -> Any:
        reply = http.get(path, headers=headers)
        assert reply.status_code == 200, f"GET {path}: {reply.status_code} {reply.text[:300]}"
        assert reply.headers["Content-Type"] == kind, f"GET {path}: {reply.headers}"
        return reply.json() if kind == JSON else reply.content

    native = read(f"/apps/{app_id}/events?limit=50")
    assert native["next_cursor"] is None  # one page holds them all
    found = {
        "native": sorted(item["id"] for item in native["items"]),
        "seed 000": read("/events"),
        "seed 002": sorted(str(log["message"]) for log in read("/logs")),
        "metrics": read("/metrics"),
        "seed 001 counts": read("/api/v1/events"),
        "seed 001 history": read("/api/v1/event_history"),
        "alert rules": [rule["id"] for rule in read(f"/apps/{app_id}/alert-rules", admin)["items"]],
        "subscriptions": read(f"/apps/{app_id}/subscriptions", admin)["items"],
        "keys": sorted(key["id"] for key in read(f"/keys?app_id={app_id}", admin)["items"]),
    }
    for route in STATS:
        found[route] = read(
            f"/apps/{app_id}/stats/{route}?limit=100"
            if route == "top-messages"
            else f"/apps/{app_id}/stats/{route}"
        )
    read(f"/apps/{app_id}/stats/hourly.png", kind="image/png")
    read(f"/api/v1/event_frequencies/{NAME}/hist", kind="image/png")
    return found


# ---------------------------------------------------------------- bodies, at the door

NOT_UTF8 = [
    pytest.param(b'{"message": "caf\xe9"}', JSON, id="latin-1"),
    pytest.param(b'{"message": "caf\xe9"}', None, id="latin-1 without Content-Type"),
    pytest.param('{"message": "x"}'.encode("utf-16"), JSON, id="UTF-16"),
    pytest.param(b'{"message": "\xed\xa0\x80"}', JSON, id="an encoded surrogate"),
]


@pytest.mark.parametrize(("body", "content_type"), NOT_UTF8)
@pytest.mark.parametrize("route", BODY_ROUTES)
def test_a_body_not_utf8_is_400(target, route, body, content_type):
    reply = target.call(route, body, content_type)
    assert_refused(reply, "the body is not UTF-8 text (byte", "send UTF-8")


MALFORMED = [
    pytest.param('{"message": "x",', JSON, id="truncated"),
    pytest.param('{"message": "x",', FORM, id="truncated, as curl -d sends it"),
    pytest.param('{"message": "x",', None, id="truncated without Content-Type"),
    pytest.param('<event message="x"/>', "application/xml", id="XML"),
    pytest.param("message=x&level=error", FORM, id="a form"),
    pytest.param(
        "--b\r\nContent-Disposition: form-data\r\n--b--", "multipart/form-data", id="mime"
    ),
]


@pytest.mark.parametrize(("body", "content_type"), MALFORMED)
@pytest.mark.parametrize("route", BODY_ROUTES)
def test_malformed_json_or_a_body_not_json_is_400_under_any_content_type(
    target, route, body, content_type
):
    assert_refused(target.call(route, body, content_type), "malformed JSON")


DEEP = [
    pytest.param(event(data=json.loads(nested(MAX_JSON_DEPTH, "objects"))), "at data.a.a", id="33"),
    pytest.param(nested(10_000, "arrays"), "", id="10,000 arrays"),
    pytest.param(event(data="x")[:-1] + ', "d": ' + nested(40_000, "objects") + "}", "", id="40k"),
]


@pytest.mark.parametrize(("body", "where"), DEEP)
@pytest.mark.parametrize("route", BODY_ROUTES)
def test_json_nested_deeper_than_32_levels_is_400(target, route, body, where):
    assert_refused(target.call(route, body), "the JSON nests deeper than 32 levels", where)


LONG_INTEGERS = [
    pytest.param('{"message": "x", "count": ' + "9" * 39 + "}", "39 digits", id="39 digits"),
    pytest.param('{"message": "x", "data": {"n": -' + "1" * 4301 + "}}", "4301 digits", id="4301"),
]


@pytest.mark.parametrize(("body", "digits"), LONG_INTEGERS)
@pytest.mark.parametrize("route", BODY_ROUTES)
def test_an_integer_of_more_than_38_digits_is_400(target, route, body, digits):
    assert_refused(target.call(route, body), f"an integer of {digits}: at most 38 are kept")


NOT_NUMBERS = [
    pytest.param("NaN", "NaN is not a JSON number", id="NaN"),
    pytest.param("Infinity", "Infinity is not a JSON number", id="Infinity"),
    pytest.param("-Infinity", "-Infinity is not a JSON number", id="-Infinity"),
    pytest.param("1e999", "the number 1e999 is too large", id="1e999"),
    pytest.param("-2.5e400", "the number -2.5e400 is too large", id="-2.5e400"),
]


@pytest.mark.parametrize(("number", "words"), NOT_NUMBERS)
@pytest.mark.parametrize("route", BODY_ROUTES)
def test_nan_infinity_and_overflowing_floats_are_400(target, route, number, words):
    body = '{"message": "x", "data": {"n": ' + number + "}}"
    assert_refused(target.call(route, body), words)


LONE_SURROGATES = [
    pytest.param('{"message": "x\\ud800"}', "the string at message", id="high"),
    pytest.param('{"message": "\\udc00x"}', "the string at message", id="low"),
    pytest.param('{"message": "\\ud800\\u0041"}', "the string at message", id="unpaired"),
    pytest.param('{"message": "x", "data": {"\\udfff": 1}}', "a key at data", id="in a key"),
    pytest.param('{"message": "x", "data": [["\\ud83d"]]}', "the string at data[0][0]", id="deep"),
]


@pytest.mark.parametrize(("body", "where"), LONE_SURROGATES)
@pytest.mark.parametrize("route", BODY_ROUTES)
def test_a_lone_surrogate_is_400_naming_where(target, route, body, where):
    assert_refused(target.call(route, body), where, "holds a lone surrogate")


@pytest.mark.parametrize(
    "route", [*BODY_ROUTES, pytest.param(Route("POST", "/logs", "ingest"), id="POST /logs")]
)
def test_a_body_over_256_kb_is_413(target, route):
    body = '{"message": "' + "a" * MAX_BODY_BYTES + '"}'
    reply = target.call(route, body)
    assert_refused(reply, f"the limit is {MAX_BODY_BYTES}", status=413, code="PAYLOAD_TOO_LARGE")


# ---------------------------------------------------------------- times

NATIVE = INGEST_ROUTES[0]
SEED_001 = INGEST_ROUTES[2]
OUT_OF_BOUNDS = [
    "0001-01-01T00:00:00+01:00",  # before year 1 in UTC: overflows
    "9999-12-31T23:59:59-01:00",  # after year 9999 in UTC: overflows
    "1969-12-31T23:59:59Z",
    "2200-01-01T00:00:01Z",
]
BOUNDS = "1970-01-01T00:00:00Z .. 2200-01-01T00:00:00Z"


@pytest.mark.parametrize("moment", OUT_OF_BOUNDS)
@pytest.mark.parametrize("name", ["occurred_at", "sent_at"])
def test_times_out_of_bounds_are_400_naming_the_field_and_rejected_alone_in_a_batch(
    target, name, moment
):
    refused = assert_refused(target.call(NATIVE, event(**{name: moment})), "invalid event")
    assert refused["details"] == [{"field": name, "message": f"must lie in {BOUNDS} (UTC)"}]

    kept = f"kept beside {name}={moment}"
    batch = target.call(NATIVE, f"[{event(**{name: moment})}, {event(message=kept)}]")
    assert batch.status == 207, batch.body
    rejected, accepted = batch.json()["items"]
    assert (rejected["status"], rejected["errors"][0]["field"]) == ("rejected", name)
    assert accepted["status"] == "accepted"
    target.accepted.append({"id": accepted["id"], "message": kept})


@pytest.mark.parametrize(
    "date", ["1969-12-31 23:59:59", "2200-01-01 00:00:00", "9999-12-31 23:59:59"]
)
def test_seed_001_dates_out_of_bounds_are_400_naming_the_field(target, date):
    refused = assert_refused(target.call(SEED_001, json.dumps({"count": 1, "date": date})), "date")
    assert refused["details"][0]["field"] == "date"


SKEWED = [
    pytest.param("1970-01-02T00:00:00Z", "2199-01-01T00:00:00Z", id="before 1970"),
    pytest.param("2199-12-31T00:00:00Z", "1970-01-01T00:00:00Z", id="after 2200"),
]


@pytest.mark.parametrize(("occurred_at", "sent_at"), SKEWED)
def test_a_skew_correction_leaving_the_bounds_is_400_naming_sent_at(target, occurred_at, sent_at):
    skewed = event(occurred_at=occurred_at, sent_at=sent_at)
    refused = assert_refused(target.call(NATIVE, skewed), "invalid sent_at", f"outside {BOUNDS}")
    assert refused["details"][0]["field"] == "sent_at"

    kept = f"kept beside a skew from {sent_at}"
    batch = target.call(NATIVE, f"[{skewed}, {event(message=kept)}]")
    assert batch.status == 207, batch.body
    rejected, accepted = batch.json()["items"]
    assert (rejected["status"], rejected["errors"][0]["field"]) == ("rejected", "sent_at")
    assert accepted["status"] == "accepted"
    target.accepted.append({"id": accepted["id"], "message": kept})


READS_WITH_A_RANGE = [
    pytest.param("/apps/{app_id}/events", id="native listing"),
    *(pytest.param(f"/apps/{{app_id}}/stats/{route}", id=route) for route in STATS),
    pytest.param("/apps/{app_id}/stats/hourly.png", id="hourly.png"),
]


@pytest.mark.parametrize("name", ["since", "until"])
@pytest.mark.parametrize("path", READS_WITH_A_RANGE)
def test_since_and_until_out_of_bounds_are_400_naming_the_parameter(target, path, name):
    for moment in OUT_OF_BOUNDS:
        query = f"?{name}={quote(moment)}"
        reply = target.send(
            "GET", path.format(app_id=target.app_id) + query, None, target.headers["user"]
        )
        refused = assert_refused(reply, f"invalid {name}")
        assert refused["details"] == [{"field": name, "message": f"must lie in {BOUNDS} (UTC)"}]


@pytest.mark.parametrize("name", ["start_date", "end_date"])
def test_seed_001_date_ranges_out_of_bounds_are_400_naming_the_parameter(target, name):
    for day in ["1969-12-31", "2200-01-02", "9999-12-31"]:
        reply = target.send("GET", f"/api/v1/events?{name}={day}", None, target.headers["user"])
        assert assert_refused(reply, f"invalid {name}")["details"][0]["field"] == name


# ---------------------------------------------------------------- seed 002


SEED_002_REFUSED = [
    *(pytest.param(param.values[0], id=param.id) for param in NOT_UTF8),
    *(pytest.param(param.values[0], id=param.id) for param in MALFORMED[:3]),
    *(pytest.param(param.values[0], id=param.id) for param in DEEP + LONG_INTEGERS),
    *(
        pytest.param('{"message": "x", "n": ' + param.values[0] + "}", id=param.id)
        for param in NOT_NUMBERS
    ),
    *(pytest.param(param.values[0], id=param.id) for param in LONE_SURROGATES),
    pytest.param("", id="empty"),
    pytest.param(" \r\n\t", id="blank"),
    pytest.param(
        '{"timestamp": "0001-01-01T00:00:00+01:00", "level": "INFO", "message": "x"}', id="year 0"
    ),
    pytest.param(
        '{"timestamp": "2200-01-01T00:00:01", "level": "INFO", "message": "x"}', id="2200"
    ),
    pytest.param('{"level": "LOUD", "message": "x"}', id="unknown level"),
    pytest.param("\x00\x01\x02", id="no known text format"),
]


@pytest.mark.parametrize("body", SEED_002_REFUSED)
def test_seed_002_answers_each_hostile_body_with_its_own_400(target, body):
    reply = target.call(Route("POST", "/logs", "ingest"), body)
    assert (reply.status, reply.json()) == (400, {"error": "Invalid log data"})


# ---------------------------------------------------------------- app ids

ODD_APP_IDS = [
    pytest.param(quote("²"), id="superscript two"),
    pytest.param(quote("\u0661"), id="Arabic-Indic one"),
    pytest.param(quote("\uff11"), id="fullwidth one"),
    pytest.param("1" * 40, id="40 digits"),
    pytest.param("9" * 4301, id="4301 digits"),
]
APP_ID_ROUTES = [
    Route("POST", "/apps/{app_id}/events", "ingest"),
    Route("GET", "/apps/{app_id}/events", "user"),
    Route("GET", "/apps/{app_id}/stats/by-level", "user"),
    Route("GET", "/apps/{app_id}/alert-rules", "admin"),
]


@pytest.mark.parametrize("app_id", ODD_APP_IDS)
@pytest.mark.parametrize("route", [pytest.param(route, id=str(route)) for route in APP_ID_ROUTES])
def test_an_app_id_in_non_ascii_or_overlong_digits_is_403_for_an_app_and_4xx_for_an_admin(
    target, route, app_id
):
    path = route.path.format(app_id=app_id)
    body = event() if route.method == "POST" else None
    if route.credential != "admin":
        reply = target.send(route.method, path, body, target.headers[route.credential])
        assert_refused(reply, "the path names no app id", status=403, code="FORBIDDEN")
    reply = target.send(route.method, path, body, target.headers["admin"])
    assert reply.status in (400, 404), reply.body[:300]
    assert reply.json()["error"] in ("VALIDATION_ERROR", "NOT_FOUND")


# ---------------------------------------------------------------- credentials


def test_a_revoked_bearer_token_is_401(target):
    minted = target.call(
        Route("POST", "/tokens", "admin"),
        json.dumps({"role": "user", "app_id": target.app_id, "expires_in": 3600}),
    ).json()
    bearer = {"Authorization": f"Bearer {minted['token']}"}
    listing = f"/apps/{target.app_id}/events"
    assert target.send("GET", listing, None, bearer).status == 200

    revoked = target.send("DELETE", f"/tokens/{minted['jti']}", None, target.headers["admin"])
    assert revoked.status == 200 and revoked.json()["revoked_at"], revoked.body

    # API Gateway's own 401 (it cannot say why), and seed 003's, which can.
    reply = target.send("GET", listing, None, bearer)
    assert_refused(reply, "Missing or invalid credential", status=401, code="UNAUTHORIZED")
    for path in ("/api/event", "/event"):
        reply = target.send("POST", path, '[{"event_type": "t", "event_payload": "p"}]', bearer)
        assert_refused(reply, "the bearer token has been revoked", status=401, code="UNAUTHORIZED")


@pytest.mark.parametrize(
    ("expires_in", "limit"),
    [
        (86_401, "at most 86400 seconds (the stack's TokenMaxLifetimeSeconds)"),
        # Past the parameter's own ceiling, the model names that ceiling instead.
        (10**9, "less than or equal to 31536000"),
        (10**30, "less than or equal to 31536000"),
    ],
)
def test_a_token_asked_for_longer_than_the_maximum_lifetime_is_400_naming_a_limit(
    target, expires_in, limit
):
    body = json.dumps({"role": "user", "app_id": target.app_id, "expires_in": expires_in})
    refused = assert_refused(target.call(Route("POST", "/tokens", "admin"), body), limit)
    assert refused["details"][0]["field"] == "expires_in"


def test_the_last_live_admin_key_cannot_be_revoked(target):
    admin = target.headers["admin"]
    keys = target.send("GET", "/keys?limit=100", None, admin).json()["items"]
    (last,) = [key for key in keys if key["role"] == "admin" and key["revoked_at"] is None]
    reply = target.send("DELETE", f"/keys/{last['id']}", None, admin)
    assert_refused(reply, "is the last live admin key", status=409, code="CONFLICT")

    second = target.call(Route("POST", "/keys", "admin"), '{"role": "admin"}').json()
    assert target.send("DELETE", f"/keys/{second['id']}", None, admin).status == 200
    assert target.send("DELETE", f"/keys/{last['id']}", None, admin).status == 409
    assert target.send("GET", "/apps", None, admin).status == 200  # it still works


# ---------------------------------------------------------------- content types


@pytest.mark.parametrize("content_type", [FORM, "text/plain", "application/xml", None])
def test_a_json_body_is_read_as_json_whatever_its_content_type(target, content_type):
    key = target.call(
        Route("POST", "/keys", "admin"),
        json.dumps({"role": "user", "app_id": target.app_id}),
        content_type,
    )
    assert (key.status, key.json()["role"], key.json()["app_id"]) == (201, "user", target.app_id)
    target.created_keys.append(key.json()["id"])
    token = target.call(
        Route("POST", "/tokens", "admin"),
        json.dumps({"role": "ingest", "app_id": target.app_id}),
        content_type,
    )
    assert token.status == 201, token.body
    # What the token was minted for, as its revocation tells.
    revoked = target.send("DELETE", f"/tokens/{token.json()['jti']}", None, target.headers["admin"])
    assert (revoked.json()["role"], revoked.json()["app_id"]) == ("ingest", target.app_id)
    rule = target.call(ADMIN_ROUTES[3], '{"enabled": true}', content_type)
    assert (rule.status, rule.json()["enabled"]) == (200, True)
    kept = f"sent as {content_type}"
    stored = target.call(NATIVE, event(message=kept), content_type)
    assert (stored.status, stored.json()["message"]) == (201, kept)
    target.accepted.append({"id": stored.json()["id"], "message": kept})


def test_a_form_encoded_body_is_malformed_json_not_an_invalid_field(target):
    body = f"role=user&app_id={target.app_id}"
    for route in (Route("POST", "/keys", "admin"), Route("POST", "/tokens", "admin")):
        assert_refused(target.call(route, body, FORM), "malformed JSON")


# ---------------------------------------------------------------- target URLs

# (route, the body naming a target URL) of each place a target URL is given
TARGET_PLACES = [
    pytest.param(
        ADMIN_ROUTES[2],
        lambda url: {"channels": [{"type": "webhook", "url": url, "secret": "s" * 16}]},
        id="a new rule's webhook",
    ),
    pytest.param(
        ADMIN_ROUTES[3],
        lambda url: {"channels": [{"type": "slack", "url": url}]},
        id="a rule's Slack channel, patched",
    ),
    pytest.param(ADMIN_ROUTES[4], lambda url: {"url": url, "secret": "s" * 16}, id="subscription"),
]
# Loopback is not among them: the local stack allows it (AllowedTargetNetworks) for its tests.
NOT_PUBLIC = [
    pytest.param("http://10.0.0.1/h", "10.0.0.1, a private address", id="private"),
    pytest.param("http://169.254.169.254/latest", "a link-local address", id="metadata"),
    pytest.param("http://2852039166/", "169.254.169.254, a link-local", id="metadata as a number"),
    pytest.param("http://240.0.0.1/h", "a reserved address", id="reserved"),
    pytest.param("http://0.0.0.0/h", "unspecified address", id="unspecified"),
    pytest.param("http://[2002:a9fe:a9fe::1]/h", "6to4 address embedding 169.254", id="6to4"),
    pytest.param(
        "http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/h", "a Teredo address", id="Teredo"
    ),
    pytest.param("http://[64:ff9b::a9fe:a9fe]/h", "NAT64 address embedding 169.254", id="NAT64"),
    pytest.param("http://[fec0::1]/h", "a site-local address", id="site-local"),
    pytest.param("http://[::ffff:169.254.169.254]/h", "link-local", id="IPv4-mapped"),
    pytest.param("http://[fc00::1]/h", "a private address", id="unique local"),
    pytest.param("http://[4000::1]/h", "4000::1", id="outside 2000::/3"),
]
MALFORMED_URLS = [
    pytest.param("http://[2002::/h", "is not a valid URL", id="unbalanced ["),
    pytest.param("http://[::1/h", "is not a valid URL", id="unbalanced [ on loopback"),
    pytest.param("https://1.1.1.1:99999/h", "Port out of range", id="port"),
    pytest.param("https:///h", "with a host", id="no host"),
    pytest.param("http://user:pw@1.1.1.1/h", "credentials in a target URL", id="credentials"),
    pytest.param("ftp://1.1.1.1/h", "url", id="not http"),  # the model's pattern refuses it
]


@pytest.mark.parametrize(("url", "words"), NOT_PUBLIC + MALFORMED_URLS)
@pytest.mark.parametrize(("route", "body"), TARGET_PLACES)
def test_a_target_url_not_public_or_malformed_is_400_naming_why(target, route, body, url, words):
    assert_refused(target.call(route, json.dumps(body(url))), words)


# ---------------------------------------------------------------- methods


@pytest.mark.parametrize("method", ["TRACE", "CONNECT", "BREW"])
def test_a_method_no_route_has_gets_the_json_404_of_an_unknown_route(target, method):
    path = f"/apps/{target.app_id}/events"
    reply = target.send(method, path, None, target.headers["admin"])
    assert (reply.status, reply.json()) == (404, {"error": "NOT_FOUND", "message": "No such route"})


# ---------------------------------------------------------------- afterwards (last in this file)


def test_every_listing_and_statistic_answers_and_holds_only_what_was_accepted(session, target):
    # One more 207 of its own, so that this test means the same wherever it runs (pytest-xdist
    # may give the tests above to another worker, with a stack of its own).
    kept = "kept beside a time before 1970"
    batch = target.call(NATIVE, f"[{event(occurred_at=OUT_OF_BOUNDS[2])}, {event(message=kept)}]")
    assert batch.status == 207, batch.body
    target.accepted.append({"id": batch.json()["items"][1]["id"], "message": kept})
    after = snapshot(session, target)
    before, accepted = target.before, target.accepted

    assert after["native"] == sorted(before["native"] + [item["id"] for item in accepted])
    assert after["seed 002"] == sorted(before["seed 002"] + [item["message"] for item in accepted])
    logs_processed = before["metrics"]["logs_processed"] + len(accepted)
    assert after["metrics"] == {**before["metrics"], "logs_processed": logs_processed}
    for unchanged in ("seed 000", "seed 001 counts", "seed 001 history"):
        assert after[unchanged] == before[unchanged], unchanged
    # (Statistics say their range: it moves on when an hour starts between the two readings.)
    assert after["by-name"]["items"] == before["by-name"]["items"]
    assert after["alert rules"] == before["alert rules"]
    assert after["subscriptions"] == before["subscriptions"] == []
    assert after["keys"] == sorted(before["keys"] + target.created_keys)
    for route in ("timeseries", "by-level", "hourly", "top-messages"):
        assert total(after[route]) == total(before[route]) + len(accepted), route
    sent_and_failed = [
        (n["sent"], n["failed"]) for n in (before["notifications"], after["notifications"])
    ]
    assert sent_and_failed[0] == sent_and_failed[1]


def total(statistic: dict[str, Any]) -> int:
    """The events a statistic counts, whichever shape it has."""
    if "total" in statistic:
        return statistic["total"]
    return sum(item["count"] for item in statistic.get("series", statistic.get("items", [])))
