"""Settings: strict construction, saving (with the key redacted) and forgiving restoring; the catalogue."""

from __future__ import annotations

import json
import logging
import math
from typing import Any, cast

import aiohttp
import pytest
from axio.models import Capability, ModelRegistry, ModelSpec
from axio.testing import assert_static_model_transport_contract

from axio_transport_anthropic import ANTHROPIC_MODELS, DEFAULT_BASE_URL, AnthropicTransport, cost_usd
from axio_transport_anthropic.errors import ConfigurationError
from axio_transport_anthropic.models import DEFAULT_MODEL
from axio_transport_anthropic.telemetry.logs import LOGGER_NAME

from .support import warnings_of

KEY = "sk-ant-api03-SETTINGS-SECRET-abcdef0123456789"
TOKEN = "gateway-token-SETTINGS-SECRET-0123"
REDACTED = "[redacted]"
LOCAL = "http://127.0.0.1:8123/v1"

pytestmark = pytest.mark.usefixtures("no_anthropic_env")


def everything_set() -> AnthropicTransport:
    return AnthropicTransport(
        name="Claude (work)",
        base_url="http://127.0.0.1:8123/v1",
        api_key=KEY,
        model=ANTHROPIC_MODELS["claude-opus-4-6"],
        temperature=0.3,
        top_p=0.9,
        top_k=40,
        thinking_budget=4096,
        max_tokens=20_000,
        max_retries=4,
        retry_base_delay=0.25,
        retry_max_delay=12.5,
        connect_timeout=3.0,
        first_byte_timeout=45.0,
        idle_timeout=30.0,
        deadline=600.0,
        prompt_caching=False,
        cache_ttl="1h",
        auth_token=TOKEN,
        default_headers={"X-Gateway-Route": "claude"},
        betas=["context-1m-2025-08-07"],
    )


# ── construction is strict ──────────────────────────────────────────────────────────────────


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("temperature", 1.5),
        ("temperature", -0.1),
        ("temperature", math.nan),
        ("temperature", math.inf),
        ("temperature", "0.5"),
        ("top_p", -0.1),
        ("top_p", 1.01),
        ("top_k", 0),
        ("top_k", -5),
        ("thinking_budget", 0),
        ("max_tokens", 0),
        ("max_tokens", -1),
        ("max_retries", -1),
        ("retry_base_delay", -1),
        ("retry_base_delay", math.inf),
        ("retry_max_delay", -0.5),
        ("connect_timeout", 0),
        ("connect_timeout", -1.0),
        ("connect_timeout", math.inf),
        ("connect_timeout", math.nan),
        ("connect_timeout", "10"),
        ("first_byte_timeout", 0),
        ("first_byte_timeout", -30),
        ("first_byte_timeout", math.inf),
        ("idle_timeout", 0.0),
        ("idle_timeout", -2),
        ("idle_timeout", math.inf),
        ("deadline", 0),
        ("deadline", -1),
        ("deadline", math.inf),
        ("base_url", "ftp://x"),
        ("base_url", "not a url"),
        ("base_url", "http://"),
        ("base_url", ""),
        ("cache_ttl", "2h"),
        ("cache_ttl", "5M"),
        ("cache_ttl", ""),
        ("model", "claude-9-ultra"),
        ("model", 42),
        # Booleans are not numbers here, although Python says True == 1.
        ("temperature", True),
        ("top_p", False),
        ("top_k", True),
        ("thinking_budget", True),
        ("max_tokens", True),
        ("max_retries", True),
        ("retry_base_delay", True),
        ("retry_max_delay", False),
    ],
)
def test_an_invalid_value_raises_naming_the_field(field: str, value: Any) -> None:
    with pytest.raises(ConfigurationError, match=field):
        AnthropicTransport(**{field: value})


@pytest.mark.parametrize("field", ["connect_timeout", "first_byte_timeout", "idle_timeout", "deadline"])
def test_a_bool_timeout_is_refused(field: str) -> None:
    # ``True`` would otherwise be a one-second timeout: validate() accepts any int, bool included.
    kwargs: dict[str, Any] = {field: True}
    with pytest.raises(ConfigurationError, match=field):
        AnthropicTransport(**kwargs)


@pytest.mark.parametrize("value", [1, 0, "yes", None])
def test_prompt_caching_must_be_a_bool(value: Any) -> None:
    with pytest.raises(ConfigurationError, match="prompt_caching"):
        AnthropicTransport(prompt_caching=value)


