"""The request body: axio messages and tools to the Messages API JSON, prompt caching included."""

from __future__ import annotations

import base64
import copy
import json
import logging
from collections.abc import Sequence
from types import MappingProxyType
from typing import Any

import pytest
from axio.blocks import (
    AudioBlock,
    ContentBlock,
    ImageBlock,
    ProviderBlock,
    ReasoningBlock,
    TextBlock,
    ToolResultBlock,
    ToolUseBlock,
    VideoBlock,
)
from axio.messages import Message
from axio.tool import Tool
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from axio_transport_anthropic import ANTHROPIC_MODELS, AnthropicTransport, document_block
from axio_transport_anthropic.errors import ConfigurationError
from axio_transport_anthropic.request import MAX_CACHE_BREAKPOINTS, RequestOptions, build_body

MODEL = "claude-sonnet-4-6"
EPHEMERAL = {"type": "ephemeral"}
EPHEMERAL_1H = {"type": "ephemeral", "ttl": "1h"}
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def opts(**kw: Any) -> RequestOptions:
    kw.setdefault("model", MODEL)
    kw.setdefault("max_tokens", 8192)
    return RequestOptions(**kw)


def build(messages: Sequence[Message], tools: Sequence[Tool[Any]] = (), system: str = "", **kw: Any) -> dict[str, Any]:
    return build_body(opts(**kw), messages, tools, system)


def plain(messages: Sequence[Message], tools: Sequence[Tool[Any]] = (), system: str = "", **kw: Any) -> dict[str, Any]:
    """The body without prompt caching, so shapes compare without breakpoints."""
    return build(messages, tools, system, prompt_caching=False, **kw)


def user(*blocks: ContentBlock | str) -> Message:
    return Message(role="user", content=[TextBlock(text=b) if isinstance(b, str) else b for b in blocks])


def assistant(*blocks: ContentBlock | str) -> Message:
    return Message(role="assistant", content=[TextBlock(text=b) if isinstance(b, str) else b for b in blocks])


def system_message(*texts: str) -> Message:
    return Message(role="system", content=[TextBlock(text=t) for t in texts])


def markers(node: Any) -> list[dict[str, Any]]:
    """Every ``cache_control`` value anywhere in the body."""
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "cache_control":
                found.append(value)
            else:
                found.extend(markers(value))
    elif isinstance(node, list):
        for item in node:
            found.extend(markers(item))
    return found


async def get_weather(city: str, days: int = 3) -> str:
    """Weather for a city."""
    return f"{city}: sunny for {days} days"


async def get_time(zone: str) -> str:
    """The time in a zone."""
    return zone


async def noop() -> str:
    return ""


WEATHER: Tool[Any] = Tool(name="get_weather", description="The forecast for a city", handler=get_weather)
TIME: Tool[Any] = Tool(name="get_time", handler=get_time)
NOOP: Tool[Any] = Tool(name="noop", description="Does nothing", handler=noop)

WEATHER_SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "days": {"type": "integer", "default": 3}},
    "required": ["city"],
}


# ── user content ────────────────────────────────────────────────────────────────────────────


def test_a_single_user_text_is_the_whole_body() -> None:
    assert plain([user("Hello, Claude")]) == {
        "model": MODEL,
        "max_tokens": 8192,
        "messages": [{"role": "user", "content": [{"type": "text", "text": "Hello, Claude"}]}],
        "stream": True,
    }


