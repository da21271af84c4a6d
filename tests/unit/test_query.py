"""GET /apps/{app_id}/events and /apps/{app_id}/events/{event_id}: order, filters, paging."""

from datetime import timedelta, timezone

import pytest

from eventlog.base.ids import new_ulid
from eventlog.base.timeutil import epoch_seconds, format_iso, parse_iso, utcnow


def ids(events: list[dict]) -> list[str]:
    return [event["id"] for event in events]


@pytest.fixture
def hours_ago(app, store_event):
    """Three events of `app` received 3, 2 and 1 hours ago (oldest first)."""
    now = utcnow()
    return [
        store_event(
            app.id,
            now - timedelta(hours=hours),
            message=f"{hours}h ago",
            occurred_at="2020-01-01T00:00:00Z",  # long before: the filters ignore it
        )
        for hours in (3, 2, 1)
    ]


def ingest_many(api, app_id: int, count: int, **fields) -> list[dict]:
    """`count` events in one batch; returns them as stored, newest (the batch's last) first."""
    reply = api.ingest(app_id, [{"message": f"event {i}", **fields} for i in range(count)])
    assert reply.status == 201, reply.text
    batch_ids = [item["id"] for item in reply.body["items"]]
    stored = [event for event in api.all_events(app_id) if event["id"] in set(batch_ids)]
    assert ids(stored) == batch_ids[::-1]
    return stored


# ---------------------------------------------------------------- listing


def test_events_are_listed_newest_first(api, app):
    sent = []
    for message in ("first", "second", "third"):
        reply = api.ingest(app.id, {"message": message})
        assert reply.status == 201
        sent.append(reply.body)

    listing = api.list_events(app.id)
    assert listing.status == 200
    assert listing.content_type == "application/json"
    assert listing.body["items"] == sent[::-1]
    assert listing.body.get("next_cursor") is None
    assert listing.body.get("next_offset") is None


def test_last_page_says_so_with_nulls(api, app):
    api.ingest(app.id, {"message": "only one"})
    listing = api.list_events(app.id)
    assert listing.status == 200
    # Clients test `next_cursor === null`: the keys are there, with null, not left out.
    assert listing.body == {
        "items": listing.body["items"],
        "next_cursor": None,
        "next_offset": None,
    }
    assert len(listing.body["items"]) == 1


def test_empty_app_lists_nothing(api, app):
    listing = api.list_events(app.id)
    assert listing.status == 200
    assert listing.body["items"] == []
    assert listing.body.get("next_cursor") is None


def test_default_page_is_20_events(api, app):
    events = ingest_many(api, app.id, 25)
    listing = api.list_events(app.id)
    assert listing.status == 200
    assert listing.body["items"] == events[:20]
    assert listing.body["next_cursor"]
    assert listing.body["next_offset"] == 20


@pytest.mark.parametrize("limit", [1, 50])
def test_limit_within_bounds(api, app, limit):
    events = ingest_many(api, app.id, 51)
    listing = api.list_events(app.id, limit=limit)
    assert listing.status == 200
    assert listing.body["items"] == events[:limit]


@pytest.mark.parametrize("limit", [0, 51, -1, "ten"])
def test_limit_out_of_bounds_is_refused(api, app, limit):
    listing = api.list_events(app.id, limit=limit)
    assert listing.status == 400
    assert listing.content_type == "application/json"
    assert listing.body["error"] == "VALIDATION_ERROR"
    assert [field.rsplit(".", 1)[-1] for field in listing.error_fields] == ["limit"]


def test_query_parameter_errors_name_the_parameter_as_sent(api, app):
    listing = api.list_events(app.id, limit=0, level="LOUD")
    assert listing.status == 400
    assert listing.error_fields == {"limit", "level"}


def test_unknown_app_is_not_found(api, aws):
    listing = api.list_events(404)
    assert listing.status == 404
    assert listing.body == {"error": "NOT_FOUND", "message": "no app with id 404"}


def test_non_numeric_app_id_is_refused(api, aws):
    listing = api.list_events("shop")
    assert listing.status == 400
    assert listing.body["error"] == "VALIDATION_ERROR"


