"""Bearer credentials: JWTs from the configured identity provider, and PATs."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import jwt

from gharart_core.identity.model import Principal
from gharart_core.identity.service import PAT_PREFIX, IdentityService
from gharart_core.shared.errors import Unauthenticated
from gharart_core.shared.tokens import sha256_hex

from ..settings import Settings

__all__ = ["JwtVerifier", "PrincipalCache", "authenticate", "bearer_token"]


def bearer_token(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise Unauthenticated(detail="Use `Authorization: Bearer <token>`.")
    return value.strip()


class JwtVerifier:
    """Verifies HS256 (shared secret) or RS256/ES256 tokens (a PEM public key, or the key of a JWKS
    picked by the token's ``kid``) with 30 s of skew."""

    LEEWAY = 30
    JWKS_LIFESPAN_S = 300

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.algorithms = [a for a in settings.jwt_algorithms if a in ("HS256", "RS256", "ES256")]
        self._jwks_client: jwt.PyJWKClient | None = None
        self._jwks: jwt.PyJWKSet | None = None
        jwks = settings.jwt_jwks
        if jwks and jwks.startswith(("https://", "http://")):
            self._jwks_client = jwt.PyJWKClient(jwks, cache_keys=True, lifespan=self.JWKS_LIFESPAN_S, timeout=5)
        elif jwks:
            try:
                self._jwks = jwt.PyJWKSet.from_json(jwks)
            except (jwt.PyJWTError, ValueError) as exc:
                raise ValueError(f"GHARART_JWT_JWKS is not a usable JWK set: {exc}") from exc

    @property
    def enabled(self) -> bool:
        return bool(self.settings.jwt_secret or self.settings.jwt_public_key or self.settings.jwt_jwks)

    @property
    def fetches_keys(self) -> bool:
        """True when verifying may fetch the JWKS over the network (run it off the event loop)."""
        return self._jwks_client is not None

    def _public_key(self, token: str, header: dict[str, Any]) -> Any:
        kid = header.get("kid")
        if self._jwks_client is not None:
            try:
                found = self._jwks_client.get_signing_key_from_jwt(token)
            except jwt.PyJWKClientConnectionError as exc:
                logging.getLogger("gharart.http").warning("JWKS fetch failed: %s", exc)
                raise Unauthenticated(detail="The identity provider's keys could not be fetched.") from exc
            except jwt.PyJWTError as exc:
                raise Unauthenticated(detail="The token's key is not in the identity provider's key set.") from exc
            return self._for_alg(found, header)
        if self._jwks is not None:
            keys = [k for k in self._jwks.keys if kid is None or k.key_id == kid]
            if kid is None and len(self._jwks.keys) != 1:
                keys = []
            if keys:
                return self._for_alg(keys[0], header)
            if not self.settings.jwt_public_key:
                raise Unauthenticated(detail="The token's key is not in the identity provider's key set.")
        return self.settings.jwt_public_key

    @staticmethod
    def _for_alg(jwk: jwt.PyJWK, header: dict[str, Any]) -> Any:
        """A JWK signs with one algorithm: an RSA key offered for ES256 (or the reverse) is refused."""
        if jwk.algorithm_name != header.get("alg"):
            raise Unauthenticated(detail="The token's algorithm does not match its key.")
        return jwk.key

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
        key = self.settings.jwt_secret if alg == "HS256" else self._public_key(token, header)
        if not key:
            raise Unauthenticated(detail="The token's algorithm is not accepted.")
        options = {"require": ["sub", "exp"], "verify_aud": self.settings.jwt_audience is not None}
        try:
            claims: dict[str, Any] = jwt.decode(
                token, key, algorithms=[alg], leeway=self.LEEWAY, audience=self.settings.jwt_audience,
                issuer=self.settings.jwt_issuer, options=options)  # type: ignore[arg-type]
        except jwt.ExpiredSignatureError as exc:
            raise Unauthenticated(detail="The token has expired.") from exc
        except (jwt.PyJWTError, TypeError, ValueError) as exc:  # TypeError: a key of the wrong kind
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


class PrincipalCache:
    """Short-lived cache of verified PATs and handle access, checked against a generation counter.

    Any identity change made through this process bumps the generation (so revocations and role
    changes apply at once here); other processes see them within ``ttl`` seconds.
    """

    def __init__(self, ttl: float = 2.0) -> None:
        self.ttl = ttl
        self.generation = 0
        self.pats: dict[str, tuple[Principal, Any, float, int]] = {}
        self.access: dict[tuple[str, str, str | None], tuple[Any, float, int]] = {}
        self.touched: dict[str, float] = {}
        self.digests: dict[str, str] = {}

    def digest(self, token: str) -> str:
        value = self.digests.get(token)
        if value is None:
            value = sha256_hex(token)
            if len(self.digests) > 10_000:
                self.digests.clear()
            self.digests[token] = value
        return value

    def bump(self) -> None:
        self.generation += 1
        self.pats.clear()
        self.access.clear()

    def get_pat(self, digest: str, now: Any) -> Principal | None:
        hit = self.pats.get(digest)
        if hit is None:
            return None
        principal, expires_at, at, gen = hit
        if gen != self.generation or time.monotonic() - at > self.ttl or (expires_at is not None and expires_at <= now):
            self.pats.pop(digest, None)
            return None
        return principal

    def put_pat(self, digest: str, principal: Principal, expires_at: Any) -> None:
        if len(self.pats) > 10_000:
            self.pats.clear()
        self.pats[digest] = (principal, expires_at, time.monotonic(), self.generation)

    def get_access(self, key: tuple[str, str, str | None]) -> Any:
        hit = self.access.get(key)
        if hit is None:
            return None
        value, at, gen = hit
        if gen != self.generation or time.monotonic() - at > self.ttl:
            self.access.pop(key, None)
            return None
        return value

    def put_access(self, key: tuple[str, str, str | None], value: Any) -> None:
        if len(self.access) > 50_000:
            self.access.clear()
        self.access[key] = (value, time.monotonic(), self.generation)

    def should_touch(self, token_id: str) -> bool:
        now = time.monotonic()
        if now - self.touched.get(token_id, -1e9) < 60:
            return False
        if len(self.touched) > 50_000:
            self.touched.clear()
        self.touched[token_id] = now
        return True


async def authenticate(token: str, *, verifier: JwtVerifier, identity: IdentityService, uow_factory: Any,
                       user_cache: dict[str, tuple[str, str | None]], cache: PrincipalCache | None = None,
                       background: Any = None) -> Principal:
    """Resolve a bearer token to a principal; raises 401 ``unauthenticated``."""
    if token.startswith(PAT_PREFIX):
        digest = cache.digest(token) if cache is not None else sha256_hex(token)
        now = identity.clock.now()
        if cache is not None and (hit := cache.get_pat(digest, now)) is not None:
            return hit
        async with uow_factory(write=False) as uow:
            principal, _stale = await identity.verify_pat(uow, token)
            record = await uow.identity.get_token(principal.credential_id or "")
        if cache is not None:
            cache.put_pat(digest, principal, record.expires_at if record else None)
            if principal.credential_id and cache.should_touch(principal.credential_id):
                # before the request writes anything: a second write transaction later could wait on the first
                await _touch(identity, uow_factory, principal.credential_id)
        return principal
    if verifier.fetches_keys:  # a JWKS fetch (at most once per lifespan) must not block the event loop
        claims = await asyncio.to_thread(verifier.verify, token)
    else:
        claims = verifier.verify(token)
    sub = claims["sub"]
    email = claims.get("email") if isinstance(claims.get("email"), str) else None
    cached = user_cache.get(sub)
    if cached is None or cached[1] != (email.lower() if email else cached[1]):
        async with uow_factory(write=True) as uow:
            user = await identity.provision(uow, subject=sub, email=email)
            await uow.commit()
        user_cache[sub] = (user.id, user.email)
        if len(user_cache) > 50_000:
            user_cache.clear()
    user_id, _ = user_cache[sub]
    async with uow_factory(write=False) as uow:
        user = await uow.identity.get_user(user_id)
    if user is None:
        user_cache.pop(sub, None)
        raise Unauthenticated(detail="The token's user no longer exists.")
    return principal_from_claims(claims, user.id, user.email, identity.is_operator(user))


async def _touch(identity: IdentityService, uow_factory: Any, token_id: str) -> None:
    try:
        async with uow_factory(write=True) as uow:
            await identity.touch_token(uow, token_id)
            await uow.commit()
    except Exception:  # last-used bookkeeping never fails a request
        logging.getLogger("gharart.http").warning("could not record token use", exc_info=True)
