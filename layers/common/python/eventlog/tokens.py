"""Bearer tokens: HS256 JWTs with `role`, `app` and `exp` claims, signed with the SSM secret."""

from datetime import timedelta
from typing import Any

from eventlog import apps
from eventlog.errors import AuthenticationError, InvalidInputError
from eventlog.models import Principal, TokenIn, TokenOut
from eventlog.signing import derived_key
from eventlog.timeutil import format_iso, utcnow

ALGORITHM = "HS256"
PURPOSE = "jwt"


def mint_token(request: TokenIn) -> TokenOut:
    import jwt  # only the token routes need it

    if request.app_id is not None and apps.app_usage_key(request.app_id) is None:
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
    token = jwt.encode(claims, derived_key(PURPOSE), algorithm=ALGORITHM)
    return TokenOut(token=token, expires_at=format_iso(expires))


def verify_token(token: str) -> Principal:
    """The principal a token stands for; AuthenticationError says why it is refused."""
    import jwt

    try:
        claims = jwt.decode(
            token,
            derived_key(PURPOSE),
            algorithms=[ALGORITHM],
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
