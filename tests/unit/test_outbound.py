"""Outbound HTTP: signatures, refusal of non-public targets, retries, pinned connections."""

import hashlib
import hmac
import socket
from typing import Any

import pytest

from eventlog.delivery import outbound
from eventlog.delivery.outbound import DeliveryError, TargetRefusedError

SECRET = "whsec_0123456789abcdef"  # noqa: S105 - a test value
BODY = b'{"hello": "world"}'


def test_the_signature_is_hmac_sha256_of_timestamp_dot_body():
    headers = outbound.signature_headers(SECRET, BODY, timestamp=1_700_000_000)
    expected = hmac.new(SECRET.encode(), b"1700000000." + BODY, hashlib.sha256).hexdigest()
    assert headers == {
        "X-Eventlog-Timestamp": "1700000000",
        "X-Eventlog-Signature": f"v1={expected}",
    }


@pytest.mark.parametrize(
    ("body", "timestamp", "now", "valid"),
    [
        (BODY, "1700000000", 1_700_000_010, True),
        (BODY + b" ", "1700000000", 1_700_000_010, False),  # tampered body
        (BODY, "1700000001", 1_700_000_010, False),  # tampered timestamp
        (BODY, "1700000000", 1_700_000_301, False),  # too old: a replay
        (BODY, "1700000000", 1_699_999_699, False),  # from the future
        (BODY, "", 1_700_000_000, False),
        (BODY, "17e8", 1_700_000_000, False),
    ],
)
def test_a_receiver_verifies_body_and_timestamp(body, timestamp, now, valid):
    signature = outbound.sign(SECRET, 1_700_000_000, BODY)
    assert outbound.verify_signature(SECRET, body, timestamp, signature, now=now) is valid


def test_another_secret_does_not_verify():
    signature = outbound.sign(SECRET, 1_700_000_000, BODY)
    assert not outbound.verify_signature("x" * 20, BODY, "1700000000", signature, now=1.7e9)


@pytest.mark.parametrize(
    "address",
    ["127.0.0.1", "10.0.0.1", "172.16.5.4", "192.168.1.1", "169.254.169.254", "100.64.0.1",
     "0.0.0.0", "224.0.0.1", "::1", "fd00:ec2::254", "fe80::1", "::ffff:10.0.0.1"],  # noqa: S104
)  # fmt: skip
def test_non_public_addresses_are_refused(address, aws, monkeypatch):
    monkeypatch.setattr(socket, "getaddrinfo", lambda *_a, **_k: [(0, 0, 0, "", (address, 80))])
    with pytest.raises(TargetRefusedError, match="refused"):
        outbound.check_target("https://hooks.example.com/x")


def test_a_host_with_one_private_address_among_public_ones_is_refused(aws, monkeypatch):
    answers = [(0, 0, 0, "", ("93.184.216.34", 443)), (0, 0, 0, "", ("10.0.0.7", 443))]
    monkeypatch.setattr(socket, "getaddrinfo", lambda *_a, **_k: answers)
    with pytest.raises(TargetRefusedError, match=r"10\.0\.0\.7"):
        outbound.check_target("https://rebinding.example.com/x")


def test_public_addresses_are_accepted(aws, monkeypatch):
    monkeypatch.setattr(
        socket, "getaddrinfo", lambda *_a, **_k: [(0, 0, 0, "", ("93.184.216.34", 443))]
    )
    target = outbound.resolve_target("https://hooks.example.com/x?y=1")
    assert (target.host, target.port, target.path, target.address) == (
        "hooks.example.com",
        443,
        "/x?y=1",
        "93.184.216.34",
    )


