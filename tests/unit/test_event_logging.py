"""Seed 000's POST /events, GET /events and GET /events/{event_id}: numbered events."""

import json
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from eventlog.events import sequences
from tests.support.api import Api
from tests.support.fake_aws import aws_client
from tests.support.handlers import HttpResponse

SEED_BODY = {
    "event_type": "ERROR",
    "service_name": "AuthService",
    "additional_data": "Timeout error",
}
ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z$")


@pytest.fixture(autouse=True)
def _fresh_container() -> Iterator[None]:
    """Every test starts as a new container: no block of numbers in memory."""
    sequences._blocks.clear()
    yield
    sequences._blocks.clear()


def request(
    function: str,
    method: str,
    resource: str,
    app_id: int | None,
    role: str = "user",
    body: Any = None,
    query: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
    **path: Any,
) -> HttpResponse:
    """A seed route as API Gateway invokes it, with the authorizer's principal."""
    return Api().unscoped(function, method, resource, body, query, role, app_id, headers, **path)


def post(app_id: int | None, body: Any, role: str = "ingest", **headers: str) -> HttpResponse:
    return request("ingest", "POST", "/events", app_id, role, body=body, headers=headers)


def listing(app_id: int | None, role: str = "user", **query: Any) -> HttpResponse:
    return request("query", "GET", "/events", app_id, role, query=query)


def get(app_id: int | None, event_id: Any, role: str = "user") -> HttpResponse:
    return request("query", "GET", "/events/{event_id}", app_id, role, event_id=event_id)


def events_table(aws: Any) -> Any:
    import boto3

    return boto3.resource("dynamodb").Table(aws.environment["EVENTS_TABLE"])


def index_items(aws: Any, app_id: int) -> list[dict[str, Any]]:
    reply = events_table(aws).query(
        KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": f"APP#{app_id}#N"}
    )
    return reply["Items"]


def counter_top(aws: Any, app_id: int) -> int:
    item = events_table(aws).get_item(Key={"pk": f"APP#{app_id}#SEQ", "sk": "SEQ"})["Item"]
    return int(item["top"])


# ---------------------------------------------------------------- POST /events


def test_the_seed_example_is_numbered_1_2_3_and_answered_with_the_seeds_fields(app):
    replies = [post(app.id, SEED_BODY) for _ in range(3)]
    assert [reply.status for reply in replies] == [201, 201, 201]
    assert [reply.body["event_id"] for reply in replies] == [1, 2, 3]
    first = replies[0].body
    assert list(first) == [
        "event_id",
        "event_creation_date",
        "event_type",
        "service_name",
        "additional_data",
    ]
    assert first == {
        **SEED_BODY,
        "event_id": 1,
        "event_creation_date": first["event_creation_date"],
    }
    assert ISO_UTC.match(first["event_creation_date"])
    assert replies[0].content_type == "application/json"


def test_each_app_counts_from_1(app, other_app):
    assert [post(app.id, SEED_BODY).body["event_id"] for _ in range(2)] == [1, 2]
    assert [post(other_app.id, SEED_BODY).body["event_id"] for _ in range(2)] == [1, 2]
    assert post(app.id, SEED_BODY).body["event_id"] == 3


@pytest.mark.parametrize(
    ("body", "answered"),
    [
        ({"event_type": "deploy"}, {"service_name": None, "additional_data": None}),
        (
            {"event_type": "deploy", "additional_data": {"version": "1.2", "ok": True, "n": 1.5}},
            {"service_name": None, "additional_data": {"version": "1.2", "ok": True, "n": 1.5}},
        ),
        (
            {"event_type": "deploy", "service_name": "ci", "additional_data": ""},
            {"service_name": "ci", "additional_data": ""},
        ),
        (
            {"event_type": "deploy", "service_name": None, "additional_data": None},
            {"service_name": None, "additional_data": None},
        ),
    ],
)
def test_optional_fields_come_back_as_sent_or_null(app, body, answered):
    reply = post(app.id, body)
    assert reply.status == 201
    expected = {"event_type": "deploy", **answered, "event_id": 1}
    assert {k: v for k, v in reply.body.items() if k != "event_creation_date"} == expected
    assert get(app.id, 1).body == reply.body
    assert listing(app.id).body == [reply.body]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"service_name": "AuthService", "additional_data": "x"}, "event_type"),
        ({"event_type": 5}, "event_type"),
        ({"event_type": ""}, "event_type"),
        ({"event_type": "a\nb"}, "event_type"),
        ({"event_type": "x" * 201}, "event_type"),
        ({"event_type": "ERROR", "service_name": ["a"]}, "service_name"),
        ({"event_type": "ERROR", "additional_data": [1, 2]}, "additional_data"),
        ({"event_type": "ERROR", "additional_data": 42}, "additional_data"),
        ({"event_type": "ERROR", "additional_data": "x" * 10_001}, "additional_data"),
        ({**SEED_BODY, "timestamp": "2026-01-01T00:00:00Z"}, "timestamp"),
    ],
)
def test_bad_fields_get_400_naming_the_field_and_nothing_is_stored(app, body, field):
    reply = post(app.id, body)
    assert reply.status == 400
    assert reply.body["error"] == "VALIDATION_ERROR"
    assert field in reply.body["message"]
    assert [detail["field"] for detail in reply.body["details"]] == [field]
    assert listing(app.id).body == []


