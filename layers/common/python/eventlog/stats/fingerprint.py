"""Message fingerprints: grouping log and error messages as error trackers do.

Top-messages statistics count messages by kind, not by text. "request 123 timed out after 30s"
and "request 456 timed out after 45s" are one problem seen twice, so `normalize` replaces the
parts that vary from one occurrence to the next (numbers, ids, addresses, times, quoted values)
with placeholders, and `fingerprint` hashes what is left into a short stable key. Messages whose
words differ keep different fingerprints.

Placeholders: <str> <email> <uuid> <time> <ip> <hex> <id> <num>.

Only the first 2,000 characters take part, so a huge message costs no more than a long one, and
two messages alike that far group together. Leading whitespace counts towards those 2,000.
"""

import hashlib
import ipaddress
import re

_MAX_CHARS = 2000
_ALNUM = "0-9A-Za-z"

# Quoted values first: whatever is inside (numbers, ids, spaces) is one value. A quote after a
# letter is an apostrophe ("can't"), not an opening one; a quoted string directly followed by
# ":" is a key (`{"user": 5}`), part of the message's shape, so it is kept. An escaped quote
# never opens one, which also keeps a run of them from being rescanned from every quote.
_QUOTED = re.compile(r"""(?<![\w\\])(?:'[^'\n]*'|"(?:[^"\\\n]|\\.)*"|`[^`\n]*`)(?!\w)(?!\s*:)""")
# Anchored at the start of a token, so a long run without "@" is scanned once, not once per
# character.
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# Before the date and number rules, whose digit runs would otherwise split a UUID up.
_UUID = re.compile(
    rf"(?<![{_ALNUM}])[0-9A-Fa-f]{{8}}(?:-[0-9A-Fa-f]{{4}}){{3}}-[0-9A-Fa-f]{{12}}(?![{_ALNUM}])"
)
_DATETIME = re.compile(
    r"(?<![0-9])[0-9]{4}[-/][0-9]{2}[-/][0-9]{2}"
    r"(?:[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2})?(?:[.,][0-9]+)?"
    r"(?:Z\b|\s?UTC\b|[+-][0-9]{2}(?::?[0-9]{2})?)?)?(?![0-9])"
)
# Colons on either side would make it a piece of an IPv6 address, not a time of day.
_TIME = re.compile(r"(?<![\w:.])[0-9]{1,2}:[0-9]{2}:[0-9]{2}(?:[.,][0-9]+)?Z?(?!:?\w)")
_IPV6_BRACKETED = re.compile(r"\[([0-9A-Fa-f:.]+(?:%[\w.-]+)?)\](?::[0-9]{1,5})?")
# A loose candidate (two colons or more); `ipaddress` decides, so "a:b:c" or a MAC stays.
_IPV6 = re.compile(
    r"(?<![\w:.])(?=[0-9A-Fa-f.]*:[0-9A-Fa-f.]*:)[0-9A-Fa-f:.]+(?:%[\w.-]+)?(?![\w:])"
)
# After IPv6, which may end in an IPv4 address (::ffff:10.0.0.1).
_IPV4 = re.compile(r"(?<![\w.])(?:[0-9]{1,3}\.){3}[0-9]{1,3}(?::[0-9]{1,5})?(?!\.?\w)")
# Hex ids need a digit and a letter: English words made of a-f ("deadbeef", "acceded") stay
# words, and digit-only runs are numbers.
_HEX = re.compile(
    rf"(?<![{_ALNUM}])(?:0[xX][0-9A-Fa-f]+"
    rf"|(?=[0-9A-Fa-f]*[0-9])(?=[0-9A-Fa-f]*[A-Fa-f])[0-9A-Fa-f]{{8,}})(?![{_ALNUM}])"
)
# Random ids such as ULIDs (this service's event ids) or API tokens: 16 characters or more
# with at least three separate runs of digits, which names like "Http2ServerHandler" lack.
# Left to the number rule, each would leave a different pattern of letters behind.
_ID = re.compile(
    rf"(?<![{_ALNUM}])(?=[{_ALNUM}]{{16}})"
    rf"[A-Za-z]*[0-9]+(?:[A-Za-z]+[0-9]+){{2}}[{_ALNUM}]*(?![{_ALNUM}])"
)
# Digits anywhere, even inside words ("user42", "30s"). A minus sign is a sign only where it
# cannot be a hyphen or a range ("retry-3", "1-5").
_NUMBER = re.compile(r"(?:(?<![\w>)\]-])-)?[0-9]+(?:[.,][0-9]+)*(?:[eE][+-]?[0-9]+)?")
_DIGIT = re.compile(r"[0-9]")


def _is_ipv6(text: str) -> bool:
    # A digit is required so that "::" or "add::bead" in prose never turns into an address.
    if not any(char.isdigit() for char in text):
        return False
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return True


def _replace_bracketed_ipv6(match: re.Match[str]) -> str:
    return "<ip>" if _is_ipv6(match.group(1)) else match.group()


def _replace_ipv6(match: re.Match[str]) -> str:
    text = match.group()
    if _is_ipv6(text):
        return "<ip>"
    # The candidate may have swallowed the sentence's own punctuation ("from ::1: refused").
    if text[-1] in ".:" and _is_ipv6(text[:-1]):
        return "<ip>" + text[-1]
    return text


def normalize(message: str) -> str:
    """The message with its variable parts replaced by placeholders; whitespace collapsed."""
    text = message[:_MAX_CHARS]
    # The substring tests run in C and spare most messages scans that could not match anyway.
    if "'" in text or '"' in text or "`" in text:
        text = _QUOTED.sub("<str>", text)
    if "@" in text:
        text = _EMAIL.sub("<email>", text)
    if "-" in text:
        text = _UUID.sub("<uuid>", text)
    if _DIGIT.search(text):  # every rule from here on needs one
        text = _DATETIME.sub("<time>", text)
        if ":" in text:
            text = _TIME.sub("<time>", text)
            text = _IPV6_BRACKETED.sub(_replace_bracketed_ipv6, text)
            text = _IPV6.sub(_replace_ipv6, text)
        text = _IPV4.sub("<ip>", text)
        text = _HEX.sub("<hex>", text)
        text = _ID.sub("<id>", text)
        text = _NUMBER.sub("<num>", text)
    return " ".join(text.split())


def fingerprint(message: str) -> str:
    """16 lowercase hex characters: a stable hash of `normalize(message)`."""
    # surrogatepass: a lone surrogate from a decoded JSON body must not make hashing fail.
    data = normalize(message).encode("utf-8", "surrogatepass")
    return hashlib.sha256(data).hexdigest()[:16]
