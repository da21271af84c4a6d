"""Seed 002's GET /metrics and the notifications statistics, read from the aggregates."""

from datetime import UTC, datetime, timedelta

from eventlog.base.timeutil import utcnow
from eventlog.storage import aggregates


def test_metrics_count_every_event_stored_and_every_notification_sent(api, app):
    batch = [{"level": "info", "message": f"m{i}", "count": 2} for i in range(3)]
    assert api.ingest(app.id, batch).status == 201
    old = {"level": "warning", "message": "last year", "occurred_at": "2024-11-08T14:23:30Z"}
    assert api.ingest(app.id, old).status == 201
    aggregates.count_notifications(app.id, utcnow(), sent=2, failed=1)
    reply = api.metrics(app_id=app.id)
    assert reply.status == 200, reply.text
    assert reply.body == {"logs_processed": 7, "notifications_sent": 2}


def test_metrics_of_an_app_with_nothing_are_zero(api, app):
    assert api.metrics(app_id=app.id).body == {"logs_processed": 0, "notifications_sent": 0}


def test_metrics_for_an_admin_are_the_default_apps(api, app):
    from eventlog.access.apps import create_app

    default = create_app("default")
    assert api.ingest(default.id, {"message": "in default"}).status == 201
    assert api.ingest(app.id, {"message": "elsewhere"}).status == 201
    reply = api.metrics(role="admin")
    assert reply.body == {"logs_processed": 1, "notifications_sent": 0}


def test_metrics_without_a_default_app_for_an_admin_is_404(api, aws):
    reply = api.metrics(role="admin")
    assert reply.status == 404
    assert "default" in reply.body["message"]


def test_metrics_never_mix_apps(api, app, other_app):
    api.ingest(other_app.id, [{"message": "x"}] * 5)
    aggregates.count_notifications(other_app.id, utcnow(), sent=4)
    assert api.metrics(app_id=app.id).body == {"logs_processed": 0, "notifications_sent": 0}
    assert api.metrics(app_id=other_app.id).body == {"logs_processed": 5, "notifications_sent": 4}


def test_notifications_statistics_count_sent_and_failed_in_the_range(api, app):
    now = utcnow()
    aggregates.count_notifications(app.id, now, sent=3, failed=1)
    aggregates.count_notifications(app.id, now - timedelta(days=3), sent=5)
    reply = api.stats(app.id, "notifications")
    assert reply.status == 200, reply.text
    assert reply.body["sent"] == 3
    assert reply.body["failed"] == 1
    week = api.stats(app.id, "notifications", since=(now - timedelta(days=7)).isoformat())
    assert (week.body["sent"], week.body["failed"]) == (8, 1)


def test_notification_counters_do_not_count_as_events(api, app):
    aggregates.count_notifications(app.id, datetime(2026, 1, 1, 12, tzinfo=UTC), sent=9)
    reply = api.stats(
        app.id, "by-level", since="2026-01-01T00:00:00Z", until="2026-01-02T00:00:00Z"
    )
    assert reply.status == 200
    assert sum(item["count"] for item in reply.body["items"]) == 0


def test_notifications_statistics_validate_their_range(api, app):
    reply = api.stats(app.id, "notifications", since="2026-01-02T00:00:00Z", until="2026-01-01")
    assert reply.status == 400
    assert api.stats(app.id, "notifications", level="ERROR").status == 400


def test_heartbeats_are_not_logs_processed(api, aws):
    from eventlog.access.apps import create_app
    from eventlog.events.ingestion import ingest_one
    from eventlog.models.events import HEARTBEAT_NAME

    default = create_app("default")
    for _ in range(3):
        ingest_one(default.id, {"name": HEARTBEAT_NAME, "service": "propagator"})
    assert api.ingest(default.id, {"message": "a client's log"}).status == 201
    reply = api.metrics(role="admin")
    assert reply.body == {"logs_processed": 1, "notifications_sent": 0}
