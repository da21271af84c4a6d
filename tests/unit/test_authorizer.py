"""The REQUEST authorizer: who is calling, may they make this request, and which usage key."""

import secrets
from datetime import timedelta

import jwt
import pytest

from eventlog.access import tokens
from eventlog.access.auth import app_usage_key
from eventlog.access.keys import revoke_key
from eventlog.access.principal import Role
from eventlog.access.signing import derived_key
from eventlog.access.tokens import mint_token
from eventlog.base.ids import new_ulid
from eventlog.base.timeutil import utcnow
from eventlog.models.admin import TokenIn
from eventlog.storage import registry
from tests.support.fake_aws import aws_client

EVENTS = "/apps/{app_id}/events"
EVENT = "/apps/{app_id}/events/{event_id}"


def admin_routes(app_id: int) -> list[tuple[str, str, dict]]:
    return [
        ("GET", "/apps", {}),
        ("POST", "/apps/{app_id}", {"app_id": "new-app"}),
        ("GET", "/apps/{app_id}", {"app_id": app_id}),
        ("POST", "/keys", {}),
        ("GET", "/keys", {}),
        ("DELETE", "/keys/{key_id}", {"key_id": "k_0123456789ab"}),
        ("POST", "/tokens", {}),
        ("DELETE", "/tokens/{jti}", {"jti": "0123456789abcdefABCDEF"}),
    ]


def event_routes(app_id: int) -> list[tuple[str, str, dict]]:
    return [
        ("GET", EVENTS, {"app_id": app_id}),
        ("POST", EVENTS, {"app_id": app_id}),
        ("GET", EVENT, {"app_id": app_id, "event_id": new_ulid(utcnow())}),
    ]


def token_for(role: Role, app_id: int | None = None) -> str:
    return mint_token(TokenIn(role=role, app_id=app_id)).token


def signed(claims: dict, key: bytes | str | None = None) -> str:
    return jwt.encode(claims, key if key is not None else derived_key("jwt"), algorithm="HS256")


def later(seconds: int = 3600) -> int:
    return int((utcnow() + timedelta(seconds=seconds)).timestamp())


# ---------------------------------------------------------------- admin


def test_admin_key_may_call_every_route(api, app, admin_key, aws):
    for method, resource, parameters in admin_routes(app.id) + event_routes(app.id):
        answer = api.authorize({"x-api-key": admin_key.key}, method, resource, **parameters)
        assert answer.allows_the_request, (method, resource, answer.answer)
        assert answer.answer["principalId"] == admin_key.id
        assert answer.context == {"role": "admin", "app_id": "", "key_id": admin_key.id}
        assert answer.usage_key == aws.operator_api_key_value


def test_admin_key_may_read_any_app(api, app, other_app, admin_key):
    answer = api.authorize({"x-api-key": admin_key.key}, "GET", EVENTS, app_id=other_app.id)
    assert answer.allows_the_request


def test_admin_bearer_token_may_call_admin_routes(api, app, aws):
    token = token_for(Role.ADMIN)
    for method, resource, parameters in admin_routes(app.id):
        answer = api.authorize({"Authorization": f"Bearer {token}"}, method, resource, **parameters)
        assert answer.allows_the_request, (method, resource)
        assert answer.context["role"] == "admin"
        assert answer.usage_key == aws.operator_api_key_value


def test_odd_characters_in_the_path_still_get_a_policy(api, app, admin_key):
    # The query function answers 404 for a malformed id; the authorizer must let it through.
    for event_id in ("not:a:ulid", "a@b", "x%20y", "~tilde"):
        answer = api.authorize(
            {"x-api-key": admin_key.key}, "GET", EVENT, app_id=app.id, event_id=event_id
        )
        assert answer.allows_the_request, event_id


# ---------------------------------------------------------------- user


def test_user_key_may_read_and_write_its_own_apps_events(api, app, user_key):
    for method, resource, parameters in event_routes(app.id):
        answer = api.authorize({"x-api-key": user_key.key}, method, resource, **parameters)
        assert answer.allows_the_request, (method, resource)
        assert answer.answer["principalId"] == user_key.id
        assert answer.context == {"role": "user", "app_id": str(app.id), "key_id": user_key.id}
        assert answer.usage_key == app_usage_key(app.id)