def test_user_image_is_a_base64_source() -> None:
    body = plain([user("What is this?", ImageBlock(media_type="image/png", data=PNG))])
    assert body["messages"][0]["content"] == [
        {"type": "text", "text": "What is this?"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": b64(PNG)}},
    ]


def test_tool_result_with_string_content() -> None:
    body = plain([user(ToolResultBlock(tool_use_id="toolu_01", content="18°C and sunny"))])
    assert body["messages"][0]["content"] == [
        {"type": "tool_result", "tool_use_id": "toolu_01", "content": "18°C and sunny"}
    ]


def test_tool_result_is_error_only_when_true() -> None:
    failed = ToolResultBlock(tool_use_id="toolu_02", content="city not found", is_error=True)
    fine = ToolResultBlock(tool_use_id="toolu_03", content="ok", is_error=False)
    content = plain([user(failed, fine)])["messages"][0]["content"]
    assert content[0] == {
        "type": "tool_result",
        "tool_use_id": "toolu_02",
        "content": "city not found",
        "is_error": True,
    }
    assert content[1] == {"type": "tool_result", "tool_use_id": "toolu_03", "content": "ok"}
    assert "is_error" not in content[1]


def test_tool_result_with_list_content(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    result = ToolResultBlock(
        tool_use_id="toolu_04",
        content=[
            TextBlock(text="Here is the chart"),
            ImageBlock(media_type="image/jpeg", data=b"\xff\xd8\xff\xe0"),
            AudioBlock(media_type="audio/mp3", data=b"ID3"),
            VideoBlock(media_type="video/mp4", data=b"\x00\x00\x00\x18ftyp"),
        ],
    )
    content = plain([user(result)])["messages"][0]["content"]
    assert content == [
        {
            "type": "tool_result",
            "tool_use_id": "toolu_04",
            "content": [
                {"type": "text", "text": "Here is the chart"},
                {
                    "type": "image",
                    "source": {"type": "base64", "media_type": "image/jpeg", "data": b64(b"\xff\xd8\xff\xe0")},
                },
                {"type": "text", "text": "[audio/mp3 content omitted: not supported by this model]"},
                {"type": "text", "text": "[video/mp4 content omitted: not supported by this model]"},
            ],
        }
    ]
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("audio/mp3" in m for m in warned)
    assert any("video/mp4" in m for m in warned)


def test_empty_user_messages_are_skipped() -> None:
    body = plain([user("first"), Message(role="user", content=[]), user(""), assistant("reply"), user("", "")])
    assert body["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "first"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "reply"}]},
    ]


def test_empty_text_blocks_are_dropped_beside_real_ones() -> None:
    body = plain([user("", "kept", "")])
    assert body["messages"][0]["content"] == [{"type": "text", "text": "kept"}]


@pytest.mark.parametrize(
    ("block", "name"),
    [
        (AudioBlock(media_type="audio/wav", data=b"RIFF"), "AudioBlock"),
        (VideoBlock(media_type="video/mp4", data=b"ftyp"), "VideoBlock"),
        (ToolUseBlock(id="toolu_9", name="get_time", input={}), "ToolUseBlock"),
        (ReasoningBlock(text="hm", signature="sig", provider="anthropic"), "ReasoningBlock"),
    ],
)
def test_a_block_a_user_turn_cannot_hold_names_the_message_and_the_block(block: ContentBlock, name: str) -> None:
    messages = [system_message("rules"), user("hi"), assistant("hello"), user("listen", block)]
    with pytest.raises(ConfigurationError) as raised:
        plain(messages)
    text = str(raised.value)
    assert "message 3" in text
    assert "(user)" in text
    assert name in text


@pytest.mark.parametrize(
    ("block", "name"),
    [
        (ImageBlock(media_type="image/png", data=PNG), "ImageBlock"),
        (ToolResultBlock(tool_use_id="toolu_1", content="x"), "ToolResultBlock"),
        (AudioBlock(media_type="audio/wav", data=b"RIFF"), "AudioBlock"),
    ],
)
def test_a_block_an_assistant_turn_cannot_hold_names_the_message_and_the_block(block: ContentBlock, name: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        plain([user("hi"), assistant("look", block)])
    text = str(raised.value)
    assert "message 1" in text
    assert "(assistant)" in text
    assert name in text


# ── assistant content ───────────────────────────────────────────────────────────────────────


def test_assistant_text_and_tool_use() -> None:
    turn = assistant("Let me check.", ToolUseBlock(id="toolu_01", name="get_weather", input={"city": "Paris"}))
    body = plain([user("Weather in Paris?"), turn])
    assert body["messages"][1] == {
        "role": "assistant",
        "content": [
            {"type": "text", "text": "Let me check."},
            {"type": "tool_use", "id": "toolu_01", "name": "get_weather", "input": {"city": "Paris"}},
        ],
    }


def test_reasoning_is_replayed_as_signed_thinking() -> None:
    turn = assistant(
        ReasoningBlock(text="The user wants...", signature="EqQBCkYIARgCKkB==", provider="anthropic"), "Hi"
    )
    content = plain([user("hi"), turn])["messages"][1]["content"]
    assert content == [
        {"type": "thinking", "thinking": "The user wants...", "signature": "EqQBCkYIARgCKkB=="},
        {"type": "text", "text": "Hi"},
    ]


def test_reasoning_with_no_recorded_provider_is_replayed() -> None:
    turn = assistant(ReasoningBlock(text="old", signature="sig-old"), "answer")
    content = plain([user("hi"), turn])["messages"][1]["content"]
    assert content[0] == {"type": "thinking", "thinking": "old", "signature": "sig-old"}


def test_redacted_reasoning_is_replayed_as_redacted_thinking() -> None:
    turn = assistant(
        ReasoningBlock(signature="EmwKAhgBEgy3va3pzix/LafPsn4a", redacted=True, provider="anthropic"), "ok"
    )
    content = plain([user("hi"), turn])["messages"][1]["content"]
    assert content[0] == {"type": "redacted_thinking", "data": "EmwKAhgBEgy3va3pzix/LafPsn4a"}


def test_unsigned_reasoning_is_dropped() -> None:
    turn = assistant(ReasoningBlock(text="unsigned thoughts", provider="anthropic"), "answer")
    content = plain([user("hi"), turn])["messages"][1]["content"]
    assert content == [{"type": "text", "text": "answer"}]


def test_reasoning_signed_by_another_provider_is_dropped() -> None:
    turn = assistant(
        ReasoningBlock(text="gemini thoughts", signature="google-thought-signature", provider="google"),
        ReasoningBlock(text="openai", signature="enc", redacted=True, provider="openai"),
        "answer",
    )
    body = plain([user("hi"), turn])
    assert body["messages"][1]["content"] == [{"type": "text", "text": "answer"}]
    assert "google-thought-signature" not in json.dumps(body)


def test_an_anthropic_provider_block_is_replayed_verbatim() -> None:
    data = {
        "type": "server_tool_use",
        "id": "srvtoolu_01",
        "name": "web_search",
        "input": {"query": "axio"},
    }
    result = {
        "type": "web_search_tool_result",
        "tool_use_id": "srvtoolu_01",
        "content": [{"type": "web_search_result", "url": "https://example.com", "title": "Example"}],
    }
    turn = assistant(
        ProviderBlock(provider="anthropic", kind="server_tool_use", data=data),
        ProviderBlock(provider="anthropic", kind="web_search_tool_result", data=result),
        "Found it.",
    )
    content = plain([user("search"), turn])["messages"][1]["content"]
    assert content == [data, result, {"type": "text", "text": "Found it."}]


@pytest.mark.parametrize("provider", ["openai", "google", ""])
def test_a_provider_block_from_elsewhere_is_skipped(provider: str) -> None:
    foreign = ProviderBlock(provider=provider, kind="reasoning", data={"type": "reasoning", "encrypted_content": "x"})
    body = plain([user("hi", foreign), assistant(foreign, "answer")])
    assert body["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "hi"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "answer"}]},
    ]


@pytest.mark.parametrize(
    "blocks",
    [
        [],
        [TextBlock(text="")],
        [ReasoningBlock(text="no signature", provider="anthropic")],
        [ReasoningBlock(text="foreign", signature="s", provider="google")],
        [ProviderBlock(provider="openai", kind="reasoning", data={"type": "reasoning"})],
    ],
)
def test_an_empty_assistant_turn_says_no_content(blocks: list[ContentBlock]) -> None:
    body = plain([user("hi"), Message(role="assistant", content=blocks), user("again")])
    assert body["messages"][1] == {"role": "assistant", "content": [{"type": "text", "text": "(no content)"}]}
    assert len(body["messages"]) == 3


# ── documents ───────────────────────────────────────────────────────────────────────────────


def test_document_block_from_pdf_bytes() -> None:
    block = document_block(PDF)
    assert (block.provider, block.kind) == ("anthropic", "document")
    assert block.data == {
        "type": "document",
        "source": {"type": "base64", "media_type": "application/pdf", "data": b64(PDF)},
    }


def test_document_block_from_plain_text_with_title_and_citations() -> None:
    block = document_block("The grass is green.", title="Facts", citations=True)
    assert block.data == {
        "type": "document",
        "source": {"type": "text", "media_type": "text/plain", "data": "The grass is green."},
        "title": "Facts",
        "citations": {"enabled": True},
    }


def test_document_block_leaves_out_an_empty_title_and_disabled_citations() -> None:
    block = document_block(b"%PDF", media_type="application/pdf", title="", citations=False)
    assert set(block.data) == {"type", "source"}


def test_a_document_goes_into_the_user_turn() -> None:
    doc = document_block(PDF, title="Report")
    body = plain([user(doc, "Summarise this")])
    assert body["messages"][0]["content"] == [
        {
            "type": "document",
            "source": {"type": "base64", "media_type": "application/pdf", "data": b64(PDF)},
            "title": "Report",
        },
        {"type": "text", "text": "Summarise this"},
    ]


# ── system ──────────────────────────────────────────────────────────────────────────────────


def test_system_prompt_and_system_messages_merge_into_system_blocks() -> None:
    messages = [
        system_message("Also, ", "be kind."),
        user("hi"),
        system_message(""),
        assistant("hello"),
        system_message("Late rule."),
        user("bye"),
    ]
    body = plain(messages, system="You are terse.")
    assert body["system"] == [
        {"type": "text", "text": "You are terse."},
        {"type": "text", "text": "Also, be kind."},
        {"type": "text", "text": "Late rule."},
    ]
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user"]


def test_system_messages_without_a_system_prompt() -> None:
    body = plain([system_message("Only this."), user("hi")])
    assert body["system"] == [{"type": "text", "text": "Only this."}]


def test_no_system_means_no_system_key() -> None:
    assert "system" not in plain([user("hi")])
    assert "system" not in plain([system_message(""), user("hi")], system="")


# ── tools ───────────────────────────────────────────────────────────────────────────────────


def test_tools_carry_name_description_schema_and_eager_streaming() -> None:
    body = plain([user("hi")], tools=[WEATHER, TIME])
    assert body["tools"] == [
        {
            "name": "get_weather",
            "description": "The forecast for a city",
            "input_schema": WEATHER_SCHEMA,
            "eager_input_streaming": True,
        },
        {
            "name": "get_time",
            "description": "The time in a zone.",
            "input_schema": {"type": "object", "properties": {"zone": {"type": "string"}}, "required": ["zone"]},
            "eager_input_streaming": True,
        },
    ]


def test_a_tool_without_arguments() -> None:
    body = plain([user("hi")], tools=[NOOP])
    assert body["tools"][0]["input_schema"] == {"type": "object", "properties": {}}


def test_eager_streaming_can_be_turned_off() -> None:
    body = plain([user("hi")], tools=[WEATHER], eager_tool_streaming=False)
    assert body["tools"] == [
        {"name": "get_weather", "description": "The forecast for a city", "input_schema": WEATHER_SCHEMA}
    ]


def test_input_schema_loses_its_titles_but_keeps_an_argument_named_title() -> None:
    schema = {
        "title": "SearchArgs",
        "type": "object",
        "properties": {
            "title": {"title": "Title", "type": "string"},
            "tags": {"title": "Tags", "type": "array", "items": {"title": "Tag", "type": "string"}},
        },
        "required": ["title"],
    }
    tool: Tool[Any] = Tool(name="search", description="Search", handler=noop, schema=MappingProxyType(schema))
    body = plain([user("hi")], tools=[tool])
    assert body["tools"][0]["input_schema"] == {
        "type": "object",
        "properties": {
            "title": {"type": "string"},
            "tags": {"type": "array", "items": {"type": "string"}},
        },
        "required": ["title"],
    }
    assert schema["title"] == "SearchArgs"


def test_no_tools_means_no_tools_key() -> None:
    assert "tools" not in build([user("hi")])


# ── sampling, thinking, streaming ───────────────────────────────────────────────────────────


def test_sampling_params_absent_unless_set() -> None:
    body = plain([user("hi")])
    for key in ("temperature", "top_p", "top_k", "thinking"):
        assert key not in body


def test_sampling_params_present_when_set_even_when_zero() -> None:
    body = plain([user("hi")], temperature=0.0, top_p=0.5, top_k=0)
    assert (body["temperature"], body["top_p"], body["top_k"]) == (0.0, 0.5, 0)
    body = plain([user("hi")], temperature=0.7)
    assert body["temperature"] == 0.7
    assert "top_p" not in body
    assert "top_k" not in body


@pytest.mark.parametrize(
    ("budget", "max_tokens", "expected"),
    [
        (2048, 8192, 2048),
        (1024, 8192, 1024),
        (1, 8192, 1024),
        (500, 8192, 1024),
        (8191, 8192, 8191),
        (10**6, 8192, 8191),
    ],
)
def test_thinking_budget_is_clamped(budget: int, max_tokens: int, expected: int) -> None:
    body = plain([user("hi")], thinking_budget=budget, max_tokens=max_tokens)
    assert body["thinking"] == {"type": "enabled", "budget_tokens": expected}
    assert body["max_tokens"] == max_tokens


@pytest.mark.parametrize("max_tokens", [1024, 1000, 1])
def test_thinking_budget_stays_below_a_small_max_tokens(max_tokens: int) -> None:
    # The API requires budget_tokens >= 1024 and < max_tokens; with max_tokens <= 1024 no budget
    # fits, so the builder must say so rather than send a body the API refuses.
    error = ""
    body: dict[str, Any] = {}
    try:
        body = plain([user("hi")], thinking_budget=2048, max_tokens=max_tokens)
    except ConfigurationError as exc:
        error = str(exc)
    if error:
        assert "max_tokens" in error or "thinking_budget" in error
    else:
        assert 1024 <= body["thinking"]["budget_tokens"] < body["max_tokens"], body


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"temperature": 0.5}, "temperature"),
        ({"temperature": 0.0}, "temperature"),
        ({"top_k": 5}, "top_k"),
        ({"top_p": 0.9}, "top_p"),
        ({"top_p": 0.0}, "top_p"),
        ({"top_p": 1.01}, "top_p"),
    ],
)
def test_thinking_refuses_incompatible_sampling(params: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigurationError, match=field):
        plain([user("hi")], thinking_budget=2048, **params)


