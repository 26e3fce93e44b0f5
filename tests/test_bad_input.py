"""Bad input: each gets a clear error, naming what is wrong, before anything is sent.

Settings the transport cannot work with raise ``ConfigurationError`` at construction; saved
settings that no longer read are skipped with a warning naming them (``from_dict`` is forgiving
by design, and must never crash); a conversation the API cannot take raises before the first
byte goes out (the simulator records every request that reaches it, so ``sim.requests`` stays
empty). And the API key is in no error, log line, span, metric or repr, whatever happens.
"""

from __future__ import annotations

import json
import logging
import math
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

import aiohttp
import pytest
import structlog
from axio.blocks import AudioBlock, ImageBlock, TextBlock, ToolResultBlock, ToolUseBlock, VideoBlock
from axio.events import IterationEnd
from axio.messages import Message
from axio.models import ModelSpec
from axio.tool import Tool
from hypothesis import example, given, settings
from hypothesis import strategies as st

from axio_transport_anthropic import DEFAULT_BASE_URL, AnthropicTransport, ConfigurationError
from axio_transport_anthropic.models import DEFAULT_MODEL
from axio_transport_anthropic.simulator import Fault, Simulator
from axio_transport_anthropic.telemetry.logs import LOGGER_NAME

from .conftest import SECRET
from .leaks import Captured, assert_released, outputs_holding, stream_error, structlog_lines
from .support import collect, user

pytestmark = pytest.mark.filterwarnings("error::ResourceWarning")

#: The Messages API refuses a request body over 32 MB (HTTP 413 request_too_large).
API_REQUEST_LIMIT = 32 * 1024 * 1024


@pytest.fixture(autouse=True)
def _no_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("ANTHROPIC_BASE_URL", raising=False)
    structlog.reset_defaults()
    yield
    structlog.reset_defaults()


def warnings_in(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING and r.name.startswith(LOGGER_NAME)]


# ── settings ────────────────────────────────────────────────────────────────────────────────

ABSURD = [
    ("max_retries", -1),
    ("max_retries", -(10**9)),
    ("max_retries", 2.5),
    ("max_retries", "3"),
    ("max_retries", None),
    ("max_retries", math.nan),
    ("retry_base_delay", -0.001),
    ("retry_base_delay", math.nan),
    ("retry_base_delay", "5"),
    ("retry_max_delay", math.inf),
    ("retry_max_delay", -60),
    *[
        (name, value)
        for name in ("connect_timeout", "first_byte_timeout", "idle_timeout", "deadline")
        for value in (-1, 0, -0.0, math.nan, math.inf, -math.inf, "30", True, [30])
    ],
]


@pytest.mark.parametrize(("name", "value"), ABSURD, ids=lambda v: repr(v))
def test_a_setting_that_cannot_work_is_refused_naming_it(name: str, value: Any) -> None:
    with pytest.raises(ConfigurationError, match=name) as caught:
        AnthropicTransport(api_key=SECRET, **{name: value})
    assert SECRET not in str(caught.value)


def test_an_unknown_model_id_is_refused_naming_it() -> None:
    with pytest.raises(ConfigurationError, match="model 'claude-unknown-0' is not in the model registry"):
        AnthropicTransport(api_key=SECRET, model="claude-unknown-0")


async def test_extreme_but_valid_settings_still_make_a_request(sim: Simulator, session: aiohttp.ClientSession) -> None:
    """Huge timeouts and retry counts are allowed ("no practical limit"); nothing overflows."""
    transport = AnthropicTransport(
        api_key=SECRET,
        base_url=sim.base_url,
        session=session,
        max_retries=10**9,
        retry_base_delay=1e-300,
        retry_max_delay=1e300,
        connect_timeout=1e300,
        first_byte_timeout=1e300,
        idle_timeout=1e300,
        deadline=1e300,
        telemetry=None,
    )
    sim.inject(Fault.overloaded())
    events = await collect(transport)
    assert isinstance(events[-1], IterationEnd) and len(sim.requests) == 2