def test_one_apps_events_never_appear_in_another_apps_listing(api, app, other_app):
    mine = api.ingest(app.id, {"message": "mine", "event_id": "same-client-id"}).body
    theirs = api.ingest(other_app.id, {"message": "theirs", "event_id": "same-client-id"}).body
    assert api.all_events(app.id) == [mine]
    assert api.all_events(other_app.id) == [theirs]
    assert api.get_event(other_app.id, mine["id"]).status == 404
    assert api.get_event(app.id, theirs["id"]).status == 404


# ---------------------------------------------------------------- filters


@pytest.fixture
def mixed(api, app) -> list[dict]:
    """Six events of different levels, names and services, as listed (newest first)."""
    batch = [
        {"message": "a", "level": "error", "name": "checkout", "service": "api"},
        {"message": "b", "level": "info", "name": "checkout", "service": "api"},
        {"message": "c", "level": "ERROR", "name": "signup", "service": "worker"},
        {"message": "d", "level": "warning", "name": "signup", "service": "api"},
        {"message": "e", "level": "Error", "name": "checkout", "service": "worker"},
        {"message": "f", "level": "debug", "name": "login", "service": "web"},
    ]
    reply = api.ingest(app.id, batch)
    assert reply.status == 201, reply.text
    return api.all_events(app.id)


def messages(listing) -> list[str]:
    assert listing.status == 200, listing.text
    return [event["message"] for event in listing.body["items"]]


@pytest.mark.parametrize("level", ["ERROR", "error", "Error"])
def test_level_filter_ignores_case(api, app, mixed, level):
    assert messages(api.list_events(app.id, level=level)) == ["e", "c", "a"]


def test_name_filter(api, app, mixed):
    assert messages(api.list_events(app.id, name="checkout")) == ["e", "b", "a"]
    assert messages(api.list_events(app.id, name="nothing")) == []


def test_service_filter(api, app, mixed):
    assert messages(api.list_events(app.id, service="worker")) == ["e", "c"]


def test_filters_combine(api, app, mixed):
    assert messages(api.list_events(app.id, level="error", service="worker")) == ["e", "c"]
    assert messages(api.list_events(app.id, level="error", name="checkout", service="api")) == ["a"]


def test_filtered_listing_returns_full_events(api, app, mixed):
    listing = api.list_events(app.id, level="debug")
    assert listing.body["items"] == [event for event in mixed if event["level"] == "DEBUG"]


def test_bad_level_filter_is_refused(api, app):
    listing = api.list_events(app.id, level="LOUD")
    assert listing.status == 400
    assert listing.body["error"] == "VALIDATION_ERROR"


def test_since_and_until_filter_on_received_time(api, app, hours_ago):
    oldest, middle, newest = hours_ago
    since = api.list_events(app.id, since=middle.received_at)
    assert ids(since.body["items"]) == [newest.id, middle.id]  # since is inclusive
    until = api.list_events(app.id, until=middle.received_at)
    assert ids(until.body["items"]) == [middle.id, oldest.id]  # until is inclusive
    both = api.list_events(app.id, since=oldest.received_at, until=middle.received_at)
    assert ids(both.body["items"]) == [middle.id, oldest.id]
    between = api.list_events(
        app.id,
        since=format_iso(utcnow() - timedelta(minutes=150)),
        until=format_iso(utcnow() - timedelta(minutes=90)),
    )
    assert ids(between.body["items"]) == [middle.id]


def test_since_accepts_any_offset(api, app, hours_ago):
    _, middle, newest = hours_ago
    in_new_york = (utcnow() - timedelta(minutes=90)).astimezone(timezone(timedelta(hours=-5)))
    listing = api.list_events(app.id, since=in_new_york.isoformat())
    assert ids(listing.body["items"]) == [newest.id]
    assert middle.id not in ids(listing.body["items"])


@pytest.mark.parametrize("since", ["2026-02-10T11:00:00Z", "2026-02-10T10:00:00Z"])
def test_since_not_before_until_is_refused(api, app, since):
    listing = api.list_events(app.id, since=since, until="2026-02-10T10:00:00Z")
    assert listing.status == 400
    assert listing.body["error"] == "VALIDATION_ERROR"
    assert listing.body["message"] == "since must be before until"