@pytest.mark.parametrize(("params"), [{"temperature": 1}, {"temperature": 1.0}, {"top_p": 0.95}, {"top_p": 1.0}])
def test_thinking_accepts_compatible_sampling(params: dict[str, Any]) -> None:
    body = plain([user("hi")], thinking_budget=2048, **params)
    for key, value in params.items():
        assert body[key] == value
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 2048}


def test_sampling_without_thinking_is_not_checked() -> None:
    body = plain([user("hi")], temperature=0.2, top_k=3, top_p=0.5)
    assert (body["temperature"], body["top_k"], body["top_p"]) == (0.2, 3, 0.5)


def test_stream_flag() -> None:
    assert plain([user("hi")])["stream"] is True
    assert "stream" not in plain([user("hi")], stream=False)


# ── through the transport ───────────────────────────────────────────────────────────────────


def test_transport_payload_uses_the_model_id_and_its_max_output() -> None:
    body = AnthropicTransport(api_key="k").build_payload([user("hi")], [], "")
    assert (body["model"], body["max_tokens"], body["stream"]) == ("claude-sonnet-4-6", 64_000, True)
    opus = AnthropicTransport(api_key="k", model=ANTHROPIC_MODELS["claude-opus-4-6"])
    assert opus.build_payload([user("hi")], [], "")["max_tokens"] == 128_000
    haiku = AnthropicTransport(api_key="k", model=ANTHROPIC_MODELS["claude-haiku-4-5-20251001"])
    assert haiku.build_payload([user("hi")], [], "")["model"] == "claude-haiku-4-5-20251001"