@pytest.mark.parametrize(
    ("field", "value"), [("top_k", 2.5), ("thinking_budget", 2048.5), ("max_tokens", 100.5), ("max_retries", 1.5)]
)
def test_an_integer_setting_refuses_a_fraction(field: str, value: Any) -> None:
    # The API refuses ``"max_tokens": 100.5``: better named here than a 400 on every request.
    with pytest.raises(ConfigurationError, match=field):
        AnthropicTransport(**{field: value})


def test_boundary_values_are_accepted() -> None:
    low = AnthropicTransport(
        temperature=0.0,
        top_p=0.0,
        top_k=1,
        thinking_budget=1,
        max_tokens=1,
        max_retries=0,
        retry_base_delay=0.0,
        retry_max_delay=0.0,
        connect_timeout=None,
        first_byte_timeout=None,
        idle_timeout=None,
        deadline=None,
        base_url="http://localhost:9",
    )
    assert (low.temperature, low.top_p, low.top_k, low.max_retries) == (0.0, 0.0, 1, 0)
    assert (low.connect_timeout, low.first_byte_timeout, low.idle_timeout, low.deadline) == (None, None, None, None)
    high = AnthropicTransport(
        api_key=KEY, temperature=1, top_p=1.0, connect_timeout=0.001, deadline=1e6, cache_ttl="1h"
    )
    assert (high.temperature, high.top_p, high.connect_timeout, high.deadline) == (1, 1.0, 0.001, 1e6)


def test_defaults(env_key: str) -> None:
    t = AnthropicTransport()
    assert t.base_url == DEFAULT_BASE_URL == "https://api.anthropic.com/v1"
    assert t.api_key == env_key
    assert (t.auth_token, t.default_headers, t.betas) == ("", {}, ())
    assert t.model == ANTHROPIC_MODELS[DEFAULT_MODEL]
    assert t.model.id == "claude-sonnet-4-6"
    assert t.models == ModelRegistry(ANTHROPIC_MODELS.values())
    assert (t.max_retries, t.retry_base_delay, t.retry_max_delay) == (10, 5.0, 60.0)
    assert (t.connect_timeout, t.first_byte_timeout, t.idle_timeout, t.deadline) == (10.0, 120.0, 120.0, None)
    assert (t.prompt_caching, t.cache_ttl) == (True, "5m")


# ── the key stays secret ────────────────────────────────────────────────────────────────────


def test_repr_and_str_never_show_the_key() -> None:
    t = everything_set()
    for text in (repr(t), str(t), f"{t}", f"{t!r}"):
        assert KEY not in text
        assert "SETTINGS-SECRET" not in text
        assert "claude-opus-4-6" in text


def test_to_dict_redacted_never_holds_the_key() -> None:
    data = everything_set().to_dict(redact=True)
    assert data["api_key"] == REDACTED
    assert KEY not in json.dumps(data)
    assert "SETTINGS-SECRET" not in repr(data)


def test_to_dict_redacted_without_a_key_says_so() -> None:
    data = AnthropicTransport(base_url=LOCAL).to_dict(redact=True)
    assert (data["api_key"], data["auth_token"]) == ("", "")


def test_to_dict_unredacted_holds_the_key() -> None:
    assert everything_set().to_dict()["api_key"] == KEY
    assert everything_set().to_dict(redact=False)["api_key"] == KEY


# ── saving ──────────────────────────────────────────────────────────────────────────────────


def test_to_dict_of_a_transport_with_every_field_set() -> None:
    data = everything_set().to_dict()
    models = data.pop("models")
    assert data == {
        "name": "Claude (work)",
        "base_url": "http://127.0.0.1:8123/v1",
        "api_key": KEY,
        "model": "claude-opus-4-6",
        "cache_ttl": "1h",
        "temperature": 0.3,
        "top_p": 0.9,
        "top_k": 40,
        "thinking_budget": 4096,
        "max_tokens": 20_000,
        "max_retries": 4,
        "retry_base_delay": 0.25,
        "retry_max_delay": 12.5,
        "connect_timeout": 3.0,
        "first_byte_timeout": 45.0,
        "idle_timeout": 30.0,
        "deadline": 600.0,
        "prompt_caching": False,
        "auth_token": TOKEN,
        "default_headers": {"X-Gateway-Route": "claude"},
        "betas": ["context-1m-2025-08-07"],
    }
    assert [m["id"] for m in models] == list(ANTHROPIC_MODELS.keys())
    assert models[0] == {
        "id": "claude-opus-4-6",
        "context_window": 1_000_000,
        "max_output_tokens": 128_000,
        "capabilities": ["reasoning", "text", "tool_use", "vision"],
        "input_cost": 5.0,
        "output_cost": 25.0,
    }
    json.dumps(data)


