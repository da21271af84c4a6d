"""eventlog.stats.fingerprint: messages that differ only in their variable parts group together."""

import hashlib
import re

import pytest

from eventlog.stats.fingerprint import fingerprint, normalize

SAME_KIND = [
    pytest.param(
        "TimeoutError: request 123 timed out after 30s",
        "TimeoutError: request 456 timed out after 45s",
        id="numbers-and-durations",
    ),
    pytest.param(
        "session 123e4567-e89b-12d3-a456-426614174000 expired",
        "session 9F1C2D3E-4B5A-6789-ABCD-EF0123456789 expired",
        id="uuid",
    ),
    pytest.param(
        "connect to 10.0.0.1:5432 failed",
        "connect to 192.168.1.20:6543 failed",
        id="ipv4-with-port",
    ),
    pytest.param(
        "connect to 10.0.0.1 failed",
        "connect to 172.16.0.9:443 failed",
        id="ipv4-with-and-without-port",
    ),
    pytest.param(
        "connect to 2001:db8::1 failed",
        "connect to fe80::1ff:fe23:4567:890a%eth0 failed",
        id="ipv6",
    ),
    pytest.param(
        "upstream [2001:db8::1]:8080 unreachable",
        "upstream 10.1.2.3:8080 unreachable",
        id="ipv6-bracketed-with-port",
    ),
    pytest.param("refused from ::1: bye", "refused from 127.0.0.1: bye", id="ip-before-colon"),
    pytest.param("user 'alice' not found", "user 'bob' not found", id="single-quoted"),
    pytest.param('table "orders" is locked', 'table "order_items 2" is locked', id="double-quoted"),
    pytest.param("unknown column `a1`", "unknown column `created_at`", id="backquoted"),
    pytest.param("order #A1B2C3D4E5 failed", "order #0f9e8d7c6b failed", id="hex-id"),
    pytest.param(
        "deploy of 3f2a9c1d8e7b6a5f4e3d2c1b0a9f8e7d6c5b4a39 failed",
        "deploy of 0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d failed",
        id="commit-sha",
    ),
    pytest.param("segfault at 0x7ffee3b8a9c0", "segfault at 0xDEADBEEF", id="0x-pointer"),
    pytest.param(
        "job stalled at 2026-02-10T10:00:00Z",
        "job stalled at 2025-12-31T23:59:59.999+01:00",
        id="iso-timestamp",
    ),
    pytest.param(
        "report for 2026-02-10 is late",
        "report for 2026-02-11 09:30:00 UTC is late",
        id="date-and-datetime",
    ),
    pytest.param("cron fired at 10:00:00", "cron fired at 23:59:59.123", id="time-of-day"),
    pytest.param(
        "mail to alice@example.com bounced",
        "mail to bob.smith+billing@mail.example.co.uk bounced",
        id="email",
    ),
    pytest.param(
        'bad payload {"id": 5, "name": "alice"}',
        'bad payload {"id": 1234, "name": "bob"}',
        id="json-values",
    ),
    pytest.param("balance -12.50 below 0", "balance 3.7 below 100", id="decimal-and-negative"),
    pytest.param("worker42 crashed", "worker7 crashed", id="digits-inside-a-word"),
    pytest.param(
        "event 01HQ3K5ZT9V2N8XJ4M7P6R1S0W not found",
        "event 01J0ABCD1EFG2HJK3MNP4QRS5T not found",
        id="ulid",
    ),
    pytest.param("processed 1,000,000 rows", "processed 999 rows", id="thousands-separator"),
    pytest.param("  disk full\n", "disk   full", id="whitespace"),
]

DIFFERENT_KIND = [
    pytest.param(
        "TimeoutError: request timed out",
        "ConnectionError: request timed out",
        id="exception-class",
    ),
    pytest.param("disk full", "disk failed", id="last-word"),
    pytest.param("deadline exceeded", "dead line exceeded", id="word-split"),
    pytest.param("Disk full", "disk full", id="case"),
    pytest.param("user 'alice' not found", "order 'alice' not found", id="word-beside-a-quote"),
    pytest.param("can't connect to 'db'", "can't reach 'db'", id="apostrophe"),
    pytest.param('payload {"user": 5}', 'payload {"order": 5}', id="json-keys"),
    pytest.param("magic deadbeef found", "magic cafebabe found", id="hex-letter-words"),
    pytest.param(
        "Http2ServerConnectionManager failed",
        "Http2ClientConnectionManager failed",
        id="names-with-digits",
    ),
    pytest.param("connection reset by peer", "connection refused by peer", id="verb"),
    pytest.param("step 1 of 3", "step 1 to 3", id="small-word"),
    pytest.param("std::vector overflow", "std::string overflow", id="double-colon-names"),
    pytest.param("bad key a:b:c", "bad key a:b:d", id="colons-without-an-address"),
]

