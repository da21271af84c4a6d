"""The signing secret (an SSM SecureString) and the keys derived from it.

One secret signs bearer tokens and page cursors; each use gets its own derived key so a cursor
can never pass for a token.
"""

import base64
import hashlib
import hmac
import json
from typing import Any

from eventlog.base.config import get_settings
from eventlog.base.errors import InvalidInputError

SECRET_MAX_AGE_SECONDS = 300


def _secret() -> bytes:
    # Powertools caches the value for max_age seconds; imported here to keep cold imports small.
    from aws_lambda_powertools.utilities.parameters import get_parameter

    value = get_parameter(
        get_settings().signing_secret_parameter, decrypt=True, max_age=SECRET_MAX_AGE_SECONDS
    )
    return str(value).encode()


def derived_key(purpose: str) -> bytes:
    return hmac.new(_secret(), purpose.encode(), hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def seal(payload: dict[str, Any], purpose: str) -> str:
    """An opaque, tamper-proof token carrying `payload` (used for page cursors)."""
    body = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    tag = hmac.new(derived_key(purpose), body, hashlib.sha256).digest()[:16]
    return f"{_b64(body)}.{_b64(tag)}"


def unseal(token: str, purpose: str) -> dict[str, Any]:
    invalid = InvalidInputError(f"invalid {purpose}: it was altered or belongs to another query")
    try:
        body_text, tag_text = token.split(".")
        body, tag = _unb64(body_text), _unb64(tag_text)
    except ValueError:
        raise invalid from None
    expected = hmac.new(derived_key(purpose), body, hashlib.sha256).digest()[:16]
    if not hmac.compare_digest(tag, expected):
        raise invalid
    payload = json.loads(body)
    if not isinstance(payload, dict):
        raise invalid
    return payload