def test_transport_max_tokens_overrides_the_model_max() -> None:
    body = AnthropicTransport(api_key="k", max_tokens=1000).build_payload([user("hi")], [], "")
    assert body["max_tokens"] == 1000


def test_transport_passes_its_sampling_and_thinking() -> None:
    t = AnthropicTransport(api_key="k", thinking_budget=3000, top_p=0.97, max_tokens=16_000)
    body = t.build_payload([user("hi")], [WEATHER], "sys")
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 3000}
    assert body["top_p"] == 0.97
    assert body["max_tokens"] == 16_000
    assert "temperature" not in body
    assert body["tools"][0]["eager_input_streaming"] is True
    t = AnthropicTransport(api_key="k", temperature=0.4, top_k=20)
    body = t.build_payload([user("hi")], [], "")
    assert (body["temperature"], body["top_k"]) == (0.4, 20)
    assert "thinking" not in body


def test_transport_refuses_thinking_with_temperature() -> None:
    t = AnthropicTransport(api_key="k", thinking_budget=2048, temperature=0.3)
    with pytest.raises(ConfigurationError, match="temperature"):
        t.build_payload([user("hi")], [], "")


def test_transport_passes_its_cache_settings() -> None:
    body = AnthropicTransport(api_key="k", cache_ttl="1h").build_payload([user("hi")], [WEATHER], "sys")
    assert markers(body) == [EPHEMERAL_1H] * 3
    body = AnthropicTransport(api_key="k", prompt_caching=False).build_payload([user("hi")], [WEATHER], "sys")
    assert markers(body) == []