@pytest.mark.parametrize(
    ("field", "value"),
    [("since", "yesterday"), ("until", "2026-02-30T10:00:00Z"), ("since", "10/02/2026")],
)
def test_bad_date_is_refused(api, app, field, value):
    listing = api.list_events(app.id, **{field: value})
    assert listing.status == 400
    assert listing.body["error"] == "VALIDATION_ERROR"


# ---------------------------------------------------------------- cursor paging


def walk(api, app_id: int, limit: int, **filters) -> list[list[dict]]:
    """Every page of a listing, following next_cursor."""
    pages, cursor = [], None
    while True:
        query = {"limit": limit, **filters, **({"cursor": cursor} if cursor else {})}
        reply = api.list_events(app_id, **query)
        assert reply.status == 200, reply.text
        pages.append(reply.body["items"])
        cursor = reply.body.get("next_cursor")
        if cursor is None:
            assert reply.body.get("next_offset") is None
            return pages


def test_cursor_walks_every_event_exactly_once(api, app):
    events = ingest_many(api, app.id, 7)
    pages = walk(api, app.id, limit=3)
    assert [len(page) for page in pages] == [3, 3, 1]
    assert [event for page in pages for event in page] == events


def test_cursor_walks_a_filtered_listing(api, app):
    reply = api.ingest(
        app.id,
        [{"message": f"m{i}", "level": "error" if i % 3 == 0 else "info"} for i in range(30)],
    )
    assert reply.status == 201
    errors = [e for e in api.all_events(app.id) if e["level"] == "ERROR"]
    assert len(errors) == 10
    pages = walk(api, app.id, limit=4, level="error")
    assert [len(page) for page in pages] == [4, 4, 2]
    assert [event for page in pages for event in page] == errors


def test_filter_finds_rare_events_behind_many_others(api, app):
    # DynamoDB applies a Query's Limit before its filter: the listing must read on.
    errors = ingest_many(api, app.id, 3, level="error")
    for _ in range(2):
        assert api.ingest(app.id, [{"message": "noise"}] * 70).status == 201
    first = api.list_events(app.id, limit=2, level="error")
    assert first.body["items"] == errors[:2]
    rest = api.list_events(app.id, limit=2, level="error", cursor=first.body["next_cursor"])
    assert rest.body["items"] == errors[2:]
    assert rest.body.get("next_cursor") is None


def test_cursor_of_an_exactly_full_last_page(api, app):
    events = ingest_many(api, app.id, 4)
    pages = walk(api, app.id, limit=2)
    assert [len(page) for page in pages] == [2, 2]
    assert [event for page in pages for event in page] == events


def test_cursor_stays_correct_when_events_arrive_between_pages(api, app):
    older = ingest_many(api, app.id, 5)
    first = api.list_events(app.id, limit=2)
    assert first.body["items"] == older[:2]

    newer = ingest_many(api, app.id, 3)
    seen = list(first.body["items"])
    cursor = first.body["next_cursor"]
    while cursor:
        page = api.list_events(app.id, limit=2, cursor=cursor)
        assert page.status == 200, page.text
        seen += page.body["items"]
        cursor = page.body.get("next_cursor")
    assert seen == older  # each older event once, in order; the new ones are above page one
    assert api.all_events(app.id) == newer + older


def test_cursor_next_offset_counts_events_already_seen(api, app):
    ingest_many(api, app.id, 5)
    first = api.list_events(app.id, limit=2)
    second = api.list_events(app.id, limit=2, cursor=first.body["next_cursor"])
    assert (first.body["next_offset"], second.body["next_offset"]) == (2, 4)


def altered(cursor: str) -> str:
    body, tag = cursor.split(".")
    flipped = "A" if body[5] != "A" else "B"
    return f"{body[:5]}{flipped}{body[6:]}.{tag}"


