"""eventlog.access.signing: opaque, tamper-proof tokens (page cursors) keyed by the SSM secret."""

import base64
import json

import pytest

from eventlog.access.signing import derived_key, seal, unseal
from eventlog.base.errors import InvalidInputError

PAYLOAD = {"q": "0123456789abcdef", "after": "01JKZ0000000000000000000AA", "pos": 20}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_seal_then_unseal_gives_the_payload(aws):
    token = seal(PAYLOAD, "cursor")
    assert unseal(token, "cursor") == PAYLOAD
    assert token.isascii() and " " not in token


def test_sealed_token_is_url_safe(aws):
    token = seal({"text": "?&=/+ ü"}, "cursor")
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")


def test_same_payload_seals_the_same_whatever_the_key_order(aws):
    assert seal({"a": 1, "b": 2}, "cursor") == seal({"b": 2, "a": 1}, "cursor")


def test_tampered_payload_is_refused(aws):
    _, tag = seal(PAYLOAD, "cursor").split(".")
    forged = json.dumps({**PAYLOAD, "pos": 0}, separators=(",", ":"), sort_keys=True).encode()
    with pytest.raises(InvalidInputError):
        unseal(f"{b64(forged)}.{tag}", "cursor")


def test_tampered_tag_is_refused(aws):
    body, tag = seal(PAYLOAD, "cursor").split(".")
    flipped = ("B" if tag[0] == "A" else "A") + tag[1:]
    with pytest.raises(InvalidInputError):
        unseal(f"{body}.{flipped}", "cursor")


def test_token_of_another_purpose_is_refused(aws):
    with pytest.raises(InvalidInputError):
        unseal(seal(PAYLOAD, "cursor"), "something-else")


def test_token_sealed_with_another_secret_is_refused(aws):
    token = seal(PAYLOAD, "cursor")
    aws.set_signing_secret("a-rotated-secret")
    with pytest.raises(InvalidInputError):
        unseal(token, "cursor")


@pytest.mark.parametrize(
    "token", ["", "abc", "a.b.c", "!!!.???", "e30", ".", "e30.", "bm90IGpzb24.AAAA"]
)
def test_garbage_is_refused(aws, token):
    with pytest.raises(InvalidInputError):
        unseal(token, "cursor")


def test_a_sealed_non_object_is_refused(aws):
    with pytest.raises(InvalidInputError):
        unseal(seal([1, 2, 3], "cursor"), "cursor")  # type: ignore[arg-type]


def test_derived_keys_differ_by_purpose(aws):
    assert derived_key("cursor") != derived_key("jwt")
    assert derived_key("cursor") == derived_key("cursor")
    assert len(derived_key("jwt")) == 32
