"""The fuzz suite: schemathesis over every operation of the API's OpenAPI document, sent over HTTP
to the local stack with the stack's admin key, asserting no 5xx and answers that match the
document (status code documented, content type, body schema, headers).

- The document is the committed functions/query/openapi.json, what GET /openapi.json serves (a
  unit test checks it equals what the routes generate), so the fuzzer reaches every operation the
  routes declare, the ingest bodies included.
- Bounded and repeatable: a fixed seed, deterministic generation, a few examples per operation
  and phase, no deadline; the whole file runs in well under a minute and a half on 2 cores.
- A stack of its own (module scope): the fuzzer writes with an admin key into whatever app ids it
  draws, which would be other tests' apps on the session's stack.
- Destructive operations never remove the suite's credential: the admin key is never the target
  of DELETE /keys/{key_id} (the fuzzer may take ids from earlier answers, and may have created
  other admin keys, so the last-admin-key guard alone does not protect it), and the `admin`
  fixture checks at teardown that the key still works. The suite makes no token, and there is
  no route that deletes an app.
- Checks: no 5xx, and the document's status codes, content types, headers and body schemas.
  Not run: schemathesis's checks of what the fuzzer cannot know here (positive_data_acceptance
  expects a 2xx for valid data, but drawn ids name nothing: 404; negative_data_rejection counts
  anything the schema does not say as invalid; the stateful checks need links the document does
  not declare).
- EVENTLOG_FUZZ_DEEP=1 adds the coverage phase (below); `pytest -s` prints what was sent.
"""

import os
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from local_stack import LocalStackProcess
from tests.support import ROOT
from tests.support.local_stack import TEST_STACK_PARAMETERS

SPEC_PATH = ROOT / "functions" / "query" / "openapi.json"
SEED = 13
EXAMPLES = 12  # per operation, in the fuzzing phase (positive and negative cases)

# EVENTLOG_FUZZ_DEEP=1 adds schemathesis's coverage phase: every boundary and type mutation of
# every parameter and body field, unbounded by EXAMPLES (about 2,700 cases, minutes); the
# default run is the bounded one `make test` can afford.
DEEP = os.environ.get("EVENTLOG_FUZZ_DEEP") == "1"

CONFIG = schemathesis.Config.from_dict(
    {
        "seed": SEED,
        "generation": {
            "mode": "all",  # valid data, and invalid data the API must refuse with a 4xx
            "deterministic": True,
            "max-examples": EXAMPLES,
            "database": "none",
            # The credential is the suite's own (below), never a generated one.
            "with-security-parameters": False,
        },
        "phases": {
            "coverage": {
                "enabled": DEEP,
                # Methods no route has, each expected to answer 405: all but TRACE, which the
                # local gateway (Python's http.server) answers 501 before any route is matched.
                "unexpected-methods": ["get", "put", "post", "delete", "options", "patch"],
            },
        },
    }
)
schema = schemathesis.openapi.from_path(SPEC_PATH, config=CONFIG)

CHECKS = [
    schemathesis.checks.not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


CASES: Counter[str] = Counter()  # operation -> cases sent
SECONDS: Counter[str] = Counter()  # operation -> time spent answering them
STATUSES: dict[str, Counter[int]] = {}  # operation -> how many of each status it answered


def _summary() -> str:
    """What was sent (`pytest -s` shows it): cases, time and answers of each operation."""
    lines = [f"fuzz: {sum(CASES.values())} cases over {len(CASES)} operations"]
    for label, seconds in SECONDS.most_common():
        statuses = " ".join(f"{s}x{n}" for s, n in sorted(STATUSES.get(label, {}).items()))
        lines.append(f"  {seconds:6.2f} s {CASES[label]:4d} cases  {label}: {statuses}")
    return "\n".join(lines)


@pytest.fixture(scope="module")
def fuzz_stack() -> Iterator[LocalStackProcess]:
    with LocalStackProcess(port=0, parameters=TEST_STACK_PARAMETERS) as running:
        yield running
    print("\n" + _summary())


@pytest.fixture(scope="module")
def admin(fuzz_stack: LocalStackProcess) -> Iterator[dict[str, Any]]:
    """The suite's credential: the stack's admin key, and its id (never a DELETE's target).
    Once the fuzzer is done with it, it still works."""
    headers = {"x-api-key": fuzz_stack.admin_key}
    listed = requests.get(f"{fuzz_stack.url}/keys", headers=headers, timeout=30)
    assert listed.status_code == 200, listed.text
    (key,) = [key for key in listed.json()["items"] if key["role"] == "admin"]
    yield {"headers": headers, "key_id": key["id"]}
    after = requests.get(f"{fuzz_stack.url}/keys", headers=headers, timeout=30)
    assert after.status_code == 200, f"the suite's admin key no longer works: {after.text}"


# The app the suite makes (`fuzz_app`): half the cases of a route with an `{app_id}` aim at it,
# so what lies behind the app's lookup (ingest, rules, subscriptions, statistics) is reached too.
TARGET: dict[str, int] = {}


@schema.hook
def before_generate_path_parameters(context: Any, strategy: Any) -> Any:
    if context.operation is None or context.operation.label == "POST /apps/{app_id}":
        return strategy  # there `app_id` is a new app's name

    def in_suites_app(parameters: Any) -> Any:
        if isinstance(parameters, dict) and "app_id" in parameters and TARGET:
            return {**parameters, "app_id": TARGET["app_id"]}
        return parameters

    return st.one_of(strategy, strategy.map(in_suites_app))


@pytest.fixture(scope="module")
def fuzz_app(fuzz_stack: LocalStackProcess, admin: dict[str, Any]) -> Iterator[int]:
    made = requests.post(f"{fuzz_stack.url}/apps/fuzz", headers=admin["headers"], timeout=30)
    assert made.status_code == 201, made.text
    TARGET["app_id"] = made.json()["id"]
    yield TARGET["app_id"]
    TARGET.clear()


@pytest.fixture(scope="module")
def session() -> Iterator[requests.Session]:
    with requests.Session() as http:
        yield http


def _spares_the_suite(case: Any, admin: dict[str, Any]) -> bool:
    if case.method.upper() == "DELETE" and case.path == "/keys/{key_id}":
        return str((case.path_parameters or {}).get("key_id")) != admin["key_id"]
    return True


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_every_operation(
    case: Any,
    fuzz_stack: LocalStackProcess,
    admin: dict[str, Any],
    fuzz_app: int,
    session: requests.Session,
) -> None:
    if not _spares_the_suite(case, admin):
        return
    label = case.operation.label
    started = time.monotonic()
    CASES[label] += 1
    try:
        response = case.call(
            base_url=fuzz_stack.url, session=session, headers=admin["headers"], timeout=30
        )
        STATUSES.setdefault(label, Counter())[response.status_code] += 1
        case.validate_response(response, checks=CHECKS, headers=admin["headers"])
    finally:
        SECONDS[label] += time.monotonic() - started


def test_the_document_describes_the_ingest_bodies() -> None:
    """So the fuzzer sends events (the route reads its body itself: Powertools can't see it)."""
    operation = schema.raw_schema["paths"]["/apps/{app_id}/events"]["post"]
    body = operation["requestBody"]["content"]["application/json"]["schema"]
    one, batch = body["anyOf"]
    assert one == {"$ref": "#/components/schemas/EventIn"}
    assert batch["items"] == one and batch["maxItems"] == 100
    for path in ("/events", "/event", "/api/event", "/logs", "/api/v1/events/{name}"):
        assert "requestBody" in schema.raw_schema["paths"][path]["post"], path
