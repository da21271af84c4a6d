"""Minting bearer tokens: HS256 JWTs with `role`, `app`, `exp` claims (verified in auth.py)."""

from datetime import timedelta
from typing import Any

from eventlog.access.auth import JWT_ALGORITHM, JWT_KEY_PURPOSE, app_usage_key
from eventlog.access.signing import derived_key
from eventlog.base.errors import InvalidInputError
from eventlog.base.timeutil import format_iso, utcnow
from eventlog.models.admin import TokenIn, TokenOut


def mint_token(request: TokenIn) -> TokenOut:
    import jwt  # only the token routes need it

    if request.app_id is not None and app_usage_key(request.app_id) is None:
        raise InvalidInputError(f"app {request.app_id} does not exist")
    issued = utcnow().replace(microsecond=0)
    expires = issued + timedelta(seconds=request.expires_in)
    claims: dict[str, Any] = {
        "sub": request.subject,
        "role": request.role.value,
        "iat": issued,
        "exp": expires,
    }
    if request.app_id is not None:
        claims["app"] = request.app_id
    token = jwt.encode(claims, derived_key(JWT_KEY_PURPOSE), algorithm=JWT_ALGORITHM)
    return TokenOut(token=token, expires_at=format_iso(expires))