NORMALIZED = [
    pytest.param(
        "TimeoutError: request 123 timed out after 30s",
        "TimeoutError: request <num> timed out after <num>s",
        id="numbers",
    ),
    pytest.param("user 'alice' not found", "user <str> not found", id="quoted"),
    pytest.param("connect to 10.0.0.1:5432 failed", "connect to <ip> failed", id="ipv4"),
    pytest.param("peer [2001:db8::1]:443 gone", "peer <ip> gone", id="ipv6"),
    pytest.param(
        "id 123e4567-e89b-12d3-a456-426614174000 at 2026-02-10T10:00:00Z",
        "id <uuid> at <time>",
        id="uuid-and-time",
    ),
    pytest.param("order #A1B2C3D4E5 at 0x7ffe", "order #<hex> at <hex>", id="hex"),
    pytest.param("event 01HQ3K5ZT9V2N8XJ4M7P6R1S0W", "event <id>", id="ulid"),
    pytest.param("mail bob@example.com bounced", "mail <email> bounced", id="email"),
    pytest.param('{"id": 5, "ok": "yes"}', '{"id": <num>, "ok": <str>}', id="json"),
    pytest.param(
        "x=-4 range 1-5 retry-3 took 1.5e-3s",
        "x=<num> range <num>-<num> retry-<num> took <num>s",
        id="signs",
    ),
    pytest.param("can't open 'a b' (it's gone)", "can't open <str> (it's gone)", id="apostrophes"),
    pytest.param("magic deadbeef", "magic deadbeef", id="word-of-hex-letters"),
    pytest.param("  many \t spaces\n\nhere  ", "many spaces here", id="whitespace"),
    pytest.param("disk full", "disk full", id="nothing-variable"),
]


@pytest.mark.parametrize(("first", "second"), SAME_KIND)
def test_messages_of_the_same_kind_share_a_fingerprint(first, second):
    assert normalize(first) == normalize(second)
    assert fingerprint(first) == fingerprint(second)


@pytest.mark.parametrize(("first", "second"), DIFFERENT_KIND)
def test_messages_with_different_words_do_not(first, second):
    assert normalize(first) != normalize(second)
    assert fingerprint(first) != fingerprint(second)


@pytest.mark.parametrize(("message", "expected"), NORMALIZED)
def test_normalize_replaces_variable_parts_with_placeholders(message, expected):
    assert normalize(message) == expected


@pytest.mark.parametrize(
    "message", ["", "disk full", "TimeoutError: request 123 timed out", "caf\u00e9 \u2603"]
)
def test_a_fingerprint_is_16_lowercase_hex_characters(message):
    assert re.fullmatch(r"[0-9a-f]{16}", fingerprint(message))


def test_a_fingerprint_is_the_sha256_of_the_normalized_message():
    message = "TimeoutError: request 123 timed out after 30s"
    expected = hashlib.sha256(normalize(message).encode()).hexdigest()[:16]
    assert fingerprint(message) == expected
    assert fingerprint(message) == fingerprint(message)


def test_fingerprints_stay_put():
    # Fingerprints are stored: a change to the rules or the hash would split existing groups.
    assert fingerprint("disk full") == "8c96d76f620269be"
    assert fingerprint("TimeoutError: request 123 timed out after 30s") == "1f6c06b0a25165bb"


@pytest.mark.parametrize("message", ["", " ", "\t\n  \r\n"])
def test_blank_messages_normalize_to_nothing(message):
    assert normalize(message) == ""
    assert fingerprint(message) == fingerprint("")


def test_only_the_first_2000_characters_take_part():
    head = ("disk full on node " * 200)[:2000]
    assert fingerprint(head + "and then some") == fingerprint(head + "entirely different tail")
    assert fingerprint("quota exceeded " + head) != fingerprint("memory exceeded " + head)


def test_a_huge_message_normalizes_to_at_most_2000_characters():
    assert len(normalize("word " * 1_000_000)) <= 2000
    assert len(normalize("1" * 1_000_000)) == len("<num>")


def test_a_lone_surrogate_from_decoded_json_still_hashes():
    assert re.fullmatch(r"[0-9a-f]{16}", fingerprint("bad byte \ud800 in payload"))