def test_build_payload_is_pure() -> None:
    t = AnthropicTransport(api_key="k")
    messages = [user("hi"), assistant("hello"), user("more")]
    first = t.build_payload(messages, [WEATHER], "sys")
    second = t.build_payload(messages, [WEATHER], "sys")
    assert first == second
    assert first is not second


# ── prompt caching ──────────────────────────────────────────────────────────────────────────


def conversation() -> list[Message]:
    return [
        user("Weather in Paris?"),
        assistant("Checking.", ToolUseBlock(id="toolu_1", name="get_weather", input={"city": "Paris"})),
        user(ToolResultBlock(tool_use_id="toolu_1", content="sunny"), "and tomorrow?"),
    ]


def test_breakpoints_on_last_tool_last_system_block_and_last_block_of_last_message() -> None:
    body = build(conversation(), tools=[WEATHER, TIME], system="Be brief.")
    assert "cache_control" not in body["tools"][0]
    assert body["tools"][1]["cache_control"] == EPHEMERAL
    assert body["system"] == [{"type": "text", "text": "Be brief.", "cache_control": EPHEMERAL}]
    last = body["messages"][-1]["content"]
    assert last[-1] == {"type": "text", "text": "and tomorrow?", "cache_control": EPHEMERAL}
    assert "cache_control" not in last[0]
    for turn in body["messages"][:-1]:
        assert markers(turn) == []
    assert len(markers(body)) == 3


