"""One log line in a common text format -> the fields of an event.

Pure and stdlib-only: no AWS, no pydantic. `parse_log_line` detects the format of ONE line (one
request carries one line; a trailing newline is allowed) and returns the event's fields as a
client would send them in JSON, plus the name of the format it recognised.

Formats, tried most specific first (`FORMATS` is this order):

1. `rfc5424`  syslog, RFC 5424: `<PRI>1 TIMESTAMP HOST APP PROCID MSGID [SD] MSG`
2. `rfc3164`  syslog, RFC 3164 (BSD): `<PRI>Mmm dd hh:mm:ss HOST TAG[PID]: MSG` (an RFC 3339
              timestamp is accepted too); without `<PRI>` (a /var/log/syslog line) only with
              the `Mmm dd hh:mm:ss` timestamp and a TAG, at level INFO
3. `combined` Apache/nginx access log, combined format (nginx's `main`: one more quoted field)
4. `common`   Apache/nginx access log, common format
5. `python`   Python logging: `LEVEL:logger:message` (basicConfig's default) and
              `2024-11-08 14:23:30,123 - logger - LEVEL - message` (the cookbook's), also
              without the logger
6. `logfmt`   a line made only of `key=value` pairs (values quoted with Go-style escapes)
7. `plain`    `LEVEL message`, `[LEVEL] message`, `LEVEL: message`

Timestamps without an offset are UTC. A syslog line whose severity, timestamp or structure is
malformed, or a logfmt line with an unknown level, is not guessed at: it does not parse.
"""

import re
from datetime import UTC, datetime, timedelta, timezone
from logging.handlers import SysLogHandler
from typing import Any

from eventlog.base.timeutil import format_iso, to_utc

MAX_LINE_BYTES = 64 * 1024
MAX_MESSAGE = 10_000
MAX_SERVICE = 200

FORMATS = ("rfc5424", "rfc3164", "combined", "common", "python", "logfmt", "plain")

_LEVEL_ALIASES = {
    "DEBUG": ("DEBUG", "DBG", "TRACE", "VERBOSE", "FINE", "FINER", "FINEST"),
    "INFO": ("INFO", "INF", "INFORMATION", "INFORMATIONAL", "NOTICE"),
    "WARNING": ("WARNING", "WARN", "WRN"),
    "ERROR": ("ERROR", "ERR", "SEVERE"),
    "CRITICAL": ("CRITICAL", "CRIT", "FATAL", "EMERG", "EMERGENCY", "ALERT", "PANIC"),
}
LEVELS: dict[str, str] = {
    alias: level for level, aliases in _LEVEL_ALIASES.items() for alias in aliases
}

# Syslog severity (PRI & 7) -> level, and the names rsyslog prints for it.
_SEVERITY_LEVELS = ("CRITICAL",) * 3 + ("ERROR", "WARNING", "INFO", "INFO", "DEBUG")
_SEVERITY_NAMES = ("emerg", "alert", "crit", "err", "warning", "notice", "info", "debug")
# Facility names as Python's SysLogHandler knows them (16-23: local0-local7).
_FACILITY_NAMES = {code: name for name, code in SysLogHandler.facility_names.items()}

# Month abbreviations as syslog and access logs print them, whatever the locale.
_MONTHS = {
    name: number
    for number, name in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
        start=1,
    )
}

# Terminal colours, as coloured console handlers print them around levels.
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
# Control characters a text line never holds (tab is allowed).
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f]")
_SERVICE_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

_ISO = re.compile(
    r"(?P<date>\d{4}-\d{2}-\d{2})[Tt ](?P<h>\d{2}):(?P<m>\d{2}):(?P<s>\d{2})"
    r"(?:[.,](?P<frac>\d{1,9}))?(?P<tz>[Zz]|[+-]\d{2}:?\d{2})?"
)


