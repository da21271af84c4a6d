"""HTTP requests to the outside (webhooks, Slack, subscribers): public addresses only, signed.

Server-side request forgery: a target's host is resolved and every address it resolves to must
be public. Loopback, private, link-local (the instance metadata address 169.254.169.254 and
fd00:ec2::254 among them), shared, multicast, reserved and unspecified addresses are refused,
unless they fall in ALLOWED_TARGET_NETWORKS (the AllowedTargetNetworks parameter). So are
IPv6 addresses that embed an IPv4 address or reach other networks through a gateway: 6to4
(2002::/16, e.g. 2002:a9fe:a9fe:: carries 169.254.169.254), Teredo (2001::/32), NAT64
(64:ff9b::/96, 64:ff9b:1::/48), IPv4-compatible (::/96), site-local (fec0::/10), and anything
outside global unicast (2000::/3); an IPv4-mapped address (::ffff:a.b.c.d) is judged as its IPv4
address. The connection then goes to the address that was checked, so a second DNS answer
cannot redirect it (DNS rebinding), and redirects are not followed. A malformed URL (an
unbalanced `[`, a port out of range, no host) is a TargetRefusedError naming the problem (a 400
where a URL is accepted), never a ValueError.

Deadlines: each request must be done within its timeout in all (connection, request, reply), a
timer shutting its socket down when the time is up, so a server that drips its reply cannot hold
the caller; `post_json(time_left=...)` bounds all its tries by the caller's own deadline.

Signatures: `X-Eventlog-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>." + body)>` with
`X-Eventlog-Timestamp: <unix seconds>`. A receiver recomputes it and refuses old timestamps, so
a captured request cannot be replayed later (see `verify_signature` and the README).
"""

import contextlib
import hashlib
import hmac
import http.client
import ipaddress
import socket
import ssl
import threading
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
    if not timestamp or not signature or not (timestamp.isascii() and timestamp.isdigit()):
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


# IPv6 ranges that embed an IPv4 address or reach IPv4 (or other) networks through a gateway
# or relay: refused whatever they embed (`ipaddress` calls some of them global). An IPv4-mapped
# address (::ffff:a.b.c.d) is judged as the IPv4 address it maps to.
_TRANSITION_NETWORKS: tuple[tuple[ipaddress.IPv6Network, str], ...] = tuple(
    (ipaddress.IPv6Network(cidr), kind)
    for cidr, kind in (
        ("2002::/16", "a 6to4 address"),
        ("2001::/32", "a Teredo address"),
        ("64:ff9b::/96", "a NAT64 address"),
        ("64:ff9b:1::/48", "a local-use NAT64 address"),
        ("::/96", "an IPv4-compatible address"),
        ("::ffff:0:0:0/96", "an IPv4-translated address"),
        ("fec0::/10", "a site-local address"),
        ("3fff::/20", "a documentation address"),
    )
)
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")
# Global unicast: every other IPv6 address is refused.
_GLOBAL_UNICAST = ipaddress.IPv6Network("2000::/3")


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (6to4, Teredo client, NAT64, compatible)."""
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in _NAT64 or address in _IPV4_COMPATIBLE:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _allowed(address: IpAddress) -> bool:
    allowed = _allowed_networks(get_settings().allowed_target_networks)
    return any(address.version == network.version and address in network for network in allowed)


def _refusal(address: IpAddress) -> str | None:
    """Why an address must not be contacted, or None when it may."""
    if _allowed(address):
        return None
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return _refusal(address.ipv4_mapped)
        if address.is_loopback or address.is_unspecified:
            return "a loopback address" if address.is_loopback else "an unspecified address"
        for network, kind in _TRANSITION_NETWORKS:
            if address in network:
                embedded = _embedded_ipv4(address)
                inner = _refusal(embedded) if embedded is not None else None
                return f"{kind} embedding {embedded}, {inner}" if inner else kind
    for kind in ("unspecified", "loopback", "link_local", "multicast", "reserved", "private"):
        if getattr(address, f"is_{kind}"):
            return f"a {kind.replace('_', '-')} address"
    if isinstance(address, ipaddress.IPv6Address) and address not in _GLOBAL_UNICAST:
        return "not a global unicast address"
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


def _well_bracketed(netloc: str) -> bool:
    """No brackets, or one bracketed IPv6 literal followed by nothing but an optional port."""
    if "[" not in netloc and "]" not in netloc:
        return True
    host, closing, rest = netloc.partition("]")
    return (
        host.startswith("[")
        and host.count("[") == 1
        and bool(closing)
        and "[" not in rest
        and "]" not in rest
        and (not rest or rest.startswith(":"))
    )


def _split(url: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, path with query) of a target URL; TargetRefusedError names what is
    wrong with a malformed one (urlsplit and its `port` raise ValueError)."""
    try:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        host = parts.hostname
        port = parts.port
    except ValueError as error:
        raise TargetRefusedError(f"target {url!r} is not a valid URL: {error}") from None
    if scheme not in ("http", "https") or not host:
        raise TargetRefusedError(f"target {url!r} is not an http(s) URL with a host")
    if parts.username is not None or parts.password is not None:
        raise TargetRefusedError("credentials in a target URL are not allowed")
    if not _well_bracketed(parts.netloc):
        raise TargetRefusedError(f"target {url!r} has a malformed host {parts.netloc!r}")
    if port == 0:
        raise TargetRefusedError(f"target {url!r} has an invalid port")
    if any(ord(char) <= 0x20 or ord(char) == 0x7F for char in host):
        raise TargetRefusedError(f"target {url!r} has a malformed host {host!r}")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return scheme, host, port or (443 if scheme == "https" else 80), path


