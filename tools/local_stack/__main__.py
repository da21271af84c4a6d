"""`python -m local_stack --port 3000`: run the embedded stack until Ctrl-C or SIGTERM.

`--parameter Name=Value` (repeatable) overrides a template parameter, as `sam deploy
--parameter-overrides` would; the local defaults are in stack.LOCAL_PARAMETERS."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from pathlib import Path

from local_stack.stack import HOST, LOCAL_PARAMETERS, REPO_ROOT, LocalStack
from local_stack.template import TemplateError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local_stack", description=__doc__)
    add_stack_options(parser)
    parser.add_argument("--host", default=HOST, choices=[HOST], help="loopback only")
    args = parser.parse_args(argv)

    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())

    stack = stack_from_options(args, args.port)
    try:
        stack.start()
    except OSError as error:  # typically: the port is taken
        print(f"local_stack: cannot serve on {args.host}:{args.port}: {error}", file=sys.stderr)
        return 1
    except TemplateError as error:  # an unknown --parameter, say
        print(f"local_stack: {error}", file=sys.stderr)
        return 2
    print(stack.banner(), flush=True)
    if args.ready_file:
        write_ready_file(args.ready_file, stack)
    stop.wait()
    print("\nStopping the local stack...", file=sys.stderr, flush=True)
    if args.ready_file:  # nobody should find a stack that is gone
        args.ready_file.unlink(missing_ok=True)
    stack.stop()
    print("Stopped.", file=sys.stderr, flush=True)
    return 0


def add_stack_options(parser: argparse.ArgumentParser) -> None:
    """The options of a local stack, for `python -m local_stack` and `python -m sam_local`."""
    parser.add_argument("--port", type=int, default=3000, help="0 picks a free port")
    parser.add_argument("--template", type=Path, default=REPO_ROOT / "template.yaml")
    parser.add_argument(
        "--ready-file", type=Path, default=None,
        help="once serving, write the URL and credentials here as JSON (for test harnesses)",
    )  # fmt: skip
    parser.add_argument(
        "--no-bootstrap", action="store_true", help="create no default app and admin key"
    )
    parser.add_argument(
        "--verbose", action="store_true",
        help="a line (and the function's log) per stream batch, queue batch and scheduled run; "
        "without it, a summary a minute and each failure",
    )  # fmt: skip
    parser.add_argument(
        "--parameter", action="append", default=[], type=_parameter, metavar="NAME=VALUE",
        help="override a template parameter (repeatable); local defaults: "
        + ", ".join(f"{name}={value}" for name, value in LOCAL_PARAMETERS.items()),
    )  # fmt: skip


def stack_from_options(args: argparse.Namespace, port: int) -> LocalStack:
    """The stack `add_stack_options`' options describe, its gateway on `port`."""
    return LocalStack(
        port=port,
        template=args.template,
        bootstrap=not args.no_bootstrap,
        parameters=dict(args.parameter),
        verbose=args.verbose,
    )


def _parameter(text: str) -> tuple[str, str]:
    name, equals, value = text.partition("=")
    if not name or not equals:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return name, value


def write_ready_file(path: Path, stack: LocalStack) -> None:
    """The URL and credentials, as JSON, for harnesses waiting for the stack to serve."""
    info = {
        "url": stack.url,
        "endpoint_url": stack.endpoint_url,
        "admin_key": stack.admin_key,
        "default_app_id": stack.default_app_id,
        "ingest_key": stack.ingest_key,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(info))
    os.replace(partial, path)  # readers never see half a file


if __name__ == "__main__":
    sys.exit(main())
