"""Who a credential stands for: API keys (by hash) and bearer tokens. All the authorizer needs."""

import hashlib
import re
from typing import Any

from eventlog.access.principal import Principal
from eventlog.access.signing import derived_key
from eventlog.base.errors import AuthenticationError
from eventlog.storage import registry

JWT_ALGORITHM = "HS256"
JWT_KEY_PURPOSE = "jwt"


def hash_key(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


def authenticate_key(plaintext: str) -> tuple[Principal, str] | None:
    """The principal of a live key and its usage key, or None for unknown and revoked keys."""
    item = registry.get_key_by_hash(hash_key(plaintext))
    if item is None or item.get("revoked_at"):
        return None
    app_id = item.get("app_id")
    principal = Principal(
        role=item["role"], app_id=int(app_id) if app_id is not None else None, key_id=item["id"]
    )
    return principal, item["usage_key"]


def app_usage_key(app_id: int) -> str | None:
    """The app's usage-plan key, or None when there is no such app."""
    item = registry.get_app(app_id)
    return item["usage_key"] if item else None


# A token's id as mint_token writes it (secrets.token_urlsafe), with room to spare.
JTI_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
_JTI = re.compile(JTI_PATTERN)


def _claims(token: str) -> dict[str, Any]:
    """The claims of a token signed with our key and not expired; AuthenticationError says why
    it is refused."""
    import jwt

    try:
        return jwt.decode(
            token,
            derived_key(JWT_KEY_PURPOSE),
            algorithms=[JWT_ALGORITHM],
            options={"require": ["exp", "role", "sub"]},
        )
    except jwt.ExpiredSignatureError:
        raise AuthenticationError("the bearer token has expired") from None
    except jwt.InvalidSignatureError:
        raise AuthenticationError("the bearer token's signature is invalid") from None
    except jwt.PyJWTError as error:
        raise AuthenticationError(f"the bearer token is invalid: {error}") from None


def _principal(claims: dict[str, Any]) -> Principal:
    jti = claims.get("jti")
    try:
        if jti is not None and not (isinstance(jti, str) and _JTI.match(jti)):
            raise ValueError("jti")
        subject = f"jwt:{claims['sub']}"
        return Principal(role=claims["role"], app_id=claims.get("app"), key_id=subject)
    except ValueError:
        raise AuthenticationError("the bearer token's claims are invalid") from None


def verify_token(token: str) -> Principal:
    """The principal a token stands for, by its signature and claims alone (no revocation
    check: see authenticate_token); AuthenticationError says why it is refused."""
    return _principal(_claims(token))


def authenticate_token(token: str) -> tuple[Principal, str | None]:
    """The principal of a valid, unrevoked token and its usage key (None: the operator's), at
    one GetItem: the token's record, or (a token minted without a `jti`, before revocation
    existed, valid until its exp) its app's item."""
    claims = _claims(token)
    principal = _principal(claims)
    jti = claims.get("jti")
    if jti is None:
        return principal, app_usage_key(principal.app_id) if principal.app_id else None
    record = registry.get_token(jti)
    if record is None or record.get("revoked_at"):
        raise AuthenticationError("the bearer token has been revoked")
    return principal, record.get("usage_key")