def parse_log_line(text: str, now: datetime) -> dict[str, Any] | None:
    """The event fields of one log line, or None when no known format matches.

    One line per call (and per `POST /logs` request): a trailing newline (`\\n` or `\\r\\n`) is
    allowed, any other line break, a NUL or other control character (tab aside, terminal colour
    codes are removed), text over 64 KB (UTF-8) or text that is not encodable -> None.

    The result: `{"format": name, "level": "ERROR", "message": str, "data": dict}` plus, when
    the line has them, `"service"` and `"occurred_at"` (ISO 8601 UTC, `...Z`). `level` is one of
    DEBUG/INFO/WARNING/ERROR/CRITICAL; `message` is trimmed, never empty (a line whose format
    has an empty message is its own message) and at most 10,000 characters; `service` is at
    most 200 characters without control characters. `format` is not an event field: the caller
    removes it (or records it) before validating the rest as an event.

    `now` places RFC 3164 timestamps, which have no year: `now`'s year, or the year before when
    that would put the line more than a day after `now` (or the year after, when that puts it
    less than a day after `now`: a sender whose clock is already in the new year).
    """
    line = _one_line(text)
    if line is None:
        return None
    now = to_utc(now)
    for parse in (_rfc5424, _rfc3164, _access, _python, _logfmt, _plain):
        event = parse(line, now)
        if event is not None:
            return _finish(event, line)
    return None


def normalize_level(value: str) -> str | None:
    """`warn`, `Err`, `FATAL`... -> DEBUG/INFO/WARNING/ERROR/CRITICAL; None if no level."""
    return LEVELS.get(value.strip().upper())


# -- the line ---------------------------------------------------------------------------------


def _one_line(text: str) -> str | None:
    if not isinstance(text, str) or len(text) > MAX_LINE_BYTES:
        return None
    try:
        if len(text.encode("utf-8")) > MAX_LINE_BYTES:
            return None
    except UnicodeEncodeError:  # lone surrogates: not text
        return None
    if text.endswith("\r\n"):
        text = text[:-2]
    elif text.endswith("\n"):
        text = text[:-1]
    text = _ANSI.sub("", text).removeprefix("\ufeff")
    if _CONTROL.search(text):
        return None
    text = text.strip()
    return text or None


def _finish(event: dict[str, Any], line: str) -> dict[str, Any]:
    message = (event.get("message") or "").strip() or line
    event["message"] = message[:MAX_MESSAGE].rstrip()
    service = event.pop("service", None)
    if service:
        service = _SERVICE_CONTROL.sub("", service).strip()[:MAX_SERVICE].rstrip()
        if service:
            event["service"] = service
    if event.get("occurred_at") is None:
        event.pop("occurred_at", None)
    return event


def _event(
    fmt: str,
    level: str,
    message: str | None,
    data: dict[str, Any],
    service: str | None = None,
    occurred_at: datetime | None = None,
) -> dict[str, Any]:
    return {
        "format": fmt,
        "level": level,
        "message": message,
        "service": service,
        "occurred_at": format_iso(occurred_at) if occurred_at else None,
        "data": data,
    }


def _iso_time(value: str) -> datetime | None:
    """ISO 8601 / RFC 3339 date and time (any fraction, `T` or space); no offset -> UTC."""
    match = _ISO.fullmatch(value)
    if not match:
        return None
    frac = (match["frac"] or "")[:6].ljust(6, "0")
    tz = match["tz"]
    zone = UTC
    if tz and tz not in "Zz":
        sign = -1 if tz[0] == "-" else 1
        digits = tz[1:].replace(":", "")
        hours, minutes = int(digits[:2]), int(digits[2:])
        if hours > 23 or minutes > 59:
            return None
        zone = timezone(sign * timedelta(hours=hours, minutes=minutes))
    try:
        moment = datetime.fromisoformat(
            f"{match['date']}T{match['h']}:{match['m']}:{match['s']}.{frac}"
        )
    except ValueError:
        return None
    return moment.replace(tzinfo=zone).astimezone(UTC)


# -- syslog -----------------------------------------------------------------------------------

_PRINTUSASCII = r"[!-~]+"
_RFC5424 = re.compile(
    rf"<(?P<pri>\d{{1,3}})>1 (?P<ts>{_PRINTUSASCII}) (?P<host>{_PRINTUSASCII})"
    rf" (?P<app>{_PRINTUSASCII}) (?P<procid>{_PRINTUSASCII}) (?P<msgid>{_PRINTUSASCII})"
    r" (?P<rest>.*)"
)
_SD_ELEMENT = re.compile(r'\[(?P<id>[^\s="\]]+)(?P<params>(?: [^\s="\]]+="(?:[^"\\]|\\.)*")*)\]')
_SD_PARAM = re.compile(r' (?P<name>[^\s="\]]+)="(?P<value>(?:[^"\\]|\\.)*)"')
_SD_UNESCAPE = re.compile(r'\\(["\\\]])')


