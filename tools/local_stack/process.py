"""LocalStackProcess: the local stack in a child process, for test suites.

An in-process stack rewires the whole process's AWS access (AWS_ENDPOINT_URL, credentials,
table names) and shares moto's global state with `moto.mock_aws`: unit tests running in the
same pytest worker would see one or break the other. A child process keeps them apart.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from local_stack.stack import REPO_ROOT

PYTHONPATH = [REPO_ROOT / "layers" / "common" / "python", REPO_ROOT / "tools"]


class LocalStackProcess:
    """Same attributes as LocalStack (url, endpoint_url, admin_key, default_app_id, ingest_key),
    plus `log()`: the child's stdout and stderr so far (one line per request or driven
    invocation; kept after stop), and `returncode` once it has stopped."""

    def __init__(
        self,
        port: int = 0,
        template: Path | str | None = None,
        bootstrap: bool = True,
        timeout: float = 90,
        parameters: dict[str, str] | None = None,
        module: str = "local_stack",
        stop_timeout: float = 15,
    ):
        self.port = port
        # `python -m <module>`: local_stack, or sam_local (the same options, functions in Docker)
        self.module = module
        self.stop_timeout = stop_timeout
        self.template = template
        self.bootstrap = bootstrap
        self.parameters = dict(parameters or {})
        self.timeout = timeout
        self.url = ""
        self.endpoint_url = ""
        self.admin_key: str | None = None
        self.default_app_id: int | None = None
        self.ingest_key: str | None = None
        self._dir = Path(tempfile.mkdtemp(prefix="eventlog-local-"))
        self.log_path = self._dir / "stack.log"
        self._process: subprocess.Popen[bytes] | None = None
        self._final_log: str | None = None

    def start(self) -> LocalStackProcess:
        ready = self._dir / "ready.json"
        command = [sys.executable, "-m", self.module, "--port", str(self.port)]
        # Every driven invocation logged: log() is how tests see what ran.
        command += ["--ready-file", str(ready), "--verbose"]
        if self.template:
            command += ["--template", str(self.template)]
        if not self.bootstrap:
            command.append("--no-bootstrap")
        for name, value in self.parameters.items():
            command += ["--parameter", f"{name}={value}"]
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            [str(path) for path in PYTHONPATH] + [p for p in [env.get("PYTHONPATH")] if p]
        )
        env["PYTHONUNBUFFERED"] = "1"
        with open(self.log_path, "wb") as log:
            self._process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
                command, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + self.timeout
        while not ready.exists():
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the local stack did not start:\n{self.log()[-4000:]}")
            time.sleep(0.05)
        info = json.loads(ready.read_text())
        for name in ("url", "endpoint_url", "admin_key", "default_app_id", "ingest_key"):
            setattr(self, name, info[name])
        return self

    @property
    def returncode(self) -> int | None:
        """The child's exit status (0 after a clean stop), None while it runs."""
        return self._process.poll() if self._process is not None else None

    def log(self) -> str:
        if self._final_log is not None:
            return self._final_log
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        """Stop the child (SIGTERM, as Ctrl-C would), keep its log in memory, tidy up."""
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGTERM)
            try:
                self._process.wait(timeout=self.stop_timeout)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        if self._final_log is None:
            self._final_log = self.log()
            shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> LocalStackProcess:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
