"""Where a request goes and how it is signed and framed: one ``Backend`` per cloud.

The transport owns the retry loop, timing and telemetry; a backend answers the few questions that
differ between Anthropic's own API, Vertex AI and Bedrock (the URL, the body's shape, the
credentials, the response's framing, the error envelope). The decoder after the framing is the
same for all of them.
"""

from __future__ import annotations

from .anthropic_api import AnthropicAPI
from .base import Backend, CredentialRefresh, ErrorBody, Framing

__all__ = ["AnthropicAPI", "Backend", "CredentialRefresh", "ErrorBody", "Framing"]
