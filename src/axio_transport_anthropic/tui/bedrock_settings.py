"""The settings screen axio-tui shows for Bedrock (Ctrl+P → "Configure Anthropic Bedrock").

The Anthropic screen's layout and behaviour, with Bedrock's fields: region, profile, a Bedrock API
key and the endpoint; retries and timeouts as there.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from axio.models import ModelSpec

from axio_transport_anthropic.tui.bedrock_form import TEXT_FIELDS, app_model, check, result
from axio_transport_anthropic.tui.settings import AnthropicSettingsScreen

__all__ = ["BedrockSettingsScreen"]


class BedrockSettingsScreen(AnthropicSettingsScreen):
    """Edit the region, profile, API key, endpoint, retries and timeouts; shows the model the app
    uses. Dismisses with the transport's settings as text, or ``None``."""

    HEADING: ClassVar[str] = "Anthropic Bedrock settings"
    FIELDS: ClassVar[tuple[tuple[str, str, str, bool], ...]] = TEXT_FIELDS

    def _app_model(self, app: object) -> ModelSpec:
        return app_model(app, self._settings)

    def _result(self, values: Mapping[str, str]) -> dict[str, str]:
        return result(self._settings, values, self._model)

    def action_save(self) -> None:
        # The check reads the AWS config file for a named profile, in a thread: awaited in a worker.
        self.run_worker(self._save(), group="save", exclusive=True)

    async def _save(self) -> None:
        values = self._values()
        self._conclude(values, await check(values))
