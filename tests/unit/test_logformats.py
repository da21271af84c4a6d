"""eventlog.compat.logformats: one log line in a common text format -> the fields of an event.

The sample lines are the ones the RFCs and the software's documentation print, or are printed
here by the real software (Python's logging).
"""

import io
import logging
import time
from datetime import UTC, datetime

import pytest

from eventlog.compat.logformats import FORMATS, parse_log_line
from eventlog.models.events import EventIn

NOW = datetime(2024, 11, 8, 15, 0, 0, tzinfo=UTC)


def ev(fmt, level, message, data=None, service=None, occurred_at=None):
    """The exact dict parse_log_line returns (absent keys left out)."""
    event = {"format": fmt, "level": level, "message": message, "data": data or {}}
    if service is not None:
        event["service"] = service
    if occurred_at is not None:
        event["occurred_at"] = occurred_at
    return event


def check(line, expected, now=NOW):
    parsed = parse_log_line(line, now)
    assert parsed == expected
    assert parsed["format"] in FORMATS
    # What the caller does next: the rest is a valid event as a client would send it.
    EventIn.model_validate({key: value for key, value in parsed.items() if key != "format"})


# -- RFC 5424 ---------------------------------------------------------------------------------

BOM = "\ufeff"
SD_EXAMPLE = '[exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"]'
SD_EXAMPLE_DATA = {
    "exampleSDID@32473": {"iut": "3", "eventSource": "Application", "eventID": "1011"}
}

RFC5424 = [
    pytest.param(  # RFC 5424 6.5, example 1
        f"<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - {BOM}'su root'"
        " failed for lonvick on /dev/pts/8",
        ev(
            "rfc5424",
            "CRITICAL",
            "'su root' failed for lonvick on /dev/pts/8",
            {
                "facility": "auth",
                "severity": "crit",
                "host": "mymachine.example.com",
                "msgid": "ID47",
            },
            "su",
            "2003-10-11T22:14:15.003Z",
        ),
        id="rfc-example-1",
    ),
    pytest.param(  # example 2: microseconds and an offset, no BOM
        "<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - -"
        " %% It's time to make the do-nuts.",
        ev(
            "rfc5424",
            "INFO",
            "%% It's time to make the do-nuts.",
            {"facility": "local4", "severity": "notice", "host": "192.0.2.1", "procid": "8710"},
            "myproc",
            "2003-08-24T12:14:15Z",
        ),
        id="rfc-example-2",
    ),
    pytest.param(  # example 3: structured data, then a message
        f"<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 {SD_EXAMPLE}"
        f" {BOM}An application event log entry...",
        ev(
            "rfc5424",
            "INFO",
            "An application event log entry...",
            {
                "facility": "local4",
                "severity": "notice",
                "host": "mymachine.example.com",
                "msgid": "ID47",
                "structured_data": SD_EXAMPLE_DATA,
            },
            "evntslog",
            "2003-10-11T22:14:15.003Z",
        ),
        id="rfc-example-3",
    ),
    pytest.param(  # example 4: two SD elements and no message: the line is the message
        "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47"
        f' {SD_EXAMPLE}[examplePriority@32473 class="high"]',
        ev(
            "rfc5424",
            "INFO",
            "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47"
            f' {SD_EXAMPLE}[examplePriority@32473 class="high"]',
            {
                "facility": "local4",
                "severity": "notice",
                "host": "mymachine.example.com",
                "msgid": "ID47",
                "structured_data": {
                    **SD_EXAMPLE_DATA,
                    "examplePriority@32473": {"class": "high"},
                },
            },
            "evntslog",
            "2003-10-11T22:14:15.003Z",
        ),
        id="rfc-example-4",
    ),
    pytest.param(  # RFC 5424 7.2.4: a parameter repeated
        '<14>1 1985-04-12T19:20:50.52-04:00 host1 app 42 - [origin ip="192.0.2.1"'
        ' ip="192.0.2.129"] hello',
        ev(
            "rfc5424",
            "INFO",
            "hello",
            {
                "facility": "user",
                "severity": "info",
                "host": "host1",
                "procid": "42",
                "structured_data": {"origin": {"ip": ["192.0.2.1", "192.0.2.129"]}},
            },
            "app",
            "1985-04-12T23:20:50.520Z",
        ),
        id="repeated-param",
    ),
    pytest.param(  # escapes in parameter values: \" \\ \]
        r'<11>1 2024-11-08T14:23:30Z web01 api - - [x@1 q="say \"hi\"" p="C:\\tmp" b="a\]b"]'
        " boom",
        ev(
            "rfc5424",
            "ERROR",
            "boom",
            {
                "facility": "user",
                "severity": "err",
                "host": "web01",
                "structured_data": {"x@1": {"q": 'say "hi"', "p": "C:\\tmp", "b": "a]b"}},
            },
            "api",
            "2024-11-08T14:23:30Z",
        ),
        id="sd-escapes",
    ),
    pytest.param(  # rsyslog's RSYSLOG_SyslogProtocol23Format
        "<30>1 2024-11-08T15:23:30.123456+01:00 web01 systemd 1 - - Started Session 5 of user"
        " root.",
        ev(
            "rfc5424",
            "INFO",
            "Started Session 5 of user root.",
            {"facility": "daemon", "severity": "info", "host": "web01", "procid": "1"},
            "systemd",
            "2024-11-08T14:23:30.123Z",
        ),
        id="rsyslog-protocol23",
    ),
    pytest.param(  # NILVALUE everywhere
        "<191>1 - - - - - - cache miss",
        ev("rfc5424", "DEBUG", "cache miss", {"facility": "local7", "severity": "debug"}),
        id="all-nil",
    ),
    pytest.param(
        "<8>1 - - - - - -",
        ev("rfc5424", "CRITICAL", "<8>1 - - - - - -", {"facility": "user", "severity": "emerg"}),
        id="all-nil-no-message",
    ),
]


