"""The REST APIs of the template and their routes, matched the way API Gateway matches them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from local_stack.runtime import FUNCTION_TYPES
from local_stack.template import IMPLICIT_API, Template, TemplateError


@dataclass
class Authorizer:
    name: str
    function_id: str
    payload_type: str  # REQUEST or TOKEN
    identity_sources: list[tuple[str, str]]  # ("header" | "query" | "stage" | "context", name)
    ttl_seconds: int
    token_validation: str | None = None  # TOKEN authorizers' ValidationExpression


@dataclass
class Api:
    logical_id: str
    stage: str
    api_key_source: str  # HEADER or AUTHORIZER
    binary_media_types: list[str]
    gateway_responses: dict[str, Any]
    authorizers: dict[str, Authorizer]
    default_authorizer: str | None
    api_key_required: bool
    usage_plan_id: str | None = None


@dataclass
class Route:
    api: Api
    path: str  # the template's resource path, e.g. /apps/{name}
    method: str  # upper case, or ANY
    function_id: str
    authorizer: Authorizer | None
    api_key_required: bool
    segments: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        self.segments = split_path(self.path)


@dataclass
class Match:
    route: Route | None  # None: no route (unknown path, or no such method on the resource)
    path_parameters: dict[str, str]


def split_path(path: str) -> tuple[str, ...]:
    """Path segments; a trailing slash makes no difference, as in API Gateway."""
    stripped = path.strip("/")
    return tuple(stripped.split("/")) if stripped else ()


def load_apis(template: Template, usage_plans: dict[str, str]) -> dict[str, Api]:
    apis = {}
    for api_id, props in template.apis().items():
        props = template.resolve(props)
        auth = props.get("Auth") or {}
        apis[api_id] = Api(
            logical_id=api_id,
            stage=str(props.get("StageName", "Prod")),
            api_key_source=str(props.get("ApiKeySourceType", "HEADER")),
            # SAM writes "/" as "~1" in media types (it is a JSON pointer escape there).
            binary_media_types=[t.replace("~1", "/") for t in props.get("BinaryMediaTypes") or []],
            gateway_responses=props.get("GatewayResponses") or {},
            authorizers={
                name: _authorizer(template, name, spec)
                for name, spec in (auth.get("Authorizers") or {}).items()
            },
            default_authorizer=auth.get("DefaultAuthorizer"),
            api_key_required=_true(auth.get("ApiKeyRequired", False)),
            usage_plan_id=usage_plans.get(api_id),
        )
    return apis


def _true(value: Any) -> bool:
    return str(value).lower() == "true"


def _authorizer(template: Template, name: str, spec: dict[str, Any]) -> Authorizer:
    arn = str(spec["FunctionArn"])
    function_id = next(
        (
            logical_id
            for logical_id, _ in template.of_type("AWS::Serverless::Function")
            if template.attributes.get((logical_id, "Arn")) == arn
        ),
        None,
    )
    if function_id is None:
        raise TemplateError(f"authorizer {name}: no function of the template has ARN {arn}")
    payload_type = str(spec.get("FunctionPayloadType", "TOKEN"))
    identity = spec.get("Identity") or {}
    sources: list[tuple[str, str]] = []
    if payload_type == "TOKEN":
        sources.append(("header", identity.get("Header", "Authorization")))
    else:
        for kind, key in (("header", "Headers"), ("query", "QueryStrings"),
                          ("stage", "StageVariables"), ("context", "Context")):  # fmt: skip
            sources += [(kind, item) for item in identity.get(key) or []]
    return Authorizer(
        name=name,
        function_id=function_id,
        payload_type=payload_type,
        identity_sources=sources,
        ttl_seconds=int(identity.get("ReauthorizeEvery", 300)),
        token_validation=identity.get("ValidationExpression"),
    )


def load_routes(template: Template, apis: dict[str, Api]) -> list[Route]:
    """One route per `Type: Api` event of every function."""
    routes = []
    for function_id, _ in template.of_type(*FUNCTION_TYPES):
        events = template.properties(function_id, "Function").get("Events") or {}
        for event in events.values():
            if event.get("Type") != "Api":
                continue
            props = event.get("Properties") or {}
            api_ref = props.get("RestApiId")
            api_id = _api_logical_id(api_ref) if api_ref is not None else IMPLICIT_API
            api = apis[api_id]
            auth = template.resolve(props.get("Auth") or {})
            authorizer_name = auth.get("Authorizer", api.default_authorizer)
            authorizer = None
            if authorizer_name and authorizer_name not in ("NONE", "AWS_IAM"):
                authorizer = api.authorizers[authorizer_name]
            routes.append(
                Route(
                    api=api,
                    path=str(template.resolve(props["Path"])),
                    method=str(template.resolve(props["Method"])).upper(),
                    function_id=function_id,
                    authorizer=authorizer,
                    api_key_required=_true(auth.get("ApiKeyRequired", api.api_key_required)),
                )
            )
    return routes


def _api_logical_id(ref: Any) -> str:
    if isinstance(ref, dict) and "Ref" in ref:
        return str(ref["Ref"])
    raise TemplateError(f"RestApiId must be a !Ref to an AWS::Serverless::Api, not {ref!r}")


class RouteTable:
    def __init__(self, routes: list[Route]):
        self.routes = routes

    def match(self, method: str, path: str) -> Match:
        """The route API Gateway would pick: resource first (literal segments beat {variables},
        which beat {greedy+}), then the method (exact beats ANY)."""
        request = split_path(path)
        best: tuple[tuple[int, ...], str] | None = None
        best_params: dict[str, str] = {}
        for route in self.routes:
            matched = _match_segments(route.segments, request)
            if matched is None:
                continue
            rank, params = matched
            if best is None or rank < best[0]:
                best, best_params = (rank, route.path), params
        if best is None:
            return Match(None, {})
        on_resource = [route for route in self.routes if route.path == best[1]]
        for wanted in (method.upper(), "ANY"):
            for route in on_resource:
                if route.method == wanted:
                    return Match(route, best_params)
        return Match(None, {})


def _match_segments(
    template: tuple[str, ...], request: tuple[str, ...]
) -> tuple[tuple[int, ...], dict[str, str]] | None:
    """(rank, path parameters) when the request path fits the template path, else None."""
    rank: list[int] = []
    params: dict[str, str] = {}
    for index, segment in enumerate(template):
        if segment.startswith("{") and segment.endswith("+}"):
            rest = request[index:]
            if not rest or index != len(template) - 1:
                return None
            params[segment[1:-2]] = "/".join(rest)  # API Gateway keeps the percent-encoding
            return (*rank, 2), params
        if index >= len(request):
            return None
        if segment.startswith("{") and segment.endswith("}"):
            if not request[index]:
                return None
            params[segment[1:-1]] = request[index]
            rank.append(1)
        elif segment == request[index]:
            rank.append(0)
        else:
            return None
    if len(request) != len(template):
        return None
    return tuple(rank), params
