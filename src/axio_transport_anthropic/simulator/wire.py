"""Wire-level building blocks shared by the simulator: JSON, ids, error bodies."""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Final

from ..retry import STATUS_OF_ERROR_TYPE

__all__ = ["ERROR_TYPE_BY_STATUS", "STATUS_BY_ERROR_TYPE", "ApiError", "IdSource", "dumps", "error_body"]

ERROR_TYPE_BY_STATUS: Final[dict[int, str]] = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    408: "timeout_error",
    409: "conflict_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    502: "api_error",
    503: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}

#: The canonical status per error type: the same fact the client's retry rules read.
STATUS_BY_ERROR_TYPE: Final = STATUS_OF_ERROR_TYPE


def dumps(value: Any) -> str:
    """Compact JSON that keeps non-ASCII as UTF-8, like the real API (so multi-byte text reaches clients)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


@dataclass(frozen=True, slots=True)
class ApiError:
    """An error the API reports as `{"type": "error", "error": {...}}`."""

    status: int
    error_type: str
    message: str


def error_body(error_type: str, message: str, request_id: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": error_type, "message": message}, "request_id": request_id}


class IdSource:
    """Deterministic ids per seed, so two simulators with the same seed emit byte-identical bodies."""

    def __init__(self, seed: int) -> None:
        self._seed = seed
        self._counters: defaultdict[str, int] = defaultdict(int)

    def make(self, prefix: str) -> str:
        count = self._counters[prefix]
        self._counters[prefix] = count + 1
        digest = hashlib.sha256(f"{self._seed}:{prefix}:{count}".encode()).hexdigest()
        return f"{prefix}{digest[:24]}"

    def organization_id(self) -> str:
        h = hashlib.sha256(f"{self._seed}:org".encode()).hexdigest()
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-8{h[17:20]}-{h[20:32]}"
