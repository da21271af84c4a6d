"""Subscriptions over the admin API: configuration, write-only secrets, what the state shows."""

from typing import Any

import pytest

from tests.support.fake_aws import aws_client

SUBSCRIPTIONS = "/apps/{app_id}/subscriptions"
SUBSCRIPTION = "/apps/{app_id}/subscriptions/{subscription_id}"
SECRET = "subsec_0123456789abcdef"  # noqa: S105 - test values
TOKEN = "eyJhbGciOiJIUzI1NiJ9.e30.signature"  # noqa: S105


def create(api: Any, app_id: int, **fields: Any) -> Any:
    return api.admin_request("POST", SUBSCRIPTIONS, {"secret": SECRET, **fields}, app_id=app_id)


def stored_secrets(aws: Any) -> dict[str, str]:
    prefix = aws.environment["CHANNEL_SECRETS_PREFIX"]
    parameters = aws_client("ssm").get_parameters_by_path(
        Path=prefix, Recursive=True, WithDecryption=True
    )["Parameters"]
    return {p["Name"].removeprefix(prefix + "/"): p["Value"] for p in parameters}


def test_a_subscription_is_created_with_write_only_secrets(
    api, aws, app, receiver, loopback_targets
):
    reply = create(
        api,
        app.id,
        url=receiver.url,
        bearer_token=TOKEN,
        filter={"levels": ["error", "CRITICAL"], "names": ["checkout"]},
        batch_size=50,
        format="consumer",
        description="to the archive",
    )
    assert reply.status == 201, reply.text
    created = reply.body
    assert SECRET not in reply.text
    assert TOKEN not in reply.text
    assert created["id"].startswith("s_")
    assert created["url"] == receiver.url
    assert created["filter"] == {"levels": ["ERROR", "CRITICAL"], "names": ["checkout"]}
    assert created["batch_size"] == 50
    assert created["format"] == "consumer"
    assert created["has_bearer_token"] is True
    assert created["enabled"] is True
    assert created["delivered"] == 0
    assert created["consecutive_failures"] == 0
    assert created["last_error"] is None
    assert len(created["checkpoint"]) == 26
    assert stored_secrets(aws) == {
        f"subscriptions/{created['id']}/secret": SECRET,
        f"subscriptions/{created['id']}/bearer_token": TOKEN,
    }
    fetched = api.admin_request(
        "GET", SUBSCRIPTION, app_id=app.id, subscription_id=created["id"]
    ).body
    assert fetched == created


def test_defaults_forward_everything_in_batches_of_100(api, app, receiver, loopback_targets):
    created = create(api, app.id, url=receiver.url).body
    assert created["batch_size"] == 100
    assert created["format"] == "eventlog"
    assert created["filter"] == {}
    assert created["has_bearer_token"] is False


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"url": "ftp://example.com/x"}, "url"),
        ({"url": "https://example.com/x", "batch_size": 101}, "batch_size"),
        ({"url": "https://example.com/x", "batch_size": 0}, "batch_size"),
        ({"url": "https://example.com/x", "format": "xml"}, "format"),
        ({"url": "https://example.com/x", "filter": {"levels": ["LOUD"]}}, "filter.levels.0"),
        ({"url": "https://example.com/x", "filter": {"names": []}}, "filter.names"),
        ({"url": "https://example.com/x", "secret": "short"}, "secret"),
        ({"url": "https://example.com/x", "interval": 5}, "interval"),
    ],
)
def test_invalid_subscriptions_get_a_400_naming_the_field(api, app, fields, field):
    reply = create(api, app.id, **fields)
    assert reply.status == 400, reply.text
    assert field in reply.error_fields


def test_a_subscription_needs_a_signing_secret(api, app):
    reply = api.admin_request("POST", SUBSCRIPTIONS, {"url": "https://x.example"}, app_id=app.id)
    assert reply.status == 400
    assert "secret" in reply.error_fields


def test_a_loopback_target_is_refused_unless_the_deployment_allows_it(api, app, receiver):
    reply = create(api, app.id, url=receiver.url)
    assert reply.status == 400
    assert "loopback" in reply.body["message"]


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://[::1", "Invalid IPv6 URL"),
        ("https://[::1/hook", "Invalid IPv6 URL"),
        ("http://example.com:99999/hook", "Port out of range"),
        ("http://[::1]x/hook", "malformed host"),
        ("http://[2002:a9fe:a9fe::]/hook", "6to4 address embedding 169.254.169.254"),
    ],
)
def test_malformed_or_embedding_urls_get_a_400_on_create_and_patch(
    api, app, receiver, loopback_targets, url, problem
):
    reply = create(api, app.id, url=url)
    assert reply.status == 400, reply.text
    assert problem in reply.body["message"]
    created = create(api, app.id, url=receiver.url).body
    path = {"app_id": app.id, "subscription_id": created["id"]}
    patched = api.admin_request("PATCH", SUBSCRIPTION, {"url": url}, **path)
    assert patched.status == 400, patched.text
    assert problem in patched.body["message"]


