"""The service end to end over real HTTP on the local stack, as a client team would use it."""

import uuid

import pytest
import requests


def _new_app(stack, http) -> dict:
    reply = http.post(f"{stack.url}/apps/app-{uuid.uuid4().hex[:10]}", headers=_admin(stack))
    assert reply.status_code == 201, reply.text
    return reply.json()


def _admin(stack) -> dict[str, str]:
    return {"x-api-key": stack.admin_key}


def _ingest(app: dict) -> dict[str, str]:
    return {"X-INGEST-KEY": app["ingest_key"]}


@pytest.fixture
def app(stack, http) -> dict:
    return _new_app(stack, http)


def test_create_ingest_list_get_and_refuse_another_apps_key(stack, http, app):
    other = _new_app(stack, http)
    event = {
        "occurred_at": "2026-02-10T12:00:00+02:00",
        "level": "error",
        "message": "TimeoutError: request timed out",
        "stack": {"frames": []},
        "tags": {"env": "prod", "version": "1.2.3"},
    }
    created = http.post(f"{stack.url}/apps/{app['id']}/events", json=event, headers=_ingest(app))
    assert created.status_code == 201, created.text
    assert created.headers["Content-Type"] == "application/json"
    stored = created.json()
    assert stored["occurred_at"] == "2026-02-10T10:00:00Z"
    assert stored["level"] == "ERROR"
    assert stored["tags"] == event["tags"]

    listing = http.get(f"{stack.url}/apps/{app['id']}/events", headers=_admin(stack))
    assert listing.status_code == 200
    assert listing.json() == {"items": [stored], "next_cursor": None, "next_offset": None}

    fetched = http.get(f"{stack.url}/apps/{app['id']}/events/{stored['id']}", headers=_admin(stack))
    assert fetched.status_code == 200
    assert fetched.json() == stored

    refused = http.post(f"{stack.url}/apps/{app['id']}/events", json=event, headers=_ingest(other))
    assert refused.status_code == 403
    assert refused.json() == {
        "error": "FORBIDDEN",
        "message": f"this credential is for app {other['id']}, not app {app['id']}",
    }


def test_user_key_reads_its_app_only_and_cannot_administer(stack, http, app):
    other = _new_app(stack, http)
    key = http.post(
        f"{stack.url}/keys", json={"role": "user", "app_id": app["id"]}, headers=_admin(stack)
    )
    assert key.status_code == 201, key.text
    user = {"x-api-key": key.json()["key"]}

    assert http.get(f"{stack.url}/apps/{app['id']}/events", headers=user).status_code == 200
    assert http.get(f"{stack.url}/apps/{other['id']}/events", headers=user).status_code == 403
    denied = http.get(f"{stack.url}/apps", headers=user)
    assert denied.status_code == 403
    assert denied.json()["error"] == "FORBIDDEN"

    revoked = http.delete(f"{stack.url}/keys/{key.json()['id']}", headers=_admin(stack))
    assert revoked.status_code == 200
    assert http.get(f"{stack.url}/apps/{app['id']}/events", headers=user).status_code == 401


def test_ingest_key_cannot_read(stack, http, app):
    reply = http.get(f"{stack.url}/apps/{app['id']}/events", headers=_ingest(app))
    assert reply.status_code == 403


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"x-api-key": "not-a-key"},
        {"X-INGEST-KEY": "0" * 64},
        {"Authorization": "Bearer not.a.jwt"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
    ],
    ids=["none", "unknown-api-key", "unknown-ingest-key", "forged-jwt", "basic-auth"],
)
def test_missing_and_forged_credentials_get_401_json(stack, http, headers):
    reply = http.get(f"{stack.url}/apps", headers=headers)
    assert reply.status_code == 401
    assert reply.headers["Content-Type"].startswith("application/json")
    assert reply.json()["error"] == "UNAUTHORIZED"