def _priority(pri: str | None) -> tuple[str, dict[str, Any]] | None:
    """(level, {facility, severity}) of a PRI; None if out of range."""
    if pri is None:
        return "INFO", {}
    value = int(pri)
    if value > 191:
        return None
    facility, severity = divmod(value, 8)
    names = {"facility": _FACILITY_NAMES.get(facility, str(facility))}
    names["severity"] = _SEVERITY_NAMES[severity]
    return _SEVERITY_LEVELS[severity], names


def _nil(value: str) -> str | None:
    return None if value == "-" else value


def _rfc5424(line: str, now: datetime) -> dict[str, Any] | None:
    match = _RFC5424.fullmatch(line)
    if not match:
        return None
    priority = _priority(match["pri"])
    if priority is None:
        return None
    level, data = priority
    occurred_at = None
    if match["ts"] != "-":
        occurred_at = _iso_time(match["ts"])
        if occurred_at is None:
            return None
    for key in ("host", "procid", "msgid"):
        if (value := _nil(match[key])) is not None:
            data[key] = value
    rest = match["rest"]
    if rest.startswith("-"):
        message = rest[1:]
    else:
        structured: dict[str, dict[str, Any]] = {}
        position = 0
        while element := _SD_ELEMENT.match(rest, position):
            params = structured.setdefault(element["id"], {})
            for param in _SD_PARAM.finditer(element["params"]):
                value = _SD_UNESCAPE.sub(r"\1", param["value"])
                previous = params.get(param["name"])
                if previous is None:
                    params[param["name"]] = value
                elif isinstance(previous, list):  # a repeated parameter keeps all its values
                    previous.append(value)
                else:
                    params[param["name"]] = [previous, value]
            position = element.end()
        if position == 0:
            return None
        data["structured_data"] = structured
        message = rest[position:]
    if message and not message.startswith(" "):
        return None
    message = message[1:].removeprefix("\ufeff")
    return _event("rfc5424", level, message, data, _nil(match["app"]), occurred_at)


_RFC3164 = re.compile(
    r"(?:<(?P<pri>\d{1,3})>)?"
    r"(?:(?P<mon>[A-Za-z]{3}) {1,2}(?P<day>\d{1,2}) (?P<time>\d{2}:\d{2}:\d{2})(?:\.\d{1,6})?"
    r"|(?P<iso>\d{4}-\d{2}-\d{2}T\S+))"
    r"(?: (?P<rest>.*))?"
)
_TAG = re.compile(r"(?P<tag>[^\s\[\]:]{1,48})(?:\[(?P<pid>[^\]\s]*)\])?:(?: +(?P<msg>.*))?")


def _bsd_time(month: str, day: str, clock: str, now: datetime) -> datetime | None:
    """`Oct 11 22:14:15` in UTC: the latest of its dates in the years around `now` that is not
    more than a day after `now` (so Dec 31 read on Jan 1 is last year's, and Jan 1 read on
    Dec 31 a minute before midnight is next year's)."""
    number = _MONTHS.get(month.title())
    if number is None:
        return None
    hour, minute, second = (int(part) for part in clock.split(":"))
    for year in (now.year + 1, now.year, now.year - 1):
        try:
            moment = datetime(year, number, int(day), hour, minute, second, tzinfo=UTC)
        except ValueError:  # Feb 29 of a common year, Oct 32, 25:00...
            continue
        if moment <= now + timedelta(days=1):
            return moment
    return None


def _rfc3164(line: str, now: datetime) -> dict[str, Any] | None:
    match = _RFC3164.fullmatch(line)
    if not match:
        return None
    pri = match["pri"]
    if pri is None and match["iso"]:  # too close to "<time> LEVEL message" to be syslog
        return None
    priority = _priority(pri)
    if priority is None:
        return None
    level, data = priority
    if match["iso"]:
        occurred_at = _iso_time(match["iso"])
    else:
        occurred_at = _bsd_time(match["mon"], match["day"], match["time"], now)
    if occurred_at is None:
        return None
    rest = match["rest"] or ""
    service = None
    tag = _TAG.fullmatch(rest)
    if tag is None:  # HOST first, then an optional TAG
        host, _, rest = rest.partition(" ")
        if host:
            data["host"] = host
        rest = rest.lstrip(" ")
        tag = _TAG.fullmatch(rest)
    if tag is not None:
        service, rest = tag["tag"], tag["msg"] or ""
        if tag["pid"]:
            data["procid"] = tag["pid"]
    elif pri is None:  # a file line needs its TAG to be told from other text
        return None
    return _event("rfc3164", level, rest, data, service, occurred_at)


