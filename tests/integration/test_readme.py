"""The README is tested: every `bash` block of README.md and of the docs it links runs, in order,
in one shell, against a local stack of its own, as a newcomer pasting them would run them.

Each curl command is followed by the answer it promises, in a comment: `# → 201 {"id":…}`, the
status and, when given, the body's shape (its keys; `…` among them: at least these). The shell
gets the export line the stack's banner printed, so the banner is checked too. Blocks that need
an AWS account are fenced `sh`, not `bash`, and are only checked to need one.
"""

import json
import os
import re
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from local_stack import LocalStackProcess
from tests.support import ROOT
from tests.support.local_stack import TEST_STACK_PARAMETERS

FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)
DOC_LINK = re.compile(r"\]\((docs/[\w/.-]+\.md)(?:#[\w-]*)?\)")
ANSWER = re.compile(r"→ (\d{3})\b(.*)")
# Shell blocks not run here: they need an AWS account, Docker or a browser, or start a stack
# (the test's stack is the one `make local` would start).
NOT_RUN_HERE = re.compile(
    r"\baws |\bsam |sam_cli_host_network|\bdocker |^open |"
    r"^make (local|sam-local|test|build|deploy|admin-key|delete|smoke|recount)"
)
# The receiver the alert and subscription examples point at (`make receiver PORT=9000`).
RECEIVER_LINE = "RECEIVER=http://127.0.0.1:9000"

# Run by the shell before the blocks: curl logs each call's status and keeps its body (numbered
# in a file: a call in `$(...)` runs in a subshell, whose variables die with it).
CURL_LOG = r"""
set -euo pipefail
cd "$README_WORKDIR"
echo 0 > "$README_LOG/count"
curl() {
  local n=$(( $(cat "$README_LOG/count") + 1 ))
  echo "$n" > "$README_LOG/count"
  printf '%s\n' "$*" > "$README_LOG/$n.args"
  command curl -s -w '%{stderr}%{http_code}' "$@" 2> "$README_LOG/$n.status" \
    | tee "$README_LOG/$n.body"
}
"""


@dataclass
class Command:
    where: str  # file:line
    text: str
    status: int | None
    shape: str  # the promised body, abbreviated: '{"id":…}', '[…]' or ''


def documents() -> list[Path]:
    """README.md, then each doc it links, in the order of their first link."""
    readme = ROOT / "README.md"
    linked = dict.fromkeys(DOC_LINK.findall(readme.read_text()))
    return [readme, *(ROOT / path for path in linked)]


def blocks(document: Path) -> list[tuple[str, int, str]]:
    """(language, first line number, text) of each fenced block."""
    text = document.read_text()
    return [
        (match.group(1), text.count("\n", 0, match.start(2)) + 1, match.group(2))
        for match in FENCE.finditer(text)
    ]


def logical_lines(block: str, first_line: int) -> list[tuple[int, str]]:
    """Lines joined where a backslash continues them or a single quote is still open."""
    joined: list[tuple[int, str]] = []
    pending: list[str] = []
    start, quoted = first_line, False
    for number, line in enumerate(block.splitlines(), first_line):
        if not pending:
            start = number
            if line.lstrip().startswith("#"):  # a comment may hold an apostrophe
                joined.append((number, line))
                continue
        pending.append(line)
        code = line if quoted else line.partition("  # ")[0]
        quoted ^= code.count("'") % 2 == 1
        if line.endswith("\\") or quoted:
            continue
        joined.append((start, "\n".join(pending)))
        pending = []
    assert not pending, f"line {start}: an unterminated command"
    return joined


def commands(document: Path) -> list[Command]:
    """The curl commands of a document's bash blocks, each with the answer it promises."""
    found: list[Command] = []
    continued = False  # the comment lines after an answer's may go on with its body
    for language, first_line, block in blocks(document):
        if language != "bash":
            continue
        for number, line in logical_lines(block, first_line):
            code, _, comment = line.partition("  # ")
            if line.lstrip().startswith("#"):
                last = found[-1] if found else None
                if last and last.status is None and (answer := ANSWER.search(line)):
                    last.status, last.shape, continued = int(answer[1]), answer[2].strip(), True
                elif last and continued and line.startswith("#  "):  # the body goes on
                    last.shape += line[1:].strip()
                else:
                    continued = False
                continue
            continued = False
            if "curl " not in code:
                continue
            answer = ANSWER.search(comment)
            status, shape = (int(answer[1]), answer[2].strip()) if answer else (None, "")
            found.append(Command(f"{document.name}:{number}", line, status, shape))
    return found


def shape_keys(sample: str) -> tuple[str, set[str], bool]:
    """The promised body's kind ('{' or '['), the keys of its (first) object and whether `…`
    stands for more keys."""
    kind = sample[:1]
    depth, keys, more = 0, set(), False
    object_depth = 1 if kind == "{" else 2
    for match in re.finditer(r'"(?:[^"\\]|\\.)*"\s*:?|[{}\[\]]|…', sample):
        part = match.group()
        if part in "{[":
            depth += 1
        elif part in "}]":
            depth -= 1
            if depth == 0 or (kind == "[" and depth == 1 and keys):
                break  # the body's end (a remark may follow), or its list's first object
        elif depth == object_depth and part == "…":
            more = True
        elif depth == object_depth and part.endswith(":"):
            keys.add(part[1 : part.rindex('"')])
    return kind, keys, more