@pytest.mark.parametrize(
    ("body", "says"),
    [('{"event_type": "ERROR", ', "malformed JSON"), ("", "empty"), ("[]", "invalid event")],
)
def test_a_body_that_is_no_json_object_gets_400(app, body, says):
    reply = post(app.id, body)
    assert reply.status == 400
    assert reply.body["error"] == "VALIDATION_ERROR"
    assert says in reply.body["message"]
    assert listing(app.id).body == []


def test_what_is_stored_is_a_native_event_with_its_number_and_an_index_item(aws, api, app):
    number = post(app.id, SEED_BODY).body["event_id"]
    (native,) = api.all_events(app.id)
    assert native == {
        "id": native["id"],
        "app_id": app.id,
        "received_at": native["received_at"],
        "occurred_at": native["received_at"],
        "level": "ERROR",
        "name": "ERROR",
        "service": "AuthService",
        "message": "Timeout error",
        "count": 1,
        "number": number,
    }
    assert api.get_event(app.id, native["id"]).body == native
    (index,) = index_items(aws, app.id)
    stored = events_table(aws).get_item(Key={"pk": f"APP#{app.id}", "sk": f"E#{native['id']}"})
    assert index == {
        "pk": f"APP#{app.id}#N",
        "sk": "000000000000001",
        "id": native["id"],
        "expires_at": stored["Item"]["expires_at"],
    }


def test_native_events_have_no_number(api, app):
    stored = api.ingest(app.id, {"message": "native"}).body
    assert "number" not in stored
    assert "number" not in api.get_event(app.id, stored["id"]).body
    assert listing(app.id).body == []


@pytest.mark.parametrize(
    ("event_type", "level"),
    [("ERROR", "ERROR"), ("warning", "WARNING"), ("Critical", "CRITICAL"), ("login", "INFO")],
)
def test_a_level_name_as_event_type_is_the_events_level(api, app, event_type, level):
    reply = post(app.id, {"event_type": event_type})
    assert reply.body["event_type"] == event_type  # as sent
    (native,) = api.all_events(app.id)
    assert (native["name"], native["level"]) == (event_type, level)
    today = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    window = {"since": today.isoformat(), "until": (today + timedelta(hours=1)).isoformat()}
    by_level = api.stats(app.id, "by-level", **window).body["items"]
    assert by_level == [{"level": level, "count": 1}]


def test_an_error_event_type_triggers_the_default_alert_rule(aws, app):
    post(app.id, {"event_type": "login", "service_name": "AuthService"})
    post(app.id, SEED_BODY)
    aws.settle()  # the stream processor queues what matches a rule, after ingest
    reply = aws_client("sqs").receive_message(
        QueueUrl=aws.provisioned.queues["NotificationQueue"], MaxNumberOfMessages=10
    )
    (message,) = [json.loads(message["Body"]) for message in reply.get("Messages", [])]
    assert (message["app_id"], message["event"]["number"]) == (app.id, 2)
    assert (message["event"]["level"], message["event"]["message"]) == ("ERROR", "Timeout error")


def test_an_idempotency_key_retry_gets_the_first_answer_and_stores_once(app):
    first = post(app.id, SEED_BODY, **{"Idempotency-Key": "k-1"})
    again = post(app.id, SEED_BODY, **{"Idempotency-Key": "k-1"})
    assert first.status == again.status == 201
    assert again.body == first.body
    other = post(app.id, SEED_BODY, **{"Idempotency-Key": "k-2"})
    assert other.body["event_id"] == 2
    assert [event["event_id"] for event in listing(app.id).body] == [1, 2]
    reused = post(app.id, {**SEED_BODY, "additional_data": "else"}, **{"Idempotency-Key": "k-1"})
    assert reused.status == 422


def test_an_admin_key_writes_to_and_reads_the_default_app(app):
    from eventlog.access.apps import create_app

    default = create_app("default")
    reply = post(None, SEED_BODY, role="admin")
    assert reply.status == 201 and reply.body["event_id"] == 1
    assert listing(default.id).body == [reply.body]
    assert listing(None, role="admin").body == [reply.body]
    assert get(None, 1, role="admin").body == reply.body
    assert listing(app.id).body == []


