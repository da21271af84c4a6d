"""Admin routes: apps, keys and bearer tokens."""

import re

import pytest

from eventlog.access.auth import authenticate_key, authenticate_token, verify_token
from eventlog.access.principal import Role
from eventlog.base.config import get_settings
from eventlog.base.errors import AuthenticationError
from eventlog.base.timeutil import parse_iso, utcnow
from eventlog.storage import registry

HEX64 = re.compile(r"[0-9a-f]{64}")
ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z$")


# ---------------------------------------------------------------- apps


def test_create_app(api, aws):
    reply = api.create_app("my-app")
    assert reply.status == 201, reply.text
    assert reply.content_type == "application/json"
    created = reply.body
    assert created == {
        "id": created["id"],
        "name": "my-app",
        "ingest_key": created["ingest_key"],
        "created_at": created["created_at"],
    }
    assert isinstance(created["id"], int) and created["id"] >= 1
    assert HEX64.fullmatch(created["ingest_key"])
    assert ISO_UTC.match(created["created_at"])

    principal, usage_key = authenticate_key(created["ingest_key"])
    assert principal.role is Role.INGEST
    assert principal.app_id == created["id"]
    assert usage_key

    fetched = api.get_app(created["id"])
    assert fetched.status == 200
    assert fetched.body == {
        "id": created["id"],
        "name": "my-app",
        "created_at": created["created_at"],
    }


def test_apps_get_their_own_ids_and_ingest_keys(api, aws):
    first = api.create_app("first").body
    second = api.create_app("second").body
    assert first["id"] != second["id"]
    assert first["ingest_key"] != second["ingest_key"]
    assert authenticate_key(second["ingest_key"])[0].app_id == second["id"]


def test_app_usage_keys_are_their_own(api, aws):
    from eventlog.access.auth import app_usage_key

    first = api.create_app("first").body
    second = api.create_app("second").body
    assert app_usage_key(first["id"]) != app_usage_key(second["id"])
    assert app_usage_key(first["id"]) != aws.operator_api_key_value
    assert authenticate_key(first["ingest_key"])[1] == app_usage_key(first["id"])


@pytest.mark.parametrize("second_name", ["my-app", "My-App", "MY-APP"])
def test_duplicate_app_name_is_a_conflict(api, aws, second_name):
    assert api.create_app("my-app").status == 201
    reply = api.create_app(second_name)
    assert reply.status == 409
    assert reply.content_type == "application/json"
    assert reply.body == {"error": "CONFLICT", "message": reply.body["message"]}
    assert second_name in reply.body["message"]
    listing = api.list_apps().body
    assert [app["name"] for app in listing["items"]] == ["my-app"]


@pytest.mark.parametrize("name", ["1app", "-app", "bad!name", "a" * 65, "ü-app"])
def test_invalid_app_name_is_refused(api, aws, name):
    reply = api.create_app(name)
    assert reply.status == 400
    assert reply.body["error"] == "VALIDATION_ERROR"
    assert api.list_apps().body["items"] == []


@pytest.mark.parametrize("name", ["a", "A", "my_app.v2-beta", "x" * 64])
def test_valid_app_names(api, aws, name):
    reply = api.create_app(name)
    assert reply.status == 201, reply.text
    assert reply.body["name"] == name


def test_list_apps_is_paginated(api, aws):
    created = [api.create_app(f"app-{i}").body for i in range(5)]
    expected = [{key: app[key] for key in ("id", "name", "created_at")} for app in created]

    first = api.list_apps(limit=2)
    assert first.status == 200
    assert first.content_type == "application/json"
    assert first.body["items"] == expected[:2]
    assert first.body["next_cursor"]

    seen, cursor = list(first.body["items"]), first.body["next_cursor"]
    while cursor:
        page = api.list_apps(limit=2, cursor=cursor)
        assert page.status == 200, page.text
        seen += page.body["items"]
        cursor = page.body.get("next_cursor")
    assert seen == expected