def check_answer(command: Command, status: int, body: str) -> list[str]:
    problems = []
    if status != command.status:
        problems.append(f"answered {status}, the doc says {command.status}: {body[:300]}")
    words = shlex.split(command.text.replace("\\\n", " "), comments=True)
    if not command.shape or command.shape[0] not in "{[" or {"-i", "-o"} & set(words):
        return problems
    try:
        parsed: Any = json.loads(body)
    except ValueError:
        return [*problems, f"not JSON: {body[:300]}"]
    kind, keys, more = shape_keys(command.shape)
    if kind == "[":
        if not isinstance(parsed, list):
            return [*problems, f"not a JSON list: {body[:300]}"]
        parsed = parsed[0] if parsed and keys else {}
        if not parsed:
            return problems
    if not isinstance(parsed, dict):
        return [*problems, f"not a JSON object: {body[:300]}"]
    missing, extra = keys - set(parsed), set(parsed) - keys
    if missing or (extra and not more):
        problems.append(
            f"keys {sorted(parsed)}, the doc shows {sorted(keys)}{' and more' if more else ''}"
        )
    return problems


def banner_exports(log: str) -> str:
    lines = [line.strip() for line in log.splitlines() if line.strip().startswith("export URL=")]
    assert lines, f"the banner has no export line:\n{log[-2000:]}"
    return lines[0]


@pytest.fixture(scope="module")
def readme_stack():
    with LocalStackProcess(port=0, parameters=TEST_STACK_PARAMETERS) as running:
        yield running


@pytest.fixture(scope="module")
def receiver():
    from loopback_receiver import LoopbackReceiver

    server = LoopbackReceiver()
    yield server
    server.close()


def script(exports: str, receiver_url: str) -> tuple[str, list[Command]]:
    """Every bash block in order, the banner's export line in place of the README's example
    of it, and the receiver's address in place of the one `make receiver` would have."""
    parts, expected = [CURL_LOG], []
    for document in documents():
        expected += commands(document)
        for language, _, block in blocks(document):
            if language == "bash":
                block = re.sub(r"^export URL=.*$", exports, block, flags=re.MULTILINE)
                parts.append(block.replace(RECEIVER_LINE, f"RECEIVER={receiver_url}"))
    return "\n".join(parts), expected


def test_every_shell_block_not_run_here_could_not_be() -> None:
    for document in documents():
        for language, line, block in blocks(document):
            if language in ("sh", "shell", "console"):
                code = [row for row in block.splitlines() if row and not row.startswith("#")]
                assert code and all(NOT_RUN_HERE.search(row) or row[0] == " " for row in code), (
                    f"{document.name}:{line}: a `{language}` block that could run locally: fence "
                    "it `bash` so that it is tested"
                )


def test_every_curl_example_says_what_it_answers() -> None:
    unsaid = [c.where for document in documents() for c in commands(document) if c.status is None]
    assert not unsaid, f"curl commands without a '# → <status>' answer: {unsaid}"


def test_the_readme_and_its_docs_run_as_written(readme_stack, receiver, tmp_path: Path) -> None:
    source, expected = script(
        banner_exports(readme_stack.log()), receiver.url.removesuffix("/hook")
    )
    log, workdir = tmp_path / "calls", tmp_path / "work"
    log.mkdir()
    workdir.mkdir()
    env = {**os.environ, "README_LOG": str(log), "README_WORKDIR": str(workdir)}
    for name in ("URL", "ADMIN", "APP", "INGEST", "USER_KEY", "TOKEN", "KEY", "ADMIN_KEY"):
        env.pop(name, None)  # only what the blocks define
    ran = subprocess.run(  # noqa: S603 - our own script
        ["/bin/bash", "-c", source], env=env, capture_output=True, text=True, timeout=300
    )
    calls = len(list(log.glob("*.args")))
    last = (log / f"{calls}.args").read_text() if calls else "none"
    assert ran.returncode == 0, (
        f"the blocks stopped after curl call {calls} ({last.strip()}; the doc's "
        f"{expected[calls - 1].where if 0 < calls <= len(expected) else '?'}):\n"
        f"{ran.stderr[-3000:]}"
    )
    assert calls == len(expected), f"{calls} curl calls ran, the docs have {len(expected)}"
    problems = []
    for number, command in enumerate(expected, 1):
        status = int((log / f"{number}.status").read_text().strip()[-3:])
        body = (log / f"{number}.body").read_text(errors="replace")
        problems += [f"{command.where}: {p}" for p in check_answer(command, status, body)]
    assert not problems, "\n".join(problems)
    # What `make receiver` would have printed: the alert's webhook and Slack message, the batch.
    deliveries = {"/hook", "/slack", "/archive"}
    receiver.wait_until(
        lambda requests: deliveries <= {request.path for request in requests},
        f"deliveries to {sorted(deliveries)}",
    )