def test_only_the_callers_system_prompt_is_marked() -> None:
    # As 0.12.2: history's system messages follow the prompt, unmarked (they change between turns).
    body = build([system_message("second"), user("hi")], system="first")
    assert body["system"] == [
        {"type": "text", "text": "first", "cache_control": EPHEMERAL},
        {"type": "text", "text": "second"},
    ]


def test_one_hour_ttl() -> None:
    body = build(conversation(), tools=[WEATHER], system="Be brief.", cache_ttl="1h")
    assert body["tools"][0]["cache_control"] == EPHEMERAL_1H
    assert body["system"][0]["cache_control"] == EPHEMERAL_1H
    assert body["messages"][-1]["content"][-1]["cache_control"] == EPHEMERAL_1H
    assert markers(body) == [EPHEMERAL_1H] * 3


def test_markers_are_separate_objects() -> None:
    body = build(conversation(), tools=[WEATHER], system="Be brief.")
    found = markers(body)
    assert len({id(m) for m in found}) == 3


def test_prompt_caching_off_adds_no_marker() -> None:
    body = build(conversation(), tools=[WEATHER, TIME], system="Be brief.", prompt_caching=False)
    assert markers(body) == []
    assert "cache_control" not in json.dumps(body)


def test_only_the_conversation_is_marked_without_tools_or_system() -> None:
    body = build([user("hi")])
    assert body["messages"][0]["content"] == [{"type": "text", "text": "hi", "cache_control": EPHEMERAL}]
    assert len(markers(body)) == 1


def test_a_tool_result_at_the_end_is_marked() -> None:
    body = build([user("hi"), assistant("x"), user(ToolResultBlock(tool_use_id="toolu_1", content="42"))])
    assert body["messages"][-1]["content"] == [
        {"type": "tool_result", "tool_use_id": "toolu_1", "content": "42", "cache_control": EPHEMERAL}
    ]


def test_thinking_at_the_end_is_skipped_for_the_mark() -> None:
    turn = assistant(
        "The answer.",
        ReasoningBlock(text="afterthought", signature="sig-a", provider="anthropic"),
        ReasoningBlock(signature="redacted-b", redacted=True, provider="anthropic"),
    )
    content = build([user("q"), turn])["messages"][-1]["content"]
    assert content == [
        {"type": "text", "text": "The answer.", "cache_control": EPHEMERAL},
        {"type": "thinking", "thinking": "afterthought", "signature": "sig-a"},
        {"type": "redacted_thinking", "data": "redacted-b"},
    ]


def test_a_last_message_of_only_thinking_gets_no_mark() -> None:
    turn = assistant(ReasoningBlock(text="t", signature="s", provider="anthropic"))
    body = build([user("q"), turn], system="sys")
    assert body["messages"][-1]["content"] == [{"type": "thinking", "thinking": "t", "signature": "s"}]
    assert len(markers(body)) == 1
    assert body["system"][0]["cache_control"] == EPHEMERAL


