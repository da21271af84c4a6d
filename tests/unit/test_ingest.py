"""POST /apps/{app_id}/events: single events, batches, deduplication, skew, idempotent retries."""

import json
import re
from datetime import timedelta

import pytest

from eventlog.base.errors import InvalidInputError
from eventlog.base.ids import highest_ulid, is_ulid, lowest_ulid
from eventlog.base.timeutil import parse_iso, utcnow

ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z$")


def batch_view(body: dict) -> dict:
    """A batch answer with its items' null fields left out (their shape has a test of its own)."""
    items = [
        {key: value for key, value in item.items() if value is not None} for item in body["items"]
    ]
    return {**body, "items": items}


# ---------------------------------------------------------------- one event


def test_single_event_is_stored_and_returned(sample_body, api, app):
    before = utcnow().replace(microsecond=0)
    reply = api.ingest(app.id, sample_body("ingest_single"))
    after = utcnow()

    assert reply.status == 201, reply.text
    assert reply.content_type == "application/json"
    event = reply.body
    assert event == {
        "id": event["id"],
        "app_id": app.id,
        "received_at": event["received_at"],
        "occurred_at": "2026-02-10T10:00:00Z",
        "level": "ERROR",
        "message": "TimeoutError: request timed out",
        "name": "checkout",
        "service": "api",
        "count": 1,
        "stack": {"frames": []},
        "tags": {"env": "prod", "version": "1.2.3"},
    }
    assert len(event["id"]) == 26 and is_ulid(event["id"])
    assert ISO_UTC.match(event["received_at"])
    received = parse_iso(event["received_at"])
    assert before <= received <= after
    # The id carries the moment of receipt: listings by id are listings by received time.
    assert lowest_ulid(received) <= event["id"] <= highest_ulid(received)

    stored = api.get_event(app.id, event["id"])
    assert stored.status == 200
    assert stored.body == event
    assert api.all_events(app.id) == [event]


@pytest.mark.parametrize(
    ("occurred_at", "stored_as"),
    [
        ("2026-02-10T12:00:00+02:00", "2026-02-10T10:00:00Z"),
        ("2026-02-10T05:30:00-04:30", "2026-02-10T10:00:00Z"),
        ("2026-02-10T10:00:00.250+01:00", "2026-02-10T09:00:00.250Z"),
        ("2026-02-10T10:00:00", "2026-02-10T10:00:00Z"),  # no offset: UTC
        ("2026-02-10T10:00:00z", "2026-02-10T10:00:00Z"),
    ],
)
def test_occurred_at_is_stored_in_utc(api, app, occurred_at, stored_as):
    reply = api.ingest(app.id, {"message": "tick", "occurred_at": occurred_at})
    assert reply.status == 201, reply.text
    assert reply.body["occurred_at"] == stored_as
    assert api.get_event(app.id, reply.body["id"]).body["occurred_at"] == stored_as


def test_minimal_event_gets_defaults_and_leaves_unset_fields_out(api, app):
    reply = api.ingest(app.id, {"name": "signup"})
    assert reply.status == 201, reply.text
    event = reply.body
    assert event == {
        "id": event["id"],
        "app_id": app.id,
        "received_at": event["received_at"],
        "occurred_at": event["received_at"],
        "level": "INFO",
        "name": "signup",
        "count": 1,
    }
    assert api.get_event(app.id, event["id"]).body == event


def test_every_field_round_trips(api, app):
    sent = {
        "occurred_at": "2026-02-10T10:00:00Z",
        "level": "Warning",
        "message": "disk almost full",
        "name": "disk",
        "service": "storage",
        "count": 3,
        "data": {"free": 0.05, "mounts": ["/", "/var"], "nested": {"ok": False, "n": None}},
        "stack": {"frames": [{"file": "app.py", "line": 10}]},
        "tags": {"env": "prod"},
        "event_id": "disk-2026-02-10",
    }
    reply = api.ingest(app.id, sent)
    assert reply.status == 201, reply.text
    expected = {**sent, "level": "WARNING"}
    assert {key: reply.body[key] for key in expected} == expected
    assert api.get_event(app.id, reply.body["id"]).body == reply.body