@pytest.mark.parametrize(("line", "expected"), RFC5424)
def test_rfc5424(line, expected):
    check(line, expected)


@pytest.mark.parametrize(
    ("severity", "level"),
    list(enumerate(["CRITICAL"] * 3 + ["ERROR", "WARNING", "INFO", "INFO", "DEBUG"])),
)
def test_syslog_severity_to_level(severity, level):
    for line in (f"<{8 + severity}>1 - - - - - - m", f"<{8 + severity}>Nov  8 14:23:30 h t: m"):
        assert parse_log_line(line, NOW)["level"] == level


# -- RFC 3164 ---------------------------------------------------------------------------------

RFC3164 = [
    pytest.param(  # RFC 3164 5.4, example 1
        "<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8",
        ev(
            "rfc3164",
            "CRITICAL",
            "'su root' failed for lonvick on /dev/pts/8",
            {"facility": "auth", "severity": "crit", "host": "mymachine"},
            "su",
            "2024-10-11T22:14:15Z",
        ),
        id="rfc-example-1",
    ),
    pytest.param(  # RFC 3164 5.4, example 2: a space-padded day, no TAG
        "<13>Feb  5 17:32:18 10.0.0.99 Use the BFG!",
        ev(
            "rfc3164",
            "INFO",
            "Use the BFG!",
            {"facility": "user", "severity": "notice", "host": "10.0.0.99"},
            None,
            "2024-02-05T17:32:18Z",
        ),
        id="rfc-example-2",
    ),
    pytest.param(  # util-linux logger to the local socket: no HOST
        "<13>Nov  8 14:23:30 deploy[4242]: release 1.4.2 rolled out",
        ev(
            "rfc3164",
            "INFO",
            "release 1.4.2 rolled out",
            {"facility": "user", "severity": "notice", "procid": "4242"},
            "deploy",
            "2024-11-08T14:23:30Z",
        ),
        id="logger-no-host",
    ),
    pytest.param(
        "<4>Nov  8 14:23:30 web01 kernel: [12345.678901] e1000e: eth0 NIC Link is Down",
        ev(
            "rfc3164",
            "WARNING",
            "[12345.678901] e1000e: eth0 NIC Link is Down",
            {"facility": "kern", "severity": "warning", "host": "web01"},
            "kernel",
            "2024-11-08T14:23:30Z",
        ),
        id="kernel",
    ),
    pytest.param(
        "<22>Nov  8 14:23:30 mx1 postfix/smtpd[2345]: connect from unknown[203.0.113.9]",
        ev(
            "rfc3164",
            "INFO",
            "connect from unknown[203.0.113.9]",
            {"facility": "mail", "severity": "info", "host": "mx1", "procid": "2345"},
            "postfix/smtpd",
            "2024-11-08T14:23:30Z",
        ),
        id="postfix",
    ),
    pytest.param(  # rsyslog's RSYSLOG_ForwardFormat: an RFC 3339 timestamp
        "<30>2024-11-08T15:23:30.123456+01:00 web01 systemd[1]: Started Session 5 of user root.",
        ev(
            "rfc3164",
            "INFO",
            "Started Session 5 of user root.",
            {"facility": "daemon", "severity": "info", "host": "web01", "procid": "1"},
            "systemd",
            "2024-11-08T14:23:30.123Z",
        ),
        id="rsyslog-forward",
    ),
    pytest.param(  # a /var/log/syslog line (rsyslog's traditional file format): no PRI
        "Nov  8 14:23:30 web01 sshd[1234]: Failed password for invalid user admin from"
        " 203.0.113.7 port 52144 ssh2",
        ev(
            "rfc3164",
            "INFO",
            "Failed password for invalid user admin from 203.0.113.7 port 52144 ssh2",
            {"host": "web01", "procid": "1234"},
            "sshd",
            "2024-11-08T14:23:30Z",
        ),
        id="file-line",
    ),
]