def test_user_key_is_denied_another_apps_events(api, app, other_app, user_key):
    for method, resource, parameters in event_routes(other_app.id):
        answer = api.authorize({"x-api-key": user_key.key}, method, resource, **parameters)
        assert answer.denies_everything, (method, resource)
        assert answer.context["reason"] == (
            f"this credential is for app {app.id}, not app {other_app.id}"
        )
        assert answer.usage_key is None


def test_user_key_is_denied_admin_routes(api, app, user_key):
    for method, resource, parameters in admin_routes(app.id):
        answer = api.authorize({"x-api-key": user_key.key}, method, resource, **parameters)
        assert answer.denies_everything, (method, resource)
        assert "user" in answer.context["reason"]
        assert f"{method} {resource}" in answer.context["reason"]
        assert answer.context["role"] == "user"


def test_user_bearer_token_is_allowed_on_its_app(api, app, other_app):
    token = token_for(Role.USER, app.id)
    answer = api.authorize({"Authorization": f"Bearer {token}"}, "GET", EVENTS, app_id=app.id)
    assert answer.allows_the_request
    assert answer.context == {
        "role": "user",
        "app_id": str(app.id),
        "key_id": "jwt:eventlog-client",
    }
    assert answer.usage_key == app_usage_key(app.id)

    elsewhere = api.authorize(
        {"Authorization": f"Bearer {token}"}, "GET", EVENTS, app_id=other_app.id
    )
    assert elsewhere.denies_everything


# ---------------------------------------------------------------- ingest


def test_ingest_key_may_post_events_to_its_app(api, app):
    answer = api.authorize({"X-INGEST-KEY": app.ingest_key}, "POST", EVENTS, app_id=app.id)
    assert answer.allows_the_request
    assert answer.context["role"] == "ingest"
    assert answer.context["app_id"] == str(app.id)
    assert answer.usage_key == app_usage_key(app.id)


def test_ingest_key_may_not_read_events(api, app):
    for method, resource, parameters in event_routes(app.id):
        if method == "POST":
            continue
        answer = api.authorize({"X-INGEST-KEY": app.ingest_key}, method, resource, **parameters)
        assert answer.denies_everything, (method, resource)
        assert "ingest" in answer.context["reason"]
        assert f"GET {resource}" in answer.context["reason"]


def test_ingest_key_may_not_call_admin_routes(api, app):
    for method, resource, parameters in admin_routes(app.id):
        answer = api.authorize({"X-INGEST-KEY": app.ingest_key}, method, resource, **parameters)
        assert answer.denies_everything, (method, resource)


def test_ingest_key_may_not_post_to_another_app(api, app, other_app):
    answer = api.authorize({"X-INGEST-KEY": app.ingest_key}, "POST", EVENTS, app_id=other_app.id)
    assert answer.denies_everything
    assert (
        answer.context["reason"] == f"this credential is for app {app.id}, not app {other_app.id}"
    )


# ---------------------------------------------------------------- header names


@pytest.mark.parametrize("header", ["x-api-key", "X-API-KEY", "X-Api-Key"])
def test_api_key_header_name_is_case_insensitive(api, app, user_key, header):
    assert api.authorize({header: user_key.key}, "GET", EVENTS, app_id=app.id).allows_the_request


@pytest.mark.parametrize("header", ["X-INGEST-KEY", "x-ingest-key", "X-Ingest-Key"])
def test_ingest_key_header_name_is_case_insensitive(api, app, header):
    answer = api.authorize({header: app.ingest_key}, "POST", EVENTS, app_id=app.id)
    assert answer.allows_the_request


@pytest.mark.parametrize(
    ("header", "scheme"),
    [("Authorization", "Bearer"), ("authorization", "bearer"), ("AUTHORIZATION", "BEARER")],
)
def test_authorization_header_and_scheme_are_case_insensitive(api, app, header, scheme):
    token = token_for(Role.USER, app.id)
    answer = api.authorize({header: f"{scheme} {token}"}, "GET", EVENTS, app_id=app.id)
    assert answer.allows_the_request


# ---------------------------------------------------------------- refused outright (401)


def assert_unauthorized(api, headers: dict, method: str = "GET", app_id: int = 1) -> None:
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        api.authorize(headers, method, EVENTS, app_id=app_id)


def test_missing_credential_is_unauthorized(api, app):
    assert_unauthorized(api, {}, app_id=app.id)
    assert_unauthorized(api, {"x-api-key": ""}, app_id=app.id)
    assert_unauthorized(api, {"Authorization": ""}, app_id=app.id)