def test_unicode_message_round_trips(api, app):
    sent = {
        "message": "Zahlung fehlgeschlagen: Größe ✓ 日本語 🚀 \u00e9\u0301",
        "name": "café",
        "tags": {"emoji": "🎉", "ключ": "значение"},
    }
    reply = api.ingest(app.id, sent)
    assert reply.status == 201, reply.text
    assert {key: reply.body[key] for key in sent} == sent
    stored = api.get_event(app.id, reply.body["id"]).body
    assert {key: stored[key] for key in sent} == sent
    assert api.all_events(app.id)[0]["message"] == sent["message"]


# ---------------------------------------------------------------- refused single events


def test_invalid_event_names_every_bad_field(api, app):
    reply = api.ingest(
        app.id,
        {
            "message": 42,
            "level": "LOUD",
            "occurred_at": "yesterday",
            "count": 0,
            "service": ["api"],
            "tags": "env=prod",
            "colour": "red",
        },
    )
    assert reply.status == 400
    assert reply.content_type == "application/json"
    assert reply.body["error"] == "VALIDATION_ERROR"
    assert isinstance(reply.body["message"], str) and reply.body["message"]
    assert reply.error_fields == {
        "message",
        "level",
        "occurred_at",
        "count",
        "service",
        "tags",
        "colour",
    }
    assert all(detail["message"] for detail in reply.body["details"])
    assert api.all_events(app.id) == []


@pytest.mark.parametrize(
    ("event", "field"),
    [
        ({"message": "m", "level": "LOUD"}, "level"),
        ({"message": "m", "occurred_at": "2026-02-30T10:00:00Z"}, "occurred_at"),
        ({"message": "m", "sent_at": "soon"}, "sent_at"),
        ({"message": "m", "count": 0}, "count"),
        ({"message": "m", "count": "3"}, "count"),
        ({"message": "m", "colour": "red"}, "colour"),
        ({"message": "m" * 10_001}, "message"),
        ({"name": "a\nb"}, "name"),
        ({"message": "m", "data": [1, 2]}, "data"),
        ({"message": "m", "event_id": "has space"}, "event_id"),
    ],
)
def test_one_bad_field_is_named(api, app, event, field):
    reply = api.ingest(app.id, event)
    assert reply.status == 400, reply.text
    assert reply.body["error"] == "VALIDATION_ERROR"
    assert reply.error_fields == {field}


@pytest.mark.parametrize("event", [{}, {"level": "error"}, {"message": "", "name": None}])
def test_event_without_message_or_name_is_refused(api, app, event):
    reply = api.ingest(app.id, event)
    assert reply.status == 400
    assert reply.body["error"] == "VALIDATION_ERROR"
    assert reply.body["details"] == [
        {"field": "event", "message": "an event needs a message or a name"}
    ]


@pytest.mark.parametrize("body", ['{"message": "cut', "{'message': 'x'}", "not json", "[1, 2"])
def test_malformed_json_is_refused(api, app, body):
    reply = api.ingest(app.id, body)
    assert reply.status == 400
    assert reply.body["error"] == "VALIDATION_ERROR"
    assert reply.body["message"].startswith("malformed JSON")


@pytest.mark.parametrize("body", [None, "", "   \n"])
def test_empty_body_is_refused(api, app, body):
    reply = api.ingest(app.id, body)
    assert reply.status == 400
    assert reply.body == {"error": "VALIDATION_ERROR", "message": "the body is empty: send JSON"}


@pytest.mark.parametrize("body", ['"just a string"', "42", "null", "true"])
def test_json_that_is_no_event_is_refused(api, app, body):
    reply = api.ingest(app.id, body)
    assert reply.status == 400
    assert reply.body["error"] == "VALIDATION_ERROR"


