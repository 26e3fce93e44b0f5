"""SigV4 with botocore's own signer, over exactly the URL, headers and bytes that are sent."""

from __future__ import annotations

import logging
from contextvars import ContextVar
from typing import Any, Final

from .aws_credentials import CredentialsUnavailable, Frozen, import_botocore

__all__ = ["SERVICE", "load_signer", "sign"]

#: The signing name: ``bedrock-runtime`` is only the endpoint's prefix.
SERVICE: Final = "bedrock"
#: What the signature adds to a request's headers.
_ADDED: Final = ("X-Amz-Date", "X-Amz-Security-Token", "Authorization")

_signer: tuple[Any, Any] | None = None
_signing: ContextVar[bool] = ContextVar("axio_anthropic_sigv4_signing", default=False)


class _QuietWhileSigning(logging.Filter):
    """botocore logs the canonical request (the session token in it) and the signature at DEBUG:
    not while this transport signs. Anyone else's signing, in any thread, logs as before."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not _signing.get()


def load_signer() -> tuple[Any, Any]:
    """botocore's signer and request classes; imported once (slow: call it off the event loop first)."""
    global _signer
    if _signer is None:
        import_botocore()
        try:
            from botocore.auth import SigV4Auth
            from botocore.awsrequest import AWSRequest
        except ImportError as exc:
            raise CredentialsUnavailable(str(exc)) from exc
        logging.getLogger("botocore.auth").addFilter(_QuietWhileSigning())
        _signer = (SigV4Auth, AWSRequest)
    return _signer


def sign(credentials: Frozen, region: str, url: str, headers: dict[str, str], body: bytes) -> str:
    """Adds ``X-Amz-Date``, ``X-Amz-Security-Token`` (session credentials) and ``Authorization`` to
    ``headers``; returns the signature. ``url`` must be the very string aiohttp sends: the path is
    signed as written, so a ``:`` sent where ``%3A`` was signed fails."""
    auth_class, request_class = load_signer()
    # botocore's signer leaves hop-by-hop headers out; the SDK drops connection the same way.
    signed = {name: value for name, value in headers.items() if name.lower() != "connection"}
    request = request_class(method="POST", url=url, headers=signed, data=body)
    quiet = _signing.set(True)
    try:
        auth_class(credentials, SERVICE, region).add_auth(request)
    finally:
        _signing.reset(quiet)
    for name in _ADDED:
        value = request.headers.get(name)
        if value is not None:
            headers[name] = value
    authorization: str = request.headers["Authorization"]
    return authorization.rpartition("Signature=")[2]
