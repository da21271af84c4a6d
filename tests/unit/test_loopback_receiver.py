"""`make receiver`: prints what the local stack delivers and checks its signature the way the
README tells a receiver to."""

import json
import subprocess
import sys
import time
import urllib.request

from loopback_receiver import Received, describe, verify

from eventlog.delivery.outbound import signature_headers
from tests.support import ROOT

BODY = json.dumps({"rule": "payment errors", "count": 6}).encode()


def signed(secret: str, timestamp: int | None = None) -> dict[str, str]:
    headers = signature_headers(secret, BODY, timestamp)
    return {name.lower(): value for name, value in headers.items()}


def test_the_readme_check_verifies_what_the_service_signs() -> None:
    assert verify("whsec_at_least_16_chars", BODY, signed("whsec_at_least_16_chars")) == (
        "signature verified"
    )
    assert verify("another_secret_16_chars", BODY, signed("whsec_at_least_16_chars")) == (
        "SIGNATURE DOES NOT MATCH (another secret?)"
    )
    old = signed("whsec_at_least_16_chars", int(time.time()) - 301)
    assert verify("whsec_at_least_16_chars", BODY, old) == (
        "signature matches, but the timestamp is over 300s old"
    )
    assert verify("whsec_at_least_16_chars", BODY, {}).startswith("unsigned")


def test_a_delivery_is_printed_with_its_ids_its_check_and_its_body() -> None:
    headers = {**signed("whsec_at_least_16_chars"), "x-eventlog-delivery": "d-1"}
    text = describe(Received("POST", "/hook", headers, BODY), 200, "whsec_at_least_16_chars")

    lines = text.splitlines()
    assert lines[0].endswith("POST /hook -> 200")
    assert lines[1:3] == ["  x-eventlog-delivery: d-1", "  signature verified"]
    assert json.loads("\n".join(lines[3:])) == {"rule": "payment errors", "count": 6}


def test_make_receiver_serves_on_the_port_given_and_prints_each_delivery(tmp_path) -> None:
    process = subprocess.Popen(  # noqa: S603 - our interpreter, our tool
        [sys.executable, "tools/loopback_receiver.py", "--port", "0", "--secret", "s" * 16],
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        assert process.stdout.readline().startswith("Receiving on http://127.0.0.1:")
        hook = process.stdout.readline().strip()
        headers = signature_headers("s" * 16, BODY)
        request = urllib.request.Request(hook, data=BODY, headers=headers)  # noqa: S310
        with urllib.request.urlopen(request, timeout=5) as answer:  # noqa: S310 - loopback
            assert answer.status == 200
        assert process.stdout.readline().endswith("POST /hook -> 200\n")
        assert process.stdout.readline() == "  signature verified\n"
    finally:
        process.terminate()
        process.wait(timeout=5)
