"""Construction and restoring where they meet users and apps: a model given by its id, a key
required (at construction) for Anthropic's own API but never by a restore, settings saved as
text the way axio-tui saves them, and ``open_for_app``, the factory axio-tui opens us with."""

from __future__ import annotations

import ast
import dataclasses
import inspect
import json
import logging

import pytest
from axio.models import Capability, ModelRegistry, ModelSpec

from axio_transport_anthropic import ANTHROPIC_MODELS, DEFAULT_BASE_URL, AnthropicTransport, ConfigurationError
from axio_transport_anthropic import transport as transport_module
from axio_transport_anthropic.telemetry.logs import LOGGER_NAME

from .support import collect, warnings_of

KEY = "sk-ant-api03-CONSTRUCTION-SECRET-abcdef0123"
TOKEN = "gateway-token-CONSTRUCTION-0123"
LOCAL = "http://127.0.0.1:8123/v1"

pytestmark = pytest.mark.usefixtures("no_anthropic_env")


def test_the_typed_signature_lists_every_constructor_field_in_order() -> None:
    """transport.py spells ``__init__`` out for type checkers (a model may be given by its id,
    betas as any sequence); it must take exactly what the dataclass's own ``__init__`` takes."""
    tree = ast.parse(inspect.getsource(transport_module))
    [stub] = [node for node in ast.walk(tree) if isinstance(node, ast.FunctionDef) and node.name == "__init__"]
    fields = [f for f in dataclasses.fields(AnthropicTransport) if f.init]
    assert [a.arg for a in stub.args.args[1:]] == [f.name for f in fields if not f.kw_only]
    assert [a.arg for a in stub.args.kwonlyargs] == [f.name for f in fields if f.kw_only]
    assert list(inspect.signature(AnthropicTransport).parameters) == [f.name for f in fields]


@pytest.mark.parametrize("model_id", list(ANTHROPIC_MODELS.keys()))
def test_a_model_given_by_its_id_is_looked_up_in_the_registry(model_id: str) -> None:
    t = AnthropicTransport(api_key=KEY, model=model_id)
    assert t.model is t.models[model_id]
    assert t.model == ANTHROPIC_MODELS[model_id]
    assert t.build_payload([], [], "")["model"] == model_id


def test_a_model_id_is_looked_up_in_the_registry_given() -> None:
    custom = ModelSpec(id="claude-custom", capabilities=frozenset({Capability.text}), max_output_tokens=4096)
    t = AnthropicTransport(api_key=KEY, model="claude-custom", models=ModelRegistry([custom]))
    assert t.model is custom
    with pytest.raises(ConfigurationError, match="claude-sonnet-4-6"):
        AnthropicTransport(api_key=KEY, model="claude-sonnet-4-6", models=ModelRegistry([custom]))


def test_an_unknown_model_id_is_refused_naming_it_and_the_known_ones() -> None:
    with pytest.raises(ConfigurationError) as caught:
        AnthropicTransport(api_key=KEY, model="claude-sonet-4-6")
    message = str(caught.value)
    assert "model 'claude-sonet-4-6' is not in the model registry" in message
    assert all(known in message for known in ANTHROPIC_MODELS.ids())
    # and how to use a model the catalogue does not list yet:
    assert "ModelSpec" in message


def test_a_missing_key_for_anthropics_api_is_refused_at_construction() -> None:
    with pytest.raises(ConfigurationError, match="ANTHROPIC_API_KEY"):
        AnthropicTransport()
    with pytest.raises(ConfigurationError, match="no API key"):
        AnthropicTransport(api_key="", base_url="https://api.anthropic.com/v1", model="claude-haiku-4-5")


def test_no_key_is_needed_elsewhere() -> None:
    # A gateway, a proxy or the simulator may take no key at all.
    assert AnthropicTransport(base_url=LOCAL).api_key == ""
    assert AnthropicTransport(base_url="https://gateway.internal/v1").api_key == ""


def test_the_key_may_come_from_the_environment(env_key: str) -> None:
    assert AnthropicTransport().api_key == env_key
    assert AnthropicTransport(auth_token=TOKEN, api_key="").auth_token == TOKEN


def test_from_dict_reads_settings_saved_as_text_as_axio_tui_saves_them() -> None:
    restored = AnthropicTransport.from_dict(
        {
            "api_key": KEY,
            "max_retries": "2",
            "retry_base_delay": "0.25",
            "idle_timeout": "None",
            "deadline": "none",
            "betas": "context-1m-2025-08-07, interleaved-thinking-2025-05-14",
            "model": "claude-haiku-4-5",
        }
    )
    assert (restored.max_retries, restored.retry_base_delay, restored.idle_timeout, restored.deadline) == (
        2,
        0.25,
        None,
        None,
    )
    assert restored.betas == ("context-1m-2025-08-07", "interleaved-thinking-2025-05-14")
    assert restored.model is restored.models["claude-haiku-4-5"]


async def test_from_dict_without_a_key_restores_with_a_warning_and_stream_refuses(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Restoring never fails, a missing key included; the call that would need it does, before
    any network (the URL is Anthropic's: a request would leave this machine)."""
    caplog.set_level(logging.WARNING, logger=LOGGER_NAME)
    restored = AnthropicTransport.from_dict({"model": "claude-haiku-4-5"})
    assert restored.api_key == "" and restored.base_url == DEFAULT_BASE_URL
    assert any("without an API key" in m for m in warnings_of(caplog))
    with pytest.raises(ConfigurationError, match="ANTHROPIC_API_KEY"):
        await collect(restored)


async def test_open_for_app_reads_text_and_ignores_the_apps_own_keys(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger=LOGGER_NAME)
    saved = {"api_key": KEY, "model": "claude-haiku-4-5", "max_retries": "3", "_error": "a note of the app's"}
    async with AnthropicTransport.open_for_app(session=None, **saved) as transport:
        assert (transport.api_key, transport.model.id, transport.max_retries) == (KEY, "claude-haiku-4-5", 3)
        assert transport._owned is not None and not transport._owned.closed
        owned = transport._owned
    assert owned.closed
    assert warnings_of(caplog) == []


async def test_open_for_app_refuses_a_missing_key_so_the_app_says_why() -> None:
    with pytest.raises(ConfigurationError, match="no API key"):
        async with AnthropicTransport.open_for_app(session=None, model="claude-haiku-4-5"):
            pass


def test_a_key_from_the_environment_is_not_written_by_to_dict(env_key: str) -> None:
    """It stays where it was: the restore reads it from there again, and nothing writes it to a file."""
    data = AnthropicTransport().to_dict()
    assert data["api_key"] == ""
    assert env_key not in json.dumps(data)
    assert AnthropicTransport.from_dict(data).api_key == env_key
    assert AnthropicTransport(api_key=env_key).to_dict()["api_key"] == env_key
