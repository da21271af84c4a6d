"""`python -m sam_local --port 3000` (`make sam-local`): the API under `sam local start-api`, in
Docker, on the local stack's backend. docs/sam-local.md says what runs where.

1. `sam build` of a copy of template.yaml changed where sam local differs from Lambda
   (sam_local_template).
2. The local stack in this process: moto with every resource of template.yaml, the `default` app
   and an admin key, and the drivers of the functions no request reaches (the events stream's
   aggregator, the notification queue's notifier, the propagator's schedule).
3. An env-vars file pointing every function at that moto, with the resource names it created.
4. `sam local start-api` with it, on 127.0.0.1:PORT, through sam_cli_host_network.py (SAM CLI
   ignores `--docker-network host` otherwise); the banner once it answers; Ctrl-C stops both.

`--invoke-image` (or SAM_INVOKE_IMAGE) replaces AWS's image (which needs a registry) with one
already on this machine. `--endpoint-host host.docker.internal` is for Docker Desktop (macOS,
Windows), whose containers reach the host's loopback by that name rather than on its network.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from sam_cli_host_network import free_loopback_port

from local_stack.__main__ import add_stack_options, stack_from_options, write_ready_file
from local_stack.runtime import FUNCTION_TYPES, function_config
from local_stack.stack import HOST, REPO_ROOT, LocalStack
from local_stack.template import Template, TemplateError, load_yaml

WORK_DIR = REPO_ROOT / ".aws-sam" / "sam-local"  # apart from `make build`'s .aws-sam/build
SAM_PYTHON = REPO_ROOT / ".venv-sam" / "bin" / "python"  # the SAM CLI's own virtualenv
# The SAM CLI, with `--docker-network host` honoured (see that file).
SAM_LAUNCHER = Path(__file__).resolve().parent / "sam_cli_host_network.py"
ENDPOINT_VARIABLE = "AWS_ENDPOINT_URL"  # honoured by botocore for every service
INIT_ALLOWANCE_SECONDS = 10  # what Lambda allows a cold start apart from the Timeout
SERVE_TIMEOUT_SECONDS = 600  # warm containers first: image build and start, slow under qemu
STOP_TIMEOUT_SECONDS = 120  # SAM CLI removes its containers one by one


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sam_local", description=__doc__)
    add_stack_options(parser)
    parser.add_argument(
        "--invoke-image", default=os.environ.get("SAM_INVOKE_IMAGE") or None,
        help="a local image for every function (--invoke-image, --skip-pull-image); "
        "default: $SAM_INVOKE_IMAGE, else AWS's, pulled by SAM CLI",
    )  # fmt: skip
    parser.add_argument(
        "--endpoint-host", default=HOST,  # on the host's network, 127.0.0.1 is the host's
        help="how containers reach this machine: 127.0.0.1 on the host's network (Linux), or "
        "host.docker.internal on Docker Desktop (macOS, Windows)",
    )  # fmt: skip
    args = parser.parse_args(argv)

    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())

    port = args.port or free_loopback_port()
    if not _is_free(port):  # else sam local would fail late, and the wait below see the other
        print(f"sam_local: port {port} is in use: choose another (PORT=...)", file=sys.stderr)
        return 1
    built_template = _build(args.template)
    if built_template is None:
        return 1
    stack = stack_from_options(args, 0)  # its own gateway is not the API here: sam local's is
    try:
        stack.start()
    except TemplateError as error:
        print(f"sam_local: {error}", file=sys.stderr)
        return 2
    try:
        return _serve(stack, built_template, port, args, stop)
    finally:
        stack.stop()


def _serve(
    stack: LocalStack, built_template: Path, port: int, args: argparse.Namespace,
    stop: threading.Event,
) -> int:  # fmt: skip
    assert stack.template is not None, "the stack has started"
    endpoint = stack.endpoint_url.replace(HOST, args.endpoint_host, 1)
    env_vars = WORK_DIR / "env.json"
    env_vars.write_text(json.dumps(env_vars_file(stack.template, stack.endpoint_url, endpoint)))
    command = start_api_command(
        built_template, env_vars, port, args.invoke_image, host_network=args.endpoint_host == HOST
    )
    sam = subprocess.Popen(command, cwd=REPO_ROOT)  # noqa: S603 - our SAM CLI, our arguments
    try:
        if not _wait_until_serving(port, sam, stop):
            return sam.poll() or 1
        stack.url = f"http://{HOST}:{port}"  # the API the banner and the ready file point at
        print(_banner(stack, args.invoke_image, endpoint), flush=True)
        if args.ready_file:
            write_ready_file(args.ready_file, stack)
        while not stop.is_set() and sam.poll() is None:
            stop.wait(0.5)
        return 0 if stop.is_set() else sam.returncode
    finally:
        _stop(sam)
        _remove_left_containers(endpoint)


def sam_local_template(template_path: Path, target: Path) -> Path:
    """template.yaml as JSON, changed where sam local differs from Lambda:

    - AWS_ENDPOINT_URL among the variables Globals gives every function (empty: the env-vars
      file sets it): SAM CLI sets only the variables a template declares;
    - every Timeout longer by Lambda's init allowance: Lambda gives a cold start its own 10 s,
      sam local counts it in the Timeout (an emulated arm64 cold start takes several seconds);
    - code paths absolute: the copy lives elsewhere, and SAM CLI copies the path of a layer it
      does not build into the built template.
    """
    doc = load_yaml(template_path.read_text())
    function_globals = doc.setdefault("Globals", {}).setdefault("Function", {})
    variables = function_globals.setdefault("Environment", {}).setdefault("Variables", {})
    variables[ENDPOINT_VARIABLE] = ""
    for props in [function_globals] + [
        resource.get("Properties") or {} for resource in (doc.get("Resources") or {}).values()
    ]:
        if isinstance(props.get("Timeout"), int):
            props["Timeout"] += INIT_ALLOWANCE_SECONDS
        for code in ("CodeUri", "ContentUri"):
            if isinstance(props.get(code), str):
                props[code] = str((template_path.parent / props[code]).resolve())
    target.write_text(json.dumps(doc, indent=1))
    return target


def env_vars_file(template: Template, endpoint_url: str, container_endpoint: str) -> dict:
    """`--env-vars` content: per function (logical id), every variable the template gives it as
    the local stack resolved it (its tables, queue URLs, parameter names), and the endpoint."""
    functions = {}
    for logical_id, _ in template.of_type(*FUNCTION_TYPES):
        variables = function_config(template, logical_id).environment
        functions[logical_id] = {
            name: value.replace(endpoint_url, container_endpoint)  # queue URLs name moto's host
            for name, value in variables.items()
        } | {ENDPOINT_VARIABLE: container_endpoint}
    return functions


def build_command(template: Path) -> list[str]:
    return [
        str(SAM_PYTHON), str(SAM_LAUNCHER), "build", "--template-file", str(template),
        "--build-dir", str(WORK_DIR / "build"), "--cache-dir", str(WORK_DIR / "cache"),
        "--cached", "--parallel",
    ]  # fmt: skip


def start_api_command(
    built_template: Path, env_vars: Path, port: int, invoke_image: str | None, host_network: bool
) -> list[str]:
    command = [
        str(SAM_PYTHON), str(SAM_LAUNCHER), "local", "start-api",
        "--template-file", str(built_template), "--env-vars", str(env_vars),
        "--host", HOST, "--port", str(port), "--warm-containers", "EAGER",
    ]  # fmt: skip
    if host_network:
        command += ["--docker-network", "host"]
    if invoke_image:
        command += ["--invoke-image", invoke_image, "--skip-pull-image"]
    return command


def _build(template_path: Path) -> Path | None:
    """`sam build` into WORK_DIR; the built template, or None when the build failed."""
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    template = sam_local_template(template_path, WORK_DIR / "template.json")
    started = time.monotonic()
    print("sam_local: sam build...", file=sys.stderr, flush=True)
    built = subprocess.run(build_command(template), cwd=REPO_ROOT, check=False)  # noqa: S603
    if built.returncode != 0:
        print("sam_local: sam build failed (above)", file=sys.stderr)
        return None
    print(f"sam_local: built in {time.monotonic() - started:.0f}s", file=sys.stderr, flush=True)
    return WORK_DIR / "build" / "template.yaml"


def _wait_until_serving(port: int, sam: subprocess.Popen[Any], stop: threading.Event) -> bool:
    """True once sam local answers on the port (after its warm containers have started)."""
    deadline = time.monotonic() + SERVE_TIMEOUT_SECONDS
    while not stop.is_set() and sam.poll() is None and time.monotonic() < deadline:
        try:
            socket.create_connection((HOST, port), timeout=1).close()
            return True
        except OSError:
            stop.wait(0.5)
    if sam.poll() is None and not stop.is_set():
        print(
            f"sam_local: nothing served on port {port} in {SERVE_TIMEOUT_SECONDS}s", file=sys.stderr
        )
    return False


def _is_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind((HOST, port))
        except OSError:
            return False
    return True


def _stop(sam: subprocess.Popen[Any]) -> None:
    """Ctrl-C as in a terminal: SAM CLI then stops and removes its containers."""
    if sam.poll() is None:
        sam.send_signal(signal.SIGINT)
        try:
            sam.wait(timeout=STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            sam.kill()
            sam.wait()


def _remove_left_containers(endpoint: str) -> None:
    """SAM CLI does not always remove every container it started: those pointed at this run's
    moto are this run's, and useless without it."""
    docker = shutil.which("docker")
    if docker is None:
        return
    listed = _docker(docker, "ps", "-aq", "--filter", "label=sam.cli.container.type").stdout
    if not listed.split():
        return
    env_format = "{{.Id}}{{range .Config.Env}} {{.}}{{end}}"
    inspected = _docker(docker, "inspect", "--format", env_format, *listed.split())
    ours = [
        line.split()[0]
        for line in inspected.stdout.splitlines()
        if f"{ENDPOINT_VARIABLE}={endpoint}" in line.split()
    ]
    if ours:
        _docker(docker, "rm", "--force", *ours)
        print(f"sam_local: removed {len(ours)} container(s) SAM CLI left", file=sys.stderr)


def _docker(docker: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - the docker CLI, arguments of ours
        [docker, *args], capture_output=True, text=True, timeout=60, check=False
    )


def _banner(stack: LocalStack, invoke_image: str | None, endpoint: str) -> str:
    image = invoke_image or "AWS's python3.11 image"
    return "\n".join([
        f"Functions in Docker (sam local start-api, {image}); backend: moto at {endpoint}.",
        "API keys, usage plans and gateway responses are not enforced by sam local "
        "(docs/sam-local.md).",
        stack.banner(),
    ])  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
