"""`make smoke` (tools/smoke.py) against the local stack: it passes on a working stage, leaves no
events or live keys behind, and fails with the reason when something is wrong."""

import socket

import pytest
import smoke


def run_smoke(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = smoke.main(list(args))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def smoke_app(out: str) -> int:
    """The app the run created, from its `create app` line: `ok   create app: app 7 (...)`."""
    line = next(line for line in out.splitlines() if line.startswith("ok   create app:"))
    return int(line.split("app: app ")[1].split()[0])


def test_a_working_stage_passes_and_is_left_clean(stack, http, capsys):
    status, out, err = run_smoke(capsys, "--url", stack.url, "--admin", stack.admin_key)

    assert status == 0, err
    steps = [line.split(":")[0].removeprefix("ok   ") for line in out.splitlines()[:-1]]
    assert steps == ["health", "create app", "ingest", "read back", "statistics", "clean up"]
    assert "by level {'ERROR': 2, 'INFO': 1}" in out
    assert "3 events deleted, counts back to 0, keys revoked: 1" in out
    assert out.splitlines()[-1] == f"smoke test passed: {stack.url}"

    app_id = smoke_app(out)
    events = http.get(f"/apps/{app_id}/events", headers=http.admin)
    assert events.status_code == 200
    assert events.json()["items"] == []
    keys = http.get(f"/keys?app_id={app_id}", headers=http.admin).json()["items"]
    assert keys
    assert all(key["revoked_at"] for key in keys)


def test_the_url_and_key_come_from_the_environment_as_make_passes_them(stack, capsys, monkeypatch):
    monkeypatch.setenv("URL", stack.url)
    monkeypatch.setenv("ADMIN", "not-a-key")

    status, out, err = run_smoke(capsys)

    assert status == 1
    assert len(out.splitlines()) == 1  # health only: it needs no key
    assert out.startswith("ok   health: status ok")
    assert err.startswith("FAIL POST /apps/smoke-")
    assert ": 401, expected 201: " in err


def test_an_unreachable_stage_fails_saying_so(capsys):
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    url = f"http://127.0.0.1:{port}"

    status, out, err = run_smoke(capsys, "--url", url, "--admin", "any")

    assert status == 1
    assert out == ""
    assert err.startswith(f"FAIL GET /health: cannot reach {url}: ")


def test_statistics_that_never_arrive_fail_after_the_wait_and_still_clean_up(
    stack, capsys, monkeypatch
):
    """As if the stream were stuck: once the batch is read back, the counts it waits for are
    ones the statistics never reach."""
    read_back = smoke.Smoke.read_back

    def read_back_then_expect_more(self: smoke.Smoke) -> str:
        monkeypatch.setattr(smoke, "BATCH_LEVELS", {"ERROR": 3, "INFO": 1})
        return read_back(self)

    monkeypatch.setattr(smoke.Smoke, "read_back", read_back_then_expect_more)

    status, out, err = run_smoke(
        capsys, "--url", stack.url, "--admin", stack.admin_key, "--wait", "5"
    )

    assert status == 1
    assert err.startswith("FAIL statistics: by level {'ERROR': 2, 'INFO': 1} after 5 s, ")
    assert "expected {'ERROR': 3, 'INFO': 1}" in err
    assert "ok   clean up: 3 events deleted, counts back to 0, keys revoked: 1" in out