def test_round_trip_with_every_field_set() -> None:
    original = everything_set()
    restored = AnthropicTransport.from_dict(original.to_dict())
    assert restored == original
    assert restored.to_dict() == original.to_dict()
    assert restored.api_key == KEY
    assert restored.model is restored.models["claude-opus-4-6"]


def test_round_trip_through_json() -> None:
    original = everything_set()
    restored = AnthropicTransport.from_dict(json.loads(json.dumps(original.to_dict())))
    assert restored == original


def test_round_trip_keeps_a_custom_model_registry() -> None:
    custom = ModelSpec(
        id="claude-custom",
        capabilities=frozenset({Capability.text, Capability.tool_use}),
        max_output_tokens=4096,
        context_window=100_000,
        input_cost=2.0,
        output_cost=8.0,
    )
    original = AnthropicTransport(api_key=KEY, model=custom, models=ModelRegistry([custom]))
    restored = AnthropicTransport.from_dict(original.to_dict())
    assert restored.models == ModelRegistry([custom])
    assert restored.model == custom


def test_round_trip_keeps_the_session_given_and_not_the_saved_one() -> None:
    session = cast(aiohttp.ClientSession, object())
    restored = AnthropicTransport.from_dict(everything_set().to_dict(), session=session)
    assert restored.session is session
    assert AnthropicTransport.from_dict(everything_set().to_dict()).session is None


def test_round_trip_keeps_disabled_timeouts() -> None:
    # None switches a timeout off; restoring must not quietly switch it back on at the default.
    original = AnthropicTransport(api_key=KEY, connect_timeout=None, first_byte_timeout=None, idle_timeout=None)
    restored = AnthropicTransport.from_dict(original.to_dict())
    assert (restored.connect_timeout, restored.first_byte_timeout, restored.idle_timeout) == (None, None, None)
    assert restored == original


# ── restoring is forgiving ──────────────────────────────────────────────────────────────────


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("temperature", "hot"),
        ("temperature", {"nested": [1, {"junk": None}]}),
        ("temperature", [0.5]),
        ("temperature", "nan"),
        ("temperature", "inf"),
        ("temperature", 5),
        ("temperature", True),
        ("top_p", -3),
        ("top_k", "2.5"),
        ("top_k", "many"),
        ("top_k", 0),
        ("thinking_budget", "lots"),
        ("max_tokens", -1),
        ("max_tokens", "1e400"),
        ("max_retries", "ten"),
        ("max_retries", -3),
        ("retry_base_delay", "slow"),
        ("retry_base_delay", 10**400),
        ("retry_max_delay", -1.0),
        ("connect_timeout", "fast"),
        ("connect_timeout", 0),
        ("first_byte_timeout", -1),
        ("idle_timeout", "1e400"),
        ("deadline", "never"),
        ("deadline", 0),
        ("base_url", "ftp://x"),
        ("base_url", "not a url"),
        ("base_url", "http://"),
        ("base_url", 42),
        ("model", "claude-9"),
        ("model", 42),
        ("model", {"id": "claude-sonnet-4-6"}),
        ("models", "junk"),
        ("models", {"claude-sonnet-4-6": {}}),
        ("models", [1, "x", None]),
        ("cache_ttl", "2h"),
        ("cache_ttl", 5),
        ("prompt_caching", "yes"),
        ("prompt_caching", 1),
        ("name", 5),
        ("name", {"x": 1}),
        ("api_key", 12345),
        ("api_key", ["sk-ant-list"]),
    ],
    ids=lambda v: repr(v)[:30],
)
def test_from_dict_skips_a_garbage_value_with_a_warning_naming_it(
    field: str, value: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger=LOGGER_NAME)
    saved = AnthropicTransport(api_key=KEY, base_url=LOCAL).to_dict()
    saved[field] = value
    restored = AnthropicTransport.from_dict(saved)
    # Only the bad value is lost: every other setting is restored, this one is at its default.
    expected = AnthropicTransport(
        api_key="" if field == "api_key" else KEY, base_url=DEFAULT_BASE_URL if field == "base_url" else LOCAL
    )
    assert restored == expected
    # The models registry is spelled "model entry" in its warning.
    name = "model" if field == "models" else field
    assert any(name in message for message in warnings_of(caplog)), warnings_of(caplog)
    # Whatever is said about a bad value, a key is never part of it.
    assert "SETTINGS-SECRET" not in caplog.text
    assert "sk-ant-list" not in caplog.text