def test_unknown_keys_are_unauthorized(api, app):
    assert_unauthorized(api, {"x-api-key": secrets.token_hex(32)}, app_id=app.id)
    assert_unauthorized(api, {"X-INGEST-KEY": secrets.token_hex(32)}, "POST", app_id=app.id)
    assert_unauthorized(api, {"x-api-key": "elk_user_0123456789abcdef"}, app_id=app.id)


def test_revoked_keys_are_unauthorized(api, app, user_key):
    revoke_key(user_key.id)
    assert_unauthorized(api, {"x-api-key": user_key.key}, app_id=app.id)


def test_revoked_ingest_key_is_unauthorized(api, app):
    from eventlog.access.auth import authenticate_key

    principal, _ = authenticate_key(app.ingest_key)
    revoke_key(principal.key_id)
    assert_unauthorized(api, {"X-INGEST-KEY": app.ingest_key}, "POST", app_id=app.id)


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer",
        "Bearer ",
        "Bearer not-a-jwt",
        "Bearer a.b.c",
        "Basic dXNlcjpwYXNzd29yZA==",
        "Token abc",
    ],
)
def test_malformed_authorization_is_unauthorized(api, app, authorization):
    assert_unauthorized(api, {"Authorization": authorization}, app_id=app.id)


def test_expired_bearer_token_is_unauthorized(api, app):
    token = signed({"sub": "x", "role": "admin", "exp": later(-60)})
    assert_unauthorized(api, {"Authorization": f"Bearer {token}"}, app_id=app.id)


@pytest.mark.parametrize(
    "key",
    [b"some other secret", "the-signing-secret-itself", None],
    ids=["other-secret", "raw-secret", "cursor-key"],
)
def test_wrongly_signed_bearer_token_is_unauthorized(api, app, aws, key):
    if key is None:
        key = derived_key("cursor")  # page cursors are signed too: never a token
    elif key == "the-signing-secret-itself":
        key = aws.signing_secret
    token = signed({"sub": "x", "role": "admin", "exp": later()}, key)
    assert_unauthorized(api, {"Authorization": f"Bearer {token}"}, app_id=app.id)


@pytest.mark.parametrize(
    "claims",
    [
        {"sub": "x", "role": "admin"},  # no expiry
        {"sub": "x", "exp": 0},  # no role
        {"role": "admin", "exp": 0},  # no subject
        {"sub": "x", "role": "user", "exp": 0},  # a user without an app
        {"sub": "x", "role": "root", "exp": 0},
    ],
)
def test_bearer_token_with_bad_claims_is_unauthorized(api, app, claims):
    if claims.get("exp") == 0:
        claims = {**claims, "exp": later()}
    assert_unauthorized(api, {"Authorization": f"Bearer {signed(claims)}"}, app_id=app.id)


def test_unsigned_bearer_token_is_unauthorized(api, app):
    token = jwt.encode({"sub": "x", "role": "admin", "exp": later()}, None, algorithm="none")
    assert_unauthorized(api, {"Authorization": f"Bearer {token}"}, app_id=app.id)


# ---------------------------------------------------------------- seed 003: a 401 that says why

# On these routes an unidentified caller is let through with only the reason, and the handler
# answers 401 with it (API Gateway's own 401 cannot carry one).
EXPLAINED_401_ROUTES = [
    ("POST", "/api/event"),
    ("POST", "/event"),
    ("GET", "/api/ready"),
    ("GET", "/ready"),
]
BEARER = "send Authorization: Bearer <token>"


def refusal(api, aws, headers: dict, method: str = "POST", resource: str = "/api/event") -> str:
    """The reason the authorizer passes on for an unidentified caller (asserting the policy)."""
    answer = api.authorize(headers, method, resource)
    assert answer.allows_the_request
    assert answer.answer["principalId"] == "anonymous"
    assert set(answer.context) == {"refusal"}  # no role, no app: nothing to act as
    assert answer.usage_key == anonymous_api_key_value(aws)  # never the operator's
    return answer.context["refusal"]


def anonymous_api_key_value(aws) -> str:
    key_id = aws.template.physical_ids["AnonymousApiKey"]
    return aws_client("apigateway").get_api_key(apiKey=key_id, includeValue=True)["value"]


