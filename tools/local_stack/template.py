"""Reading template.yaml: CloudFormation short tags, Globals and intrinsic functions.

The local stack takes everything it builds from the template, so the template stays the single
description of the service: nothing about tables, routes or settings is repeated in Python.
"""

from __future__ import annotations

import base64
import json
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import yaml

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"
STACK_NAME = "eventlog-local"
API_ID = "local"  # what API Gateway would call the REST API; also in method ARNs
IMPLICIT_API = "ServerlessRestApi"  # the API SAM makes for Api events without a RestApiId

_NO_VALUE = object()  # AWS::NoValue: the key or list item disappears


class TemplateError(Exception):
    """The template uses something the local stack cannot resolve."""


class CfnLoader(yaml.SafeLoader):
    """A YAML loader that turns `!Ref x` style short tags into their long `{"Ref": x}` forms."""


def _construct_tag(loader: CfnLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        assert isinstance(node, yaml.MappingNode), f"a YAML node of no known kind: {node!r}"
        value = loader.construct_mapping(node, deep=True)
    if tag_suffix == "Ref":
        return {"Ref": value}
    if tag_suffix == "Condition":
        return {"Condition": value}
    if tag_suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)  # !GetAtt A.B.C -> ["A", "B.C"]
    return {f"Fn::{tag_suffix}": value}


CfnLoader.add_multi_constructor("!", _construct_tag)


def load_yaml(text: str) -> dict[str, Any]:
    return yaml.load(text, Loader=CfnLoader)  # noqa: S506 - CfnLoader is a SafeLoader


def merge_globals(global_props: dict[str, Any], props: dict[str, Any]) -> dict[str, Any]:
    """SAM's Globals rule: maps merge (resource wins), lists concatenate, scalars are replaced."""
    merged = dict(global_props)
    for key, value in props.items():
        base = merged.get(key)
        if isinstance(base, dict) and isinstance(value, dict) and not _is_intrinsic(value):
            merged[key] = merge_globals(base, value)
        elif isinstance(base, list) and isinstance(value, list):
            merged[key] = base + value
        else:
            merged[key] = value
    return merged


def _is_intrinsic(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and len(value) == 1
        and next(iter(value)) in {"Ref", "Condition"} | _FN_NAMES
    )


_FN_NAMES = {
    "Fn::GetAtt", "Fn::Sub", "Fn::Join", "Fn::Select", "Fn::Split", "Fn::If", "Fn::Equals",
    "Fn::Not", "Fn::And", "Fn::Or", "Fn::FindInMap", "Fn::Base64", "Fn::ToJsonString",
    "Fn::GetAZs", "Fn::ImportValue", "Fn::Length",
}  # fmt: skip


