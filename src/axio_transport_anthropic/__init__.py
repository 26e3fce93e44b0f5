"""Anthropic Claude transport for axio: streaming, production retries, a built-in simulator."""

from .bedrock_transport import BedrockTransport
from .decoder import PROVIDER, MessageStreamDecoder
from .errors import (
    AnthropicError,
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    ConfigurationError,
    InStreamError,
    ProtocolError,
)
from .models import ANTHROPIC_MODELS, cost_usd
from .request import document_block
from .transport import (
    ANTHROPIC_API_VERSION,
    DEFAULT_BASE_URL,
    VERTEX_ANTHROPIC_VERSION,
    AnthropicTransport,
    VertexAITransport,
)

__all__ = [
    "ANTHROPIC_API_VERSION",
    "ANTHROPIC_MODELS",
    "DEFAULT_BASE_URL",
    "PROVIDER",
    "VERTEX_ANTHROPIC_VERSION",
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AnthropicError",
    "AnthropicTransport",
    "BedrockTransport",
    "ConfigurationError",
    "InStreamError",
    "MessageStreamDecoder",
    "ProtocolError",
    "VertexAITransport",
    "cost_usd",
    "document_block",
]
