"""The API's routes as API Gateway would invoke the handlers (`Api`), and the authorizer's
answers read as IAM would (`Authorization`)."""

import fnmatch
from dataclasses import dataclass
from typing import Any

from tests.support.handlers import (
    HttpResponse,
    invoke,
    invoke_http,
    sample_event,
    set_body,
    set_caller,
    set_headers,
    set_path,
    set_query,
)


class Api:
    """The API's routes as API Gateway would invoke the handlers, built from events/*.json."""

    # ------------------------------------------------------------ ingest

    def ingest(
        self, app_id: Any, body: Any, headers: dict[str, str | None] | None = None
    ) -> HttpResponse:
        """POST /apps/{app_id}/events (a list body is a batch), as the app's ingest key."""
        event = set_body(set_path(sample_event("ingest_single"), app_id=app_id), body)
        set_headers(event, headers or {})
        set_caller(event, "ingest", _int_or_none(app_id), "k_ingest_tests")
        return invoke_http("ingest", event)

    # ------------------------------------------------------------ query

    def list_events(self, app_id: Any, **query: Any) -> HttpResponse:
        event = set_query(set_path(sample_event("query_list"), app_id=app_id), query)
        set_caller(event, "user", _int_or_none(app_id), "k_user_tests")
        return invoke_http("query", event)

    def all_events(self, app_id: Any, **query: Any) -> list[dict[str, Any]]:
        """Every event of a listing, following next_cursor to the end."""
        items, cursor = [], None
        while True:
            reply = self.list_events(
                app_id, limit=50, **query, **({"cursor": cursor} if cursor else {})
            )
            assert reply.status == 200, reply.text
            items += reply.body["items"]
            cursor = reply.body.get("next_cursor")
            if not cursor:
                return items

    def get_event(self, app_id: Any, event_id: str) -> HttpResponse:
        event = set_path(sample_event("query_get"), app_id=app_id, event_id=event_id)
        set_caller(event, "user", _int_or_none(app_id), "k_user_tests")
        return invoke_http("query", event)

    def health(self) -> HttpResponse:
        return invoke_http("query", sample_event("health"))

    # ------------------------------------------------------------ stats

    def stats(self, app_id: Any, route: str, **query: Any) -> HttpResponse:
        """GET /apps/{app_id}/stats/<route> as a user of the app."""
        event = sample_event("stats_timeseries")
        event["resource"] = event["requestContext"]["resourcePath"] = (
            f"/apps/{{app_id}}/stats/{route}"
        )
        set_query(set_path(event, app_id=app_id), query)
        set_caller(event, "user", _int_or_none(app_id), "k_user_tests")
        return invoke_http("stats", event)

    def unscoped(
        self,
        function: str,
        method: str,
        resource: str,
        body: Any = None,
        query: dict[str, Any] | None = None,
        role: str = "user",
        app_id: int | None = None,
        headers: dict[str, str] | None = None,
        **path_parameters: Any,
    ) -> HttpResponse:
        """A route without an app in its path (the seed APIs'): the credential's app applies."""
        event = sample_event("stats_timeseries")
        event["httpMethod"] = event["requestContext"]["httpMethod"] = method
        event["resource"] = event["requestContext"]["resourcePath"] = resource
        set_query(set_path(event, **path_parameters), query)
        if body is not None:
            set_body(event, body)
        set_headers(event, headers or {})
        set_caller(event, role, app_id, f"k_{role}_tests")
        return invoke_http(function, event)

    def metrics(self, role: str = "user", app_id: int | None = None) -> HttpResponse:
        """Seed 002's GET /metrics, with a credential of this role and app."""
        event = sample_event("stats_timeseries")
        event["resource"] = event["requestContext"]["resourcePath"] = "/metrics"
        set_query(set_path(event), None)
        set_caller(event, role, app_id, f"k_{role}_tests")
        return invoke_http("stats", event)

    def hourly_png(self, app_id: Any, **query: Any) -> HttpResponse:
        """GET /apps/{app_id}/stats/hourly.png; the body stays as Lambda returns it (base64)."""
        event = set_query(set_path(sample_event("stats_hourly_png"), app_id=app_id), query)
        set_caller(event, "user", _int_or_none(app_id), "k_user_tests")
        return invoke_http("stats", event)

    # ------------------------------------------------------------ admin

    def delete_events(self, app_id: Any, **query: Any) -> HttpResponse:
        event = set_path(sample_event("admin_delete_events"), app_id=app_id)
        return invoke_http("admin", set_query(event, query))

    def delete_event(self, app_id: Any, event_id: str) -> HttpResponse:
        event = sample_event("admin_delete_event")
        return invoke_http("admin", set_path(event, app_id=app_id, event_id=event_id))

    def admin_request(
        self,
        method: str,
        resource: str,
        body: Any = None,
        query: dict[str, Any] | None = None,
        **path_parameters: Any,
    ) -> HttpResponse:
        """Any admin route (alert rules, subscriptions...), as an admin."""
        event = sample_event("admin_get_app")
        event["httpMethod"] = event["requestContext"]["httpMethod"] = method
        event["resource"] = event["requestContext"]["resourcePath"] = resource
        set_path(event, **path_parameters)
        set_query(event, query)
        if body is not None:
            set_body(event, body)
        return invoke_http("admin", event)

    def create_app(self, name: str) -> HttpResponse:
        return invoke_http("admin", set_path(sample_event("admin_create_app"), app_id=name))

    def list_apps(self, **query: Any) -> HttpResponse:
        return invoke_http("admin", set_query(sample_event("admin_list_apps"), query))

    def get_app(self, app_id: Any) -> HttpResponse:
        return invoke_http("admin", set_path(sample_event("admin_get_app"), app_id=app_id))

    def create_key(self, body: Any) -> HttpResponse:
        return invoke_http("admin", set_body(sample_event("admin_create_key"), body))

    def list_keys(self, **query: Any) -> HttpResponse:
        return invoke_http("admin", set_query(sample_event("admin_list_keys"), query))

    def revoke_key(self, key_id: str) -> HttpResponse:
        return invoke_http("admin", set_path(sample_event("admin_revoke_key"), key_id=key_id))

    def create_token(self, body: Any) -> HttpResponse:
        return invoke_http("admin", set_body(sample_event("admin_create_token"), body))

    # ------------------------------------------------------------ authorizer

    def authorize(
        self,
        headers: dict[str, str | None],
        method: str = "GET",
        resource: str = "/apps/{app_id}/events",
        **path_parameters: Any,
    ) -> "Authorization":
        """The authorizer's answer for a request; the sample's x-api-key is replaced."""
        event = sample_event("authorizer_request")
        event["httpMethod"] = event["requestContext"]["httpMethod"] = method
        event["resource"] = event["requestContext"]["resourcePath"] = resource
        set_path(event, **path_parameters)
        set_headers(event, {"x-api-key": None, **headers})
        return Authorization(event["methodArn"], invoke("authorizer", event))


@dataclass
class Authorization:
    """A REQUEST authorizer's answer: an IAM policy, a context and a usage identifier key."""

    method_arn: str
    answer: dict[str, Any]

    @property
    def statements(self) -> list[dict[str, Any]]:
        return self.answer["policyDocument"]["Statement"]

    @property
    def allows_the_request(self) -> bool:
        """An Allow statement covers the method ARN and no Deny statement exists."""
        effects = {statement["Effect"] for statement in self.statements}
        return effects == {"Allow"} and any(
            fnmatch.fnmatchcase(self.method_arn, resource)  # IAM's `*` spans `/` too
            for statement in self.statements
            for resource in _as_list(statement["Resource"])
        )

    @property
    def denies_everything(self) -> bool:
        return {statement["Effect"] for statement in self.statements} == {"Deny"}

    @property
    def context(self) -> dict[str, Any]:
        return self.answer.get("context") or {}

    @property
    def usage_key(self) -> str | None:
        return self.answer.get("usageIdentifierKey")


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _int_or_none(value: Any) -> int | None:
    return int(value) if str(value).isascii() and str(value).isdigit() else None