def test_last_page_of_apps_has_a_null_cursor(api, aws):
    api.create_app("only")
    listing = api.list_apps()
    assert listing.body == {"items": listing.body["items"], "next_cursor": None}
    assert len(listing.body["items"]) == 1


def test_list_apps_never_shows_ingest_or_usage_keys(api, aws):
    api.create_app("secretive")
    listing = api.list_apps()
    assert set(listing.body["items"][0]) == {"id", "name", "created_at"}
    assert not HEX64.search(listing.text)


@pytest.mark.parametrize("limit", [0, 101, "many"])
def test_list_apps_limit_bounds(api, aws, limit):
    reply = api.list_apps(limit=limit)
    assert reply.status == 400
    assert reply.body["error"] == "VALIDATION_ERROR"


def test_get_unknown_app_is_not_found(api, aws):
    reply = api.get_app(999)
    assert reply.status == 404
    assert reply.body == {"error": "NOT_FOUND", "message": "no app with id 999"}


@pytest.mark.parametrize("app_id", ["my-app", "²", "\u0661", "9" * 5000])
def test_get_app_with_non_numeric_id_is_refused(api, aws, app_id):
    reply = api.get_app(app_id)
    assert reply.status in (400, 404), reply.text
    assert reply.body["error"] in ("VALIDATION_ERROR", "NOT_FOUND")


# ---------------------------------------------------------------- keys


def test_create_user_key(api, app):
    reply = api.create_key({"role": "user", "app_id": app.id, "label": "dashboard"})
    assert reply.status == 201, reply.text
    assert reply.content_type == "application/json"
    created = reply.body
    assert created == {
        "id": created["id"],
        "role": "user",
        "app_id": app.id,
        "label": "dashboard",
        "created_at": created["created_at"],
        "revoked_at": None,
        "key": created["key"],
    }
    assert created["id"].startswith("k_")
    assert HEX64.fullmatch(created["key"])
    principal, usage_key = authenticate_key(created["key"])
    assert (principal.role, principal.app_id, principal.key_id) == (
        Role.USER,
        app.id,
        created["id"],
    )
    from eventlog.access.auth import app_usage_key

    assert usage_key == app_usage_key(app.id)


def test_create_admin_key(api, aws):
    reply = api.create_key({"role": "admin"})
    assert reply.status == 201, reply.text
    assert reply.body["role"] == "admin"
    assert "app_id" not in reply.body or reply.body["app_id"] is None
    principal, usage_key = authenticate_key(reply.body["key"])
    assert principal.role is Role.ADMIN and principal.app_id is None
    assert usage_key == aws.operator_api_key_value


def test_create_ingest_key(api, app):
    reply = api.create_key({"role": "ingest", "app_id": app.id})
    assert reply.status == 201, reply.text
    assert authenticate_key(reply.body["key"])[0].role is Role.INGEST


@pytest.mark.parametrize(
    "body",
    [
        {"role": "user"},  # a user key needs an app
        {"role": "ingest"},
        {"role": "admin", "app_id": 1},  # an admin key has none
        {"role": "owner", "app_id": 1},
        {"role": "user", "app_id": 0},
        {"role": "user", "app_id": "one"},
        {"role": "user", "app_id": 1, "colour": "red"},
        {"role": "user", "app_id": 1, "label": ""},
        {},
    ],
)
def test_invalid_key_request_is_refused(api, app, body):
    reply = api.create_key(body)
    assert reply.status == 400, reply.text
    assert reply.content_type == "application/json"
    assert reply.body["error"] == "VALIDATION_ERROR"
    assert reply.body["details"]


def test_key_for_an_unknown_app_is_refused(api, app):
    reply = api.create_key({"role": "user", "app_id": app.id + 100})
    assert reply.status == 400
    assert reply.body == {
        "error": "VALIDATION_ERROR",
        "message": f"app {app.id + 100} does not exist",
    }


@pytest.mark.parametrize("body", ["", "{not json", "[]"])
def test_key_request_that_is_no_json_object_is_refused(api, aws, body):
    reply = api.create_key(body)
    assert reply.status == 400
    assert reply.body["error"] == "VALIDATION_ERROR"