def test_from_dict_keeps_the_good_values_beside_the_bad(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger=LOGGER_NAME)
    saved = everything_set().to_dict()
    saved.update(temperature="hot", top_k=-1, deadline="never", base_url="ftp://x")
    restored = AnthropicTransport.from_dict(saved)
    assert (restored.temperature, restored.top_k, restored.deadline) == (None, None, None)
    assert restored.base_url == DEFAULT_BASE_URL
    assert (restored.top_p, restored.max_tokens, restored.cache_ttl, restored.prompt_caching) == (
        0.9,
        20_000,
        "1h",
        False,
    )
    assert restored.model.id == "claude-opus-4-6"
    warned = " ".join(warnings_of(caplog))
    for field in ("temperature", "top_k", "deadline", "base_url"):
        assert field in warned


def test_from_dict_converts_numbers_saved_as_strings() -> None:
    restored = AnthropicTransport.from_dict({"temperature": "0.5", "top_k": "12", "deadline": "90"})
    assert (restored.temperature, restored.top_k, restored.deadline) == (0.5, 12, 90.0)


def test_from_dict_with_nones_is_the_defaults(env_key: str) -> None:
    saved: dict[str, Any] = dict.fromkeys(AnthropicTransport().to_dict())
    saved.update(dict.fromkeys(("temperature", "top_p", "top_k", "thinking_budget", "max_tokens", "deadline")))
    # A saved None on a timeout means "no limit", as to_dict writes it; elsewhere it is the default.
    expected = AnthropicTransport(connect_timeout=None, first_byte_timeout=None, idle_timeout=None, deadline=None)
    assert AnthropicTransport.from_dict(saved) == expected


@pytest.mark.parametrize("data", [[1, 2], "settings", None, 42, ["api_key", KEY]])
def test_from_dict_of_a_non_mapping_is_the_defaults(data: Any, caplog: pytest.LogCaptureFixture, env_key: str) -> None:
    caplog.set_level(logging.WARNING, logger=LOGGER_NAME)
    restored = AnthropicTransport.from_dict(data)
    assert restored == AnthropicTransport()
    assert any("not a mapping" in message for message in warnings_of(caplog))


def test_from_dict_of_an_empty_mapping_is_the_defaults(caplog: pytest.LogCaptureFixture, env_key: str) -> None:
    caplog.set_level(logging.WARNING, logger=LOGGER_NAME)
    assert AnthropicTransport.from_dict({}) == AnthropicTransport()
    assert warnings_of(caplog) == []


def test_from_dict_warns_about_an_unknown_key(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger=LOGGER_NAME)
    saved = AnthropicTransport(api_key=KEY).to_dict()
    saved["frobnicate_level"] = 11
    saved["nested"] = {"deep": [1, 2, {"x": None}]}
    restored = AnthropicTransport.from_dict(saved)
    assert restored == AnthropicTransport(api_key=KEY)
    warned = " ".join(warnings_of(caplog))
    assert "frobnicate_level" in warned
    assert "nested" in warned


def test_a_round_trip_logs_no_warning(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger=LOGGER_NAME)
    AnthropicTransport.from_dict(everything_set().to_dict())
    assert warnings_of(caplog) == []


def test_from_dict_picks_a_saved_catalogue_model() -> None:
    restored = AnthropicTransport.from_dict({"model": "claude-haiku-4-5"})
    assert restored.model == ANTHROPIC_MODELS["claude-haiku-4-5"]


def test_from_dict_ignores_unreadable_model_entries(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger=LOGGER_NAME)
    good = {
        "id": "claude-custom",
        "context_window": 100_000,
        "max_output_tokens": 4096,
        "capabilities": ["text", "tool_use", "telepathy"],
        "input_cost": 2,
        "output_cost": 8,
    }
    saved = {
        "models": ["junk", {"no_id": 1}, good, {"id": "bad", "context_window": "big"}, {"id": "c", "capabilities": 5}],
        "model": "claude-custom",
    }
    restored = AnthropicTransport.from_dict(saved)
    spec = ModelSpec(
        id="claude-custom",
        capabilities=frozenset({Capability.text, Capability.tool_use}),
        max_output_tokens=4096,
        context_window=100_000,
        input_cost=2.0,
        output_cost=8.0,
    )
    assert list(restored.models.keys()) == ["claude-custom"]
    assert restored.model == spec
    assert len([m for m in warnings_of(caplog) if "model entry" in m]) == 4