def test_an_empty_replayed_text_is_skipped_for_the_mark() -> None:
    empty = ProviderBlock(provider="anthropic", kind="text", data={"type": "text", "text": ""})
    body = build([user("q"), assistant("real answer", empty)])
    assert body["messages"][-1]["content"] == [
        {"type": "text", "text": "real answer", "cache_control": EPHEMERAL},
        {"type": "text", "text": ""},
    ]


def test_the_empty_turn_placeholder_is_marked() -> None:
    body = build([user("q"), assistant()])
    assert body["messages"][-1]["content"] == [{"type": "text", "text": "(no content)", "cache_control": EPHEMERAL}]


def marked_document(n: int, ttl: str | None = None) -> ProviderBlock:
    control: dict[str, str] = {"type": "ephemeral"} if ttl is None else {"type": "ephemeral", "ttl": ttl}
    data = {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": f"doc {n}"}}
    return ProviderBlock(provider="anthropic", kind="document", data={**data, "cache_control": control})


def test_caller_breakpoints_count_and_the_conversation_keeps_its_mark() -> None:
    docs = [marked_document(1), marked_document(2)]
    body = build([user(*docs, "read these"), assistant("done"), user("next")], tools=[WEATHER], system="sys")
    assert len(markers(body)) == 4
    assert body["messages"][-1]["content"][-1]["cache_control"] == EPHEMERAL
    assert body["system"][0]["cache_control"] == EPHEMERAL
    assert "cache_control" not in body["tools"][0]


def test_three_caller_breakpoints_leave_room_for_the_conversation_only() -> None:
    docs = [marked_document(n) for n in range(3)]
    body = build([user(*docs), assistant("ok"), user("next")], tools=[WEATHER], system="sys")
    assert len(markers(body)) == 4
    assert body["messages"][-1]["content"][-1]["cache_control"] == EPHEMERAL
    assert "cache_control" not in body["system"][0]
    assert "cache_control" not in body["tools"][0]


def test_four_caller_breakpoints_leave_no_room() -> None:
    docs = [marked_document(n) for n in range(4)]
    body = build([user(*docs), assistant("ok"), user("next")], tools=[WEATHER], system="sys")
    assert len(markers(body)) == 4
    assert markers(body["messages"][-1]) == []


def test_a_marked_caller_block_at_the_end_is_not_marked_twice() -> None:
    doc = marked_document(1, ttl="1h")
    body = build([user("read", doc)], tools=[WEATHER], system="sys")
    assert body["messages"][-1]["content"][-1]["cache_control"] == {"type": "ephemeral", "ttl": "1h"}
    assert len(markers(body)) == 3


@pytest.mark.parametrize("count", [5, 6])
def test_never_more_than_four_breakpoints_whatever_the_caller_sent(count: int) -> None:
    docs = [marked_document(n) for n in range(count)]
    body = build([user(*docs), assistant("ok"), user("next")], tools=[WEATHER], system="sys")
    assert len(markers(body)) <= 4, f"{len(markers(body))} cache_control markers; the API refuses more than 4"


def test_the_builder_never_mutates_the_callers_provider_blocks() -> None:
    plain_doc = document_block(PDF, title="Report")
    marked = marked_document(7)
    before = (copy.deepcopy(plain_doc.data), copy.deepcopy(marked.data))
    messages = [user(marked, "first"), assistant("ok"), user("read", plain_doc)]
    first = build(messages, tools=[WEATHER], system="sys")
    # The unmarked document is the conversation's last block: it is marked in the body only.
    assert first["messages"][-1]["content"][-1]["cache_control"] == EPHEMERAL
    assert (plain_doc.data, marked.data) == before
    assert "cache_control" not in plain_doc.data
    second = build(messages, tools=[WEATHER], system="sys")
    assert second == first
    assert (plain_doc.data, marked.data) == before


def test_the_builder_never_mutates_tool_inputs_or_schemas() -> None:
    arguments = {"city": "Paris", "nested": {"k": [1, 2]}}
    call = ToolUseBlock(id="toolu_1", name="get_weather", input=arguments)
    before = copy.deepcopy(arguments)
    build([user("q"), assistant(call)], tools=[WEATHER])
    assert arguments == before
    assert WEATHER.input_schema == WEATHER_SCHEMA


# ── random conversations ────────────────────────────────────────────────────────────────────

short_text = st.text(max_size=12)
json_scalars = st.none() | st.booleans() | st.integers(-(10**6), 10**6) | st.text(max_size=8)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)
images = st.builds(
    ImageBlock,
    media_type=st.sampled_from(["image/png", "image/jpeg", "image/gif", "image/webp"]),
    data=st.binary(max_size=16),
)
audio = st.builds(AudioBlock, media_type=st.just("audio/wav"), data=st.binary(max_size=8))
video = st.builds(VideoBlock, media_type=st.just("video/mp4"), data=st.binary(max_size=8))
texts = st.builds(TextBlock, text=short_text)
tool_results = st.builds(
    ToolResultBlock,
    tool_use_id=st.text(min_size=1, max_size=8),
    content=short_text | st.lists(texts | images | audio | video, max_size=3),
    is_error=st.booleans(),
)
reasoning = st.builds(
    ReasoningBlock,
    text=short_text,
    signature=st.sampled_from(["", "sig"]),
    redacted=st.booleans(),
    provider=st.sampled_from(["", "anthropic", "google"]),
)
tool_uses = st.builds(
    ToolUseBlock,
    id=st.text(min_size=1, max_size=8),
    name=st.sampled_from(["get_weather", "get_time", "noop"]),
    input=st.dictionaries(st.text(max_size=5), json_values, max_size=3),
)


