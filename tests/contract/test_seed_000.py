"""Seed 000 (event logging API): its curl examples, sent as written over HTTP plus a credential,
get the documented answers; and its error cases."""

import re
from urllib.parse import urljoin

SEED_BODY = (
    '{"event_type": "ERROR", "service_name": "AuthService", "additional_data": "Timeout error"}'
)
JSON = {"Content-Type": "application/json"}
ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z$")


def post_seed_example(http, credential):
    """curl -X POST -H "Content-Type: application/json" -d '<the seed's body>' .../events"""
    return http.post("/events", data=SEED_BODY, headers={**JSON, **credential})


def test_the_seed_examples_post_list_and_get_an_event(http, tenant):
    created = post_seed_example(http, tenant.ingest)
    assert created.status_code == 201
    assert created.headers["Content-Type"] == "application/json"
    event = created.json()
    assert event == {
        "event_id": 1,
        "event_creation_date": event["event_creation_date"],
        "event_type": "ERROR",
        "service_name": "AuthService",
        "additional_data": "Timeout error",
    }
    assert ISO_UTC.match(event["event_creation_date"])

    listed = http.get("/events", headers=tenant.user)  # curl -X GET .../events
    assert listed.status_code == 200
    assert listed.json() == [event]
    assert "Link" not in listed.headers

    got = http.get("/events/1", headers=tenant.user)  # curl -X GET .../events/1
    assert got.status_code == 200
    assert got.json() == event


def test_ids_count_1_2_3_in_an_app_and_a_user_key_may_post_too(http, tenant):
    ids = [post_seed_example(http, tenant.user).json()["event_id"] for _ in range(3)]
    assert ids == [1, 2, 3]
    listed = http.get("/events", headers=tenant.user).json()
    assert [event["event_id"] for event in listed] == [1, 2, 3]


def test_nothing_stored_lists_an_empty_list(http, tenant):
    listed = http.get("/events", headers=tenant.user)
    assert listed.status_code == 200
    assert listed.json() == []


def test_an_unknown_or_non_integer_id_is_404(http, tenant):
    post_seed_example(http, tenant.ingest)
    for event_id in ("2", "abc"):
        reply = http.get(f"/events/{event_id}", headers=tenant.user)
        assert reply.status_code == 404
        assert reply.json() == {
            "error": "NOT_FOUND",
            "message": f"no event {event_id} in app {tenant.app_id}",
        }


def test_limit_and_after_page_with_a_link_header(http, tenant):
    for _ in range(3):
        post_seed_example(http, tenant.ingest)
    first = http.get("/events?limit=2", headers=tenant.user)
    assert [event["event_id"] for event in first.json()] == [1, 2]
    assert first.headers["Link"] == '<?after=2&limit=2>; rel="next"'
    # A reference relative to the request's URL (RFC 8288), as a client resolves it.
    rest = http.get(urljoin(first.url, first.links["next"]["url"]), headers=tenant.user)
    assert rest.url == f"{http.base_url}/events?after=2&limit=2"
    assert [event["event_id"] for event in rest.json()] == [3]
    assert "Link" not in rest.headers


def test_bad_input_gets_400_naming_the_field(http, tenant):
    missing = http.post(
        "/events", data='{"service_name": "AuthService"}', headers={**JSON, **tenant.ingest}
    )
    assert missing.status_code == 400
    assert missing.json() == {
        "error": "VALIDATION_ERROR",
        "message": "invalid event_type",
        "details": [{"field": "event_type", "message": "Field required"}],
    }
    malformed = http.post("/events", data='{"event_type": ', headers={**JSON, **tenant.ingest})
    assert malformed.status_code == 400
    assert malformed.json()["error"] == "VALIDATION_ERROR"
    assert malformed.json()["message"].startswith("malformed JSON")
    assert http.get("/events", headers=tenant.user).json() == []


def test_another_apps_user_key_sees_none_of_these_events(http, tenant):
    post_seed_example(http, tenant.ingest)
    other = http.post(f"/apps/{tenant.name}-other", headers=http.admin).json()
    key = http.post(
        "/keys", json={"role": "user", "app_id": other["id"], "label": "other"}, headers=http.admin
    ).json()["key"]
    assert http.get("/events", headers={"x-api-key": key}).json() == []
    assert http.get("/events/1", headers={"x-api-key": key}).status_code == 404


def test_every_route_needs_a_credential(http):
    for reply in (
        http.post("/events", data=SEED_BODY, headers=JSON),
        http.get("/events"),
        http.get("/events/1"),
    ):
        assert reply.status_code == 401
        assert reply.json()["error"] == "UNAUTHORIZED"


def test_an_ingest_key_may_post_but_not_read(http, tenant):
    assert post_seed_example(http, tenant.ingest).status_code == 201
    for path in ("/events", "/events/1"):
        reply = http.get(path, headers=tenant.ingest)
        assert reply.status_code == 403
        assert reply.json()["error"] == "FORBIDDEN"


def test_what_is_stored_is_a_native_event_with_its_number(http, tenant):
    event = post_seed_example(http, tenant.ingest).json()
    (native,) = http.get(f"/apps/{tenant.app_id}/events", headers=tenant.user).json()["items"]
    assert native["number"] == event["event_id"]
    assert (native["name"], native["level"], native["service"], native["message"]) == (
        "ERROR",
        "ERROR",
        "AuthService",
        "Timeout error",
    )
    assert native["received_at"] == event["event_creation_date"]