def test_anonymous_callers_have_a_small_usage_plan_of_their_own(aws):
    apigateway = aws_client("apigateway")
    anonymous = aws.template.physical_ids["AnonymousApiKey"]
    operator = aws.template.physical_ids["EventlogApiApiKey"]
    (plan,) = apigateway.get_usage_plans(keyId=anonymous)["items"]
    assert plan["id"] == aws.template.physical_ids["AnonymousUsagePlan"]
    assert plan["throttle"] == {"burstLimit": 10, "rateLimit": 5.0}  # the template's defaults
    assert (plan["quota"]["limit"], plan["quota"]["period"]) == (10000, "DAY")
    (operator_plan,) = apigateway.get_usage_plans(keyId=operator)["items"]
    assert operator_plan["id"] != plan["id"]
    assert anonymous_api_key_value(aws) != aws.operator_api_key_value


@pytest.mark.parametrize(("method", "resource"), EXPLAINED_401_ROUTES)
def test_seed_003_routes_pass_on_why_a_caller_is_unidentified(api, aws, method, resource):
    assert refusal(api, aws, {}, method, resource) == f"no credential: {BEARER}"


def test_seed_003_refusals_name_the_reason(api, aws, app, user_key):
    expired = signed({"sub": "x", "role": "admin", "exp": later(-60)})
    forged = signed({"sub": "x", "role": "admin", "exp": later()}, b"some other secret")
    revoke_key(user_key.id)
    reasons = {
        "no credential": ({"x-api-key": "", "Authorization": "  "}, f"no credential: {BEARER}"),
        "unknown key": (
            {"x-api-key": secrets.token_hex(32)},
            "the x-api-key key is unknown or revoked",
        ),
        "revoked key": ({"x-api-key": user_key.key}, "the x-api-key key is unknown or revoked"),
        "unknown ingest key": (
            {"X-INGEST-KEY": secrets.token_hex(32)},
            "the X-INGEST-KEY key is unknown or revoked",
        ),
        "expired": ({"Authorization": f"Bearer {expired}"}, "the bearer token has expired"),
        "forged": (
            {"Authorization": f"Bearer {forged}"},
            "the bearer token's signature is invalid",
        ),
        "malformed": (
            {"Authorization": "Bearer not-a-jwt"},
            "the bearer token is invalid: Not enough segments",
        ),
        "wrong scheme": (
            {"Authorization": "Basic dXNlcjpwYXNzd29yZA=="},
            f"the Authorization scheme is not Bearer: {BEARER}",
        ),
        "no token": (
            {"Authorization": "Bearer"},
            f"the Authorization header has no token: {BEARER}",
        ),
    }
    for case, (headers, reason) in reasons.items():
        assert refusal(api, aws, headers) == reason, case


def test_seed_003_routes_identify_known_callers_as_every_route_does(api, app, user_key):
    token = token_for(Role.INGEST, app.id)
    for headers, role in (
        ({"Authorization": f"Bearer {token}"}, "ingest"),
        ({"x-api-key": user_key.key}, "user"),
        ({"X-INGEST-KEY": app.ingest_key}, "ingest"),
    ):
        answer = api.authorize(headers, "POST", "/api/event")
        assert answer.allows_the_request
        assert answer.context["role"] == role
        assert answer.context["app_id"] == str(app.id)
        assert "refusal" not in answer.context
        assert answer.usage_key == app_usage_key(app.id)


@pytest.mark.parametrize(
    ("method", "resource"), [("POST", "/logs"), ("GET", "/metrics"), ("POST", "/events")]
)
def test_other_routes_still_answer_an_unidentified_caller_with_api_gateways_401(
    api, aws, method, resource
):
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        api.authorize({"Authorization": "Bearer not-a-jwt"}, method, resource)


# ---------------------------------------------------------------- app ids that are no app ids


# Superscript, Arabic-Indic and full-width digits pass str.isdigit(); int() refuses them.
NOT_APP_IDS = ["²", "\u0661", "\uff11", "1²", "9" * 5000, "-1", "1e3", " 1", 'a"b']


@pytest.mark.parametrize("app_id", NOT_APP_IDS)
def test_a_malformed_app_id_is_denied_to_app_credentials(api, app, user_key, app_id):
    for method, resource, _ in event_routes(app.id):
        parameters = {"app_id": app_id, "event_id": new_ulid(utcnow())}
        answer = api.authorize({"x-api-key": user_key.key}, method, resource, **parameters)
        assert answer.denies_everything, (method, resource)
        assert answer.context["reason"] == (
            f"this credential is for app {app.id}; the path names no app id"
        )
        assert '"' not in answer.context["reason"]  # it lands in a JSON gateway response