def test_allowed_networks_let_a_deployment_reach_its_own_receivers(aws, monkeypatch):
    from eventlog.base.config import get_settings

    monkeypatch.setattr(socket, "getaddrinfo", lambda *_a, **_k: [(0, 0, 0, "", ("10.2.3.4", 80))])
    monkeypatch.setenv("ALLOWED_TARGET_NETWORKS", "10.2.0.0/16")
    get_settings.cache_clear()
    outbound.check_target("http://internal.example/x")
    monkeypatch.setattr(socket, "getaddrinfo", lambda *_a, **_k: [(0, 0, 0, "", ("10.3.0.1", 80))])
    with pytest.raises(TargetRefusedError):
        outbound.check_target("http://other.example/x")


@pytest.mark.parametrize("url", ["ftp://example.com/x", "https:///x", "http://example.com:99999/"])
def test_malformed_targets_are_refused(url, aws):
    with pytest.raises(TargetRefusedError):
        outbound.check_target(url)


def test_post_json_delivers_the_body_and_headers(receiver, loopback_targets):
    reply = outbound.post_json(receiver.url, BODY, {"X-Test": "1"})
    assert reply.status == 200
    (request,) = receiver.requests
    assert request.body == BODY
    assert request.headers["content-type"] == "application/json"
    assert request.headers["x-test"] == "1"
    assert request.headers["user-agent"].startswith("Eventlog/")


def test_post_json_connects_to_the_address_it_checked(receiver, loopback_targets, monkeypatch):
    # The name resolves once: a second answer (DNS rebinding) could not redirect the request.
    port = int(receiver.url.split(":")[2].split("/")[0])
    lookups: list[Any] = []

    def resolve_once(host: str, *_: Any, **__: Any) -> Any:
        if host == "127.0.0.1":  # the connection itself, to the address checked
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (host, port))]
        lookups.append(host)
        address = "127.0.0.1" if len(lookups) == 1 else "10.9.9.9"
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(socket, "getaddrinfo", resolve_once)
    reply = outbound.post_json(f"http://receiver.test:{port}/hook", BODY)
    assert reply.status == 200
    assert lookups == ["receiver.test"]
    assert receiver.requests[0].headers["host"] == f"receiver.test:{port}"


def test_server_errors_are_retried_then_reported(receiver, loopback_targets):
    receiver.fail_next(2, 503)
    with pytest.raises(DeliveryError) as failure:
        outbound.post_json(receiver.url, BODY, attempts=2, backoff=0)
    assert failure.value.status == 503
    assert failure.value.retryable
    assert "HTTP 503" in failure.value.message
    assert len(receiver.requests) == 2
    receiver.fail_next(1, 502)
    assert outbound.post_json(receiver.url, BODY, attempts=2, backoff=0).status == 200


def test_client_errors_are_not_retried(receiver, loopback_targets):
    receiver.fail_next(1, 400)
    with pytest.raises(DeliveryError) as failure:
        outbound.post_json(receiver.url, BODY, attempts=3, backoff=0)
    assert failure.value.status == 400
    assert not failure.value.retryable
    assert len(receiver.requests) == 1


def test_a_refused_target_is_a_delivery_error_that_is_not_retried(aws):
    with pytest.raises(DeliveryError) as failure:
        outbound.post_json("http://127.0.0.1:9/hook", BODY)
    assert not failure.value.retryable
    assert "loopback" in failure.value.message


def test_a_closed_port_is_a_delivery_error(loopback_targets):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed once the probe goes
    with pytest.raises(DeliveryError, match="ConnectionRefusedError"):
        outbound.post_json(f"http://127.0.0.1:{port}/hook", BODY, attempts=1)


def test_the_readme_verification_snippet_accepts_our_signatures_and_refuses_tampering():
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    (snippet,) = [
        block for block in re.findall(r"```python\n(.*?)```", readme, re.S) if "def verify" in block
    ]
    namespace: dict[str, Any] = {}
    exec(snippet, namespace)  # noqa: S102 - the README's own example
    headers = outbound.signature_headers(SECRET, BODY)
    assert namespace["verify"](SECRET, BODY, headers)
    assert not namespace["verify"](SECRET, BODY + b"x", headers)
    assert not namespace["verify"]("another secret 0123", BODY, headers)
