"""Contract tests: each seed document's examples, sent as written over HTTP to the local stack
(plus the credential header the profile takes), get the documented answers.

Every test works in an app of its own (`tenant`), so what one stores never shows in another's
listings; the stack itself (`stack`, `http`) is the one of tests/conftest.py.
"""

import uuid
from dataclasses import dataclass

import pytest


@dataclass
class Tenant:
    """An app made for one test, with a credential of each kind."""

    app_id: int
    name: str
    user: dict[str, str]  # x-api-key of a user key of the app
    ingest: dict[str, str]  # X-INGEST-KEY of the app
    admin: dict[str, str]  # x-api-key of the stack's admin key (every app; default app)


@pytest.fixture
def tenant(http) -> Tenant:
    name = f"contract-{uuid.uuid4().hex[:12]}"
    created = http.post(f"/apps/{name}", headers=http.admin)
    assert created.status_code == 201, created.text
    app = created.json()
    key = http.post(
        "/keys", json={"role": "user", "app_id": app["id"], "label": name}, headers=http.admin
    )
    assert key.status_code == 201, key.text
    return Tenant(
        app_id=app["id"],
        name=name,
        user={"x-api-key": key.json()["key"]},
        ingest={"X-INGEST-KEY": app["ingest_key"]},
        admin=http.admin,
    )
