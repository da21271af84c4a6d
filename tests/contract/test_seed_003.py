"""Seed 003 (event consumer): its examples, sent as written over HTTP with the documented
headers (`Authorization: Bearer <token>`, `Content-Type: application/json`), get the documented
answers; 401s say why; bad bodies are refused whole; retries are stored once."""

import hashlib
import hmac
import json
import time
from typing import Any

import jwt
import pytest

from tests.support.fake_aws import load_template

# The document's request body, as written.
SEED_BODY = """[
    {
        "event_type": "string",
        "event_payload": "string"
    }
]"""
ACCEPTED = {"status_code": "200"}
READY = {"status": "ready"}
BEARER = "send Authorization: Bearer <token>"


def token(http, tenant, role: str = "ingest", app_id: int | None = None) -> str:
    """A bearer token minted by POST /tokens for the tenant's app (or another app)."""
    body = {"role": role, "app_id": app_id or tenant.app_id}
    minted = http.post("/tokens", json=body, headers=tenant.admin)
    assert minted.status_code == 201, minted.text
    return minted.json()["token"]


def documented_headers(bearer_token: str) -> dict[str, str]:
    return {"Authorization": "Bearer " + bearer_token, "Content-Type": "application/json"}


def post(http, headers: dict[str, str], body: Any, path: str = "/api/event") -> Any:
    data = body if isinstance(body, str) else json.dumps(body)
    return http.post(path, data=data, headers=headers)


def stored(http, tenant) -> list[dict[str, Any]]:
    """The tenant's events (native GET /apps/{id}/events), oldest first: name, message, data."""
    reply = http.get(f"/apps/{tenant.app_id}/events", params={"limit": 50}, headers=tenant.user)
    assert reply.status_code == 200, reply.text
    return [
        {field: event.get(field) for field in ("name", "message", "data")}
        for event in reversed(reply.json()["items"])
    ]


def assert_unauthorized(reply: Any, reason: str) -> None:
    assert reply.status_code == 401
    assert reply.json() == {"error": "UNAUTHORIZED", "message": reason}
    assert reply.headers["WWW-Authenticate"] == "Bearer"


@pytest.fixture
def stack_jwt_key(stack_aws) -> bytes:
    """The stack's token-signing key, from its signing secret in SSM (HMAC-SHA256 of the
    purpose "jwt" under the secret), to forge what POST /tokens will not mint."""
    name = load_template().ref("SigningSecretParameterName")
    parameter = stack_aws("ssm").get_parameter(Name=name, WithDecryption=True)["Parameter"]
    return hmac.new(parameter["Value"].encode(), b"jwt", hashlib.sha256).digest()


# ---------------------------------------------------------------- GET /api/ready, /ready


@pytest.mark.parametrize("path", ["/api/ready", "/ready"])
def test_ready_with_the_documented_headers(http, tenant, path):
    reply = http.get(path, headers=documented_headers(token(http, tenant, "user")))
    assert reply.status_code == 200
    assert reply.headers["Content-Type"] == "application/json"
    assert reply.json() == READY


@pytest.mark.parametrize("path", ["/api/ready", "/ready"])
def test_ready_without_a_credential_is_401_saying_why(http, path):
    assert_unauthorized(http.get(path), f"no credential: {BEARER}")


# ---------------------------------------------------------------- POST /api/event, /event


@pytest.mark.parametrize("path", ["/api/event", "/event"])
def test_the_documented_request_stores_the_event(http, tenant, path):
    reply = post(http, documented_headers(token(http, tenant)), SEED_BODY, path)
    assert reply.status_code == 200
    assert reply.headers["Content-Type"] == "application/json"
    assert reply.json() == ACCEPTED
    assert stored(http, tenant) == [{"name": "string", "message": "string", "data": None}]


def test_a_list_and_a_single_object_are_stored_in_order(http, tenant):
    headers = documented_headers(token(http, tenant))
    batch = [
        {"event_type": "user.signup", "event_payload": "alice"},
        {"event_type": "user.login", "event_payload": '{"user": "alice"}'},
    ]
    assert post(http, headers, batch).json() == ACCEPTED
    single = {"event_type": "user.logout", "event_payload": "alice"}
    assert post(http, headers, single, "/event").json() == ACCEPTED
    assert stored(http, tenant) == [
        {"name": "user.signup", "message": "alice", "data": None},
        {"name": "user.login", "message": '{"user": "alice"}', "data": None},
        {"name": "user.logout", "message": "alice", "data": None},
    ]


def test_the_services_other_credentials_work_too(http, tenant):
    event = {"event_type": "ping", "event_payload": "p"}
    for credential in (tenant.user, tenant.ingest):
        reply = post(http, {"Content-Type": "application/json", **credential}, event)
        assert (reply.status_code, reply.json()) == (200, ACCEPTED)
    assert len(stored(http, tenant)) == 2