def test_from_dict_falls_back_to_the_catalogue_when_no_entry_reads(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger=LOGGER_NAME)
    restored = AnthropicTransport.from_dict({"models": [{"nope": 1}], "model": "claude-opus-4-5"})
    assert restored.models == ModelRegistry(ANTHROPIC_MODELS.values())
    assert restored.model == ANTHROPIC_MODELS["claude-opus-4-5"]
    assert any("bundled catalogue" in m for m in warnings_of(caplog))


def test_from_dict_unknown_model_id_keeps_the_default(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger=LOGGER_NAME)
    restored = AnthropicTransport.from_dict({"model": "claude-9-ultra"})
    assert restored.model == ANTHROPIC_MODELS[DEFAULT_MODEL]
    assert any("model" in m and "claude-9-ultra" in m for m in warnings_of(caplog))


@pytest.mark.parametrize(
    "entry",
    [
        {"id": ""},
        {"id": None},
        {"id": "  padded  "},
        {"id": "negative-window", "context_window": -1},
        {"id": "no-output", "max_output_tokens": 0},
        {"id": "nan-price", "input_cost": "nan"},
        {"id": "inf-price", "output_cost": "inf"},
        {"id": "negative-price", "input_cost": -1},
    ],
    ids=lambda entry: repr(entry.get("id")),
)
def test_from_dict_never_restores_a_malformed_model_entry(
    entry: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger=LOGGER_NAME)
    restored = AnthropicTransport.from_dict({"models": [entry]})
    assert_static_model_transport_contract(restored)
    assert restored.models == ModelRegistry(ANTHROPIC_MODELS.values())
    assert any("model entry" in m for m in warnings_of(caplog))


def test_from_dict_with_the_redacted_placeholder_uses_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    saved = everything_set().to_dict(redact=True)
    assert AnthropicTransport.from_dict(saved).api_key == ""
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-from-env")
    restored = AnthropicTransport.from_dict(saved)
    assert restored.api_key == "sk-from-env"
    assert restored.api_key != REDACTED


def test_from_dict_with_the_redacted_placeholder_warns(caplog: pytest.LogCaptureFixture) -> None:
    # Restoring a redacted dump silently loses the key; the operator should hear why.
    caplog.set_level(logging.WARNING, logger=LOGGER_NAME)
    AnthropicTransport.from_dict(everything_set().to_dict(redact=True))
    assert any("api_key" in m for m in warnings_of(caplog)), warnings_of(caplog)


# ── environment fallbacks ───────────────────────────────────────────────────────────────────


def test_api_key_falls_back_to_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-env-key")
    assert AnthropicTransport().api_key == "sk-env-key"
    assert AnthropicTransport.from_dict({}).api_key == "sk-env-key"
    assert AnthropicTransport.from_dict({"api_key": ""}).api_key == "sk-env-key"
    assert AnthropicTransport.from_dict({"api_key": None}).api_key == "sk-env-key"
    # A saved key wins over the environment.
    assert AnthropicTransport.from_dict({"api_key": "sk-saved"}).api_key == "sk-saved"
    assert AnthropicTransport(api_key="sk-given").api_key == "sk-given"


def test_base_url_falls_back_to_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "http://proxy.internal:8080/v1")
    assert AnthropicTransport().base_url == "http://proxy.internal:8080/v1"
    assert AnthropicTransport.from_dict({}).base_url == "http://proxy.internal:8080/v1"
    assert AnthropicTransport.from_dict({"base_url": "ftp://x"}).base_url == "http://proxy.internal:8080/v1"
    # A saved URL wins over the environment.
    assert AnthropicTransport.from_dict({"base_url": "https://saved.example/v1"}).base_url == "https://saved.example/v1"


def test_an_empty_base_url_variable_means_the_default(monkeypatch: pytest.MonkeyPatch, env_key: str) -> None:
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "")
    assert AnthropicTransport().base_url == DEFAULT_BASE_URL
    assert AnthropicTransport.from_dict({}).base_url == DEFAULT_BASE_URL


