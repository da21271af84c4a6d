"""The OpenAPI document of the whole API: `make openapi` writes functions/query/openapi.json.

The routes live in several functions, each with its own Powertools resolver and packaged alone,
so no function can see every route at run time. This script imports each API function's module
(as the local stack does), takes the schema Powertools generates from its routes, merges them,
and adds what only the whole API knows: which credentials each route takes (template.yaml says
which routes are public, the authorizer's ROUTE_ROLES who may call the others), the service's
error format and the answers each route can give (404 where a path names something, 409, 207...),
and the bodies of the routes that read their body themselves (ingest), from their models.
The query function serves the file at GET /openapi.json and GET /docs.

The output is deterministic (sorted keys), so a test can tell when the committed file is stale.
"""

from __future__ import annotations

import copy
import json
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from local_stack.resources import assign_physical_ids
from local_stack.runtime import global_environment, import_module_from
from local_stack.template import Template

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE_PATH = ROOT / "template.yaml"
SPEC_PATH = ROOT / "functions" / "query" / "openapi.json"

TITLE = "Eventlog API"
VERSION = "1.0.0"
DESCRIPTION = """\
Serverless event and log ingestion, queries and statistics, with the APIs of the five systems \
it replaces.

Credentials: an **admin key** or a **user key** in `x-api-key`, an app's **ingest key** in \
`X-INGEST-KEY`, or a JWT in `Authorization: Bearer`. Each operation lists the roles that may \
call it; keys other than an admin's only reach their own app. Errors are \
`{"error": CODE, "message": text}`, with `details` naming each bad field on a 400."""

REF = "#/components/schemas/"
SECURITY_SCHEMES = {
    "ApiKey": {
        "type": "apiKey",
        "in": "header",
        "name": "x-api-key",
        "description": "An admin key, or a user key of an app",
    },
    "IngestKey": {
        "type": "apiKey",
        "in": "header",
        "name": "X-INGEST-KEY",
        "description": "An app's ingest key (returned once by POST /apps/{name})",
    },
    "BearerJWT": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "A token from POST /tokens (HS256; claims role and app)",
    },
}
ERROR_SCHEMA = {
    "type": "object",
    "title": "Error",
    "required": ["error", "message"],
    "properties": {
        "error": {"type": "string", "description": "A code: VALIDATION_ERROR, NOT_FOUND, ..."},
        "message": {"type": "string"},
        "details": {
            "type": "array",
            "description": "On a 400: each bad field and what is wrong with it",
            "items": {
                "type": "object",
                "required": ["field", "message"],
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
}
ERROR_CONTENT = {"application/json": {"schema": {"$ref": f"{REF}Error"}}}
# API Gateway's answers before a handler runs (template.yaml's GatewayResponses).
CREDENTIAL_RESPONSES = {
    "401": {"description": "No credential, or an unknown or revoked one", "content": ERROR_CONTENT},
    "403": {
        "description": "The credential may not call this route, or not for this app",
        "content": ERROR_CONTENT,
    },
}
BAD_REQUEST = {"description": "Invalid parameters or body", "content": ERROR_CONTENT}
NOT_FOUND = {
    "description": "No such app or item (or no route for this path)",
    "content": ERROR_CONTENT,
}
TOO_LARGE = {"description": "The body is larger than the API accepts", "content": ERROR_CONTENT}
CONFLICT = "409"
# Answers particular routes give besides the ones every route of their kind gives.
EXTRA_RESPONSES: dict[tuple[str, str], dict[str, Any]] = {
    ("post", "/apps/{app_id}"): {
        CONFLICT: {"description": "An app of this name exists", "content": ERROR_CONTENT}
    },
    ("post", "/apps/{app_id}/events"): {
        "200": {
            "description": "Stored before (the same event_id): the stored event, or the batch's "
            "items, every one a duplicate",
            "content": {
                "application/json": {
                    "schema": {"anyOf": [{"$ref": f"{REF}Event"}, {"$ref": f"{REF}BatchResult"}]}
                }
            },
        },
        "207": {
            "description": "A batch partly stored: each item's status in `items`",
            "content": {"application/json": {"schema": {"$ref": f"{REF}BatchResult"}}},
        },
    },
    # Seed 002: any invalid log gets the seed's own body.
    ("post", "/logs"): {
        "400": {
            "description": "Invalid log data (the seed's body)",
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": ["error"],
                        "properties": {"error": {"const": "Invalid log data"}},
                    }
                }
            },
        }
    },
    ("delete", "/keys/{key_id}"): {
        CONFLICT: {
            "description": "The last live admin key: create another one first",
            "content": ERROR_CONTENT,
        }
    },
}
# Swagger UI's sections, in this order: a tag per route group, one per seed profile (seed 004's
# API is the native one).
TAGS = {
    "apps": "Apps: each holds its events, keys, alert rules and subscriptions (also seed 004's)",
    "keys": "Admin, user and ingest keys, and bearer tokens (JWT)",
    "ingest": "Sending events",
    "events": "An app's events: list, get, delete",
    "statistics": "Counts over time, by level, name and service, top messages, the hourly chart",
    "alerts": "Alert rules: which events notify, through which channels",
    "subscriptions": "Forwarding an app's new events to a URL, in signed batches",
    "seed 000: event logging": "The event logging API (integer ids): docs/profiles/seed-000.md",
    "seed 001: event tracker": "The event tracker API (`/api/v1`, `/admin/v1`): seed-001.md",
    "seed 002: log processing": "The log processing API (`/logs`, `/metrics`): seed-002.md",
    "seed 003: event consumer": "The event consumer API (`/api/event`, `/api/ready`): seed-003.md",
    "console": "The web console: a page in the browser over this API",
    "service": "Liveness and this documentation (no credential)",
}
# (method, or None for any; path pattern; tag): the first rule that matches tags an operation.
TAG_RULES: list[tuple[str | None, str, str]] = [
    (None, r"^/apps(/\{app_id\})?$", "apps"),
    (None, r"^/(keys|tokens)(/|$)", "keys"),
    ("post", r"^/apps/\{app_id\}/events$", "ingest"),
    (None, r"^/apps/\{app_id\}/events(/|$)", "events"),
    (None, r"^/apps/\{app_id\}/stats/", "statistics"),
    (None, r"^/apps/\{app_id\}/alert-rules(/|$)", "alerts"),
    (None, r"^/apps/\{app_id\}/subscriptions(/|$)", "subscriptions"),
    (None, r"^/events(/|$)", "seed 000: event logging"),
    (None, r"^/(api/v1|admin/v1)/|^/health/ping$", "seed 001: event tracker"),
    (None, r"^/(logs|metrics)$", "seed 002: log processing"),
    (None, r"^(/api)?/(event|ready)$", "seed 003: event consumer"),
    (None, r"^/console(/|$)", "console"),
    (None, r"^/(health|docs|openapi\.json)$", "service"),
]

