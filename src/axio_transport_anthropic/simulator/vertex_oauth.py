"""The simulator's OAuth token endpoint, as Google's service-account flow calls it: ``POST /token``
with a JWT-bearer grant signed by the account's key. Real google-auth code runs against it offline.

``service_account()`` writes a credentials file with a key made on the spot and ``token_uri``
pointing here (google-auth honours ``token_uri`` in a ``service_account`` file). Tokens are short
strings that live ``token_lifetime`` seconds, or until ``revoke()``.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from aiohttp import web

__all__ = ["JWT_BEARER", "OAuthServer", "TokenGrant"]

JWT_BEARER: Final = "urn:ietf:params:oauth:grant-type:jwt-bearer"
_TOKEN_PREFIX: Final = "ya29.sim-"
#: How far the clocks of a JWT's signer and this server may disagree.
_SKEW: Final = 300
#: google-auth addresses every grant to Google's endpoint, whatever ``token_uri`` it posts to.
_GOOGLE_TOKEN_ENDPOINT: Final = "https://oauth2.googleapis.com/token"


@dataclass(slots=True)
class TokenGrant:
    """One token request: who asked, for which scope, and what was answered."""

    client_email: str
    scope: str
    token: str | None
    status: int


@dataclass(slots=True)
class OAuthServer:
    """Issues and checks access tokens for the service accounts it made keys for."""

    token_lifetime: int = 3600
    """``expires_in`` of each token; google-auth refreshes 225 s before expiry, so a lifetime
    just above that makes a token go stale within a test."""
    grants: list[TokenGrant] = field(default_factory=list)
    _keys: dict[str, Any] = field(default_factory=dict)
    _tokens: dict[str, float] = field(default_factory=dict)
    _failures: list[tuple[int, str]] = field(default_factory=list)

    def service_account(self, path: Path | str, token_uri: str, *, project: str = "sim-project") -> Path:
        """Write a ``service_account`` credentials file whose key this server trusts."""
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        key_id = secrets.token_hex(20)
        email = f"sim-{key_id[:8]}@{project}.iam.gserviceaccount.com"
        self._keys[email] = key.public_key()
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
        info = {
            "type": "service_account",
            "project_id": project,
            "private_key_id": key_id,
            "private_key": pem,
            "client_email": email,
            "client_id": str(int(key_id[:12], 16)),
            "token_uri": token_uri,
        }
        target = Path(path)
        target.write_text(json.dumps(info), encoding="utf-8")
        return target

    def forget(self, email: str) -> None:
        """Stop trusting an account's key (a key deleted in the console): its grants fail."""
        self._keys.pop(email, None)

    def revoke(self) -> None:
        """Every token issued so far stops working, before its expiry (a rotation, a revocation)."""
        self._tokens.clear()

    def fail_next(self, status: int = 400, error: str = "invalid_grant") -> None:
        """The next token request gets this OAuth error."""
        self._failures.append((status, error))

    def live(self, token: str) -> bool:
        expires = self._tokens.get(token)
        return expires is not None and time.monotonic() < expires

    @property
    def issued(self) -> int:
        return sum(1 for grant in self.grants if grant.token is not None)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        form = await request.post()
        grant_type, assertion = form.get("grant_type"), form.get("assertion")
        if grant_type != JWT_BEARER or not isinstance(assertion, str):
            return _oauth_error(400, "unsupported_grant_type", "only JWT bearer grants are served here")
        claims, problem = self._verify(assertion, str(request.url))
        email, scope = str(claims.get("iss", "")), str(claims.get("scope", ""))
        if problem is None and self._failures:
            status, error = self._failures.pop(0)
            problem = (status, error, "injected failure")
        if problem is not None:
            self.grants.append(TokenGrant(email, scope, None, problem[0]))
            return _oauth_error(*problem)
        token = _TOKEN_PREFIX + secrets.token_urlsafe(24)
        self._tokens[token] = time.monotonic() + self.token_lifetime
        self.grants.append(TokenGrant(email, scope, token, 200))
        body = {"access_token": token, "expires_in": self.token_lifetime, "token_type": "Bearer"}
        return web.json_response(body)

    def _verify(self, assertion: str, url: str) -> tuple[Mapping[str, Any], tuple[int, str, str] | None]:
        """The JWT's claims, and why it is refused (``None``: it is good)."""
        try:
            head, payload, signature = (_unb64(part) for part in assertion.split("."))
            header, claims = json.loads(head), json.loads(payload)
        except (ValueError, TypeError):
            return {}, (400, "invalid_grant", "the assertion is not a JWT")
        if not isinstance(header, dict) or not isinstance(claims, dict) or header.get("alg") != "RS256":
            return {}, (400, "invalid_grant", "the assertion is not an RS256 JWT")
        key = self._keys.get(str(claims.get("iss")))
        if key is None:
            return claims, (400, "invalid_grant", "Invalid grant: account not found")
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        signed = assertion.rsplit(".", 1)[0].encode()
        try:
            key.verify(signature, signed, padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            return claims, (400, "invalid_grant", "Invalid JWT Signature.")
        now = time.time()
        if claims.get("aud") not in (url, _GOOGLE_TOKEN_ENDPOINT):
            return claims, (400, "invalid_grant", "Invalid JWT: the audience is not this token endpoint")
        if not claims.get("iat", 0) - _SKEW <= now <= claims.get("exp", 0) + _SKEW:
            return claims, (400, "invalid_grant", "Invalid JWT: not within its lifetime")
        return claims, None


def _unb64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _oauth_error(status: int, error: str, description: str) -> web.Response:
    return web.json_response({"error": error, "error_description": description}, status=status)
