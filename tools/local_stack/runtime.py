"""The template's Lambda functions, loaded in-process and invoked the way Lambda invokes them."""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from local_stack.template import ACCOUNT_ID, REGION, Template, env_string

FUNCTION_TYPES = ("AWS::Serverless::Function",)


@dataclass
class LambdaContext:
    """The context object of the Python runtime (the attributes handlers and Powertools read)."""

    function_name: str
    memory_limit_in_mb: int
    timeout_seconds: float
    log_group_name: str
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    identity: Any = None
    client_context: Any = None
    _started: float = field(default_factory=time.monotonic)

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{self.function_name}"

    @property
    def log_stream_name(self) -> str:
        return f"{time.strftime('%Y/%m/%d')}/[$LATEST]{self.aws_request_id.replace('-', '')}"

    def get_remaining_time_in_millis(self) -> int:
        elapsed = time.monotonic() - self._started
        return max(0, int((self.timeout_seconds - elapsed) * 1000))


# Lambda runs one invocation at a time per execution environment; here each function has one
# environment, so one lock. The functions with `Api` events share theirs: Powertools'
# APIGatewayRestResolver keeps the current request in class attributes every resolver shares,
# so concurrent requests to two API functions would read each other's. The others (SQS,
# schedules, the authorizer) wait only for themselves: a slow webhook does not hold up the API,
# and a function may call the stack's own API while it runs.
_API_INVOCATIONS = threading.Lock()


@dataclass
class LambdaFunction:
    logical_id: str
    name: str
    handler: Any
    environment: dict[str, str]
    timeout: float
    memory: int
    log_group: str
    events: dict[str, dict[str, Any]]  # unresolved Events of the template
    lock: threading.Lock  # held while an invocation runs

    def invoke(self, event: dict[str, Any]) -> Any:
        """Call the handler with a JSON copy of the event, and return a JSON copy of the result.

        The JSON round trips are what Lambda does: a handler that returns something it cannot
        serialise (a Decimal, a datetime) fails here exactly as it would on AWS.
        """
        context = LambdaContext(
            function_name=self.name,
            memory_limit_in_mb=self.memory,
            timeout_seconds=self.timeout,
            log_group_name=self.log_group,
        )
        try:
            with self.lock:
                result = self.handler(json.loads(json.dumps(event)), context)
        finally:
            elapsed = time.monotonic() - context._started
            if elapsed > self.timeout:
                # Not enforced (a breakpoint must not fail the request), but said loudly.
                print(
                    f"local_stack: warning: {self.logical_id} ran {elapsed:.1f}s, over its "
                    f"Timeout of {self.timeout:g}s: on AWS this invocation would fail",
                    file=sys.stderr,
                )
        return json.loads(json.dumps(result))


@dataclass(frozen=True)
class FunctionConfig:
    """What the template says about one function (Globals merged, intrinsics resolved): where
    its code is, which handler it runs, and with what settings."""

    logical_id: str
    name: str
    code_dir: Path
    handler: str  # "module.attribute", e.g. "app.lambda_handler"
    environment: dict[str, str]
    timeout: float
    memory: int
    log_group: str
    events: dict[str, dict[str, Any]]  # unresolved Events of the template

    @property
    def handler_module(self) -> str:
        return self.handler.rpartition(".")[0]

    @property
    def handler_attribute(self) -> str:
        return self.handler.rpartition(".")[2]

    @property
    def source(self) -> Path:
        """The file of the handler's module."""
        return self.code_dir / (self.handler_module.replace(".", "/") + ".py")


def global_environment(template: Template) -> dict[str, str]:
    """The variables template.yaml's Globals give every function, resolved (resource names need
    `resources.assign_physical_ids` first)."""
    variables = template.globals["Function"]["Environment"]["Variables"]
    return {key: env_string(value) for key, value in template.resolve(variables).items()}


def function_config(template: Template, logical_id: str) -> FunctionConfig:
    props = template.properties(logical_id, "Function")
    variables = (props.get("Environment") or {}).get("Variables") or {}
    name = template.physical_ids.get(logical_id, logical_id)
    logging_config = template.resolve(props.get("LoggingConfig") or {})
    return FunctionConfig(
        logical_id=logical_id,
        name=name,
        code_dir=template.path(str(template.resolve(props["CodeUri"]))),
        handler=str(template.resolve(props["Handler"])),
        environment={key: env_string(value) for key, value in template.resolve(variables).items()},
        timeout=float(template.resolve(props.get("Timeout", 3))),
        memory=int(template.resolve(props.get("MemorySize", 128))),
        log_group=logging_config.get("LogGroup", f"/aws/lambda/{name}"),
        events=props.get("Events") or {},
    )


def load_functions(template: Template) -> dict[str, LambdaFunction]:
    """Import every function's handler (environment applied first, as Lambda would)."""
    return {
        logical_id: load_function(template, logical_id)
        for logical_id, _ in template.of_type(*FUNCTION_TYPES)
    }


def load_function(template: Template, logical_id: str) -> LambdaFunction:
    """Import one function's handler, its environment applied first (Powertools reads e.g.
    POWERTOOLS_SERVICE_NAME at import)."""
    _add_layers_to_path(template)
    config = function_config(template, logical_id)
    os.environ.update(config.environment)
    module = import_module_from(config.source, config.code_dir, f"local_stack_fn_{logical_id}")
    return LambdaFunction(
        logical_id=logical_id,
        name=config.name,
        handler=getattr(module, config.handler_attribute),
        environment=config.environment,
        timeout=config.timeout,
        memory=config.memory,
        log_group=config.log_group,
        events=config.events,
        lock=_API_INVOCATIONS if _has_api_events(template, config.events) else threading.Lock(),
    )


def _has_api_events(template: Template, events: dict[str, dict[str, Any]]) -> bool:
    return any(template.resolve(event.get("Type")) == "Api" for event in events.values())


def layer_paths(template: Template) -> list[Path]:
    """The python/ folders of the template's layers: what Lambda puts on sys.path (/opt/python)."""
    layer_types = ("AWS::Serverless::LayerVersion", "AWS::Lambda::LayerVersion")
    paths = []
    for _, props in template.of_type(*layer_types):
        content = props.get("ContentUri") or props.get("Content")
        if isinstance(content, str) and (template.path(content) / "python").is_dir():
            paths.append(template.path(content) / "python")
    return paths


def _add_layers_to_path(template: Template) -> None:
    """Layers' python/ folders are importable in Lambda; here too (dependencies: the venv)."""
    for python_dir in layer_paths(template):
        if str(python_dir) not in sys.path:
            sys.path.append(str(python_dir))


def import_module_from(source: Path, code_dir: Path, module_name: str) -> ModuleType:
    """Import a function's module under a unique name, its sibling modules importable.

    Several functions have an `app.py` (and maybe a `routes.py`): each function's own modules
    are dropped from sys.modules after its import so the next function imports its own.
    """
    spec = importlib.util.spec_from_file_location(module_name, source)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {source}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    sys.path.insert(0, str(code_dir))
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[module_name]
        raise
    finally:
        sys.path.remove(str(code_dir))
        for name, loaded in list(sys.modules.items()):
            loaded_file = getattr(loaded, "__file__", None) or ""
            if name != module_name and _is_under(loaded_file, code_dir):
                del sys.modules[name]
    return module


def _is_under(file: str, folder: Path) -> bool:
    return bool(file) and Path(file).resolve().is_relative_to(folder)