def test_body_over_256_kb_is_too_large(api, app):
    body = json.dumps([{"message": "x" * 9_000} for _ in range(30)])  # ~270 KB
    assert len(body.encode()) > 256 * 1024
    reply = api.ingest(app.id, body)
    assert reply.status == 413
    assert reply.body["error"] == "PAYLOAD_TOO_LARGE"
    assert api.all_events(app.id) == []


def test_body_limit_counts_bytes_not_characters(api, app):
    body = json.dumps({"message": "€" * 90_000}, ensure_ascii=False)  # 90 K characters, 270 KB
    assert len(body) < 256 * 1024 < len(body.encode())
    reply = api.ingest(app.id, body)
    assert reply.status == 413
    assert reply.body["error"] == "PAYLOAD_TOO_LARGE"


def test_body_of_exactly_256_kb_is_not_too_large(api, app):
    head, tail = '{"message": "', '"}'
    body = head + "x" * (256 * 1024 - len(head) - len(tail)) + tail
    assert len(body.encode()) == 256 * 1024
    reply = api.ingest(app.id, body)
    # Read and validated (the message is too long for an event), not refused for its size.
    assert reply.status == 400
    assert reply.error_fields == {"message"}


def test_unknown_app_is_not_found(api, aws):
    reply = api.ingest(999, {"message": "hello"})
    assert reply.status == 404
    assert reply.content_type == "application/json"
    assert reply.body == {"error": "NOT_FOUND", "message": "no app with id 999"}


@pytest.mark.parametrize("app_id", ["abc", "1x", "one"])
def test_non_numeric_app_id_is_refused(api, aws, app_id):
    reply = api.ingest(app_id, {"message": "hello"})
    assert reply.status == 400
    assert reply.body["error"] == "VALIDATION_ERROR"
    assert reply.error_fields == {"app_id"}


# ---------------------------------------------------------------- batches


def test_batch_of_valid_events_is_accepted(sample_body, api, app):
    batch = sample_body("ingest_batch")[:2]
    reply = api.ingest(app.id, batch)
    assert reply.status == 201, reply.text
    assert reply.content_type == "application/json"
    items = reply.body["items"]
    assert batch_view(reply.body) == {
        "accepted": 2,
        "duplicates": 0,
        "rejected": 0,
        "items": [
            {"index": 0, "status": "accepted", "id": items[0]["id"]},
            {"index": 1, "status": "accepted", "id": items[1]["id"]},
        ],
    }
    assert all(is_ulid(item["id"]) for item in items)
    listed = api.all_events(app.id)
    # Newest first; a batch is received at one moment and lists back in reverse of its order.
    assert [event["id"] for event in listed] == [items[1]["id"], items[0]["id"]]
    assert [event["message"] for event in listed] == [batch[1]["message"], batch[0]["message"]]
    assert listed[1]["level"] == "ERROR" and listed[1]["stack"] == {"frames": []}


def test_batch_with_some_invalid_events_is_multi_status(sample_body, api, app):
    reply = api.ingest(app.id, sample_body("ingest_batch"))  # its third event has level LOUD
    assert reply.status == 207, reply.text
    items = reply.body["items"]
    assert batch_view(reply.body) == {
        "accepted": 2,
        "duplicates": 0,
        "rejected": 1,
        "items": [
            {"index": 0, "status": "accepted", "id": items[0]["id"]},
            {"index": 1, "status": "accepted", "id": items[1]["id"]},
            {"index": 2, "status": "rejected", "errors": items[2]["errors"]},
        ],
    }
    assert [error["field"] for error in items[2]["errors"]] == ["level"]
    assert {event["id"] for event in api.all_events(app.id)} == {items[0]["id"], items[1]["id"]}