# Powertools documents its own validation error (422, HTTPValidationError); the service answers
# validation errors with 400 and the Error body instead.
POWERTOOLS_VALIDATION_STATUS = "422"


class OpenApiError(Exception):
    """The routes' schemas cannot be merged into one document (a conflict, a route missing)."""


@dataclass(frozen=True)
class ApiRoute:
    function_id: str
    public: bool  # Auth.Authorizer: NONE in template.yaml


def template_routes(template: Template) -> dict[tuple[str, str], ApiRoute]:
    """(method, path) -> the function serving it, for every Api event of template.yaml."""
    routes = {}
    for function_id, _ in template.of_type("AWS::Serverless::Function"):
        events = template.properties(function_id, "Function").get("Events") or {}
        for event in events.values():
            if event.get("Type") != "Api":
                continue
            props = event["Properties"]
            public = (props.get("Auth") or {}).get("Authorizer") == "NONE"
            routes[(props["Method"].lower(), props["Path"])] = ApiRoute(function_id, public)
    return routes


def _import_function(template: Template, function_id: str) -> Any:
    props = template.properties(function_id, "Function")
    code_dir = template.path(props["CodeUri"])
    module_path = props["Handler"].rpartition(".")[0]
    source = code_dir / (module_path.replace(".", "/") + ".py")
    return import_module_from(source, code_dir, f"openapi_{function_id}")


def function_schema(template: Template, function_id: str) -> dict[str, Any]:
    """What Powertools generates from one function's resolver (`app`), as JSON."""
    return json.loads(_import_function(template, function_id).app.get_openapi_json_schema())


def route_roles(template: Template) -> dict[tuple[str, str], list[str]]:
    """(method, path) -> the roles that may call it, from the authorizer's own table."""
    authorizer = _import_function(template, "AuthorizerFunction")
    return {
        (method.lower(), path): sorted(role.value for role in roles)
        for (method, path), roles in authorizer.ROUTE_ROLES.items()
    }


# ---------------------------------------------------------------- one function's schema