@pytest.mark.parametrize(("line", "expected"), RFC3164)
def test_rfc3164(line, expected):
    check(line, expected)


@pytest.mark.parametrize(
    ("stamp", "now", "expected"),
    [
        ("Nov  8 14:23:30", NOW, "2024-11-08T14:23:30Z"),
        ("Nov  9 14:23:30", NOW, "2024-11-09T14:23:30Z"),  # under a day ahead: this year
        ("Nov 10 14:23:30", NOW, "2023-11-10T14:23:30Z"),  # over a day ahead: last year
        ("Dec 31 23:59:59", datetime(2025, 1, 1, 0, 10, tzinfo=UTC), "2024-12-31T23:59:59Z"),
        ("Jan  1 00:00:30", datetime(2024, 12, 31, 23, 59, tzinfo=UTC), "2025-01-01T00:00:30Z"),
        ("Feb 29 12:00:00", datetime(2025, 3, 1, tzinfo=UTC), "2024-02-29T12:00:00Z"),
        ("Nov  8 14:23:30", datetime(2024, 11, 8, 15), "2024-11-08T14:23:30Z"),  # naive now: UTC
    ],
)
def test_rfc3164_year_comes_from_now(stamp, now, expected):
    assert parse_log_line(f"<13>{stamp} host app: m", now)["occurred_at"] == expected


# -- access logs ------------------------------------------------------------------------------

APACHE_COMMON = (
    '127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326'
)
APACHE_REQUEST = {
    "remote_addr": "127.0.0.1",
    "remote_user": "frank",
    "method": "GET",
    "path": "/apache_pb.gif",
    "protocol": "HTTP/1.0",
    "status": 200,
    "bytes": 2326,
}
UA_CHROME = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko)"
    " Chrome/130.0.0.0 Safari/537.36"
)