def test_malformed_json_is_named_as_such(api, aws):
    reply = api.create_key('{"role": "admin",')
    assert reply.status == 400
    assert reply.body["message"].startswith("malformed JSON")
    assert [detail["field"] for detail in reply.body["details"]] == ["body"]


def test_list_keys_never_shows_a_key_or_its_hash(api, app, admin_key, user_key):
    reply = api.list_keys()
    assert reply.status == 200
    assert reply.content_type == "application/json"
    assert not HEX64.search(reply.text)
    listed = {key["id"]: key for key in reply.body["items"]}
    assert set(listed) >= {admin_key.id, user_key.id}
    assert listed[user_key.id] == {
        "id": user_key.id,
        "role": "user",
        "app_id": app.id,
        "label": "tests user",
        "created_at": user_key.created_at,
        "revoked_at": None,
    }
    # The app's ingest key is listed too, without its plaintext.
    assert any(key["role"] == "ingest" and key["app_id"] == app.id for key in listed.values())


def test_list_keys_of_one_app(api, app, other_app, user_key):
    reply = api.list_keys(app_id=other_app.id)
    assert reply.status == 200
    assert {key["app_id"] for key in reply.body["items"]} == {other_app.id}
    assert user_key.id not in {key["id"] for key in reply.body["items"]}


def test_list_keys_is_paginated(api, app):
    created = [api.create_key({"role": "user", "app_id": app.id}).body["id"] for _ in range(3)]
    seen, cursor = [], None
    while True:
        page = api.list_keys(limit=2, **({"cursor": cursor} if cursor else {}))
        assert page.status == 200, page.text
        assert len(page.body["items"]) <= 2
        seen += [key["id"] for key in page.body["items"]]
        cursor = page.body.get("next_cursor")
        if not cursor:
            break
    assert len(seen) == len(set(seen)) == 4  # the app's ingest key and the three user keys
    assert set(created) < set(seen)
    assert seen == sorted(seen)  # key ids sort by creation


def test_revoked_key_no_longer_authenticates(api, user_key):
    assert authenticate_key(user_key.key) is not None
    reply = api.revoke_key(user_key.id)
    assert reply.status == 200, reply.text
    assert reply.content_type == "application/json"
    assert reply.body["id"] == user_key.id
    assert ISO_UTC.match(reply.body["revoked_at"])
    assert "key" not in reply.body and not HEX64.search(reply.text)
    assert authenticate_key(user_key.key) is None

    listed = {key["id"]: key for key in api.list_keys().body["items"]}
    assert listed[user_key.id]["revoked_at"] == reply.body["revoked_at"]


def test_revoking_twice_keeps_the_first_time(api, user_key):
    first = api.revoke_key(user_key.id)
    again = api.revoke_key(user_key.id)
    assert again.status == 200
    assert again.body["revoked_at"] == first.body["revoked_at"]


def test_revoking_an_apps_ingest_key(api, app):
    ingest = next(key for key in api.list_keys().body["items"] if key["role"] == "ingest")
    assert api.revoke_key(ingest["id"]).status == 200
    assert authenticate_key(app.ingest_key) is None


def test_revoking_an_unknown_key_is_not_found(api, aws):
    reply = api.revoke_key("k_0123456789ab")
    assert reply.status == 404
    assert reply.content_type == "application/json"
    assert reply.body == {"error": "NOT_FOUND", "message": "no key with id 'k_0123456789ab'"}


# ---------------------------------------------------------------- tokens


def test_create_token_for_a_user(api, app):
    before = utcnow().replace(microsecond=0)
    reply = api.create_token({"role": "user", "app_id": app.id, "expires_in": 3600})
    assert reply.status == 201, reply.text
    assert reply.content_type == "application/json"
    assert reply.body == {
        "token": reply.body["token"],
        "token_type": "Bearer",
        "expires_at": reply.body["expires_at"],
        "jti": reply.body["jti"],
    }
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", reply.body["jti"])
    principal = verify_token(reply.body["token"])
    assert (principal.role, principal.app_id) == (Role.USER, app.id)
    expires = parse_iso(reply.body["expires_at"])
    assert 3600 <= (expires - before).total_seconds() <= 3600 + 60