def _without_null(schema: dict[str, Any]) -> dict[str, Any]:
    """An optional field's schema without its `null` alternative (a query value is never null)."""
    options = [option for option in schema.get("anyOf", []) if option != {"type": "null"}]
    if not options:
        return schema
    rest = {key: value for key, value in schema.items() if key != "anyOf"}
    return {**options[0], **rest} if len(options) == 1 else {**rest, "anyOf": options}


def _query_model(schema: dict[str, Any], names: set[str]) -> dict[str, Any] | None:
    """The component whose fields are exactly these query parameters (a route's query model)."""
    candidates = {
        json.dumps(component["properties"], sort_keys=True): component
        for component in schema.get("components", {}).get("schemas", {}).values()
        if set(component.get("properties", {})) == names
    }
    if len(candidates) > 1:
        raise OpenApiError(f"query parameters {sorted(names)} match several differing models")
    return next(iter(candidates.values()), None)


def with_query_constraints(schema: dict[str, Any]) -> dict[str, Any]:
    """Powertools lists a query model's fields with bare types (no ranges, enums or formats);
    the model's own schema, which it puts in the components, has them: take them from there."""
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            query = [p for p in operation.get("parameters", []) if p["in"] == "query"]
            model = _query_model(schema, {p["name"] for p in query}) if query else None
            if not model:
                continue
            for parameter in query:
                field = _without_null(copy.deepcopy(model["properties"][parameter["name"]]))
                field.pop("title", None)
                if "description" in field:
                    parameter["description"] = field.pop("description")
                parameter["schema"] = field
    return schema


# ---------------------------------------------------------------- bodies read by the routes


# Routes that read their body themselves (eventlog_api.json_body, text_body): Powertools sees no
# body parameter, so the document says what they take here. (method, path) -> (the models of the
# body, a function of their schemas giving the requestBody).
def _json_body(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "required": True,
        "description": description,
        "content": {"application/json": {"schema": schema}},
    }


def _one_or_batch(item: dict[str, Any], max_items: int | None = None) -> dict[str, Any]:
    batch: dict[str, Any] = {"type": "array", "items": item, "minItems": 1}
    if max_items is not None:
        batch["maxItems"] = max_items
    return {"anyOf": [item, batch]}


def _request_bodies() -> dict[tuple[str, str], tuple[list[type], Any]]:
    from eventlog.compat.models.consumer import ConsumerEvent
    from eventlog.compat.models.event_logging import LoggedEventIn
    from eventlog.compat.models.logs import LogIn
    from eventlog.compat.models.tracker import TrackerEventIn
    from eventlog.models.base import MAX_BATCH
    from eventlog.models.events import EventIn

    consumer: tuple[list[type], Any] = (
        [ConsumerEvent],
        lambda event: _json_body(_one_or_batch(event), "One event, or a list of them"),
    )
    return {
        ("post", "/apps/{app_id}/events"): (
            [EventIn],
            lambda event: _json_body(
                _one_or_batch(event, MAX_BATCH), f"One event, or a batch of 1 to {MAX_BATCH}"
            ),
        ),
        ("post", "/events"): ([LoggedEventIn], lambda event: _json_body(event, "The event")),
        ("post", "/event"): consumer,
        ("post", "/api/event"): consumer,
        ("post", "/logs"): (
            [LogIn],
            lambda log: {
                "required": True,
                "description": "A JSON log, or one text log line (syslog or plain)",
                "content": {
                    "application/json": {"schema": log},
                    "text/plain": {"schema": {"type": "string", "minLength": 1}},
                },
            },
        ),
        ("post", "/api/v1/events/{name}"): (
            [TrackerEventIn],
            lambda occurrences: {
                "required": False,
                "description": "Optional: how many occurrences, and when (default: 1, now)",
                "content": {"application/json": {"schema": occurrences}},
            },
        ),
    }


# What a model checks in code (a model_validator) that its JSON schema does not say.
MODEL_RULES: dict[str, dict[str, Any]] = {
    "EventIn": {
        "description": "One event as a client sends it: a message, a name, or both.",
        "anyOf": [
            {
                "required": ["message"],
                "properties": {"message": {"type": "string", "minLength": 1}},
            },
            {"required": ["name"], "properties": {"name": {"type": "string"}}},
        ],
    },
}