ACCESS = [
    pytest.param(  # Apache's documented common log format example
        APACHE_COMMON,
        ev(
            "common",
            "INFO",
            "GET /apache_pb.gif HTTP/1.0 200",
            APACHE_REQUEST,
            None,
            "2000-10-10T20:55:36Z",
        ),
        id="apache-common",
    ),
    pytest.param(  # Apache's documented combined log format example
        APACHE_COMMON + ' "http://www.example.com/start.html" "Mozilla/4.08 [en] (Win98; I ;Nav)"',
        ev(
            "combined",
            "INFO",
            "GET /apache_pb.gif HTTP/1.0 200",
            {
                **APACHE_REQUEST,
                "referer": "http://www.example.com/start.html",
                "user_agent": "Mozilla/4.08 [en] (Win98; I ;Nav)",
            },
            None,
            "2000-10-10T20:55:36Z",
        ),
        id="apache-combined",
    ),
    pytest.param(  # nginx's combined: "-" for no user and no referer; a 503 is an ERROR
        '203.0.113.7 - - [08/Nov/2024:14:23:30 +0000] "GET /api/health HTTP/1.1" 503 197 "-"'
        ' "curl/8.5.0"',
        ev(
            "combined",
            "ERROR",
            "GET /api/health HTTP/1.1 503",
            {
                "remote_addr": "203.0.113.7",
                "method": "GET",
                "path": "/api/health",
                "protocol": "HTTP/1.1",
                "status": 503,
                "bytes": 197,
                "user_agent": "curl/8.5.0",
            },
            None,
            "2024-11-08T14:23:30Z",
        ),
        id="nginx-503",
    ),
    pytest.param(  # nginx.conf's default "main": one more field, $http_x_forwarded_for
        f'172.17.0.1 - - [08/Nov/2024:15:23:30 +0100] "POST /login?next=%2F HTTP/2.0" 401 17'
        f' "https://example.com/login" "{UA_CHROME}" "198.51.100.23"',
        ev(
            "combined",
            "WARNING",
            "POST /login?next=%2F HTTP/2.0 401",
            {
                "remote_addr": "172.17.0.1",
                "method": "POST",
                "path": "/login?next=%2F",
                "protocol": "HTTP/2.0",
                "status": 401,
                "bytes": 17,
                "referer": "https://example.com/login",
                "user_agent": UA_CHROME,
                "forwarded_for": "198.51.100.23",
            },
            None,
            "2024-11-08T14:23:30Z",
        ),
        id="nginx-main",
    ),
    pytest.param(  # TLS spoken to the HTTP port: nginx logs the bytes escaped
        r'192.0.2.10 - - [08/Nov/2024:14:23:30 +0000] "\x16\x03\x01\x00\xF1\x01\x00\x00\xED"'
        ' 400 157 "-" "-"',
        ev(
            "combined",
            "WARNING",
            r"\x16\x03\x01\x00\xF1\x01\x00\x00\xED 400",
            {
                "remote_addr": "192.0.2.10",
                "request": r"\x16\x03\x01\x00\xF1\x01\x00\x00\xED",
                "status": 400,
                "bytes": 157,
            },
            None,
            "2024-11-08T14:23:30Z",
        ),
        id="nginx-tls-junk",
    ),
    pytest.param(  # Apache's own keep-alive probe: IPv6, "-" for no bytes
        '::1 - - [08/Nov/2024:15:23:30 +0100] "OPTIONS * HTTP/1.0" 200 - "-"'
        ' "Apache/2.4.62 (Debian) (internal dummy connection)"',
        ev(
            "combined",
            "INFO",
            "OPTIONS * HTTP/1.0 200",
            {
                "remote_addr": "::1",
                "method": "OPTIONS",
                "path": "*",
                "protocol": "HTTP/1.0",
                "status": 200,
                "bytes": 0,
                "user_agent": "Apache/2.4.62 (Debian) (internal dummy connection)",
            },
            None,
            "2024-11-08T14:23:30Z",
        ),
        id="apache-dummy-connection",
    ),
    pytest.param(  # Apache's request timeout: no request line
        '198.51.100.4 - - [08/Nov/2024:14:23:30 +0000] "-" 408 -',
        ev(
            "common",
            "WARNING",
            "- 408",
            {"remote_addr": "198.51.100.4", "request": "-", "status": 408, "bytes": 0},
            None,
            "2024-11-08T14:23:30Z",
        ),
        id="apache-408",
    ),
    pytest.param(  # Apache escapes a quote in a header as \"
        r'10.0.0.5 - - [08/Nov/2024:14:23:30 +0000] "GET /a HTTP/1.1" 304 0 "-" "bot \"x\" 1.0"',
        ev(
            "combined",
            "INFO",
            "GET /a HTTP/1.1 304",
            {
                "remote_addr": "10.0.0.5",
                "method": "GET",
                "path": "/a",
                "protocol": "HTTP/1.1",
                "status": 304,
                "bytes": 0,
                "user_agent": 'bot "x" 1.0',
            },
            None,
            "2024-11-08T14:23:30Z",
        ),
        id="escaped-quote",
    ),
]