def test_batch_items_carry_only_their_own_fields(sample_body, api, app):
    reply = api.ingest(app.id, sample_body("ingest_batch"))
    assert reply.status == 207
    # An accepted item has an id and no errors; a rejected one errors and no id: no nulls.
    assert [sorted(item) for item in reply.body["items"]] == [
        ["id", "index", "status"],
        ["id", "index", "status"],
        ["errors", "index", "status"],
    ]


def test_batch_reports_each_rejected_items_fields(api, app):
    reply = api.ingest(
        app.id,
        [{"message": "ok"}, {"level": "nope", "count": 0}, {"message": "ok", "extra": 1}, {}],
    )
    assert reply.status == 207
    items = reply.body["items"]
    assert [item["status"] for item in items] == ["accepted", "rejected", "rejected", "rejected"]
    assert [item["index"] for item in items] == [0, 1, 2, 3]
    assert {error["field"] for error in items[1]["errors"]} == {"level", "count"}
    assert {error["field"] for error in items[2]["errors"]} == {"extra"}
    assert {error["field"] for error in items[3]["errors"]} == {"event"}
    assert len(api.all_events(app.id)) == 1


def test_batch_of_only_invalid_events_is_refused(api, app):
    reply = api.ingest(app.id, [{"level": "LOUD", "message": "x"}, {"count": 0}])
    assert reply.status == 400
    assert reply.body["error"] == "VALIDATION_ERROR"
    assert reply.body["message"] == "all 2 events were rejected: see items"
    assert reply.body["accepted"] == 0
    assert reply.body["rejected"] == 2
    assert [item["status"] for item in reply.body["items"]] == ["rejected", "rejected"]
    assert api.all_events(app.id) == []


def test_batch_of_100_is_accepted_and_101_refused(api, app):
    accepted = api.ingest(app.id, [{"message": f"m{i}"} for i in range(100)])
    assert accepted.status == 201
    assert accepted.body["accepted"] == 100
    assert len({item["id"] for item in accepted.body["items"]}) == 100

    refused = api.ingest(app.id, [{"message": f"m{i}"} for i in range(101)])
    assert refused.status == 400
    assert refused.body == {
        "error": "VALIDATION_ERROR",
        "message": "a batch holds at most 100 events, got 101",
    }
    assert len(api.all_events(app.id)) == 100


def test_empty_batch_is_refused(api, app):
    reply = api.ingest(app.id, [])
    assert reply.status == 400
    assert reply.body["error"] == "VALIDATION_ERROR"


# ---------------------------------------------------------------- client event ids


def test_same_event_id_twice_is_stored_once(api, app):
    event = {"message": "payment failed", "level": "error", "event_id": "pay-123"}
    first = api.ingest(app.id, event)
    assert first.status == 201, first.text
    again = api.ingest(app.id, {**event, "message": "payment failed (retry)"})
    assert again.status == 200, again.text
    assert again.body == first.body  # the event stored first, not the retry
    assert api.all_events(app.id) == [first.body]


def test_event_id_is_per_app(api, app, other_app):
    event = {"message": "payment failed", "event_id": "pay-123"}
    assert api.ingest(app.id, event).status == 201
    assert api.ingest(other_app.id, event).status == 201
    assert len(api.all_events(app.id)) == len(api.all_events(other_app.id)) == 1


def test_same_event_id_twice_in_one_batch_is_stored_once(api, app):
    reply = api.ingest(
        app.id,
        [
            {"message": "a", "event_id": "e-1"},
            {"message": "a again", "event_id": "e-1"},
            {"message": "b", "event_id": "e-2"},
        ],
    )
    assert reply.status == 207, reply.text
    items = reply.body["items"]
    assert reply.body["accepted"] == 2 and reply.body["duplicates"] == 1
    assert batch_view(reply.body)["items"][1] == {
        "index": 1,
        "status": "duplicate",
        "id": items[0]["id"],
    }
    stored = api.all_events(app.id)
    assert sorted(event["event_id"] for event in stored) == ["e-1", "e-2"]
    assert next(e for e in stored if e["event_id"] == "e-1")["message"] == "a"


