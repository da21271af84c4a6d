"""`make demo` against the local stack: what it says it loaded is what the API then counts."""

import json
import re

from demo import main as demo


def test_the_demo_loads_a_day_the_statistics_count_and_alerts_the_receiver(
    stack, http, receiver, capsys
) -> None:
    code = demo(
        ["--url", stack.url, "--admin-key", stack.admin_key, "--events", "450",
         "--name", "demo-test", "--receiver", receiver.url]
    )  # fmt: skip

    out = capsys.readouterr().out
    assert code == 0, out
    stored = re.search(r"450 events stored in app (\d+)", out)
    assert stored, out
    app_id = int(stored[1])
    assert http.get(f"/apps/{app_id}", headers=http.admin).json()["name"] == "demo-test"
    by_level = http.get(f"/apps/{app_id}/stats/by-level", headers=http.admin).json()
    counts = {item["level"]: item["count"] for item in by_level["items"]}
    # 450 of the day, one of each of four seed profiles, the payment error sent last
    assert sum(counts.values()) == 450 + 4 + 1
    assert set(counts) >= {"DEBUG", "INFO", "WARNING", "ERROR"}
    errors = http.get(f"/apps/{app_id}/events?level=ERROR&limit=50", headers=http.admin).json()
    assert all("stack" in event for event in errors["items"] if event.get("tags"))  # the day's
    services = {
        item["name"]
        for item in http.get(f"/apps/{app_id}/stats/by-name", headers=http.admin).json()["items"]
    }
    assert {"login", "checkout.completed", "search.query", "job.done"} <= services
    alert = json.loads(receiver.wait_for(1)[-1].body)
    assert alert["event"]["message"] == "card declined: insufficient funds"


def test_the_demo_says_how_to_start_a_stack_when_none_runs(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    assert demo([]) == 1
    assert "run `make local` in another terminal" in capsys.readouterr().err
