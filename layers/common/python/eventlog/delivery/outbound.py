"""HTTP requests to the outside (webhooks, Slack, subscribers): public addresses only, signed.

Server-side request forgery: a target's host is resolved and every address it resolves to must
be public. Loopback, private, link-local (the instance metadata address 169.254.169.254 and
fd00:ec2::254 among them), shared, multicast, reserved and unspecified addresses are refused,
unless they fall in ALLOWED_TARGET_NETWORKS (the AllowedTargetNetworks parameter). The
connection then goes to the address that was checked, so a second DNS answer cannot redirect it
(DNS rebinding), and redirects are not followed.

Signatures: `X-Eventlog-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>." + body)>` with
`X-Eventlog-Timestamp: <unix seconds>`. A receiver recomputes it and refuses old timestamps, so
a captured request cannot be replayed later (see `verify_signature` and the README).
"""

import hashlib
import hmac
import http.client
import ipaddress
import socket
import ssl
import time
from dataclasses import dataclass
from functools import cache
from urllib.parse import urlsplit

from eventlog.base.config import get_settings
from eventlog.base.errors import InvalidInputError

SIGNATURE_HEADER = "X-Eventlog-Signature"
TIMESTAMP_HEADER = "X-Eventlog-Timestamp"
SIGNATURE_VERSION = "v1"
# What a receiver should accept between our clock and its own.
SIGNATURE_TOLERANCE_SECONDS = 300
USER_AGENT = "Eventlog/1.0 (+notifications and propagation)"
REPLY_BYTES_KEPT = 1024
RETRYABLE_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class TargetRefusedError(InvalidInputError):
    """A target URL that must not be contacted (or cannot be: its host does not resolve)."""


class DeliveryError(Exception):
    """A request that got no 2xx answer; `message` says why (kept as a subscription's error)."""

    def __init__(self, message: str, status: int | None = None, retryable: bool = True):
        super().__init__(message)
        self.message = message
        self.status = status
        self.retryable = retryable


@dataclass(frozen=True)
class Reply:
    status: int
    body: str  # the first REPLY_BYTES_KEPT bytes, for error messages


# ---------------------------------------------------------------- signatures


def sign(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"{SIGNATURE_VERSION}={digest.hexdigest()}"


def signature_headers(secret: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    timestamp = int(time.time()) if timestamp is None else timestamp
    return {TIMESTAMP_HEADER: str(timestamp), SIGNATURE_HEADER: sign(secret, timestamp, body)}


def verify_signature(
    secret: str,
    body: bytes,
    timestamp: str | None,
    signature: str | None,
    now: float | None = None,
    tolerance: int = SIGNATURE_TOLERANCE_SECONDS,
) -> bool:
    """What a receiver does: the signature matches and the timestamp is recent."""
    if not timestamp or not signature or not timestamp.isdigit():
        return False
    now = time.time() if now is None else now
    if abs(now - int(timestamp)) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, int(timestamp), body), signature)


# ---------------------------------------------------------------- targets


@cache
def _allowed_networks(setting: str) -> tuple[IpNetwork, ...]:
    return tuple(
        ipaddress.ip_network(cidr.strip(), strict=False)
        for cidr in setting.split(",")
        if cidr.strip()
    )


def _refusal(address: IpAddress) -> str | None:
    """Why an address must not be contacted, or None when it may."""
    allowed = _allowed_networks(get_settings().allowed_target_networks)
    if any(address.version == network.version and address in network for network in allowed):
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return _refusal(address.ipv4_mapped)
    for kind in ("unspecified", "loopback", "link_local", "multicast", "reserved", "private"):
        if getattr(address, f"is_{kind}"):
            return f"a {kind.replace('_', '-')} address"
    if not address.is_global:
        return "not a public address"
    return None


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str  # with its query
    address: str  # the checked address the connection goes to


def resolve_target(url: str) -> Target:
    """The URL's host resolved and checked; TargetRefusedError says what is wrong."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise TargetRefusedError(f"target {url!r} is not an http(s) URL with a host")
    if parts.username or parts.password:
        raise TargetRefusedError("credentials in a target URL are not allowed")
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError:
        raise TargetRefusedError(f"target {url!r} has an invalid port") from None
    host = parts.hostname
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise TargetRefusedError(f"target host {host!r} does not resolve: {error}") from None
    addresses = list(dict.fromkeys(ipaddress.ip_address(info[4][0]) for info in infos))
    for address in addresses:
        reason = _refusal(address)
        if reason:
            raise TargetRefusedError(
                f"target host {host!r} resolves to {address}, {reason}: refused "
                "(a deployment can allow such networks with AllowedTargetNetworks)"
            )
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(scheme, host, port, path, str(addresses[0]))


def check_target(url: str) -> None:
    """Refuse a target URL when it is stored (it is checked again at every delivery)."""
    resolve_target(url)


# ---------------------------------------------------------------- sending


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, target: Target, timeout: float):
        super().__init__(target.host, target.port, timeout=timeout)
        self._address = target.address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """TLS to the checked address, the certificate verified for the URL's host name."""

    def __init__(self, target: Target, timeout: float):
        super().__init__(target.host, target.port, timeout=timeout)
        self._address = target.address
        self._tls = ssl.create_default_context()

    def connect(self) -> None:
        raw = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._tls.wrap_socket(raw, server_hostname=self.host)


def _send_once(target: Target, body: bytes, headers: dict[str, str], timeout: float) -> Reply:
    connection_type = _PinnedHTTPSConnection if target.scheme == "https" else _PinnedHTTPConnection
    connection = connection_type(target, timeout)
    try:
        connection.request("POST", target.path, body=body, headers=headers)
        response = connection.getresponse()
        text = response.read(REPLY_BYTES_KEPT).decode("utf-8", "replace")
        return Reply(response.status, text)
    except (OSError, http.client.HTTPException) as error:
        raise DeliveryError(f"{type(error).__name__}: {error}") from None
    finally:
        connection.close()


def post_json(
    url: str,
    body: bytes,
    headers: dict[str, str] | None = None,
    timeout: float = 5.0,
    attempts: int = 2,
    backoff: float = 0.5,
) -> Reply:
    """POST a JSON body; a 2xx reply, or DeliveryError after `attempts` tries.

    Network errors, timeouts, 408/425/429 and 5xx are tried again after `backoff` seconds
    (doubling); other statuses and refused targets are not.
    """
    try:
        target = resolve_target(url)
    except TargetRefusedError as error:
        raise DeliveryError(error.message, retryable=False) from None
    all_headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT, **(headers or {})}
    # Every try but the last: a failure worth trying again waits and goes on.
    for attempt in range(max(attempts, 1) - 1):
        try:
            reply = _send_once(target, body, all_headers, timeout)
        except DeliveryError:
            pass
        else:
            if 200 <= reply.status < 300:
                return reply
            if reply.status not in RETRYABLE_STATUSES:
                raise _status_error(target, reply)
        time.sleep(backoff * 2**attempt)
    # The last try: its reply is returned or raised, whatever it is.
    reply = _send_once(target, body, all_headers, timeout)
    if 200 <= reply.status < 300:
        return reply
    raise _status_error(target, reply)


def _status_error(target: Target, reply: Reply) -> DeliveryError:
    return DeliveryError(
        f"HTTP {reply.status} from {target.host}: {reply.body[:200]}",
        status=reply.status,
        retryable=reply.status in RETRYABLE_STATUSES,
    )