def test_patch_changes_configuration_and_secrets(api, aws, app, receiver, loopback_targets):
    created = create(api, app.id, url=receiver.url, bearer_token=TOKEN).body
    path = {"app_id": app.id, "subscription_id": created["id"]}
    new_secret = "another_secret_0123456789"  # noqa: S105 - a test value
    reply = api.admin_request(
        "PATCH",
        SUBSCRIPTION,
        {"batch_size": 10, "secret": new_secret, "bearer_token": None, "description": "x"},
        **path,
    )
    assert reply.status == 200, reply.text
    assert reply.body["batch_size"] == 10
    assert reply.body["description"] == "x"
    assert reply.body["has_bearer_token"] is False
    assert reply.body["checkpoint"] == created["checkpoint"]
    assert stored_secrets(aws) == {f"subscriptions/{created['id']}/secret": new_secret}
    cleared = api.admin_request("PATCH", SUBSCRIPTION, {"description": None}, **path)
    assert cleared.body["description"] is None


def test_patch_refuses_nulls_and_unknown_fields(api, app, receiver, loopback_targets):
    created = create(api, app.id, url=receiver.url).body
    path = {"app_id": app.id, "subscription_id": created["id"]}
    assert api.admin_request("PATCH", SUBSCRIPTION, {"url": None}, **path).status == 400
    assert api.admin_request("PATCH", SUBSCRIPTION, {"checkpoint": "0"}, **path).status == 400


def test_enabling_a_subscription_the_propagator_disabled_clears_its_failures(
    api, app, receiver, loopback_targets
):
    from eventlog.storage import db, registry

    created = create(api, app.id, url=receiver.url).body
    db.registry_table().update_item(  # what the propagator does after too many failures
        Key=registry.subscription_key(app.id, created["id"]),
        UpdateExpression="SET enabled = :no, consecutive_failures = :n, disabled_reason = :why, "
        "last_error = :error, next_attempt_at = :later",
        ExpressionAttributeValues={
            ":no": False,
            ":n": 10,
            ":why": "10 failed deliveries in a row",
            ":error": "HTTP 500",
            ":later": "2030-01-01T00:00:00.000Z",
        },
    )
    path = {"app_id": app.id, "subscription_id": created["id"]}
    disabled = api.admin_request("GET", SUBSCRIPTION, **path).body
    assert disabled["enabled"] is False
    assert disabled["disabled_reason"] == "10 failed deliveries in a row"
    assert disabled["last_error"] == "HTTP 500"
    enabled = api.admin_request("PATCH", SUBSCRIPTION, {"enabled": True}, **path).body
    assert enabled["enabled"] is True
    assert enabled["consecutive_failures"] == 0
    assert enabled["disabled_reason"] is None
    assert enabled["next_attempt_at"] is None
    assert enabled["last_error"] == "HTTP 500"  # kept: what happened last


def test_subscriptions_are_listed_a_page_at_a_time(api, app, receiver, loopback_targets):
    ids = {create(api, app.id, url=receiver.url).body["id"] for _ in range(3)}
    first = api.admin_request("GET", SUBSCRIPTIONS, query={"limit": 2}, app_id=app.id).body
    assert len(first["items"]) == 2
    rest = api.admin_request(
        "GET", SUBSCRIPTIONS, query={"limit": 2, "cursor": first["next_cursor"]}, app_id=app.id
    ).body
    assert rest["next_cursor"] is None
    assert {s["id"] for s in first["items"] + rest["items"]} == ids


def test_deleting_a_subscription_deletes_its_secrets(api, aws, app, receiver, loopback_targets):
    created = create(api, app.id, url=receiver.url, bearer_token=TOKEN).body
    path = {"app_id": app.id, "subscription_id": created["id"]}
    assert api.admin_request("DELETE", SUBSCRIPTION, **path).status == 200
    assert api.admin_request("GET", SUBSCRIPTION, **path).status == 404
    assert api.admin_request("DELETE", SUBSCRIPTION, **path).status == 404
    assert stored_secrets(aws) == {}


def test_subscriptions_belong_to_their_app(api, app, other_app, receiver, loopback_targets):
    created = create(api, app.id, url=receiver.url).body
    path = {"app_id": other_app.id, "subscription_id": created["id"]}
    assert api.admin_request("GET", SUBSCRIPTION, **path).status == 404
    assert api.admin_request("PATCH", SUBSCRIPTION, {"batch_size": 5}, **path).status == 404
    assert api.admin_request("GET", SUBSCRIPTIONS, app_id=other_app.id).body["items"] == []