# -- access logs ------------------------------------------------------------------------------

_QUOTED = r'"(?P<{}>(?:[^"\\]|\\.)*)"'
_ACCESS = re.compile(
    r"(?P<remote>\S+) (?P<ident>\S+) (?P<user>\S+) \[(?P<time>[^\]]+)\] "
    + _QUOTED.format("request")
    + r" (?P<status>\d{3}) (?P<bytes>\d+|-)"
    + r"(?: "
    + _QUOTED.format("referer")
    + " "
    + _QUOTED.format("agent")
    + r"(?: (?P<extra>.*))?)?"
)
_ACCESS_TIME = re.compile(
    r"(?P<day>\d{2})/(?P<mon>[A-Za-z]{3})/(?P<year>\d{4}):(?P<clock>\d{2}:\d{2}:\d{2})"
    r" (?P<tz>[+-]\d{4})"
)
_REQUEST = re.compile(r"(?P<method>[A-Za-z-]+) (?P<path>\S+)(?: (?P<protocol>HTTP/[\d.]+))?")
_FORWARDED = re.compile(_QUOTED.format("value") + r"(?: (?P<rest>.*))?")
_ACCESS_UNESCAPE = re.compile(r'\\(["\\])')


def _access_time(value: str) -> datetime | None:
    match = _ACCESS_TIME.fullmatch(value)
    number = _MONTHS.get(match["mon"].title()) if match else None
    if match is None or number is None:
        return None
    return _iso_time(f"{match['year']}-{number:02d}-{match['day']}T{match['clock']}{match['tz']}")


def _access(line: str, now: datetime) -> dict[str, Any] | None:
    match = _ACCESS.fullmatch(line)
    if not match:
        return None
    occurred_at = _access_time(match["time"])
    if occurred_at is None:
        return None
    status = int(match["status"])
    level = "ERROR" if status >= 500 else "WARNING" if status >= 400 else "INFO"
    request = _ACCESS_UNESCAPE.sub(r"\1", match["request"])
    data: dict[str, Any] = {"remote_addr": match["remote"]}
    if match["ident"] != "-":
        data["ident"] = match["ident"]
    if match["user"] != "-":
        data["remote_user"] = match["user"]
    parts = _REQUEST.fullmatch(request)
    if parts:
        data["method"], data["path"] = parts["method"], parts["path"]
        if parts["protocol"]:
            data["protocol"] = parts["protocol"]
    else:
        data["request"] = request
    data["status"] = status
    data["bytes"] = 0 if match["bytes"] == "-" else int(match["bytes"])
    fmt = "common"
    if match["agent"] is not None:
        fmt = "combined"
        for key in ("referer", "agent"):
            value = _ACCESS_UNESCAPE.sub(r"\1", match[key])
            if value not in ("", "-"):
                data["user_agent" if key == "agent" else key] = value
        extra = match["extra"]
        forwarded = _FORWARDED.fullmatch(extra) if extra else None
        if forwarded:  # nginx's default "main" format: "$http_x_forwarded_for"
            if forwarded["value"] not in ("", "-"):
                data["forwarded_for"] = _ACCESS_UNESCAPE.sub(r"\1", forwarded["value"])
            extra = forwarded["rest"]
        if extra:
            data["extra"] = extra
    return _event(fmt, level, f"{request} {status}", data, occurred_at=occurred_at)


# -- Python logging ---------------------------------------------------------------------------

# The logger's name is no URL scheme: `ERROR:http://example.com is down` is a plain line.
_PY_BASIC = re.compile(r"(?P<level>[A-Za-z]+):(?P<name>[^\s:]+):(?!//)(?P<msg>.*)")
_PY_ASCTIME = re.compile(
    r"(?P<ts>\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(?:[,.]\d{1,6})?) - (?P<rest>.*)"
)


