"""Bearer tokens: HS256 JWTs with `sub`, `role`, `app`, `exp` and `jti` claims (verified in
auth.py). Each minted token has a registry record (its `jti`) until it expires, so it can be
revoked; the authorizer reads that record for every request carrying the token."""

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from eventlog.access.auth import JWT_ALGORITHM, JWT_KEY_PURPOSE, app_usage_key
from eventlog.access.signing import derived_key
from eventlog.base.config import get_settings
from eventlog.base.errors import InvalidInputError, NotFoundError
from eventlog.base.timeutil import format_iso, utcnow
from eventlog.models.admin import TokenIn, TokenOut, TokenRevoked
from eventlog.storage import registry


def _lifetime(request: TokenIn) -> int:
    """The seconds the token lives: as asked, within the stack's maximum."""
    longest = get_settings().token_max_lifetime_seconds
    if "expires_in" not in request.model_fields_set:
        return min(request.expires_in, longest)
    if request.expires_in > longest:
        raise InvalidInputError(
            f"expires_in may be at most {longest} seconds (the stack's TokenMaxLifetimeSeconds)",
            [{"field": "expires_in", "message": f"at most {longest}"}],
        )
    return request.expires_in


def mint_token(request: TokenIn) -> TokenOut:
    import jwt  # only the token routes need it

    lifetime = _lifetime(request)
    usage_key = None
    if request.app_id is not None:
        usage_key = app_usage_key(request.app_id)
        if usage_key is None:
            raise InvalidInputError(f"app {request.app_id} does not exist")
    issued = utcnow().replace(microsecond=0)
    expires = issued + timedelta(seconds=lifetime)
    jti = secrets.token_urlsafe(16)
    claims: dict[str, Any] = {
        "sub": request.subject,
        "role": request.role.value,
        "iat": issued,
        "exp": expires,
        "jti": jti,
    }
    record: dict[str, Any] = {
        "jti": jti,
        "subject": request.subject,
        "role": request.role.value,
        "expires_at": int(expires.timestamp()),
    }
    if request.app_id is not None:
        claims["app"] = record["app_id"] = request.app_id
        record["usage_key"] = usage_key
    registry.put_token(record)
    token = jwt.encode(claims, derived_key(JWT_KEY_PURPOSE), algorithm=JWT_ALGORITHM)
    return TokenOut(token=token, expires_at=format_iso(expires), jti=jti)


def revoke_token(jti: str) -> TokenRevoked:
    """Revoke a token by its id (again: keeps the first time); NotFoundError when no token of
    that id lives (never minted, or expired)."""
    record = registry.mark_token_revoked(jti, format_iso(utcnow()))
    if record is None:
        raise NotFoundError(f"no live token with jti '{jti}'")
    expires = datetime.fromtimestamp(int(record["expires_at"]), UTC)
    return TokenRevoked.model_validate(
        {**record, "app_id": record.get("app_id"), "expires_at": format_iso(expires)}
    )
