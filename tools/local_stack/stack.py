"""LocalStack: the whole embedded stack (moto, resources, functions, gateway) in this process."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TextIO, cast

from local_stack.apis import RouteTable, load_apis, load_routes
from local_stack.authorizer import AccessControl
from local_stack.drivers import Drivers, HeldOutput, load_drivers
from local_stack.gateway import Gateway
from local_stack.resources import MotoEndpoint, assign_physical_ids, aws_environment, provision
from local_stack.runtime import LambdaFunction, load_functions
from local_stack.template import Template, TemplateError

REPO_ROOT = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"  # fixed: the stack has fake credentials and an admin key; never expose it

# Parameter values that suit a laptop better than the deployed defaults (used when the template
# declares the parameter and nobody overrides it). The template's patterns and minimums do not
# allow some of them: they hold on AWS, not here.
LOCAL_PARAMETERS = {
    # Tests and developers receive webhooks on loopback, which a deployed stack refuses.
    "AllowedTargetNetworks": "127.0.0.0/8,::1/128",
    # Propagation within seconds, not a minute (EventBridge's shortest rate; seconds: locally).
    "PropagationSchedule": "rate(5 seconds)",
    "PropagationDelaySeconds": "1",
    # A failed notification is retried within seconds, not minutes.
    "NotificationRetrySeconds": "5",
}


class LocalStack:
    """Start with `LocalStack(port=0).start()` (returns once serving), or use it as a context
    manager. It changes this process's environment (AWS_ENDPOINT_URL, table names...): run it
    in a process of its own when other code in the process talks to AWS (see process.py)."""

    def __init__(
        self,
        port: int = 3000,
        template: Path | str | None = None,
        bootstrap: bool = True,
        parameters: dict[str, str] | None = None,
        verbose: bool = True,
    ):
        self.port = port
        self.verbose = verbose  # a line per driven invocation; or a summary a minute
        self.template_path = Path(template) if template else REPO_ROOT / "template.yaml"
        self.bootstrap = bootstrap
        self.parameters = dict(parameters or {})  # overrides, over LOCAL_PARAMETERS
        self.url = ""
        self.endpoint_url = ""  # moto: point boto3 clients here to look inside
        self.admin_key: str | None = None
        self.default_app_id: int | None = None
        self.ingest_key: str | None = None
        self.template: Template | None = None
        self.functions: dict[str, LambdaFunction] = {}
        self.routes: RouteTable | None = None
        self._moto: MotoEndpoint | None = None
        self._gateway: Gateway | None = None
        self._drivers: Drivers | None = None
        self._saved_environ: dict[str, str] | None = None
        self._saved_modules: set[str] = set()
        self._held_output: HeldOutput | None = None

    def start(self) -> LocalStack:
        self._saved_environ = dict(os.environ)
        self._saved_modules = set(sys.modules)
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        self.template = template = load_template(self.template_path, self.parameters)
        self._moto = MotoEndpoint()
        self.endpoint_url = self._moto.start()
        os.environ.update(aws_environment(self.endpoint_url))
        assign_physical_ids(template)
        provisioned = provision(template)
        if not self.verbose:  # before the functions are loaded: their loggers keep sys.stdout
            self._held_output = HeldOutput(sys.stdout)
            sys.stdout = cast(TextIO, self._held_output)
        self.functions = load_functions(template)
        apis = load_apis(template, provisioned.usage_plans)
        self.routes = RouteTable(load_routes(template, apis))
        self._gateway = Gateway(self.routes, apis, self.functions, AccessControl(self.functions))
        if self.bootstrap:
            self._create_default_app_and_admin()
        port = self._gateway.start(HOST, self.port)
        self.url = f"http://{HOST}:{port}"
        # After the gateway: a scheduled function may call the API.
        self._drivers = load_drivers(template, self.functions)
        if self._held_output is not None:
            self._drivers.quiet(self._held_output)
        self._drivers.start()

    def _create_default_app_and_admin(self) -> None:
        """The `default` app (seed APIs without apps use it), the service's internal app (the
        propagator's heartbeats; the first round would make it otherwise) and an admin key, via
        the core."""
        from eventlog.access.apps import create_app, internal_app_id
        from eventlog.access.keys import create_key
        from eventlog.access.principal import Role
        from eventlog.models.admin import KeyIn

        app = create_app("default")
        self.default_app_id, self.ingest_key = app.id, app.ingest_key
        internal_app_id()
        created = create_key(KeyIn(role=Role.ADMIN, app_id=None, label="local admin"))
        self.admin_key = created.key

    def stop(self) -> None:
        """Stop the drivers (after their current invocations), the gateway and moto, and put the
        environment back as it was."""
        if self._drivers is not None:
            self._drivers.stop()
            self._drivers = None
        if self._gateway is not None:
            self._gateway.stop()
            self._gateway = None
        if self._moto is not None:
            self._moto.stop()
            self._moto = None
        if self._held_output is not None:
            sys.stdout = self._held_output.stream
            self._held_output = None
        if self._saved_environ is not None:
            os.environ.clear()
            os.environ.update(self._saved_environ)
            self._saved_environ = None
        for name in set(sys.modules) - self._saved_modules:
            if name.startswith("local_stack_fn_"):
                del sys.modules[name]

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def banner(self) -> str:
        """What `make local` prints: where to go and which credentials to use."""
        lines = [f"Eventlog local stack: {self.url}"]
        if self.admin_key:
            lines += [
                f"  admin key (x-api-key):   {self.admin_key}",
                f"  default app id:          {self.default_app_id}",
                f"  default app ingest key:  {self.ingest_key}",
            ]
        if ("GET", "/console") in self.served_routes():
            lines += [f"  web console:             {self.url}/console"]
        lines += [f"  AWS (moto) endpoint:     {self.endpoint_url}"]
        if self._drivers is not None:
            lines += [f"  {description}" for description in self._drivers.descriptions()]
        lines += ["", "Try:"]
        lines += [f"  {example}" for example in self.examples()]
        if self.admin_key:
            lines += ["", "The README's examples use these; paste them into your shell:"]
            lines += [f"  {self.exports()}"]
        lines += ["", "Ctrl-C stops it (everything is in memory and goes with it)."]
        return "\n".join(lines)

    def exports(self) -> str:
        """One shell line setting what the README's examples use: the URL, the admin key, the
        `default` app's id and ingest key."""
        return (
            f"export URL={self.url} ADMIN={self.admin_key} APP={self.default_app_id} "
            f"INGEST={self.ingest_key}"
        )

    def served_routes(self) -> set[tuple[str, str]]:
        """(method, path) of every route the gateway serves."""
        return {(r.method, r.path) for r in self.routes.routes} if self.routes else set()

    def examples(self) -> list[str]:
        """Up to three curl commands, for routes the template really has."""
        routes = self.served_routes()
        app_events = f"{self.url}/apps/{self.default_app_id}/events"
        candidates = [
            (("GET", "/health"), f"curl -s {self.url}/health"),
            (
                ("POST", "/apps/{app_id}/events"),
                f"curl -s -X POST {app_events} -H 'X-INGEST-KEY: {self.ingest_key}' "
                "-H 'Content-Type: application/json' "
                """-d '{"level": "info", "message": "hello"}'""",
            ),
            (
                ("GET", "/apps/{app_id}/events"),
                f"curl -s {app_events} -H 'x-api-key: {self.admin_key}'",
            ),
        ]
        return [command for route, command in candidates if route in routes]


def load_template(path: Path, overrides: dict[str, str]) -> Template:
    """The template with LOCAL_PARAMETERS and then the overrides applied; an override of a
    parameter the template does not declare is a TemplateError (a typo would go unnoticed)."""
    template = Template.load(path)
    unknown = sorted(set(overrides) - set(template.parameters))
    if unknown:
        raise TemplateError(
            f"unknown parameter {', '.join(unknown)}: {path.name} declares "
            f"{', '.join(sorted(template.parameters)) or 'none'}"
        )
    local = {name: value for name, value in LOCAL_PARAMETERS.items() if name in template.parameters}
    template.parameters.update({**local, **overrides})
    return template