def test_bearer_token_minted_by_admin_is_accepted_for_its_app(stack, http, app):
    minted = http.post(
        f"{stack.url}/tokens",
        json={"role": "ingest", "app_id": app["id"], "expires_in": 600},
        headers=_admin(stack),
    )
    assert minted.status_code == 201, minted.text
    bearer = {"Authorization": f"Bearer {minted.json()['token']}"}
    posted = http.post(
        f"{stack.url}/apps/{app['id']}/events", json={"message": "hi"}, headers=bearer
    )
    assert posted.status_code == 201
    tampered = minted.json()["token"][:-2] + "xx"
    refused = http.post(
        f"{stack.url}/apps/{app['id']}/events",
        json={"message": "hi"},
        headers={"Authorization": f"Bearer {tampered}"},
    )
    assert refused.status_code == 401


def test_bad_input_gets_400_naming_the_problem(stack, http, app):
    url = f"{stack.url}/apps/{app['id']}/events"
    malformed = http.post(url, data="{not json", headers=_ingest(app))
    assert malformed.status_code == 400
    assert malformed.json()["error"] == "VALIDATION_ERROR"
    assert "malformed JSON" in malformed.json()["message"]

    wrong = http.post(
        url,
        json={"message": "x", "count": "many", "occurred_at": "yesterday", "level": "LOUD"},
        headers=_ingest(app),
    )
    assert wrong.status_code == 400
    assert {d["field"] for d in wrong.json()["details"]} == {"count", "occurred_at", "level"}

    too_big = http.post(url, json={"message": "x" * (300 * 1024)}, headers=_ingest(app))
    assert too_big.status_code == 413
    assert too_big.json()["error"] == "PAYLOAD_TOO_LARGE"


def test_unicode_round_trips(stack, http, app):
    message = "Zahlung fehlgeschlagen: ünïcödé ✓ 日本語 🚀"
    created = http.post(
        f"{stack.url}/apps/{app['id']}/events", json={"message": message}, headers=_ingest(app)
    )
    assert created.status_code == 201
    fetched = http.get(
        f"{stack.url}/apps/{app['id']}/events/{created.json()['id']}", headers=_admin(stack)
    )
    assert fetched.json()["message"] == message


def test_unknown_app_and_unknown_event_are_404(stack, http, app):
    missing_app = http.get(f"{stack.url}/apps/999999/events", headers=_admin(stack))
    assert missing_app.status_code == 404
    assert missing_app.json()["error"] == "NOT_FOUND"
    missing_event = http.get(
        f"{stack.url}/apps/{app['id']}/events/01KH000000000000000000000A", headers=_admin(stack)
    )
    assert missing_event.status_code == 404


def test_batch_paging_by_cursor_and_offset_sees_every_event_once(stack, http, app):
    batch = [{"message": f"event {i}", "name": "signup"} for i in range(45)]
    posted = http.post(f"{stack.url}/apps/{app['id']}/events", json=batch, headers=_ingest(app))
    assert posted.status_code == 201
    assert posted.json()["accepted"] == 45

    seen, cursor = [], None
    while True:
        params = {"limit": 20, **({"cursor": cursor} if cursor else {})}
        page = http.get(
            f"{stack.url}/apps/{app['id']}/events", params=params, headers=_admin(stack)
        ).json()
        seen += [item["message"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            assert page["next_offset"] is None
            break
    assert seen == [f"event {i}" for i in reversed(range(45))]

    by_offset = http.get(
        f"{stack.url}/apps/{app['id']}/events",
        params={"limit": 20, "offset": 40},
        headers=_admin(stack),
    ).json()
    assert [item["message"] for item in by_offset["items"]] == [
        f"event {i}" for i in range(4, -1, -1)
    ]
    assert by_offset["next_offset"] is None


def test_health_needs_no_credential(stack):
    reply = requests.get(f"{stack.url}/health", timeout=10)
    assert reply.status_code == 200
    assert reply.json() == {"status": "ok"}