# ---------------------------------------------------------------- numbers


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The sequences' time.monotonic(), standing still until a test moves it."""
    now = [1000.0]
    monkeypatch.setattr(sequences.time, "monotonic", lambda: now[0])
    return now


def test_blocks_grow_while_busy_and_numbers_are_never_reused_after_a_restart(aws, app, clock):
    assert [sequences.next_number(app.id) for _ in range(5)] == [1, 2, 3, 4, 5]
    assert counter_top(aws, app.id) == 7  # blocks of 1, 2 and 4: 6 and 7 are held in memory
    sequences._blocks.clear()  # a new container: the rest of the block is skipped
    assert [sequences.next_number(app.id) for _ in range(2)] == [8, 9]
    assert counter_top(aws, app.id) == 10


def test_blocks_stop_at_max_block(aws, app, clock):
    numbers = [sequences.next_number(app.id) for _ in range(400)]
    assert numbers == list(range(1, 401))
    assert sequences._blocks[app.id].size == sequences.MAX_BLOCK
    assert counter_top(aws, app.id) == 427  # 1 + 2 + ... + 64 = 127, then blocks of 100


def test_a_block_lasts_about_block_seconds_at_the_rate_the_last_one_went(aws, app, clock):
    for _ in range(1 + 2 + 4 + 8):
        sequences.next_number(app.id)
    assert sequences._blocks[app.id].size == 8
    clock[0] += 2 * sequences.BLOCK_SECONDS  # the block of 8 lasted twice as long as it should
    sequences.next_number(app.id)
    assert sequences._blocks[app.id].size == 4


def test_a_quiet_app_takes_one_number_at_a_time(aws, app, clock):
    for expected in (1, 2, 3):
        assert sequences.next_number(app.id) == expected
        assert counter_top(aws, app.id) == expected  # nothing held back to be lost
        clock[0] += sequences.BLOCK_SECONDS + 1
    sequences._blocks.clear()
    assert sequences.next_number(app.id) == 4


def test_numbers_taken_from_many_threads_are_unique(aws, app, other_app):
    def take(i: int) -> tuple[int, int]:
        app_id = app.id if i % 2 else other_app.id
        return app_id, sequences.next_number(app_id)

    with ThreadPoolExecutor(max_workers=8) as pool:
        taken = list(pool.map(take, range(200)))
    for app_id in (app.id, other_app.id):
        numbers = sorted(number for owner, number in taken if owner == app_id)
        assert numbers == list(range(1, 101))


def test_events_posted_from_many_threads_get_unique_numbers(app):
    replies = [post(app.id, {"event_type": "t0"})]  # imports the handler, as a cold start does
    with ThreadPoolExecutor(max_workers=4) as pool:
        replies += pool.map(lambda i: post(app.id, {"event_type": f"t{i}"}), range(1, 12))
    assert sorted(reply.body["event_id"] for reply in replies) == list(range(1, 13))
    listed = listing(app.id).body
    assert [event["event_id"] for event in listed] == list(range(1, 13))
    by_number = {reply.body["event_id"]: reply.body for reply in replies}
    assert listed == [by_number[number] for number in range(1, 13)]


# ---------------------------------------------------------------- GET /events, GET /events/{id}


def test_nothing_stored_lists_an_empty_list(app):
    reply = listing(app.id)
    assert (reply.status, reply.body) == (200, [])
    assert "link" not in reply.headers


def test_the_listing_is_ascending_and_get_answers_each(app):
    posted = [post(app.id, {**SEED_BODY, "additional_data": f"#{i}"}).body for i in range(3)]
    assert listing(app.id).body == posted
    for body in posted:
        reply = get(app.id, body["event_id"])
        assert (reply.status, reply.body) == (200, body)


def test_limit_and_after_page_with_a_link_to_the_next_page(app):
    posted = [post(app.id, {"event_type": f"e{i}"}).body for i in range(5)]
    first = listing(app.id, limit=2)
    assert first.body == posted[:2]
    assert first.headers["link"] == '<?after=2&limit=2>; rel="next"'
    second = listing(app.id, limit=2, after=2)
    assert second.body == posted[2:4]
    assert second.headers["link"] == '<?after=4&limit=2>; rel="next"'
    last = listing(app.id, limit=2, after=4)
    assert last.body == posted[4:]
    assert "link" not in last.headers
    assert listing(app.id, after=5).body == []
    assert listing(app.id, after=1).body == posted[1:]