@pytest.mark.parametrize(
    "make_cursor",
    [
        altered,
        lambda cursor: cursor[:-2] + ("AA" if not cursor.endswith("AA") else "BB"),
        lambda cursor: cursor.split(".")[0],
        lambda cursor: cursor + ".x",
        lambda _: "garbage",
        lambda _: "eyJhZnRlciI6IjAxIn0.AAAA",
        lambda _: "%%%.%%%",
    ],
    ids=["altered-body", "altered-tag", "no-tag", "extra-part", "garbage", "forged", "not-b64"],
)
def test_forged_or_altered_cursor_is_refused(api, app, make_cursor):
    ingest_many(api, app.id, 3)
    cursor = api.list_events(app.id, limit=1).body["next_cursor"]
    reply = api.list_events(app.id, limit=1, cursor=make_cursor(cursor))
    assert reply.status == 400
    assert reply.content_type == "application/json"
    assert reply.body["error"] == "VALIDATION_ERROR"


def test_cursor_from_another_filter_set_is_refused(api, app, mixed):
    cursor = api.list_events(app.id, limit=1, level="error").body["next_cursor"]
    assert cursor
    for other_filters in ({"level": "info"}, {}, {"level": "error", "service": "api"}):
        reply = api.list_events(app.id, limit=1, cursor=cursor, **other_filters)
        assert reply.status == 400, other_filters
        assert reply.body["error"] == "VALIDATION_ERROR"
    assert api.list_events(app.id, limit=1, cursor=cursor, level="ERROR").status == 200


def test_cursor_from_another_app_is_refused(api, app, other_app):
    ingest_many(api, app.id, 2)
    ingest_many(api, other_app.id, 2)
    cursor = api.list_events(app.id, limit=1).body["next_cursor"]
    reply = api.list_events(other_app.id, limit=1, cursor=cursor)
    assert reply.status == 400
    assert reply.body["error"] == "VALIDATION_ERROR"


# ---------------------------------------------------------------- offset paging


def test_offset_paging(api, app):
    events = ingest_many(api, app.id, 5)
    first = api.list_events(app.id, limit=2)
    assert first.body["items"] == events[:2] and first.body["next_offset"] == 2
    second = api.list_events(app.id, limit=2, offset=2)
    assert second.body["items"] == events[2:4] and second.body["next_offset"] == 4
    last = api.list_events(app.id, limit=2, offset=4)
    assert last.body["items"] == events[4:]
    assert last.body.get("next_cursor") is None and last.body.get("next_offset") is None
    past_the_end = api.list_events(app.id, limit=2, offset=10)
    assert past_the_end.body["items"] == []
    assert past_the_end.body.get("next_offset") is None


def test_offset_paging_with_a_filter(api, app, mixed):
    errors = [event for event in mixed if event["level"] == "ERROR"]
    first = api.list_events(app.id, limit=2, level="error")
    assert first.body["items"] == errors[:2] and first.body["next_offset"] == 2
    rest = api.list_events(app.id, limit=2, level="error", offset=2)
    assert rest.body["items"] == errors[2:]
    assert rest.body.get("next_cursor") is None and rest.body.get("next_offset") is None


def test_cursor_and_offset_together_are_refused(api, app):
    ingest_many(api, app.id, 3)
    cursor = api.list_events(app.id, limit=1).body["next_cursor"]
    reply = api.list_events(app.id, limit=1, cursor=cursor, offset=1)
    assert reply.status == 400
    assert reply.body["error"] == "VALIDATION_ERROR"


@pytest.mark.parametrize("offset", [-1, 10_001, "two"])
def test_offset_out_of_bounds_is_refused(api, app, offset):
    reply = api.list_events(app.id, offset=offset)
    assert reply.status == 400
    assert reply.body["error"] == "VALIDATION_ERROR"


# ---------------------------------------------------------------- one event


def test_get_event_by_id(api, app, sample_body):
    created = api.ingest(app.id, sample_body("ingest_single")).body
    reply = api.get_event(app.id, created["id"])
    assert reply.status == 200
    assert reply.content_type == "application/json"
    assert reply.body == created


def test_unknown_event_id_is_not_found(api, app):
    unknown = new_ulid(utcnow())
    reply = api.get_event(app.id, unknown)
    assert reply.status == 404
    assert reply.content_type == "application/json"
    assert reply.body == {"error": "NOT_FOUND", "message": f"no event '{unknown}' in app {app.id}"}