@st.composite
def provider_blocks(draw: st.DrawFn) -> ProviderBlock:
    kind = draw(st.sampled_from(["document", "server_tool_use", "web_search_tool_result", "text"]))
    data: dict[str, Any] = {"type": kind}
    if kind == "text":
        data["text"] = draw(st.text(min_size=1, max_size=8))
    else:
        data["payload"] = draw(json_values)
    if (control := draw(st.sampled_from([None, EPHEMERAL, EPHEMERAL_1H]))) is not None:
        data["cache_control"] = dict(control)
    provider = draw(st.sampled_from(["anthropic", "anthropic", "anthropic", "openai", ""]))
    return ProviderBlock(provider=provider, kind=kind, data=data)


user_blocks = texts | images | tool_results | provider_blocks()
assistant_blocks = texts | reasoning | tool_uses | provider_blocks()
messages_strategy = st.lists(
    st.builds(Message, role=st.just("user"), content=st.lists(user_blocks, max_size=4))
    | st.builds(Message, role=st.just("assistant"), content=st.lists(assistant_blocks, max_size=4))
    | st.builds(Message, role=st.just("system"), content=st.lists(texts, max_size=2)),
    max_size=6,
)


@settings(max_examples=200, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(
    messages=messages_strategy,
    tools=st.lists(st.sampled_from([WEATHER, TIME, NOOP]), max_size=3),
    system=short_text,
    prompt_caching=st.booleans(),
    cache_ttl=st.sampled_from(["5m", "1h"]),
    thinking_budget=st.none() | st.integers(1, 20_000),
)
def test_random_conversations_make_a_valid_body(
    messages: list[Message],
    tools: list[Tool[Any]],
    system: str,
    prompt_caching: bool,
    cache_ttl: str,
    thinking_budget: int | None,
) -> None:
    snapshot = copy.deepcopy([m.to_dict() for m in messages])
    body = build(
        messages, tools, system, prompt_caching=prompt_caching, cache_ttl=cache_ttl, thinking_budget=thinking_budget
    )
    encoded = json.dumps(body, allow_nan=False)
    assert json.loads(encoded) == body
    found = markers(body)
    assert len(found) <= 4, f"{len(found)} cache_control markers"
    if not prompt_caching:
        # Only what the caller put in its own blocks, of those that are replayed.
        replayed = [
            b
            for m in messages
            if m.role != "system"
            for b in m.content
            if isinstance(b, ProviderBlock) and b.provider == "anthropic" and "cache_control" in b.data
        ]
        # The earliest go past the API's limit, as with caching on.
        assert len(found) == min(len(replayed), MAX_CACHE_BREAKPOINTS)
    for turn in body["messages"]:
        assert turn["role"] in ("user", "assistant")
        assert isinstance(turn["content"], list)
        assert turn["content"], turn
        for block in turn["content"]:
            if block["type"] in ("thinking", "redacted_thinking"):
                assert "cache_control" not in block
            if block["type"] == "text":
                assert block["text"], block
    for block in body.get("system", []):
        assert block["type"] == "text"
        assert block["text"]
    assert len(body.get("tools", [])) == len(tools)
    assert body["stream"] is True
    # The caller's conversation is left exactly as it was.
    assert [m.to_dict() for m in messages] == snapshot