def test_a_listing_stops_early_at_its_byte_budget_with_a_link(app, monkeypatch):
    from eventlog.events import queries

    posted = [
        post(app.id, {"event_type": "e", "additional_data": "x" * 200}).body for _ in range(3)
    ]
    monkeypatch.setattr(queries, "MAX_LISTED_BYTES", 900)  # about 2.5 of these events, as JSON
    first = listing(app.id)
    assert first.body == posted[:2]
    assert first.headers["link"] == '<?after=2&limit=1000>; rel="next"'
    assert listing(app.id, after=2).body == posted[2:]


def test_expired_numbers_are_read_past_a_bounded_number_at_a_time(app, store_event, monkeypatch):
    from eventlog.events import queries

    past = datetime.now(UTC) - timedelta(days=40)
    for number in (1, 2, 3):
        store_event(app.id, past, expires_at=int(past.timestamp()), name="old", number=number)
    for _ in range(3):
        sequences.next_number(app.id)  # as the expired events took them
    live = post(app.id, SEED_BODY).body
    monkeypatch.setattr(queries, "MAX_NUMBERS_READ", 2)
    first = listing(app.id, limit=1)
    assert first.body == []
    assert first.headers["link"] == '<?after=2&limit=1>; rel="next"'
    assert listing(app.id, limit=1, after=2).body == [live]


def test_keys_dynamodb_leaves_unprocessed_are_asked_for_again(aws, app, monkeypatch):
    from eventlog.storage import db

    posted = [post(app.id, {"event_type": f"e{i}"}).body for i in range(3)]
    # Counted now: the stream processor's own BatchGetItem calls are not the listing's.
    aws.settle()
    client = db.client()
    real = client.batch_get_item
    calls: list[int] = []

    def first_key_later(RequestItems: dict[str, Any]) -> dict[str, Any]:
        ((table, request),) = RequestItems.items()
        calls.append(len(request["Keys"]))
        if len(calls) > 1:
            return real(RequestItems=RequestItems)
        reply = real(RequestItems={table: {"Keys": request["Keys"][1:]}})
        return {**reply, "UnprocessedKeys": {table: {"Keys": request["Keys"][:1]}}}

    monkeypatch.setattr(client, "batch_get_item", first_key_later)
    monkeypatch.setattr(db.time, "sleep", lambda seconds: None)
    assert listing(app.id).body == posted
    assert calls == [3, 1]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 1001}, "limit"),
        ({"limit": "many"}, "limit"),
        ({"after": -1}, "after"),
        ({"after": "x"}, "after"),
        ({"page": 2}, "page"),
    ],
)
def test_bad_listing_parameters_get_400(app, query, field):
    reply = listing(app.id, **query)
    assert reply.status == 400
    assert reply.body["error"] == "VALIDATION_ERROR"
    assert field in reply.body["message"]


@pytest.mark.parametrize("event_id", ["2", "0", "abc", "-1", "1.0", "1e3", "9" * 16])
def test_an_unknown_or_non_integer_id_is_404(app, event_id):
    post(app.id, SEED_BODY)
    reply = get(app.id, event_id)
    assert reply.status == 404
    assert reply.body == {"error": "NOT_FOUND", "message": f"no event {event_id} in app {app.id}"}


def test_an_expired_event_is_neither_listed_nor_found(app, store_event):
    past = datetime.now(UTC) - timedelta(days=40)
    store_event(app.id, past, expires_at=int(past.timestamp()), name="old", number=1)
    assert get(app.id, 1).status == 404
    assert listing(app.id).body == []


def test_another_apps_key_never_sees_these_events(app, other_app):
    post(app.id, SEED_BODY)
    assert listing(other_app.id).body == []
    assert get(other_app.id, 1).status == 404
    assert post(other_app.id, SEED_BODY).body["event_id"] == 1
    assert [event["event_id"] for event in listing(app.id).body] == [1]


# ---------------------------------------------------------------- deletion


def test_deleting_an_event_deletes_its_index_item(aws, api, app):
    post(app.id, SEED_BODY)
    post(app.id, {**SEED_BODY, "additional_data": "kept"})
    first = next(event for event in api.all_events(app.id) if event["number"] == 1)
    assert api.delete_event(app.id, first["id"]).status == 200
    assert [item["sk"] for item in index_items(aws, app.id)] == ["000000000000002"]
    assert get(app.id, 1).status == 404
    assert [event["event_id"] for event in listing(app.id).body] == [2]
    assert post(app.id, SEED_BODY).body["event_id"] == 3  # a deleted number is not reused


def test_deleting_by_name_deletes_the_index_items(aws, api, app):
    for event_type in ("ERROR", "deploy", "ERROR"):
        post(app.id, {"event_type": event_type})
    reply = api.delete_events(app.id, name="ERROR")
    assert reply.status == 200 and reply.body["deleted"] == 2
    assert [item["sk"] for item in index_items(aws, app.id)] == ["000000000000002"]
    assert [event["event_type"] for event in listing(app.id).body] == ["deploy"]
