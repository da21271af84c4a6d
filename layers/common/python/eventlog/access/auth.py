"""Who a credential stands for: API keys (by hash) and bearer tokens. All the authorizer needs."""

import hashlib

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


def verify_token(token: str) -> Principal:
    """The principal a token stands for; AuthenticationError says why it is refused."""
    import jwt

    try:
        claims = jwt.decode(
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
    try:
        subject = f"jwt:{claims['sub']}"
        return Principal(role=claims["role"], app_id=claims.get("app"), key_id=subject)
    except ValueError:
        raise AuthenticationError("the bearer token's claims are invalid") from None