class Template:
    """A loaded template plus the resolver for its intrinsic functions."""

    def __init__(self, doc: dict[str, Any], root: Path, parameters: dict[str, Any] | None = None):
        self.doc = doc
        self.root = root  # CodeUri and ContentUri are relative to the template's folder
        self.resources: dict[str, dict[str, Any]] = doc.get("Resources") or {}
        self.globals: dict[str, Any] = doc.get("Globals") or {}
        self.parameters = {
            name: spec.get("Default") for name, spec in (doc.get("Parameters") or {}).items()
        }
        self.parameters.update(parameters or {})
        # Filled in as the local stack creates things: Ref values and GetAtt attributes.
        self.physical_ids: dict[str, Any] = {}
        self.attributes: dict[tuple[str, str], Any] = {}
        self._condition_cache: dict[str, bool] = {}

    @classmethod
    def load(cls, path: Path | str, parameters: dict[str, Any] | None = None) -> Template:
        path = Path(path).resolve()
        return cls(load_yaml(path.read_text()), path.parent, parameters)

    # ------------------------------------------------------------ resources

    def of_type(self, *types: str) -> Iterator[tuple[str, dict[str, Any]]]:
        """(logical id, properties) of the resources of these types that the conditions keep."""
        for logical_id, resource in self.resources.items():
            if resource.get("Type") in types and self.is_created(logical_id):
                yield logical_id, resource.get("Properties") or {}

    def is_created(self, logical_id: str) -> bool:
        condition = self.resources[logical_id].get("Condition")
        return condition is None or self.condition(condition)

    def properties(self, logical_id: str, globals_section: str | None = None) -> dict[str, Any]:
        """The resource's properties with the matching Globals section merged in (unresolved)."""
        props = self.resources[logical_id].get("Properties") or {}
        if globals_section:
            return merge_globals(self.globals.get(globals_section) or {}, props)
        return props

    def apis(self) -> dict[str, dict[str, Any]]:
        """Every REST API with Globals.Api merged in, SAM's implicit ServerlessRestApi included."""
        apis = {api: self.properties(api, "Api") for api, _ in self.of_type("AWS::Serverless::Api")}
        for function_id, _ in self.of_type("AWS::Serverless::Function"):
            for event in (self.properties(function_id, "Function").get("Events") or {}).values():
                if event.get("Type") == "Api" and "RestApiId" not in (
                    event.get("Properties") or {}
                ):
                    apis.setdefault(IMPLICIT_API, merge_globals(self.globals.get("Api") or {}, {}))
        return apis

    def path(self, relative: str) -> Path:
        return (self.root / relative).resolve()

    # ------------------------------------------------------------ intrinsic functions

    def condition(self, name: str) -> bool:
        if name not in self._condition_cache:
            conditions = self.doc.get("Conditions") or {}
            if name not in conditions:
                raise TemplateError(f"unknown condition {name!r}")
            self._condition_cache[name] = bool(self.resolve(conditions[name]))
        return self._condition_cache[name]

    def resolve(self, value: Any) -> Any:
        """The value with every intrinsic function evaluated (AWS::NoValue entries removed)."""
        if isinstance(value, list):
            items = [self.resolve(item) for item in value]
            return [item for item in items if item is not _NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (key, arg), = value.items()  # fmt: skip
            handler = _INTRINSICS.get(key)
            if handler is not None:
                return handler(self, arg)
        resolved = {key: self.resolve(item) for key, item in value.items()}
        return {key: item for key, item in resolved.items() if item is not _NO_VALUE}

    def ref(self, name: str) -> Any:
        pseudo = {
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::Partition": "aws",
            "AWS::StackName": STACK_NAME,
            "AWS::StackId": f"arn:aws:cloudformation:{REGION}:{ACCOUNT_ID}:stack/{STACK_NAME}/1",
            "AWS::NotificationARNs": [],
        }
        if name == "AWS::NoValue":
            return _NO_VALUE
        if name in pseudo:
            return pseudo[name]
        if name in self.parameters:
            return self._parameter_value(name)
        if name in self.physical_ids:
            return self.physical_ids[name]
        raise TemplateError(f"Ref {name!r}: no such parameter, or the local stack has not made it")

    def _parameter_value(self, name: str) -> Any:
        value = self.parameters[name]
        param_type = str((self.doc["Parameters"].get(name) or {}).get("Type", "String"))
        if value is None:
            raise TemplateError(f"parameter {name!r} has no Default")
        if param_type.startswith("List<") or param_type == "CommaDelimitedList":
            return (
                [item.strip() for item in str(value).split(",")]
                if isinstance(value, str)
                else value
            )
        return str(value)  # CloudFormation hands every scalar parameter over as a string

    def get_att(self, logical_id: str, attribute: str) -> Any:
        if (logical_id, attribute) in self.attributes:
            return self.attributes[(logical_id, attribute)]
        if logical_id not in self.resources:
            raise TemplateError(f"GetAtt {logical_id}.{attribute}: no such resource")
        # Attributes nothing local reads (role ARNs, ...): a recognisable placeholder, not a crash.
        placeholder = f"arn:aws:local:{REGION}:{ACCOUNT_ID}:{logical_id}/{attribute}"
        print(f"local_stack: GetAtt {logical_id}.{attribute} -> {placeholder}", file=sys.stderr)
        return placeholder

    def _sub(self, arg: Any) -> str:
        text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
        variables = {key: self.resolve(value) for key, value in variables.items()}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"  # ${!Literal} is written out as ${Literal}
            if name in variables:
                return str(variables[name])
            if "." in name and name not in self.physical_ids:
                return str(self.get_att(*name.split(".", 1)))  # ${Resource.Attribute}
            return str(self.ref(name))

        return re.sub(r"\$\{([^}]+)\}", replace, text)


def _fn_if(template: Template, arg: list[Any]) -> Any:
    name, if_true, if_false = arg
    return template.resolve(if_true if template.condition(name) else if_false)


def _fn_select(template: Template, arg: list[Any]) -> Any:
    index, items = template.resolve(arg[0]), template.resolve(arg[1])
    return items[int(index)]


def _fn_split(template: Template, arg: list[Any]) -> list[str]:
    return str(template.resolve(arg[1])).split(template.resolve(arg[0]))


def _fn_join(template: Template, arg: list[Any]) -> str:
    return str(template.resolve(arg[0])).join(str(item) for item in template.resolve(arg[1]))


def _fn_find_in_map(template: Template, arg: list[Any]) -> Any:
    name, top, second = (template.resolve(item) for item in arg)
    return (template.doc.get("Mappings") or {})[name][top][second]


def _fn_get_att(template: Template, arg: Any) -> Any:
    logical_id, attribute = arg.split(".", 1) if isinstance(arg, str) else arg
    return template.get_att(logical_id, template.resolve(attribute))


def _fn_to_json(template: Template, arg: Any) -> str:
    return json.dumps(template.resolve(arg), separators=(",", ":"))


def _unsupported(name: str) -> Callable[[Template, Any], Any]:
    def fail(template: Template, arg: Any) -> Any:
        raise TemplateError(f"{name} cannot be resolved locally: {arg!r}")

    return fail


_INTRINSICS: dict[str, Callable[[Template, Any], Any]] = {
    "Ref": lambda t, arg: t.ref(t.resolve(arg)),
    "Condition": lambda t, arg: t.condition(arg),
    "Fn::GetAtt": _fn_get_att,
    "Fn::Sub": lambda t, arg: t._sub(arg),
    "Fn::Join": _fn_join,
    "Fn::Select": _fn_select,
    "Fn::Split": _fn_split,
    "Fn::If": _fn_if,
    "Fn::Equals": lambda t, arg: str(t.resolve(arg[0])) == str(t.resolve(arg[1])),
    "Fn::Not": lambda t, arg: not t.resolve(arg[0]),
    "Fn::And": lambda t, arg: all(t.resolve(item) for item in arg),
    "Fn::Or": lambda t, arg: any(t.resolve(item) for item in arg),
    "Fn::FindInMap": _fn_find_in_map,
    "Fn::Base64": lambda t, arg: base64.b64encode(str(t.resolve(arg)).encode()).decode(),
    "Fn::ToJsonString": _fn_to_json,
    "Fn::Length": lambda t, arg: len(t.resolve(arg)),
    "Fn::GetAZs": lambda t, arg: [f"{REGION}a", f"{REGION}b", f"{REGION}c"],
    "Fn::ImportValue": _unsupported("Fn::ImportValue"),
}


def env_string(value: Any) -> str:
    """CloudFormation's rendering of an environment variable value."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