@pytest.mark.parametrize(("line", "expected"), ACCESS)
def test_access_logs(line, expected):
    check(line, expected)


@pytest.mark.parametrize(
    ("status", "level"),
    [
        (101, "INFO"),
        (200, "INFO"),
        (302, "INFO"),
        (404, "WARNING"),
        (499, "WARNING"),
        (500, "ERROR"),
        (504, "ERROR"),
    ],
)
def test_access_level_from_status(status, level):
    line = f'1.2.3.4 - - [08/Nov/2024:14:23:30 +0000] "GET / HTTP/1.1" {status} 0'
    assert parse_log_line(line, NOW)["level"] == level


# -- Python logging ---------------------------------------------------------------------------

CREATED = datetime(2024, 11, 8, 14, 23, 30, 123000, tzinfo=UTC).timestamp()


def printed(fmt, name, level, message):
    """The line Python's logging prints for one record (asctime in UTC, at CREATED)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    formatter = logging.Formatter(fmt)
    formatter.converter = time.gmtime
    handler.setFormatter(formatter)
    logger = logging.getLogger(name)
    record = logger.makeRecord(name, level, __file__, 1, message, (), None)
    record.created, record.msecs = CREATED, 123.0
    handler.handle(record)
    return stream.getvalue()


COOKBOOK = "%(asctime)s - %(name)s - %(levelname)s - %(message)s"

PYTHON = [
    pytest.param(
        "WARNING:root:disk almost full",
        ev("python", "WARNING", "disk almost full", {}, "root"),
        id="brief-basic",
    ),
    pytest.param(
        printed(logging.BASIC_FORMAT, "root", logging.ERROR, "connection lost: retrying in 5s"),
        ev("python", "ERROR", "connection lost: retrying in 5s", {}, "root"),
        id="basicConfig-error",
    ),
    pytest.param(
        printed(logging.BASIC_FORMAT, "app.db.pool", logging.DEBUG, "checked out 3/10"),
        ev("python", "DEBUG", "checked out 3/10", {}, "app.db.pool"),
        id="basicConfig-dotted-logger",
    ),
    pytest.param(
        "WARNING:urllib3.connectionpool:Retrying (Retry(total=4, connect=None, read=None,"
        " redirect=None, status=None)) after connection broken by"
        " 'NewConnectionError(\"Failed to establish a new connection\")': /simple/",
        ev(
            "python",
            "WARNING",
            "Retrying (Retry(total=4, connect=None, read=None, redirect=None, status=None)) after"
            " connection broken by 'NewConnectionError(\"Failed to establish a new connection\")':"
            " /simple/",
            {},
            "urllib3.connectionpool",
        ),
        id="urllib3",
    ),
    pytest.param(
        "2024-11-08 14:23:30,123 - auth - ERROR - boom",
        ev("python", "ERROR", "boom", {}, "auth", "2024-11-08T14:23:30.123Z"),
        id="brief-cookbook",
    ),
    pytest.param(
        printed(COOKBOOK, "auth", logging.CRITICAL, "User authentication failed - locked out"),
        ev(
            "python",
            "CRITICAL",
            "User authentication failed - locked out",
            {},
            "auth",
            "2024-11-08T14:23:30.123Z",
        ),
        id="cookbook-printed",
    ),
    pytest.param(
        printed("%(asctime)s - %(levelname)s - %(message)s", "x", logging.INFO, "started"),
        ev("python", "INFO", "started", {}, None, "2024-11-08T14:23:30.123Z"),
        id="asctime-no-logger",
    ),
]


@pytest.mark.parametrize(("line", "expected"), PYTHON)
def test_python_logging(line, expected):
    check(line, expected)


# -- logfmt -----------------------------------------------------------------------------------

LOGFMT = [
    pytest.param(
        'level=error msg="connection refused" service=db ts=2024-11-08T14:23:30Z key=value',
        ev(
            "logfmt",
            "ERROR",
            "connection refused",
            {"key": "value"},
            "db",
            "2024-11-08T14:23:30Z",
        ),
        id="brief",
    ),
    pytest.param(  # logrus's TextFormatter, from its README
        'time="2015-03-26T01:27:38-04:00" level=debug msg="Started observing beach"'
        " animal=walrus number=8",
        ev(
            "logfmt",
            "DEBUG",
            "Started observing beach",
            {"animal": "walrus", "number": "8"},
            None,
            "2015-03-26T05:27:38Z",
        ),
        id="logrus",
    ),
    pytest.param(
        'time="2015-03-26T01:27:38-04:00" level=warning msg="The group\'s number increased'
        ' tremendously!" number=122 omg=true',
        ev(
            "logfmt",
            "WARNING",
            "The group's number increased tremendously!",
            {"number": "122", "omg": "true"},
            None,
            "2015-03-26T05:27:38Z",
        ),
        id="logrus-warning",
    ),
    pytest.param(  # Go's log/slog TextHandler, from its documentation
        "time=2022-11-08T15:28:26.000-05:00 level=INFO msg=hello count=3",
        ev("logfmt", "INFO", "hello", {"count": "3"}, None, "2022-11-08T20:28:26Z"),
        id="slog",
    ),
    pytest.param(  # slog's level between WARN and ERROR
        'time=2022-11-08T15:28:26.000-05:00 level=WARN+2 msg="slow query" duration=1.2s',
        ev(
            "logfmt",
            "WARNING",
            "slow query",
            {"duration": "1.2s"},
            None,
            "2022-11-08T20:28:26Z",
        ),
        id="slog-level-offset",
    ),
    pytest.param(  # go-kit: nanoseconds, cut to what is stored
        'ts=2024-11-08T14:23:30.123456789Z caller=main.go:42 level=error err="dial tcp'
        ' 10.0.0.7:5432: connect: connection refused"',
        ev(
            "logfmt",
            "ERROR",
            'ts=2024-11-08T14:23:30.123456789Z caller=main.go:42 level=error err="dial tcp'
            ' 10.0.0.7:5432: connect: connection refused"',
            {"caller": "main.go:42", "err": "dial tcp 10.0.0.7:5432: connect: connection refused"},
            None,
            "2024-11-08T14:23:30.123Z",
        ),
        id="go-kit-no-msg",
    ),
    pytest.param(  # the level is the level key's, not a word in the message
        'level=info msg="ERROR count is 0 after retry" svc=api',
        ev("logfmt", "INFO", "ERROR count is 0 after retry", {}, "api"),
        id="msg-says-error",
    ),
    pytest.param(
        r'lvl=WARN message="line1\nline2 \"quoted\" caf\u00e9\ttab" app=worker',
        ev("logfmt", "WARNING", 'line1\nline2 "quoted" café\ttab', {}, "worker"),
        id="escapes",
    ),
    pytest.param(
        "severity=Fatal msg=oom timestamp=1731075810 pod=api-7f9c",
        ev("logfmt", "CRITICAL", "oom", {"pod": "api-7f9c"}, None, "2024-11-08T14:23:30Z"),
        id="epoch-seconds",
    ),
    pytest.param(
        "ts=1731075810123 msg=tick",
        ev("logfmt", "INFO", "tick", {}, None, "2024-11-08T14:23:30.123Z"),
        id="epoch-millis-no-level",
    ),
    pytest.param(  # a time it cannot read stays with the data
        "time=yesterday level=info msg=x empty=",
        ev("logfmt", "INFO", "x", {"time": "yesterday", "empty": ""}),
        id="unreadable-time",
    ),
    pytest.param(  # Heroku's router: "service" there is a duration; a key is a key
        'at=info method=GET path="/" host=myapp.herokuapp.com fwd="203.0.113.7" dyno=web.1'
        " connect=0ms service=4ms status=200 bytes=1548",
        ev(
            "logfmt",
            "INFO",
            'at=info method=GET path="/" host=myapp.herokuapp.com fwd="203.0.113.7" dyno=web.1'
            " connect=0ms service=4ms status=200 bytes=1548",
            {
                "at": "info",
                "method": "GET",
                "path": "/",
                "host": "myapp.herokuapp.com",
                "fwd": "203.0.113.7",
                "dyno": "web.1",
                "connect": "0ms",
                "status": "200",
                "bytes": "1548",
            },
            "4ms",
        ),
        id="heroku-router",
    ),
]


@pytest.mark.parametrize(("line", "expected"), LOGFMT)
def test_logfmt(line, expected):
    check(line, expected)


# -- plain ------------------------------------------------------------------------------------

PLAIN = [
    pytest.param("ERROR something broke", ev("plain", "ERROR", "something broke"), id="word"),
    pytest.param("[ERROR] something broke", ev("plain", "ERROR", "something broke"), id="brackets"),
    pytest.param("ERROR: something broke", ev("plain", "ERROR", "something broke"), id="colon"),
    pytest.param("err:boom", ev("plain", "ERROR", "boom"), id="colon-no-space"),
    pytest.param("WARN - disk 91% full", ev("plain", "WARNING", "disk 91% full"), id="dash"),
    pytest.param("[Fatal]: out of memory", ev("plain", "CRITICAL", "out of memory"), id="fatal"),
    pytest.param("notice  rotated logs", ev("plain", "INFO", "rotated logs"), id="notice"),
    pytest.param("trace\tentering handler", ev("plain", "DEBUG", "entering handler"), id="tab"),
    pytest.param(  # uvicorn's default output
        "INFO:     Started server process [12345]",
        ev("plain", "INFO", "Started server process [12345]"),
        id="uvicorn",
    ),
    pytest.param(
        'INFO:     127.0.0.1:54321 - "GET /docs HTTP/1.1" 200 OK',
        ev("plain", "INFO", '127.0.0.1:54321 - "GET /docs HTTP/1.1" 200 OK'),
        id="uvicorn-access",
    ),
    pytest.param(  # uvicorn in a terminal: its colours are removed
        "\x1b[32mINFO\x1b[0m:     Uvicorn running on http://127.0.0.1:8000 (Press CTRL+C to quit)",
        ev("plain", "INFO", "Uvicorn running on http://127.0.0.1:8000 (Press CTRL+C to quit)"),
        id="uvicorn-colours",
    ),
    pytest.param(  # not Python's LEVEL:logger:message, whose logger is no URL scheme
        "ERROR:http://example.com is down",
        ev("plain", "ERROR", "http://example.com is down"),
        id="colon-url",
    ),
    pytest.param(  # plain text with key=value in it is not logfmt
        "ERROR payment failed user=alice amount=12.50",
        ev("plain", "ERROR", "payment failed user=alice amount=12.50"),
        id="pairs-in-message",
    ),
]


@pytest.mark.parametrize(("line", "expected"), PLAIN)
def test_plain(line, expected):
    check(line, expected)


@pytest.mark.parametrize(
    ("word", "level"),
    [
        ("debug", "DEBUG"),
        ("Trace", "DEBUG"),
        ("info", "INFO"),
        ("NOTICE", "INFO"),
        ("Informational", "INFO"),
        ("warn", "WARNING"),
        ("Warning", "WARNING"),
        ("err", "ERROR"),
        ("ERROR", "ERROR"),
        ("crit", "CRITICAL"),
        ("Critical", "CRITICAL"),
        ("FATAL", "CRITICAL"),
        ("emerg", "CRITICAL"),
        ("Alert", "CRITICAL"),
        ("panic", "CRITICAL"),
    ],
)
def test_level_aliases_in_any_case(word, level):
    assert parse_log_line(f"[{word}] m", NOW)["level"] == level
    assert parse_log_line(f"level={word} msg=m", NOW)["level"] == level


# -- the line ---------------------------------------------------------------------------------


def exception_output():
    """What logger.exception prints: the message, then the traceback on more lines."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter(logging.BASIC_FORMAT))
    logger = logging.getLogger("test_logformats.exception")
    logger.propagate = False
    logger.addHandler(handler)
    try:
        raise ValueError("boom")
    except ValueError:
        logger.exception("request failed")
    finally:
        logger.removeHandler(handler)
    return stream.getvalue()


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("", id="empty"),
        pytest.param("   \t ", id="blank"),
        pytest.param("\n", id="newline"),
        pytest.param('{"level": "ERROR", "message": "boom", "service": "auth"}', id="json"),
        pytest.param('["ERROR", "boom"]', id="json-array"),
        pytest.param("just some text from somewhere", id="prose"),
        pytest.param("ERROR", id="level-without-message"),
        pytest.param("Hello: world", id="unknown-level"),
        pytest.param("\x00\x01\x02\xff\xfe binary", id="binary"),
        pytest.param(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR".decode("latin-1"), id="png"),
        pytest.param("ERROR \udcff\udcfe", id="surrogates"),
        pytest.param("ERROR first\nERROR second", id="two-lines"),
        pytest.param("ERROR first\r\nERROR second\r\n", id="two-crlf-lines"),
        pytest.param("ERROR first\rERROR second", id="cr"),
        pytest.param(exception_output(), id="logger-exception"),
        pytest.param("ERROR " + "x" * 65_531, id="over-64k"),
        pytest.param("ERROR " + "é" * 40_000, id="over-64k-utf8"),
        pytest.param("<34>1 not-a-time host app - - - boom", id="5424-bad-time"),
        pytest.param("<192>1 - - - - - - boom", id="5424-pri-out-of-range"),
        pytest.param("<13>1 - host app - - [x@1 a=unquoted] boom", id="5424-bad-sd"),
        pytest.param('<13>1 - host app - - [x@1 a="b"]boom', id="5424-no-space-after-sd"),
        pytest.param("<13>1 - host app", id="5424-short-header"),
        pytest.param("<34>Oct 32 22:14:15 mymachine su: x", id="3164-bad-day"),
        pytest.param("<34>Foo 11 22:14:15 mymachine su: x", id="3164-bad-month"),
        pytest.param("Nov  8 14:23:30 web01 something happened", id="3164-file-line-no-tag"),
        pytest.param(
            '1.2.3.4 - - [10/Foo/2000:13:55:36 -0700] "GET / HTTP/1.0" 200 1', id="access-bad-month"
        ),
        pytest.param("level=loud msg=boom", id="logfmt-unknown-level"),
        pytest.param('level=error msg="unterminated', id="logfmt-open-quote"),
    ],
)
def test_not_a_log_line(text):
    assert parse_log_line(text, NOW) is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("ERROR boom\n", "boom"),
        ("ERROR boom\r\n", "boom"),
        ("  ERROR   boom   ", "boom"),
        ("\ufeffERROR boom", "boom"),
        ("ERROR " + "x" * 65_530, "x" * 10_000),  # exactly 64 KB: parsed, message capped
        ("ERROR " + "x" * 9_999 + " tail", "x" * 9_999),  # capped, then trimmed
    ],
)
def test_line_edges(text, message):
    assert parse_log_line(text, NOW)["message"] == message


def test_service_is_capped_and_free_of_control_characters():
    parsed = parse_log_line(r'service="a\tb\u0007c' + "s" * 300 + '" msg=x', NOW)
    assert parsed["service"] == "abc" + "s" * 197
    EventIn.model_validate({key: value for key, value in parsed.items() if key != "format"})
