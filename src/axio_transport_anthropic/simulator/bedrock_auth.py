"""The simulator's check of a Bedrock request's SigV4 signature (or Bedrock API key), as AWS does it.

Written from the SigV4 specification, not with botocore: the canonical request is rebuilt from
the request as it arrived (the raw path encoded once more, the signed headers as received, the
body's SHA-256), so a client that signed anything but what it sent is refused, with the 403 that
Bedrock answers. Fixed test credentials, rotatable: a rotated-out key pair is "expired".
"""

from __future__ import annotations

import hashlib
import hmac
import posixpath
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final
from urllib.parse import quote

__all__ = ["TEST_KEYS", "AwsKeys", "BedrockAuth", "Refusal"]

#: A request signed more than this far from the server's clock is refused, as AWS does.
MAX_SKEW: Final = 300.0
_AUTHORIZATION: Final = re.compile(
    r"AWS4-HMAC-SHA256 Credential=(?P<key>[^/,\s]+)/(?P<date>\d{8})/(?P<region>[^/,\s]+)/(?P<service>[^/,\s]+)"
    r"/aws4_request,\s*SignedHeaders=(?P<headers>[a-z0-9;-]+),\s*Signature=(?P<signature>[0-9a-f]{64})"
)
_MISMATCH: Final = (
    "The request signature we calculated does not match the signature you provided. Check your AWS Secret "
    "Access Key and signing method. Consult the service documentation for details."
)


@dataclass(frozen=True, slots=True)
class AwsKeys:
    access_key_id: str
    secret_access_key: str
    session_token: str | None = None

    def __repr__(self) -> str:
        return f"AwsKeys(access_key_id={self.access_key_id!r})"


#: The key pair the simulator accepts unless told otherwise (AWS's documented example pair).
TEST_KEYS: Final = AwsKeys("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a request is refused: an HTTP status, Bedrock's error type and its message."""

    status: int
    error_type: str
    message: str


class BedrockAuth:
    """Accepts requests signed with one of its key pairs, or carrying one of its API keys."""

    def __init__(
        self,
        keys: tuple[AwsKeys, ...] = (TEST_KEYS,),
        api_keys: tuple[str, ...] = (),
        *,
        region: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._keys = {k.access_key_id: k for k in keys}
        self._expired: set[str] = set()
        self.api_keys = set(api_keys)
        self.region = region
        self._clock = clock

    def rotate(self, *keys: AwsKeys) -> None:
        """Accept only ``keys`` from now on; the ones replaced answer ``ExpiredTokenException``."""
        self._expired |= set(self._keys) - {k.access_key_id for k in keys}
        self._keys = {k.access_key_id: k for k in keys}

    def check(self, method: str, raw_path: str, headers: Mapping[str, list[str]], body: bytes) -> Refusal | None:
        """``raw_path`` as it arrived (percent-encoding kept); ``headers`` by lower-case name."""
        authorization = _one(headers, "authorization")
        if not authorization:
            return Refusal(403, "MissingAuthenticationTokenException", "Missing Authentication Token")
        if authorization.startswith("Bearer "):
            if authorization.removeprefix("Bearer ") in self.api_keys:
                return None
            return Refusal(
                403, "AccessDeniedException", "Authentication failed: Please make sure your API Key is valid."
            )
        found = _AUTHORIZATION.fullmatch(authorization.strip())
        if found is None:
            return Refusal(403, "IncompleteSignatureException", "Authorization header requires a SigV4 signature.")
        return self._check_signature(found, method, raw_path, headers, body)

    def _check_signature(
        self, found: re.Match[str], method: str, raw_path: str, headers: Mapping[str, list[str]], body: bytes
    ) -> Refusal | None:
        key_id = found["key"]
        if key_id in self._expired:
            return Refusal(403, "ExpiredTokenException", "The security token included in the request is expired")
        keys = self._keys.get(key_id)
        if keys is None or (keys.session_token or "") != _one(headers, "x-amz-security-token"):
            return Refusal(403, "UnrecognizedClientException", "The security token included in the request is invalid.")
        if found["service"] != "bedrock":
            return Refusal(
                403, "InvalidSignatureException", "Credential should be scoped to correct service: 'bedrock'."
            )
        if self.region is not None and found["region"] != self.region:
            return Refusal(
                403,
                "InvalidSignatureException",
                f"Credential should be scoped to a valid region, not '{found['region']}'.",
            )
        signed = found["headers"].split(";")
        stamp = _one(headers, "x-amz-date")
        if "host" not in signed or "x-amz-date" not in signed or not stamp.startswith(found["date"]):
            return Refusal(403, "IncompleteSignatureException", "The request must sign host and x-amz-date.")
        try:
            when = datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC).timestamp()
        except ValueError:
            return Refusal(403, "IncompleteSignatureException", f"Invalid X-Amz-Date {stamp!r}.")
        now = self._clock()
        if abs(now - when) > MAX_SKEW:
            return Refusal(403, "InvalidSignatureException", f"Signature expired: {stamp} is outside 5 minutes of now.")
        canonical = "\n".join(
            [
                method.upper(),
                _canonical_path(raw_path),
                _canonical_query(raw_path),
                "".join(f"{name}:{_canonical_value(headers.get(name, []))}\n" for name in signed),
                found["headers"],
                hashlib.sha256(body).hexdigest(),
            ]
        )
        scope = f"{found['date']}/{found['region']}/bedrock/aws4_request"
        to_sign = f"AWS4-HMAC-SHA256\n{stamp}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
        signing_key = f"AWS4{keys.secret_access_key}".encode()
        for part in (found["date"], found["region"], "bedrock", "aws4_request"):
            signing_key = hmac.new(signing_key, part.encode(), hashlib.sha256).digest()
        expected = hmac.new(signing_key, to_sign.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, found["signature"]):
            return Refusal(403, "InvalidSignatureException", _MISMATCH)
        return None


def _one(headers: Mapping[str, list[str]], name: str) -> str:
    values = headers.get(name)
    return values[0] if values else ""


def _canonical_path(raw_path: str) -> str:
    # Each segment is encoded twice for every service but S3: once by the client, once here.
    path = raw_path.partition("?")[0] or "/"
    normal = posixpath.normpath(path)
    if path.endswith("/") and normal != "/":
        normal += "/"
    return quote(normal, safe="/~")


def _canonical_query(raw_path: str) -> str:
    query = raw_path.partition("?")[2]
    return "&".join(sorted(query.split("&"))) if query else ""


def _canonical_value(values: list[str]) -> str:
    return ",".join(" ".join(value.split()) for value in values)