def with_request_bodies(paths: dict[str, Any], components: dict[str, Any]) -> None:
    """Document the bodies of the routes that read them themselves (their models' schemas go to
    the components, as Powertools puts them)."""
    from pydantic.json_schema import models_json_schema

    for (method, path), (models, request_body) in _request_bodies().items():
        operation = paths[path][method]
        if "requestBody" in operation:
            raise OpenApiError(f"{method.upper()} {path} already documents its body")
        refs, schemas = models_json_schema(
            [(model, "validation") for model in models], ref_template=REF + "{model}"
        )
        for name, component in schemas.get("$defs", {}).items():
            component.update(MODEL_RULES.get(name, {}))
            if name in components and components[name] != component:
                raise OpenApiError(f"two different component schemas are named {name!r}")
            components[name] = component
        operation["requestBody"] = request_body(*(refs[(m, "validation")] for m in models))


def _request_examples() -> dict[tuple[str, str], tuple[type[BaseModel], dict[str, Any]]]:
    """(method, path) -> (the body's model, named example bodies; a list: a batch of them)."""
    from eventlog.compat.models.consumer import ConsumerEvent
    from eventlog.compat.models.event_logging import LoggedEventIn
    from eventlog.compat.models.logs import LogIn
    from eventlog.compat.models.tracker import TrackerEventIn
    from eventlog.models.admin import KeyIn, TokenIn
    from eventlog.models.alerts import AlertRuleIn
    from eventlog.models.events import EventIn

    error = {
        "level": "error",
        "name": "checkout.failed",
        "service": "payments",
        "message": "TimeoutError: the card processor did not answer within 5 s",
        "tags": {"env": "prod", "version": "1.4.2"},
        "event_id": "order-1842-attempt-1",
    }
    consumer: tuple[type[BaseModel], dict[str, Any]] = (
        ConsumerEvent,
        {
            "a list of events": [
                {"event_type": "order.created", "event_payload": {"order": 1842, "total": 59.9}},
                {"event_type": "order.paid", "event_payload": "order 1842 paid by card"},
            ]
        },
    )
    return {
        ("post", "/apps/{app_id}/events"): (
            EventIn,
            {
                "an error": error,
                "a batch": [
                    {"level": "info", "name": "checkout.started", "service": "web"},
                    {"level": "warning", "message": "retrying the card processor", "count": 2},
                ],
            },
        ),
        ("post", "/keys"): (
            KeyIn,
            {
                "a user key of app 2": {"role": "user", "app_id": 2, "label": "dashboards"},
                "an ingest key of app 2": {"role": "ingest", "app_id": 2, "label": "web tier"},
            },
        ),
        ("post", "/tokens"): (
            TokenIn,
            {"an hour of reading app 2": {"role": "user", "app_id": 2, "expires_in": 3600}},
        ),
        ("post", "/apps/{app_id}/alert-rules"): (
            AlertRuleIn,
            {
                "payment errors piling up": {
                    "description": "More than 10 payment errors in 5 minutes",
                    "min_level": "error",
                    "service": "payments",
                    "condition": {"type": "threshold", "more_than": 10, "window_minutes": 5},
                    "channels": [{"type": "sns"}],
                }
            },
        ),
        ("post", "/events"): (
            LoggedEventIn,
            {
                "a signup": {
                    "event_type": "user.signup",
                    "service_name": "accounts",
                    "additional_data": {"plan": "pro"},
                }
            },
        ),
        ("post", "/logs"): (
            LogIn,
            {
                "a JSON log": {
                    "level": "ERROR",
                    "service": "api",
                    "message": "upstream timed out",
                    "request_id": "req-7f3a",
                }
            },
        ),
        ("post", "/api/event"): consumer,
        ("post", "/event"): consumer,
        ("post", "/api/v1/events/{name}"): (
            TrackerEventIn,
            {"three occurrences": {"count": 3, "date": "2026-02-10 14:30:00"}},
        ),
    }


def with_request_examples(paths: dict[str, Any]) -> None:
    """Example bodies in Swagger UI; each is checked against its model, so none goes stale."""
    for (method, path), (model, examples) in _request_examples().items():
        for name, value in examples.items():
            try:
                for item in value if isinstance(value, list) else [value]:
                    model.model_validate(item)
            except ValidationError as error:
                raise OpenApiError(f"{method.upper()} {path}: example {name!r}: {error}") from error
        content = paths[path][method]["requestBody"]["content"]["application/json"]
        content["examples"] = {name: {"value": value} for name, value in examples.items()}


def with_tags(paths: dict[str, Any]) -> None:
    for path, path_item in paths.items():
        for method, operation in path_item.items():
            tag = next(
                (
                    tag
                    for rule_method, pattern, tag in TAG_RULES
                    if rule_method in (None, method) and re.search(pattern, path)
                ),
                None,
            )
            if tag is None:
                raise OpenApiError(f"{method.upper()} {path}: no rule of TAG_RULES tags it")
            operation["tags"] = [tag]