@pytest.mark.parametrize("app_id", ["²", "9" * 5000])
def test_a_malformed_app_id_reaches_the_handler_for_admins(api, app, admin_key, app_id):
    # The handler answers 400 or 404 (test_admin); the authorizer must not crash first.
    answer = api.authorize({"x-api-key": admin_key.key}, "GET", EVENTS, app_id=app_id)
    assert answer.allows_the_request


def test_leading_zeros_still_name_the_app(api, app, user_key):
    answer = api.authorize({"x-api-key": user_key.key}, "GET", EVENTS, app_id=f"00{app.id}")
    assert answer.allows_the_request


# ---------------------------------------------------------------- revoked bearer tokens


def test_a_revoked_token_is_unauthorized(api, app):
    minted = mint_token(TokenIn(role=Role.USER, app_id=app.id))
    bearer = {"Authorization": f"Bearer {minted.token}"}
    assert api.authorize(bearer, "GET", EVENTS, app_id=app.id).allows_the_request
    tokens.revoke_token(minted.jti)
    assert_unauthorized(api, bearer, app_id=app.id)


def test_a_revoked_token_is_named_as_such_on_seed_003_routes(api, aws, app):
    minted = mint_token(TokenIn(role=Role.INGEST, app_id=app.id))
    tokens.revoke_token(minted.jti)
    reason = refusal(api, aws, {"Authorization": f"Bearer {minted.token}"})
    assert reason == "the bearer token has been revoked"


def test_revoking_one_token_leaves_the_others(api, app):
    kept, revoked = (mint_token(TokenIn(role=Role.USER, app_id=app.id)) for _ in range(2))
    tokens.revoke_token(revoked.jti)
    answer = api.authorize({"Authorization": f"Bearer {kept.token}"}, "GET", EVENTS, app_id=app.id)
    assert answer.allows_the_request
    assert answer.usage_key == app_usage_key(app.id)


def test_a_token_without_a_record_is_unauthorized(api, app):
    # Signed by us with a jti, but never minted here (or its record is gone): refused.
    token = signed({"sub": "x", "role": "admin", "exp": later(), "jti": "never-minted"})
    assert_unauthorized(api, {"Authorization": f"Bearer {token}"}, app_id=app.id)


@pytest.mark.parametrize("jti", [7, "", "a b", "x" * 65, ["a"]])
def test_a_malformed_jti_is_unauthorized(api, app, jti):
    token = signed({"sub": "x", "role": "admin", "exp": later(), "jti": jti})
    assert_unauthorized(api, {"Authorization": f"Bearer {token}"}, app_id=app.id)


def test_a_token_minted_before_jtis_stays_valid_until_it_expires(api, app):
    token = signed({"sub": "old", "role": "user", "app": app.id, "exp": later()})
    answer = api.authorize({"Authorization": f"Bearer {token}"}, "GET", EVENTS, app_id=app.id)
    assert answer.allows_the_request
    assert answer.usage_key == app_usage_key(app.id)


def test_one_get_item_per_request(api, app, user_key, dynamodb_calls):
    minted = mint_token(TokenIn(role=Role.USER, app_id=app.id))
    admin = mint_token(TokenIn(role=Role.ADMIN))
    legacy = signed({"sub": "old", "role": "user", "app": app.id, "exp": later()})
    for headers in (
        {"Authorization": f"Bearer {minted.token}"},
        {"Authorization": f"Bearer {admin.token}"},
        {"Authorization": f"Bearer {legacy}"},
        {"x-api-key": user_key.key},  # the key's own item: no token record read
    ):
        dynamodb_calls.clear()
        assert api.authorize(headers, "GET", EVENTS, app_id=app.id).allows_the_request
        assert dynamodb_calls.operations == ["GetItem"], headers


def test_the_token_record_expires_with_the_token(aws, app):
    minted = mint_token(TokenIn(role=Role.USER, app_id=app.id, expires_in=600))
    record = registry.get_token(minted.jti)
    claims = jwt.decode(minted.token, options={"verify_signature": False})
    assert record["expires_at"] == claims["exp"]
    assert claims["jti"] == minted.jti
    table = aws_client("dynamodb").describe_time_to_live(
        TableName=aws.environment["REGISTRY_TABLE"]
    )
    assert table["TimeToLiveDescription"]["AttributeName"] == "expires_at"