def test_to_dict_does_not_bake_the_environment_key_into_a_redacted_dump(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-env-secret-xyz")
    data = AnthropicTransport().to_dict(redact=True)
    assert data["api_key"] == REDACTED
    assert "sk-env-secret-xyz" not in json.dumps(data)


# ── the catalogue ───────────────────────────────────────────────────────────────────────────


async def test_fetch_models_resets_to_the_catalogue_without_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("fetch_models opened a session")

    monkeypatch.setattr(aiohttp, "ClientSession", no_network)
    t = AnthropicTransport(api_key=KEY)
    t.models = ModelRegistry([ModelSpec(id="stale", capabilities=frozenset({Capability.text}))])
    await t.fetch_models()
    assert t.models == ModelRegistry(ANTHROPIC_MODELS.values())
    assert list(t.models.keys()) == [
        "claude-opus-4-6",
        "claude-sonnet-4-6",
        "claude-haiku-4-5",
        "claude-haiku-4-5-20251001",
        "claude-opus-4-5",
        "claude-sonnet-4-5",
    ]
    # The transport's registry is its own: editing it leaves the catalogue alone.
    del t.models["claude-opus-4-6"]
    assert "claude-opus-4-6" in ANTHROPIC_MODELS


@pytest.mark.parametrize(
    ("model_id", "context", "output", "input_cost", "output_cost"),
    [
        ("claude-opus-4-6", 1_000_000, 128_000, 5.0, 25.0),
        ("claude-sonnet-4-6", 1_000_000, 64_000, 3.0, 15.0),
        ("claude-haiku-4-5", 200_000, 64_000, 1.0, 5.0),
        ("claude-haiku-4-5-20251001", 200_000, 64_000, 1.0, 5.0),
        ("claude-opus-4-5", 200_000, 64_000, 5.0, 25.0),
        ("claude-sonnet-4-5", 200_000, 64_000, 3.0, 15.0),
    ],
)
def test_catalogue_facts(model_id: str, context: int, output: int, input_cost: float, output_cost: float) -> None:
    spec = ANTHROPIC_MODELS[model_id]
    assert spec.id == model_id
    assert (spec.context_window, spec.max_output_tokens) == (context, output)
    assert (spec.input_cost, spec.output_cost) == (input_cost, output_cost)
    assert spec.capabilities == frozenset(
        {Capability.text, Capability.vision, Capability.reasoning, Capability.tool_use}
    )


def test_catalogue_size() -> None:
    assert len(ANTHROPIC_MODELS) == 6


def test_static_model_transport_contract() -> None:
    assert_static_model_transport_contract(AnthropicTransport(api_key=KEY))
    assert_static_model_transport_contract(everything_set())
    assert_static_model_transport_contract(AnthropicTransport.from_dict(everything_set().to_dict()))


# ── cost_usd ────────────────────────────────────────────────────────────────────────────────

MILLION = 1_000_000


def test_cost_of_plain_input_and_output() -> None:
    sonnet = ANTHROPIC_MODELS["claude-sonnet-4-6"]
    assert cost_usd(sonnet, uncached_input=MILLION, output=0) == pytest.approx(3.0)
    assert cost_usd(sonnet, uncached_input=0, output=MILLION) == pytest.approx(15.0)
    assert cost_usd(sonnet, uncached_input=0, output=0) == 0.0
    opus = ANTHROPIC_MODELS["claude-opus-4-6"]
    assert cost_usd(opus, uncached_input=2_000, output=500) == pytest.approx(2_000 * 5e-6 + 500 * 25e-6)


def test_cost_of_cache_reads_and_writes() -> None:
    sonnet = ANTHROPIC_MODELS["claude-sonnet-4-6"]
    assert cost_usd(sonnet, uncached_input=0, output=0, cache_read=MILLION) == pytest.approx(0.3)
    assert cost_usd(sonnet, uncached_input=0, output=0, cache_write_5m=MILLION) == pytest.approx(3.75)
    assert cost_usd(sonnet, uncached_input=0, output=0, cache_write_1h=MILLION) == pytest.approx(6.0)


def test_cost_adds_every_part() -> None:
    haiku = ANTHROPIC_MODELS["claude-haiku-4-5"]
    total = cost_usd(
        haiku,
        uncached_input=1_000,
        output=2_000,
        cache_read=10_000,
        cache_write_5m=4_000,
        cache_write_1h=3_000,
    )
    expected = (1_000 + 10_000 * 0.1 + 4_000 * 1.25 + 3_000 * 2.0) * 1e-6 + 2_000 * 5e-6
    assert total == pytest.approx(expected)
    assert total == pytest.approx(0.023)