# ── from_dict: garbage in, defaults and a warning out, never a crash ────────────────────────

KNOWN = (
    "name",
    "api_key",
    "auth_token",
    "default_headers",
    "betas",
    "base_url",
    "model",
    "models",
    "cache_ttl",
    "prompt_caching",
    "temperature",
    "top_p",
    "top_k",
    "thinking_budget",
    "max_tokens",
    "max_retries",
    "retry_base_delay",
    "retry_max_delay",
    "connect_timeout",
    "first_byte_timeout",
    "idle_timeout",
    "deadline",
)
NUMBERS = KNOWN[KNOWN.index("temperature") :]
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
    | st.sampled_from(["1e400", "-1e400", "nan", "inf", "0x10", "5m", "claude-sonnet-4-6", SECRET])
)
JSONISH = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
MODEL_ENTRY = st.fixed_dictionaries(
    {"id": st.one_of(st.just("claude-sonnet-4-6"), st.text(max_size=10), SCALARS)},
    optional={
        "context_window": SCALARS,
        "max_output_tokens": SCALARS,
        "capabilities": JSONISH,
        "input_cost": SCALARS,
        "output_cost": SCALARS,
    },
)
GARBAGE = st.dictionaries(
    st.sampled_from(KNOWN) | st.text(max_size=8),
    JSONISH,
    max_size=8,
) | st.builds(
    lambda entries, data: {**data, "models": entries},
    st.lists(MODEL_ENTRY, max_size=3),
    st.dictionaries(st.sampled_from(KNOWN), JSONISH, max_size=4),
)


@settings(max_examples=300, deadline=None)
@given(data=GARBAGE | JSONISH)
# JSON reads 1e400 as inf: a hand-edited or foreign settings file can hold it.
@example(data={"models": [{"id": "claude-x", "context_window": math.inf}]})
@example(data={"models": [{"id": "claude-x", "max_output_tokens": -math.inf}]})
def test_from_dict_never_crashes_and_restores_a_transport_that_can_build_a_request(data: Any) -> None:
    """Whatever was saved (a hand-edited file, an old version's format, ``1e400`` read as inf),
    restoring never crashes and gives a valid transport: its request body serialises as strict
    JSON, or (settings valid one by one but not together) building it names the conflict."""
    transport = AnthropicTransport.from_dict(data)
    assert transport.model.id in transport.models
    try:
        body = transport.build_payload(user("hi"), [], "")
    except ConfigurationError:
        return
    json.dumps(body, allow_nan=False)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("max_retries", "lots"),
        ("max_retries", -3),
        ("first_byte_timeout", 0),
        ("idle_timeout", "soon"),
        ("deadline", -5),
        ("temperature", math.nan),
        ("model", "claude-unknown-0"),
        ("base_url", "ftp://example.com"),
        ("cache_ttl", "forever"),
    ],
    ids=repr,
)
async def test_a_restored_garbage_setting_is_named_and_the_request_still_goes_out_valid(
    sim: Simulator, session: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture, field: str, value: Any
) -> None:
    caplog.set_level(logging.WARNING, logger=LOGGER_NAME)
    saved = AnthropicTransport(api_key=SECRET, base_url=sim.base_url).to_dict()
    saved[field] = value
    transport = AnthropicTransport.from_dict(saved, session=session)
    warned = warnings_in(caplog)
    assert any(field in message for message in warned), warned
    assert sim.requests == []  # restoring does no IO
    if field == "base_url":
        # Back to the default, the real API: point it at the simulator again (never leave loopback).
        assert transport.base_url == DEFAULT_BASE_URL
        transport.base_url = sim.base_url
    transport.telemetry, transport.max_retries = None, 0
    await collect(transport)
    (request,) = sim.requests
    assert request.body["model"] == DEFAULT_MODEL and isinstance(request.body["max_tokens"], int)
    assert SECRET not in caplog.text


# ── a conversation the API cannot take ──────────────────────────────────────────────────────


async def _handler(city: str) -> str:
    """Look a city up."""
    return city