def test_event_id_sent_alone_then_in_a_batch_is_a_duplicate(api, app):
    single = api.ingest(app.id, {"message": "a", "event_id": "e-1"})
    assert single.status == 201
    reply = api.ingest(
        app.id, [{"message": "a", "event_id": "e-1"}, {"message": "b", "event_id": "e-2"}]
    )
    assert reply.status == 207, reply.text
    assert batch_view(reply.body)["items"][0] == {
        "index": 0,
        "status": "duplicate",
        "id": single.body["id"],
    }
    assert reply.body["items"][1]["status"] == "accepted"
    assert len(api.all_events(app.id)) == 2


def test_batch_sent_twice_is_all_duplicates(api, app):
    batch = [{"message": f"m{i}", "event_id": f"e-{i}"} for i in range(3)]
    first = api.ingest(app.id, batch)
    assert first.status == 201
    again = api.ingest(app.id, batch)
    assert again.status == 200, again.text
    assert again.body == {
        "accepted": 0,
        "duplicates": 3,
        "rejected": 0,
        "items": [{**item, "status": "duplicate"} for item in first.body["items"]],
    }
    assert len(api.all_events(app.id)) == 3


def test_event_id_in_a_batch_then_alone_returns_the_first_event(api, app):
    batch = api.ingest(app.id, [{"message": "a", "event_id": "e-1"}, {"message": "b"}])
    assert batch.status == 201
    single = api.ingest(app.id, {"message": "a", "event_id": "e-1"})
    assert single.status == 200
    assert single.body["id"] == batch.body["items"][0]["id"]
    assert single.body == api.get_event(app.id, single.body["id"]).body
    assert len(api.all_events(app.id)) == 2


def test_retry_after_a_crash_between_claim_and_store_stores_the_event_once(api, app):
    # A first attempt claimed the client id for a ULID, then died before storing the event.
    from eventlog.base.ids import new_ulid
    from eventlog.base.timeutil import epoch_seconds, format_iso
    from eventlog.storage import event_store

    first_try = utcnow() - timedelta(seconds=5)
    claimed_id = new_ulid(first_try)
    expires = epoch_seconds(first_try + timedelta(days=30))
    event_store.claim_client_event_id(app.id, "e-1", claimed_id, format_iso(first_try), expires)
    assert api.all_events(app.id) == []

    retry = api.ingest(app.id, {"message": "a", "event_id": "e-1"})
    assert retry.status == 201, retry.text
    assert retry.body["id"] == claimed_id
    assert retry.body["received_at"] == format_iso(first_try)
    again = api.ingest(app.id, {"message": "a", "event_id": "e-1"})
    assert (again.status, again.body) == (200, retry.body)
    assert api.all_events(app.id) == [retry.body]


# ---------------------------------------------------------------- clock skew


def test_sent_at_corrects_occurred_at_for_client_clock_skew(api, app):
    # The client's clock runs ahead: it says it sent at 10:05 what happened at 10:00.
    reply = api.ingest(
        app.id,
        {
            "message": "skewed",
            "occurred_at": "2026-02-10T10:00:00Z",
            "sent_at": "2026-02-10T10:05:00Z",
        },
    )
    assert reply.status == 201, reply.text
    received = parse_iso(reply.body["received_at"])
    expected = parse_iso("2026-02-10T10:00:00Z") + (received - parse_iso("2026-02-10T10:05:00Z"))
    occurred = parse_iso(reply.body["occurred_at"])
    assert abs(occurred - expected) < timedelta(seconds=1)
    assert "sent_at" not in reply.body
    assert api.get_event(app.id, reply.body["id"]).body["occurred_at"] == reply.body["occurred_at"]