def test_create_token_for_an_admin(api, aws):
    reply = api.create_token({"role": "admin", "subject": "ops"})
    assert reply.status == 201, reply.text
    principal = verify_token(reply.body["token"])
    assert (principal.role, principal.app_id, principal.key_id) == (Role.ADMIN, None, "jwt:ops")


@pytest.mark.parametrize(
    "body",
    [
        {"role": "root"},
        {"role": "user"},  # needs an app
        {"role": "admin", "app_id": 1},
        {"role": "user", "app_id": 1, "expires_in": 59},
        {"role": "user", "app_id": 1, "expires_in": 31_536_001},
        {"role": "user", "app_id": 1, "scope": "all"},
    ],
)
def test_invalid_token_request_is_refused(api, aws, body):
    reply = api.create_token(body)
    assert reply.status == 400, reply.text
    assert reply.body["error"] == "VALIDATION_ERROR"


def test_a_token_may_live_a_day_at_most_by_default(api, app):
    assert get_settings().token_max_lifetime_seconds == 86_400
    assert api.create_token({"role": "user", "app_id": app.id, "expires_in": 86_400}).status == 201
    reply = api.create_token({"role": "user", "app_id": app.id, "expires_in": 86_401})
    assert reply.status == 400, reply.text
    assert reply.body["error"] == "VALIDATION_ERROR"
    assert reply.body["message"] == (
        "expires_in may be at most 86400 seconds (the stack's TokenMaxLifetimeSeconds)"
    )


def test_the_default_lifetime_never_exceeds_the_maximum(api, app, monkeypatch):
    monkeypatch.setenv("TOKEN_MAX_LIFETIME_SECONDS", "600")
    get_settings.cache_clear()
    before = utcnow().replace(microsecond=0)
    reply = api.create_token({"role": "user", "app_id": app.id})
    assert reply.status == 201, reply.text
    assert 600 <= (parse_iso(reply.body["expires_at"]) - before).total_seconds() <= 660
    assert api.create_token({"role": "admin", "expires_in": 601}).status == 400
    get_settings.cache_clear()


def revoke_token(api, jti: str):
    return api.admin_request("DELETE", "/tokens/{jti}", jti=jti)


def test_revoke_a_token(api, app):
    minted = api.create_token({"role": "user", "app_id": app.id, "subject": "ci"}).body
    assert authenticate_token(minted["token"])[0].app_id == app.id
    reply = revoke_token(api, minted["jti"])
    assert reply.status == 200, reply.text
    assert reply.content_type == "application/json"
    assert reply.body == {
        "jti": minted["jti"],
        "subject": "ci",
        "role": "user",
        "app_id": app.id,
        "expires_at": minted["expires_at"],
        "revoked_at": reply.body["revoked_at"],
    }
    assert ISO_UTC.match(reply.body["revoked_at"])
    with pytest.raises(AuthenticationError, match="revoked"):
        authenticate_token(minted["token"])
    again = revoke_token(api, minted["jti"])
    assert again.status == 200
    assert again.body["revoked_at"] == reply.body["revoked_at"]


def test_revoking_an_unknown_token_is_not_found(api, aws):
    reply = revoke_token(api, "no-such-token")
    assert reply.status == 404
    assert reply.body == {"error": "NOT_FOUND", "message": "no live token with jti 'no-such-token'"}


@pytest.mark.parametrize("jti", ["x" * 65, "a.b", "²"])
def test_revoking_a_malformed_jti_is_refused(api, aws, jti):
    reply = revoke_token(api, jti)
    assert reply.status == 400, reply.text
    assert reply.body["error"] == "VALIDATION_ERROR"


# ---------------------------------------------------------------- the last admin key