class Opaque:
    """A Python object with no JSON form."""


UNSENDABLE: list[tuple[str, list[Message], list[Tool[Any]], tuple[str, ...]]] = [
    (
        "audio-in-a-user-message",
        [Message(role="user", content=[TextBlock(text="listen"), AudioBlock(media_type="audio/wav", data=b"RIFF")])],
        [],
        ("message 0", "AudioBlock"),
    ),
    (
        "video-in-a-user-message",
        [Message(role="user", content=[VideoBlock(media_type="video/mp4", data=b"\0\0\0\x18ftyp")])],
        [],
        ("message 0", "VideoBlock"),
    ),
    (
        "image-in-an-assistant-message",
        [*user("hi"), Message(role="assistant", content=[ImageBlock(media_type="image/png", data=b"\x89PNG")])],
        [],
        ("message 1", "ImageBlock"),
    ),
    (
        "tool-result-in-an-assistant-message",
        [*user("hi"), Message(role="assistant", content=[ToolResultBlock(tool_use_id="toolu_1", content="x")])],
        [],
        ("message 1", "ToolResultBlock"),
    ),
    (
        "tool-schema-holding-a-python-object",
        user("hi"),
        [
            Tool(
                name="lookup",
                handler=_handler,
                schema=MappingProxyType(
                    {"type": "object", "properties": {"city": {"type": "string", "default": Opaque()}}}
                ),
            )
        ],
        ("lookup", "schema"),
    ),
    (
        "tool-schema-holding-a-set",
        user("hi"),
        [
            Tool(
                name="lookup",
                handler=_handler,
                schema=MappingProxyType(
                    {"type": "object", "properties": {"city": {"type": "string", "enum": {"Paris", "Rome"}}}}
                ),
            )
        ],
        ("lookup", "schema"),
    ),
    (
        "tool-call-arguments-holding-a-datetime",
        [
            *user("when?"),
            Message(
                role="assistant",
                content=[ToolUseBlock(id="toolu_1", name="lookup", input={"at": datetime(2025, 1, 1, tzinfo=UTC)})],
            ),
            Message(role="user", content=[ToolResultBlock(tool_use_id="toolu_1", content="ok")]),
        ],
        [],
        ("message 1", "toolu_1"),
    ),
]


@pytest.mark.parametrize(("messages", "tools", "names"), [c[1:] for c in UNSENDABLE], ids=[c[0] for c in UNSENDABLE])
async def test_a_conversation_the_api_cannot_take_fails_before_sending_naming_the_part(
    sim: Simulator,
    session: aiohttp.ClientSession,
    messages: list[Message],
    tools: list[Tool[Any]],
    names: tuple[str, ...],
) -> None:
    captured = Captured()
    transport = AnthropicTransport(api_key=SECRET, base_url=sim.base_url, session=session, telemetry=captured.config())
    with pytest.raises(ConfigurationError) as caught:
        await collect(transport, messages, tools=tools)
    text = str(caught.value)
    assert all(name in text for name in names), f"{names} not all in {text!r}"
    assert sim.requests == []
    await assert_released(session, captured, (DEFAULT_MODEL,), sim)


async def test_a_large_valid_request_goes_out_without_a_resource_warning(
    sim: Simulator, session: aiohttp.ClientSession
) -> None:
    """A 2 MB image is an ordinary request; sending it must not warn (aiohttp warns about any raw
    ``bytes`` body over 1 MiB, and these tests turn ResourceWarning into an error)."""
    transport = AnthropicTransport(api_key=SECRET, base_url=sim.base_url, session=session, telemetry=None)
    image = ImageBlock(media_type="image/png", data=b"\x89PNG\r\n\x1a\n" + bytes(2 * 1024 * 1024))
    events = await collect(transport, [Message(role="user", content=[TextBlock(text="what is this?"), image])])
    assert isinstance(events[-1], IterationEnd) and len(sim.requests) == 1


