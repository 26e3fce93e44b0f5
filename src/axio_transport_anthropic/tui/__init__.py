"""Textual settings screen for the Anthropic transport (needs the ``[tui]`` extra)."""

from __future__ import annotations

try:
    import textual  # noqa: F401
except ImportError as exc:
    # Fail loudly: axio-tui loads this via an entry point and should say what to install.
    raise ImportError(
        'axio_transport_anthropic.tui needs textual; install it with pip install "axio-transport-anthropic[tui]"'
    ) from exc

from axio_transport_anthropic.tui.settings import AnthropicSettingsScreen

__all__ = ["AnthropicSettingsScreen"]
