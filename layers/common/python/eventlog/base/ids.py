"""Identifiers.

Event ids are ULIDs: 48 bits of milliseconds then 80 random bits, in Crockford base32. They sort
by time, so an app's events kept under `E#<ulid>` come back in received order from a Query, and
a time range is a key range.
"""

import re
import secrets
from datetime import datetime

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
ULID_PATTERN = re.compile(r"^[0-7][0-9A-HJKMNP-TV-Z]{25}$")


def _encode(number: int, length: int) -> str:
    chars = []
    for _ in range(length):
        number, digit = divmod(number, 32)
        chars.append(_ALPHABET[digit])
    return "".join(reversed(chars))


def _millis(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def new_ulids(moment: datetime, count: int) -> list[str]:
    """`count` ULIDs of one millisecond, increasing, so a batch lists back in its own order."""
    time_part = _encode(_millis(moment), 10)
    start = secrets.randbits(79)  # leaves room to count up without overflowing 80 bits
    return [time_part + _encode(start + offset, 16) for offset in range(count)]


def new_ulid(moment: datetime) -> str:
    return new_ulids(moment, 1)[0]


def lowest_ulid(moment: datetime) -> str:
    """The smallest ULID of `moment`'s millisecond: the start of a time range."""
    return _encode(_millis(moment), 10) + "0" * 16


def highest_ulid(moment: datetime) -> str:
    """The largest ULID of `moment`'s millisecond: the end of a time range, inclusive."""
    return _encode(_millis(moment), 10) + "Z" * 16


def is_ulid(value: str) -> bool:
    return bool(ULID_PATTERN.match(value))


def new_key_id(moment: datetime) -> str:
    """Key ids sort by creation time, so listing keys needs no extra index."""
    return "k_" + new_ulid(moment).lower()
