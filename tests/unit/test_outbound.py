"""Outbound HTTP: signatures, refusal of non-public targets, retries, pinned connections."""

import hashlib
import hmac
import re
import socket
import time
from ipaddress import ip_address
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
        (BODY, "170000000²", 1_700_000_000, False),  # a digit to str.isdigit, not to int()
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
     "0.0.0.0", "224.0.0.1", "::1", "fd00:ec2::254", "fe80::1", "::ffff:10.0.0.1",  # noqa: S104
     # Addresses that embed an IPv4 one or reach other networks through a gateway or relay.
     "2002:a9fe:a9fe::", "2002:5db8:d822::1", "2001:0:4136:e378:8000:63bf:3fff:fdd2", "2001::1",
     "64:ff9b::a9fe:a9fe", "64:ff9b::5db8:d822", "64:ff9b:1::1", "fec0::1", "::ffff:0:0",
     "::ffff:169.254.169.254", "::a9fe:a9fe", "::5db8:d822", "::ffff:0:a9fe:a9fe", "100::1",
     "2001:db8::1", "5f00::1", "3fff::1"],
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


def test_the_embedded_ipv4_address_is_named(aws, monkeypatch):
    answers = [(0, 0, 0, "", ("2002:a9fe:a9fe::", 80, 0, 0))]
    monkeypatch.setattr(socket, "getaddrinfo", lambda *_a, **_k: answers)
    with pytest.raises(TargetRefusedError, match=r"6to4 address embedding 169\.254\.169\.254"):
        outbound.check_target("https://hooks.example.com/x")


@pytest.mark.parametrize("address", ["2606:4700::1", "::ffff:93.184.216.34", "93.184.216.34"])
def test_public_ipv6_and_mapped_public_ipv4_are_accepted(address, aws, monkeypatch):
    monkeypatch.setattr(socket, "getaddrinfo", lambda *_a, **_k: [(0, 0, 0, "", (address, 443))])
    target = outbound.resolve_target("https://hooks.example.com/x")
    assert ip_address(target.address) == ip_address(address)


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("ftp://example.com/x", "http(s) URL with a host"),
        ("https:///x", "http(s) URL with a host"),
        ("http://example.com:99999/", "Port out of range"),
        ("http://example.com:0/", "invalid port"),
        ("http://example.com:abc/", "Port could not be cast"),
        ("http://[::1", "Invalid IPv6 URL"),
        ("http://[::1/hook", "Invalid IPv6 URL"),
        ("http://]x/", "Invalid IPv6 URL"),
        ("http://[zz]/", "does not appear to be an IPv4 or IPv6 address"),
        ("http://[::1]x/", "malformed host"),
        ("http://exa mple.com/", "malformed host"),
        ("http://user:pw@example.com/", "credentials"),
    ],
)
def test_malformed_targets_are_refused_naming_the_problem(url, problem, aws):
    with pytest.raises(TargetRefusedError, match=re.escape(problem)):
        outbound.check_target(url)
    with pytest.raises(DeliveryError) as failure:  # a stored one: refused at delivery, no crash
        outbound.post_json(url, BODY)
    assert not failure.value.retryable


def test_allowed_networks_still_let_the_local_stack_reach_loopback(loopback_targets):
    outbound.check_target("http://127.0.0.1:8080/hook")
    outbound.check_target("http://[::1]:8080/hook")


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


def test_a_server_dripping_its_reply_cannot_hold_a_request_beyond_its_timeout(
    dripping, loopback_targets
):
    started = time.monotonic()
    with pytest.raises(DeliveryError, match="TimeoutError") as failure:
        outbound.post_json(dripping.url, BODY, timeout=0.5, attempts=1)
    assert time.monotonic() - started < 1.5  # each read took 50 ms: only the total deadline ends it
    assert failure.value.retryable


def test_time_left_bounds_every_try_and_pause(dripping, loopback_targets):
    started = time.monotonic()
    with pytest.raises(DeliveryError, match="TimeoutError"):
        outbound.post_json(dripping.url, BODY, timeout=5, attempts=3, backoff=0.1, time_left=0.6)
    assert time.monotonic() - started < 1.5


def test_no_time_left_sends_nothing(receiver, loopback_targets):
    with pytest.raises(DeliveryError, match="no time left") as failure:
        outbound.post_json(receiver.url, BODY, time_left=0)
    assert failure.value.retryable
    assert receiver.requests == []


def test_time_left_does_not_cut_a_request_that_fits(receiver, loopback_targets):
    assert outbound.post_json(receiver.url, BODY, time_left=5).status == 200


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