def test_a_long_payload_is_kept_whole_in_data(http, tenant):
    payload = json.dumps({"message": "x" * 12_000})  # longer than an event's message may be
    body = [{"event_type": "big", "event_payload": payload}]
    assert post(http, documented_headers(token(http, tenant)), body).status_code == 200
    assert stored(http, tenant) == [
        {"name": "big", "message": None, "data": {"event_payload": payload}}
    ]


def test_a_retry_with_the_same_idempotency_key_is_stored_once(http, tenant):
    headers = {**documented_headers(token(http, tenant)), "Idempotency-Key": "batch-7"}
    for path in ("/api/event", "/event"):
        reply = post(http, headers, SEED_BODY, path)
        assert (reply.status_code, reply.json()) == (200, ACCEPTED)
    assert len(stored(http, tenant)) == 1
    other_body = [{"event_type": "other", "event_payload": "x"}]
    reused = post(http, headers, other_body)
    assert reused.status_code == 422
    assert reused.json() == {
        "error": "IDEMPOTENCY_KEY_REUSED",
        "message": "Idempotency-Key 'batch-7' was used before with a different body",
    }
    assert len(stored(http, tenant)) == 1


# ---------------------------------------------------------------- 400


def test_an_invalid_item_refuses_the_whole_body_naming_it(http, tenant):
    body = [
        {"event_type": "fine", "event_payload": "fine"},
        {"event_type": "no payload"},
        {"event_type": "", "event_payload": ["not", "text"]},
    ]
    reply = post(http, documented_headers(token(http, tenant)), body)
    assert reply.status_code == 400
    assert reply.json() == {
        "error": "VALIDATION_ERROR",
        "message": "invalid 1.event_payload, 2.event_type, 2.event_payload: nothing was stored",
        "details": [
            {"field": "1.event_payload", "message": "Field required"},
            {"field": "2.event_type", "message": "String should have at least 1 character"},
            {"field": "2.event_payload", "message": "must be a string (or a JSON object)"},
        ],
    }
    assert stored(http, tenant) == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            [{"event_type": "t", "event_payload": "p"}] * 101,
            "a batch holds at most 100 events, got 101",
        ),
        ("[{", "malformed JSON: "),
        ("", "the body is empty: send JSON"),
    ],
    ids=["101-items", "malformed-json", "empty"],
)
def test_bad_bodies_are_400(http, tenant, body, message):
    reply = post(http, documented_headers(token(http, tenant)), body)
    assert reply.status_code == 400
    assert reply.json()["error"] == "VALIDATION_ERROR"
    assert reply.json()["message"].startswith(message)
    assert stored(http, tenant) == []


# ---------------------------------------------------------------- 401, each reason


def test_401s_name_the_reason(http, tenant, stack_jwt_key):
    now = int(time.time())
    claims = {"sub": "contract", "role": "ingest", "app": tenant.app_id}
    expired = jwt.encode({**claims, "exp": now - 60}, stack_jwt_key, algorithm="HS256")
    forged = jwt.encode({**claims, "exp": now + 600}, b"not the stack's key" * 2, "HS256")
    valid = jwt.encode({**claims, "exp": now + 600}, stack_jwt_key, algorithm="HS256")
    json_type = {"Content-Type": "application/json"}
    cases = {
        "missing": (json_type, f"no credential: {BEARER}"),
        "expired": (documented_headers(expired), "the bearer token has expired"),
        "forged": (documented_headers(forged), "the bearer token's signature is invalid"),
        "malformed": (
            documented_headers("not-a-jwt"),
            "the bearer token is invalid: Not enough segments",
        ),
        "no token": (
            {**json_type, "Authorization": "Bearer "},
            f"the Authorization header has no token: {BEARER}",
        ),
        "wrong scheme": (
            {**json_type, "Authorization": "Basic dXNlcjpwYXNzd29yZA=="},
            f"the Authorization scheme is not Bearer: {BEARER}",
        ),
        "unknown key": (
            {**json_type, "x-api-key": "elk_user_unknown"},
            "the x-api-key key is unknown or revoked",
        ),
    }
    for path in ("/api/event", "/event"):
        for case, (headers, reason) in cases.items():
            reply = post(http, headers, SEED_BODY, path)
            assert reply.json().get("message") == reason, (path, case)
            assert_unauthorized(reply, reason)
    assert stored(http, tenant) == []
    # The key that signed the expired token is the stack's: the same token, unexpired, works.
    assert post(http, documented_headers(valid), SEED_BODY).status_code == 200


def test_other_routes_keep_api_gateways_401(http):
    reply = http.get("/logs", headers={"Authorization": "Bearer not-a-jwt"})
    assert reply.status_code == 401
    assert reply.json()["message"].startswith("Missing or invalid credential")