def resolve_target(url: str) -> Target:
    """The URL's host resolved and checked; TargetRefusedError says what is wrong."""
    scheme, host, port, path = _split(url)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError, ValueError) as error:  # socket.gaierror is an OSError
        raise TargetRefusedError(f"target host {host!r} does not resolve: {error}") from None
    addresses = list(dict.fromkeys(ipaddress.ip_address(info[4][0]) for info in infos))
    if not addresses:
        raise TargetRefusedError(f"target host {host!r} does not resolve")
    for address in addresses:
        reason = _refusal(address)
        if reason:
            raise TargetRefusedError(
                f"target host {host!r} resolves to {address}, {reason}: refused "
                "(a deployment can allow such networks with AllowedTargetNetworks)"
            )
    return Target(scheme, host, port, path, str(addresses[0]))


def check_target(url: str) -> None:
    """Refuse a target URL when it is stored (it is checked again at every delivery)."""
    resolve_target(url)


# ---------------------------------------------------------------- sending


class _Deadline:
    """A request's total deadline. Socket timeouts bound each read, not the whole request: a
    server dripping its reply a byte at a time would hold the caller for ever. When the time is
    up, a timer shuts the request's socket down, which ends whatever read or write is waiting."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.expired = False
        self._lock = threading.Lock()
        self._socket: socket.socket | None = None
        self._timer = threading.Timer(max(seconds, 0.0), self._expire)
        self._timer.daemon = True
        self._timer.start()

    def watch(self, sock: socket.socket) -> None:
        """Watch a new connection's socket (a duplicate: TLS wrapping detaches the original)."""
        with self._lock:
            self._socket = sock.dup()
            if self.expired:
                self._shutdown()

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            self._shutdown()

    def _shutdown(self) -> None:
        if self._socket is not None:
            with contextlib.suppress(OSError):  # closed meanwhile
                self._socket.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self._timer.cancel()
        with self._lock:
            if self._socket is not None:
                self._socket.close()
                self._socket = None


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, target: Target, deadline: _Deadline):
        super().__init__(target.host, target.port, timeout=deadline.seconds)
        self._address = target.address
        self._deadline = deadline

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)
        self._deadline.watch(self.sock)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """TLS to the checked address, the certificate verified for the URL's host name."""

    def __init__(self, target: Target, deadline: _Deadline):
        super().__init__(target.host, target.port, timeout=deadline.seconds)
        self._address = target.address
        self._deadline = deadline
        self._tls = ssl.create_default_context()

    def connect(self) -> None:
        raw = socket.create_connection((self._address, self.port), self.timeout)
        self._deadline.watch(raw)  # the handshake included
        self.sock = self._tls.wrap_socket(raw, server_hostname=self.host)


def _send_once(target: Target, body: bytes, headers: dict[str, str], timeout: float) -> Reply:
    """One request, connection to reply, done within `timeout` seconds in all."""
    deadline = _Deadline(timeout)
    connection_type = _PinnedHTTPSConnection if target.scheme == "https" else _PinnedHTTPConnection
    connection = connection_type(target, deadline)
    try:
        connection.request("POST", target.path, body=body, headers=headers)
        response = connection.getresponse()
        text = response.read(REPLY_BYTES_KEPT).decode("utf-8", "replace")
        if deadline.expired:
            raise TimeoutError  # what was read came in too slowly: the deadline cut it short
        return Reply(response.status, text)
    except (OSError, http.client.HTTPException) as error:
        if deadline.expired:
            raise DeliveryError(
                f"TimeoutError: no complete reply from {target.host} within {timeout:.1f} s"
            ) from None
        raise DeliveryError(f"{type(error).__name__}: {error}") from None
    finally:
        deadline.close()
        connection.close()


def post_json(
    url: str,
    body: bytes,
    headers: dict[str, str] | None = None,
    timeout: float = 5.0,
    attempts: int = 2,
    backoff: float = 0.5,
    time_left: float | None = None,
) -> Reply:
    """POST a JSON body; a 2xx reply, or DeliveryError after `attempts` tries.

    Each try must be done (connected, sent, answered) within `timeout` seconds in all, however
    slowly the server answers. `time_left` (the caller's own deadline, in seconds from now)
    bounds the whole call, tries and pauses included: a try gets at most what is left, and no
    try starts without time for it. Network errors, timeouts, 408/425/429 and 5xx are tried
    again after `backoff` seconds (doubling); other statuses and refused targets are not.
    """
    ends = None if time_left is None else time.monotonic() + time_left
    try:
        target = resolve_target(url)
    except TargetRefusedError as error:
        raise DeliveryError(error.message, retryable=False) from None
    all_headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT, **(headers or {})}
    failure = DeliveryError(f"no time left to send to {target.host}")
    tries = max(attempts, 1)
    for attempt in range(tries):
        budget = timeout if ends is None else min(timeout, ends - time.monotonic())
        if budget <= 0:
            break
        try:
            reply = _send_once(target, body, all_headers, budget)
        except DeliveryError as error:
            failure = error
        else:
            if 200 <= reply.status < 300:
                return reply
            failure = _status_error(target, reply)
            if not failure.retryable:
                raise failure
        pause = backoff * 2**attempt
        if attempt == tries - 1 or (ends is not None and time.monotonic() + pause >= ends):
            break
        time.sleep(pause)
    raise failure


def _status_error(target: Target, reply: Reply) -> DeliveryError:
    return DeliveryError(
        f"HTTP {reply.status} from {target.host}: {reply.body[:200]}",
        status=reply.status,
        retryable=reply.status in RETRYABLE_STATUSES,
    )