def _python(line: str, now: datetime) -> dict[str, Any] | None:
    match = _PY_BASIC.fullmatch(line)
    if match:
        level = normalize_level(match["level"])
        if level is None:
            return None
        return _event("python", level, match["msg"], {}, match["name"])
    match = _PY_ASCTIME.fullmatch(line)
    if not match:
        return None
    occurred_at = _iso_time(match["ts"])
    parts = match["rest"].split(" - ")
    if occurred_at is None or len(parts) < 2:
        return None
    if len(parts) >= 3 and (level := normalize_level(parts[1])):
        service, message = parts[0], " - ".join(parts[2:])
    elif level := normalize_level(parts[0]):
        service, message = None, " - ".join(parts[1:])
    else:
        return None
    return _event("python", level, message, {}, service, occurred_at)


# -- logfmt -----------------------------------------------------------------------------------

_PAIR = re.compile(r'[ \t]*(?P<key>[^\s="]+)=(?P<value>"(?:[^"\\]|\\.)*"|[^\s"]*)(?=[ \t]|$)')
_GO_ESCAPE = re.compile(r"\\(?:u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|x[0-9a-fA-F]{2}|.)")
_GO_SIMPLE = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}
_ROLES = {
    **dict.fromkeys(("level", "lvl", "severity"), "level"),
    **dict.fromkeys(("msg", "message"), "message"),
    **dict.fromkeys(("ts", "time", "timestamp"), "time"),
    **dict.fromkeys(("service", "svc", "app"), "service"),
}
# slog prints levels between the named ones as INFO+2, WARN-4...
_SLOG_LEVEL = re.compile(r"([A-Za-z]+)[+-]\d+")


def _go_unescape(escape: re.Match[str]) -> str:
    text = escape.group()
    code = text[1]
    if code in "uUx":
        char = chr(int(text[2:], 16))
        return text if 0xD800 <= ord(char) <= 0xDFFF else char
    return _GO_SIMPLE.get(code, code)


def _logfmt_value(raw: str) -> str:
    if raw.startswith('"'):
        return _GO_ESCAPE.sub(_go_unescape, raw[1:-1])
    return raw


def _logfmt_time(value: str) -> datetime | None:
    if re.fullmatch(r"\d{9,13}(?:\.\d+)?", value):  # epoch seconds, or milliseconds
        seconds = float(value)
        if seconds > 1e11:
            seconds /= 1000
        return datetime.fromtimestamp(seconds, UTC)
    return _iso_time(value)


def _logfmt(line: str, now: datetime) -> dict[str, Any] | None:
    pairs: list[tuple[str, str]] = []
    position = 0
    while position < len(line):
        pair = _PAIR.match(line, position)
        if pair is None:
            return None
        pairs.append((pair["key"], _logfmt_value(pair["value"])))
        position = pair.end()
    fields: dict[str, tuple[str, str]] = {}  # role -> (key, value): the first non-empty one
    data: dict[str, Any] = {}
    for key, value in pairs:
        role = _ROLES.get(key)
        if role is not None and role not in fields and value:
            fields[role] = (key, value)
        else:
            data[key] = value
    level = "INFO"
    if "level" in fields:
        raw = fields["level"][1]
        slog = _SLOG_LEVEL.fullmatch(raw)
        known = normalize_level(slog.group(1) if slog else raw)
        if known is None:
            return None
        level = known
    occurred_at = None
    if "time" in fields:
        key, value = fields["time"]
        occurred_at = _logfmt_time(value)
        if occurred_at is None:  # a time we cannot read stays with the data
            data.setdefault(key, value)
    message = fields.get("message", ("", None))[1]
    service = fields.get("service", ("", None))[1]
    return _event("logfmt", level, message, data, service, occurred_at)


# -- plain ------------------------------------------------------------------------------------

_PLAIN = re.compile(
    r"(?:\[(?P<bracketed>[A-Za-z]+)\]:?[ \t]*"
    r"|(?P<colon>[A-Za-z]+):[ \t]*"
    r"|(?P<word>[A-Za-z]+)(?:[ \t]+-)?[ \t]+)"
    r"(?P<msg>\S.*)"
)


def _plain(line: str, now: datetime) -> dict[str, Any] | None:
    match = _PLAIN.fullmatch(line)
    if not match:
        return None
    level = normalize_level(match["bracketed"] or match["colon"] or match["word"])
    if level is None:
        return None
    return _event("plain", level, match["msg"], {})
