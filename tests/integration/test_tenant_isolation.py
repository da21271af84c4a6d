"""Tenant isolation, route by route: every route of template.yaml, called with each credential of
another app, over HTTP on the local stack (authorizer, API keys and handlers as deployed).

The matrix is generated from the template's route table, so a new route is covered without anyone
remembering to add it; a route with a path parameter this file cannot fill fails the suite.
- A route naming an app (`{app_id}`) called for the victim's app: 401, 403 or 404.
- A route without one applies the caller's own app: any answer but a 5xx.
- Whatever the answer, nothing of the victim's app appears in it: not its marker (written into
  its events, logs and seed profiles' data), its name, its keys or its ids, unless the request
  itself named it (a 404 says what it did not find).
Afterwards the victim's data is all there: nothing the other app sent changed it.
"""

import uuid
from dataclasses import dataclass
from typing import Any

import pytest

from local_stack.apis import load_apis, load_routes
from local_stack.resources import assign_physical_ids
from local_stack.template import Template
from tests.support import TEMPLATE_PATH
from tests.support.local_stack import StackSession

ANY_BODY = {"message": "from another app", "level": "info"}


def _routes() -> list[Any]:
    """(method, path) of every route behind the authorizer, from template.yaml."""
    template = Template.load(TEMPLATE_PATH)
    assign_physical_ids(template)
    routes = load_routes(template, load_apis(template, {}))
    found = sorted({(r.method, r.path) for r in routes if r.authorizer is not None})
    return [pytest.param(method, path, id=f"{method} {path}") for method, path in found]


@dataclass
class Victim:
    marker: str  # in every piece of the victim's data
    name: str  # the victim's seed 001 event, asked for by name
    app: dict[str, Any]
    user_key: dict[str, Any]
    event_id: str
    number: int
    rule_id: str
    jti: str
    token: str
    secrets: list[str]  # strings that must appear in no answer to the other app

    def path_values(self, route: str) -> dict[str, str]:
        return {
            "app_id": str(self.app["id"]),
            # seed 000's ids are numbers, the native API's ULIDs
            "event_id": str(self.number) if route.startswith("/events/") else self.event_id,
            "key_id": self.user_key["id"],
            "rule_id": self.rule_id,
            "subscription_id": "s_01JAAAAAAAAAAAAAAAAAAAAAAA",
            "name": self.name,
            "jti": self.jti,
        }


def _created(reply: Any) -> Any:
    assert reply.status_code in (200, 201), reply.text
    return reply.json() if reply.content else None


@pytest.fixture(scope="module")
def session(stack) -> Any:
    with StackSession(stack) as http:
        yield http


@pytest.fixture(scope="module")
def victim(session) -> Victim:
    # Fresh names each time: the fixture may be set up again in the same stack (xdist worksteal).
    http, marker, name = session, f"victim{uuid.uuid4().hex[:12]}", f"name{uuid.uuid4().hex[:12]}"
    app = _created(http.post(f"/apps/{marker}", headers=http.admin))
    ingest = {"X-INGEST-KEY": app["ingest_key"]}
    user_key = _created(
        http.post("/keys", json={"role": "user", "app_id": app["id"]}, headers=http.admin)
    )
    event = _created(
        http.post(
            f"/apps/{app['id']}/events",
            json={"message": f"{marker} native", "name": marker, "data": {"secret": marker}},
            headers=ingest,
        )
    )
    seed_000 = _created(
        http.post(
            "/events",
            json={"event_type": "ERROR", "service_name": marker, "additional_data": marker},
            headers=ingest,
        )
    )
    _created(http.post(f"/api/v1/events/{name}", headers=ingest))  # seed 001
    _created(http.post("/logs", json={"level": "error", "message": marker}, headers=ingest))
    rules = _created(http.get(f"/apps/{app['id']}/alert-rules", headers=http.admin))
    token = _created(
        http.post("/tokens", json={"role": "user", "app_id": app["id"]}, headers=http.admin)
    )
    return Victim(
        marker=marker,
        name=name,
        app=app,
        user_key=user_key,
        event_id=event["id"],
        number=seed_000["event_id"],
        rule_id=rules["items"][0]["id"],
        jti=token["jti"],
        token=token["token"],
        secrets=[marker, app["ingest_key"], user_key["key"], event["id"], token["token"]],
    )


@pytest.fixture(scope="module")
def attacker(session) -> dict[str, dict[str, str]]:
    """Each credential another app has: its user key, its ingest key, a bearer token."""
    http = session
    app = _created(http.post(f"/apps/attacker-{uuid.uuid4().hex[:10]}", headers=http.admin))
    user_key = _created(
        http.post("/keys", json={"role": "user", "app_id": app["id"]}, headers=http.admin)
    )
    token = _created(
        http.post(
            "/tokens",
            json={"role": "user", "app_id": app["id"], "expires_in": 3600},
            headers=http.admin,
        )
    )
    return {
        "user key": {"x-api-key": user_key["key"]},
        "ingest key": {"X-INGEST-KEY": app["ingest_key"]},
        "bearer token": {"Authorization": f"Bearer {token['token']}"},
    }


def _path(template: str, values: dict[str, str]) -> str:
    try:
        return template.format(**values)
    except KeyError as missing:
        raise AssertionError(f"{template}: no value for the path parameter {missing}") from None


@pytest.mark.parametrize(("method", "route"), _routes())
def test_another_apps_credentials_reach_nothing_of_the_victim(
    session, victim, attacker, method, route
):
    path = _path(route, victim.path_values(route))
    for credential, headers in attacker.items():
        reply = session.request(
            method,
            path,
            headers=headers,
            json=ANY_BODY if method in ("POST", "PUT", "PATCH") else None,
        )
        seen = f"{method} {path} with the other app's {credential}"
        assert reply.status_code < 500, f"{seen}: {reply.status_code} {reply.text[:300]}"
        if "{app_id}" in route:
            assert reply.status_code in (401, 403, 404), f"{seen}: {reply.status_code}"
        leaked = [s for s in victim.secrets if s in reply.text and s not in path]
        assert not leaked, f"{seen} answered {leaked}: {reply.text[:300]}"


def test_the_victims_data_is_intact_afterwards(session, victim):
    http = session
    app_id = victim.app["id"]
    user = {"x-api-key": victim.user_key["key"]}

    event = http.get(f"/apps/{app_id}/events/{victim.event_id}", headers=user)
    numbered = http.get(f"/events/{victim.number}", headers=user)
    rule = http.get(f"/apps/{app_id}/alert-rules/{victim.rule_id}", headers=http.admin)
    logs = http.get("/logs", headers=user)
    bearer_token = {"Authorization": f"Bearer {victim.token}"}
    bearer = http.get(f"/apps/{app_id}/events", headers=bearer_token)

    assert event.status_code == 200 and event.json()["data"] == {"secret": victim.marker}
    assert numbered.status_code == 200 and numbered.json()["additional_data"] == victim.marker
    assert rule.status_code == 200
    assert bearer.status_code == 200  # its token is not revoked
    assert victim.marker in [entry["message"] for entry in logs.json()]