@pytest.mark.parametrize(
    "event_id", ["not-an-id", "01JKZ0000000000000000000A", "01jkz0000000000000000000aa", "8" * 26]
)
def test_malformed_event_id_is_not_found(api, app, event_id):
    reply = api.get_event(app.id, event_id)
    assert reply.status == 404
    assert reply.body["error"] == "NOT_FOUND"


def test_event_of_an_unknown_app_is_not_found(api, aws):
    reply = api.get_event(77, new_ulid(utcnow()))
    assert reply.status == 404
    assert reply.body == {"error": "NOT_FOUND", "message": "no app with id 77"}


# ---------------------------------------------------------------- retention


def test_event_past_retention_is_neither_listed_nor_returned(api, app, store_event):
    now = utcnow()
    expired = store_event(
        app.id, now - timedelta(days=31), expires_at=epoch_seconds(now) - 1, message="too old"
    )
    kept = store_event(app.id, now - timedelta(days=1), message="recent")
    assert ids(api.all_events(app.id)) == [kept.id]
    assert ids(
        api.list_events(app.id, since=format_iso(now - timedelta(days=40))).body["items"]
    ) == [kept.id]
    assert api.get_event(app.id, expired.id).status == 404
    assert api.get_event(app.id, kept.id).status == 200


def test_expired_events_do_not_shorten_a_page(api, app, store_event):
    now = utcnow()
    live = [store_event(app.id, now - timedelta(minutes=m)) for m in (10, 30)]
    for minutes in (15, 20, 25):
        store_event(app.id, now - timedelta(minutes=minutes), expires_at=epoch_seconds(now) - 1)
    listing = api.list_events(app.id, limit=2)
    assert ids(listing.body["items"]) == [event.id for event in live]
    assert listing.body.get("next_cursor") is None


def test_retention_days_setting_applies_to_new_events(api, app, monkeypatch):
    from eventlog.base.config import get_settings
    from eventlog.storage import db

    monkeypatch.setenv("RETENTION_DAYS", "7")
    get_settings.cache_clear()
    created = api.ingest(app.id, {"message": "kept a week"}).body
    item = db.events_table().get_item(Key={"pk": f"APP#{app.id}", "sk": f"E#{created['id']}"})
    received = epoch_seconds(parse_iso(created["received_at"]))
    assert int(item["Item"]["expires_at"]) == received + 7 * 86400


def test_health(api):
    reply = api.health()
    assert reply.status == 200
    assert reply.content_type == "application/json"
    assert reply.body == {"status": "ok"}


def test_a_rare_filter_stops_at_the_read_budget_and_resumes_by_cursor(api, app, monkeypatch):
    # One request reads a bounded number of items: the page comes back short (here empty)
    # with a cursor that carries on from where the reading stopped, never skipping a match.
    from eventlog.events import queries

    monkeypatch.setattr(queries, "MAX_ITEMS_READ", 100)
    oldest_error = ingest_many(api, app.id, 1, level="error")
    for _ in range(3):
        assert api.ingest(app.id, [{"message": "noise"}] * 100).status == 201

    first = api.list_events(app.id, limit=5, level="error")
    assert first.status == 200
    assert first.body["items"] == []
    assert first.body["next_cursor"] is not None
    assert first.body["next_offset"] == 0

    pages = walk(api, app.id, limit=5, level="error")
    assert [event for page in pages for event in page] == oldest_error
    assert len(pages) == 4  # three budgets of noise, then the match on the last page


def test_offset_paging_resumes_past_the_read_budget(api, app, monkeypatch):
    from eventlog.events import queries

    monkeypatch.setattr(queries, "MAX_ITEMS_READ", 100)
    errors = ingest_many(api, app.id, 3, level="error")
    for _ in range(2):
        assert api.ingest(app.id, [{"message": "noise"}] * 75).status == 201

    first = api.list_events(app.id, limit=5, offset=1, level="error")
    assert first.body["items"] == []
    rest = api.list_events(app.id, limit=5, level="error", cursor=first.body["next_cursor"])
    assert rest.body["items"] == errors[1:]
    assert rest.body["next_cursor"] is None