async def test_a_request_over_the_api_size_limit_is_refused_before_sending(
    sim: Simulator, session: aiohttp.ClientSession
) -> None:
    """The API takes at most 32 MB per Messages request; uploading more only to read a 413 back
    wastes the upload (and, at this size, seconds on a real link)."""
    transport = AnthropicTransport(api_key=SECRET, base_url=sim.base_url, session=session, telemetry=None)
    huge = "x" * (API_REQUEST_LIMIT + 1024)
    with warnings.catch_warnings():
        # aiohttp's warning about a large raw-bytes body is the test above; this one is the limit.
        warnings.filterwarnings("ignore", "Sending a large body directly", ResourceWarning)
        with pytest.raises(ConfigurationError) as caught:
            await collect(transport, user(huge))
    assert sim.requests == [], f"{len(sim.requests)} request(s) sent; the transport raised {caught.value!r}"
    assert "32" in str(caught.value) and "MB" in str(caught.value)


# ── the key goes nowhere ────────────────────────────────────────────────────────────────────

KEY_SCENARIOS: dict[str, tuple[Fault, ...]] = {
    "ok": (),
    "retried-then-ok": (Fault.overloaded(), Fault.rate_limited(retry_after=0.001)),
    "server-echoes-the-key-in-an-http-error": (
        Fault.http_error(401, "authentication_error", f"invalid x-api-key: {SECRET}"),
    ),
    "proxy-echoes-the-key-on-a-retry": (Fault.http_error(502, "api_error", f"upstream rejected x-api-key={SECRET}"),),
    "server-echoes-the-key-in-an-in-stream-error": (
        Fault.stream_error("invalid_request_error", f"key {SECRET} is not allowed here", after_events=4),
    ),
}


@pytest.mark.parametrize("scenario", sorted(KEY_SCENARIOS))
@pytest.mark.parametrize("logs", ["stdlib", "structlog"])
async def test_the_api_key_is_in_no_error_log_span_metric_or_repr(
    sim: Simulator, session: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture, scenario: str, logs: str
) -> None:
    caplog.set_level(logging.DEBUG)
    captured = Captured()
    with structlog_lines(logs) as rendered:
        transport = AnthropicTransport(
            api_key=SECRET,
            base_url=sim.base_url,
            session=session,
            telemetry=captured.config(),
            max_retries=3,
            retry_base_delay=0.001,
            retry_max_delay=0.01,
        )
        sim.inject(*KEY_SCENARIOS[scenario])
        error = await stream_error(transport)
    await assert_released(session, captured, (DEFAULT_MODEL,), sim)
    assert sim.requests and all(r.headers["x-api-key"] == SECRET for r in sim.requests)  # it was sent, though

    leaked = outputs_holding(
        SECRET, transport=transport, error=error, captured=captured, caplog=caplog, rendered=rendered
    )
    assert not leaked, f"the API key is in: {leaked}"


@pytest.mark.parametrize(("field", "value"), [("base_url", SECRET), ("model", SECRET), ("name", {"key": SECRET})])
def test_a_key_pasted_into_the_wrong_setting_is_not_echoed(
    caplog: pytest.LogCaptureFixture, field: str, value: Any
) -> None:
    """A settings form is where a key gets pasted into the wrong box; the warning or the error
    about it must still not print the key."""
    caplog.set_level(logging.DEBUG)
    AnthropicTransport.from_dict({field: value})
    assert SECRET not in caplog.text
    if field in ("base_url", "model"):
        with pytest.raises(ConfigurationError, match=field) as caught:
            AnthropicTransport(**{field: value})
        assert SECRET not in str(caught.value)


def test_an_unknown_model_spec_is_sent_as_is() -> None:
    """A model id the catalogue does not know is not refused here: new models ship before this
    package does, and the API's 404 names it (tests/test_fault_matrix.py, 404-unknown-model)."""
    transport = AnthropicTransport(api_key=SECRET, model=ModelSpec(id="claude-unknown-0"))
    assert transport.build_payload(user("hi"), [], "")["model"] == "claude-unknown-0"