def test_the_last_admin_key_cannot_be_revoked(api, admin_key):
    reply = api.revoke_key(admin_key.id)
    assert reply.status == 409, reply.text
    assert reply.content_type == "application/json"
    assert reply.body == {
        "error": "CONFLICT",
        "message": (
            f"key '{admin_key.id}' is the last live admin key: create another admin key "
            "(POST /keys) before revoking this one"
        ),
    }
    assert authenticate_key(admin_key.key) is not None


def test_an_admin_key_can_be_revoked_while_another_lives(api, admin_key):
    second = api.create_key({"role": "admin"}).body
    assert api.revoke_key(admin_key.id).status == 200
    assert authenticate_key(admin_key.key) is None
    assert api.revoke_key(second["id"]).status == 409
    assert api.revoke_key(admin_key.id).status == 200  # already revoked: keeps its time
    assert authenticate_key(second["key"]) is not None


def test_two_revocations_racing_leave_an_admin_key(api, admin_key):
    second = api.create_key({"role": "admin"}).body
    first_item = registry.get_key_by_id(admin_key.id)
    second_item = registry.get_key_by_id(second["id"])
    # Both read the other as live; the second revocation's transaction then finds it revoked.
    assert registry.revoke_key_keeping(first_item, second_item, "2026-01-01T00:00:00Z")
    assert not registry.revoke_key_keeping(second_item, first_item, "2026-01-01T00:00:00Z")
    assert authenticate_key(second["key"]) is not None


def test_revoking_user_keys_needs_no_admin_left(api, user_key):
    assert api.revoke_key(user_key.id).status == 200  # no admin key exists at all


# ---------------------------------------------------------------- deleting by name


def test_deleting_by_name_out_of_time_goes_on_from_its_cursor(api, app, monkeypatch):
    import time

    from eventlog.events import deletion, ingestion

    class RunsOut:  # real for one look at the clock, then past any deadline
        left = 1

        def monotonic(self) -> float:
            self.left -= 1
            return time.monotonic() if self.left >= 0 else float("inf")

    monkeypatch.setattr(deletion, "CHUNK", 1)
    for name in ("gone", "kept", "gone", "gone"):
        ingestion.ingest_one(app.id, {"name": name, "count": 3})
    totals = []
    cursor = None
    while not totals or cursor:
        monkeypatch.setattr(deletion, "time", RunsOut())
        reply = api.delete_events(app.id, name="gone", **({"cursor": cursor} if cursor else {}))
        assert reply.status == 200
        totals.append((reply.body["deleted"], reply.body["occurrences"], reply.body["complete"]))
        cursor = reply.headers.get("x-eventlog-cursor")
    assert totals == [(1, 3, False), (1, 3, False), (1, 3, True)]
    assert [event["name"] for event in api.all_events(app.id)] == ["kept"]
    assert api.delete_events(app.id, name="gone", cursor="x.y").status == 400


@pytest.mark.parametrize(
    ("path", "takes"),
    [
        ("/apps", "limit, cursor"),
        ("/keys", "limit, cursor, app_id"),
        ("/apps/{app_id}/alert-rules", "limit, cursor"),
        ("/apps/{app_id}/subscriptions", "limit, cursor"),
    ],
)
def test_a_listing_refuses_a_filter_it_does_not_take(api, app, path, takes):
    path_parameters = {"app_id": app.id} if "{app_id}" in path else {}
    reply = api.admin_request("GET", path, query={"role": "admin"}, **path_parameters)
    assert reply.status == 400, reply.text
    assert reply.body == {
        "error": "VALIDATION_ERROR",
        "message": f"unknown query parameter 'role': this route takes {takes}",
    }


@pytest.mark.parametrize("spelt", ["+1", "1.0", "٣", "0" * 18 + "1", " 1"])
def test_an_app_id_is_read_as_the_authorizer_reads_it(api, app, spelt):
    # An admin's `/apps/+1` names no app, as for every other credential (the authorizer's 403).
    reply = api.get_app(spelt)
    assert reply.status == 400, reply.text
    assert reply.body["details"] == [
        {"field": "app_id", "message": "an app id is 1 to 18 ASCII digits"}
    ]