def test_sent_at_without_occurred_at_keeps_the_receipt_time(api, app):
    # occurred_at defaults to the server's receipt time, which no client clock has skewed.
    sent_at = utcnow() - timedelta(hours=1)  # a client clock an hour behind
    reply = api.ingest(app.id, {"message": "no occurred_at", "sent_at": sent_at.isoformat()})
    assert reply.status == 201, reply.text
    occurred = parse_iso(reply.body["occurred_at"])
    received = parse_iso(reply.body["received_at"])
    assert abs(occurred - received) < timedelta(seconds=1)


# ---------------------------------------------------------------- Idempotency-Key


def test_idempotent_retry_gets_the_first_answer(sample_body, api, app):
    body = sample_body("ingest_single")
    first = api.ingest(app.id, body, headers={"Idempotency-Key": "req-1"})
    assert first.status == 201, first.text
    again = api.ingest(app.id, body, headers={"Idempotency-Key": "req-1"})
    assert again.status == 201
    assert again.body == first.body
    assert again.content_type == "application/json"
    assert api.all_events(app.id) == [first.body]


def test_idempotent_batch_retry_gets_the_first_answer(sample_body, api, app):
    body = sample_body("ingest_batch")
    first = api.ingest(app.id, body, headers={"idempotency-key": "batch-1"})
    assert first.status == 207, first.text
    again = api.ingest(app.id, body, headers={"Idempotency-Key": "batch-1"})
    assert (again.status, again.body) == (first.status, first.body)
    assert len(api.all_events(app.id)) == 2


def test_idempotency_key_reused_with_another_body_is_refused(api, app):
    first = api.ingest(app.id, {"message": "one"}, headers={"Idempotency-Key": "req-1"})
    assert first.status == 201
    reused = api.ingest(app.id, {"message": "two"}, headers={"Idempotency-Key": "req-1"})
    assert reused.status == 422
    assert reused.content_type == "application/json"
    assert reused.body["error"] == "IDEMPOTENCY_KEY_REUSED"
    assert "req-1" in reused.body["message"]
    assert api.all_events(app.id) == [first.body]


def test_different_idempotency_keys_are_different_requests(api, app):
    body = {"message": "same body"}
    first = api.ingest(app.id, body, headers={"Idempotency-Key": "req-1"})
    second = api.ingest(app.id, body, headers={"Idempotency-Key": "req-2"})
    assert first.status == second.status == 201
    assert first.body["id"] != second.body["id"]
    assert len(api.all_events(app.id)) == 2


def test_idempotency_key_is_scoped_to_the_app(api, app, other_app):
    body = {"message": "same body"}
    first = api.ingest(app.id, body, headers={"Idempotency-Key": "req-1"})
    other = api.ingest(other_app.id, body, headers={"Idempotency-Key": "req-1"})
    assert first.status == other.status == 201
    assert other.body["app_id"] == other_app.id
    assert len(api.all_events(other_app.id)) == 1


def test_an_event_too_large_to_store_is_rejected_alone_before_anything_is_written(api, app):
    """The API's body limit keeps such events out; the core refuses them for any other caller
    (a seed adapter, the propagator) before writing, so a batch is never half-stored."""
    from eventlog.events import ingestion

    huge = {"message": "too big", "data": {"blob": "x" * 450_000}}
    result = ingestion.ingest_batch(app.id, [{"message": "fine"}, huge, {"message": "fine too"}])
    assert (result.accepted, result.rejected) == (2, 1)
    rejected = result.items[1]
    assert rejected.status == "rejected" and rejected.id is None
    assert rejected.errors is not None and "over DynamoDB's 409,600" in rejected.errors[0].message
    assert sorted(event["message"] for event in api.all_events(app.id)) == ["fine", "fine too"]
    with pytest.raises(InvalidInputError, match="bytes stored"):
        ingestion.ingest_one(app.id, huge)