# ---------------------------------------------------------------- the whole API


def merge(schemas: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(paths, component schemas) of all the functions; the same operation twice, or two
    different components of one name, is an error."""
    paths: dict[str, dict[str, Any]] = {}
    components: dict[str, Any] = {}
    for schema in schemas:
        for path, path_item in schema.get("paths", {}).items():
            for method, operation in path_item.items():
                if method in paths.get(path, {}):
                    raise OpenApiError(f"{method.upper()} {path} is served by two functions")
                paths.setdefault(path, {})[method] = operation
        for name, component in schema.get("components", {}).get("schemas", {}).items():
            if name in components and components[name] != component:
                raise OpenApiError(f"two different component schemas are named {name!r}")
            components[name] = component
    return paths, components


def _document_credentials_and_errors(
    paths: dict[str, Any],
    routes: dict[tuple[str, str], ApiRoute],
    roles: dict[tuple[str, str], list[str]],
) -> None:
    for path, path_item in paths.items():
        for method, operation in path_item.items():
            route = routes.get((method, path))
            if route is None:
                raise OpenApiError(f"{method.upper()} {path} has a handler but no Api event")
            responses = operation["responses"]
            responses.pop(POWERTOOLS_VALIDATION_STATUS, None)
            for status, response in EXTRA_RESPONSES.get((method, path), {}).items():
                responses.setdefault(status, response)
            if operation.get("parameters") or operation.get("requestBody"):
                responses.setdefault("400", BAD_REQUEST)
            if any(p["in"] == "path" for p in operation.get("parameters", [])):
                responses.setdefault("404", NOT_FOUND)
            if operation.get("requestBody"):
                responses.setdefault("413", TOO_LARGE)
            if route.public:
                operation["security"] = []
                continue
            allowed = roles.get((method, path), ["admin"])  # the authorizer's default
            operation["security"] = [{"ApiKey": []}, {"BearerJWT": []}]
            if "ingest" in allowed:
                operation["security"].insert(1, {"IngestKey": []})
            note = f"Roles: {', '.join(allowed)}."
            operation["description"] = "\n\n".join(
                part for part in (operation.get("description"), note) if part
            )
            for status, response in CREDENTIAL_RESPONSES.items():
                responses.setdefault(status, response)


def _referenced(node: Any) -> set[str]:
    if isinstance(node, dict):
        ref = node.get("$ref", "")
        found = {ref.removeprefix(REF)} if ref.startswith(REF) else set()
        return found.union(*(_referenced(value) for value in node.values()))
    if isinstance(node, list):
        return set().union(*(_referenced(item) for item in node))
    return set()


def _used_components(paths: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    """The components the operations refer to, directly or through other components (the query
    models, now copied into the parameters, and Powertools' validation errors drop out)."""
    used: set[str] = set()
    pending = _referenced(paths)
    while pending:
        name = pending.pop()
        if name not in used:
            used.add(name)
            pending |= _referenced(components[name])
    return {name: components[name] for name in used}


def build() -> dict[str, Any]:
    """The OpenAPI document of every route of template.yaml."""
    # Modules may make boto3 clients as they load; those need a region (nothing is called).
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    template = Template.load(TEMPLATE_PATH)
    # The handlers check their settings as they load: the template's own, resolved offline.
    assign_physical_ids(template)
    for name, value in global_environment(template).items():
        os.environ.setdefault(name, value)
    routes = template_routes(template)
    functions = sorted({route.function_id for route in routes.values()})
    paths, components = merge(
        [with_query_constraints(function_schema(template, fn)) for fn in functions]
    )
    with_request_bodies(paths, components)
    with_request_examples(paths)
    with_tags(paths)
    _document_credentials_and_errors(paths, routes, route_roles(template))
    components = _used_components(paths, {**components, "Error": ERROR_SCHEMA})
    return {
        "openapi": "3.1.0",
        "info": {"title": TITLE, "version": VERSION, "description": DESCRIPTION},
        "tags": [{"name": name, "description": text} for name, text in TAGS.items()],
        "paths": paths,
        "components": {"schemas": components, "securitySchemes": SECURITY_SCHEMES},
    }


def render(spec: dict[str, Any]) -> str:
    return json.dumps(spec, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main() -> int:
    SPEC_PATH.write_text(render(build()))
    print(f"wrote {SPEC_PATH.relative_to(ROOT)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
