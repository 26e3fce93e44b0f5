"""The settings screen axio-tui shows for Claude on Vertex AI (Ctrl+P → "Configure Anthropic
Vertex AI"): project, location and a base URL, retries and timeouts, and the model in use. It is
the Anthropic screen's layout and behaviour with Vertex's fields, so it subclasses that screen."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from axio_transport_anthropic.tui.settings import AnthropicSettingsScreen
from axio_transport_anthropic.tui.vertex_form import CREDENTIALS_NOTE, VERTEX_FIELDS, check, result

__all__ = ["VertexSettingsScreen"]


class VertexSettingsScreen(AnthropicSettingsScreen):
    """Edit where Vertex requests go, retries and timeouts; dismisses with the settings as text."""

    HEADING: ClassVar[str] = "Anthropic Vertex AI settings"
    FIELDS: ClassVar[tuple[tuple[str, str, str, bool], ...]] = tuple(
        (name, label, placeholder, False) for name, label, placeholder in VERTEX_FIELDS
    )
    NOTES: ClassVar[tuple[str, ...]] = (CREDENTIALS_NOTE,)

    def _result(self, values: Mapping[str, str]) -> dict[str, str]:
        return result(self._settings, values, self._model)

    def action_save(self) -> None:
        values = self._values()
        self._conclude(values, check(values))
