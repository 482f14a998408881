"""Bearer credentials: JWTs from the configured identity provider, and PATs."""

from __future__ import annotations

from typing import Any

import jwt

from gharart_core.identity.model import Principal
from gharart_core.identity.service import PAT_PREFIX, IdentityService
from gharart_core.shared.errors import Unauthenticated

from ..settings import Settings

__all__ = ["JwtVerifier", "bearer_token"]


def bearer_token(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise Unauthenticated(detail="Use `Authorization: Bearer <token>`.")
    return value.strip()


class JwtVerifier:
    """Verifies HS256 (shared secret) or RS256/ES256 (public key) tokens with 30 s of skew."""

    LEEWAY = 30

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.algorithms = [a for a in settings.jwt_algorithms if a in ("HS256", "RS256", "ES256")]

    @property
    def enabled(self) -> bool:
        return bool(self.settings.jwt_secret or self.settings.jwt_public_key)

    def verify(self, token: str) -> dict[str, Any]:
        if not self.enabled:
            raise Unauthenticated(detail="JWTs are not accepted: no identity provider is configured.")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise Unauthenticated(detail="The token is not valid.") from exc
        alg = header.get("alg")
        if alg not in self.algorithms:
            raise Unauthenticated(detail="The token's algorithm is not accepted.")
        key = self.settings.jwt_secret if alg == "HS256" else self.settings.jwt_public_key
        if not key:
            raise Unauthenticated(detail="The token's algorithm is not accepted.")
        options = {"require": ["sub", "exp"], "verify_aud": self.settings.jwt_audience is not None}
        try:
            claims: dict[str, Any] = jwt.decode(
                token, key, algorithms=[alg], leeway=self.LEEWAY, audience=self.settings.jwt_audience,
                issuer=self.settings.jwt_issuer, options=options)  # type: ignore[arg-type]
        except jwt.ExpiredSignatureError as exc:
            raise Unauthenticated(detail="The token has expired.") from exc
        except jwt.PyJWTError as exc:
            raise Unauthenticated(detail="The token is not valid.") from exc
        if not isinstance(claims.get("sub"), str) or not claims["sub"]:
            raise Unauthenticated(detail="The token has no subject.")
        return claims


def principal_from_claims(claims: dict[str, Any], user_id: str, email: str | None, is_operator: bool) -> Principal:
    scope = claims.get("scope") or claims.get("scp") or ""
    scopes = frozenset(scope.split() if isinstance(scope, str) else [s for s in scope if isinstance(s, str)])
    handles = claims.get("handles")
    handles_claim = frozenset(h for h in handles if isinstance(h, str)) if isinstance(handles, list) else None
    return Principal(user_id=user_id, email=email, scopes=scopes, credential_id=None,
                     is_operator_flag=is_operator, handles_claim=handles_claim, kind="jwt")


async def authenticate(token: str, *, verifier: JwtVerifier, identity: IdentityService, uow_factory: Any,
                       user_cache: dict[str, tuple[str, str | None]]) -> Principal:
    """Resolve a bearer token to a principal; raises 401 ``unauthenticated``."""
    if token.startswith(PAT_PREFIX):
        async with uow_factory(write=False) as uow:
            principal = await identity.authenticate_pat(uow, token)
        return principal
    claims = verifier.verify(token)
    sub = claims["sub"]
    email = claims.get("email") if isinstance(claims.get("email"), str) else None
    cached = user_cache.get(sub)
    if cached is None or cached[1] != email:
        async with uow_factory(write=True) as uow:
            user = await identity.provision(uow, subject=sub, email=email)
            await uow.commit()
        user_cache[sub] = (user.id, user.email)
        if len(user_cache) > 50_000:
            user_cache.clear()
    user_id, user_email = user_cache[sub]
    async with uow_factory(write=False) as uow:
        user = await uow.identity.get_user(user_id)
    if user is None:
        user_cache.pop(sub, None)
        raise Unauthenticated(detail="The token's user no longer exists.")
    return principal_from_claims(claims, user.id, user.email, identity.is_operator(user))
