"""MessageStreamDecoder: what the golden corpus does not pin down, one behaviour at a time."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from axio.events import (
    BlockEnd,
    IterationStart,
    ProviderEvent,
    ProviderOutput,
    ReasoningDelta,
    ReasoningSignature,
    Refusal,
    StreamEvent,
    TextDelta,
    ToolInputDelta,
    ToolUseStart,
)
from axio.types import StopReason, Usage
from hypothesis import given, settings
from hypothesis import strategies as st

from axio_transport_anthropic.decoder import PROVIDER, MessageStreamDecoder, StreamFailure, TokenCounts
from axio_transport_anthropic.errors import ProtocolError


def sse(*payloads: dict[str, Any], named: bool = True) -> bytes:
    """Payloads as an SSE body, each named by its own ``type`` unless ``named`` is false."""
    out = b""
    for payload in payloads:
        if named:
            out += f"event: {payload.get('type', 'message')}\n".encode()
        out += b"data: " + json.dumps(payload).encode() + b"\n\n"
    return out


def start(message_id: str | None = "msg_01Unit", model: str | None = "claude-unit", **usage: Any) -> dict[str, Any]:
    message: dict[str, Any] = {"type": "message", "role": "assistant", "content": [], "usage": usage}
    if message_id is not None:
        message["id"] = message_id
    if model is not None:
        message["model"] = model
    return {"type": "message_start", "message": message}


def block_start(index: int, block: dict[str, Any]) -> dict[str, Any]:
    return {"type": "content_block_start", "index": index, "content_block": block}


def delta(index: int, body: dict[str, Any]) -> dict[str, Any]:
    return {"type": "content_block_delta", "index": index, "delta": body}


def json_delta(index: int, part: str) -> dict[str, Any]:
    return delta(index, {"type": "input_json_delta", "partial_json": part})


def text_delta(index: int, text: str) -> dict[str, Any]:
    return delta(index, {"type": "text_delta", "text": text})


def stop(index: int) -> dict[str, Any]:
    return {"type": "content_block_stop", "index": index}


def message_delta(reason: str | None = "end_turn", **usage: Any) -> dict[str, Any]:
    return {"type": "message_delta", "delta": {"stop_reason": reason, "stop_sequence": None}, "usage": usage}


def run(*payloads: dict[str, Any]) -> tuple[list[StreamEvent], MessageStreamDecoder]:
    decoder = MessageStreamDecoder()
    events = decoder.feed(sse(*payloads))
    events += decoder.close()
    return events, decoder


# ── malformed streams ───────────────────────────────────────────────────────────────────────


def test_malformed_json_raises_protocol_error_naming_the_event() -> None:
    decoder = MessageStreamDecoder()
    with pytest.raises(ProtocolError, match=r"'content_block_delta'.*malformed JSON") as caught:
        decoder.feed(b'event: content_block_delta\ndata: {"type": "content_block_delta", "index": 0,\n\n')
    assert isinstance(caught.value.__cause__, ValueError)
    assert "protocol error" in str(caught.value)


@pytest.mark.parametrize(
    "data",
    [b"", b"{", b"not json", b'{"type": "ping"} trailing', b'{"text": "\xff"}', b"[1,\n2"],
    ids=["empty", "open-brace", "words", "trailing", "invalid-utf8", "truncated-array"],
)
def test_every_kind_of_bad_json_is_a_protocol_error(data: bytes) -> None:
    with pytest.raises(ProtocolError, match="'message'"):
        MessageStreamDecoder().feed(b"data: " + data + b"\n\n")


def test_malformed_json_in_an_unterminated_last_event_raises_at_close() -> None:
    decoder = MessageStreamDecoder()
    assert decoder.feed(b'event: message_delta\ndata: {"type": "message_del') == []
    with pytest.raises(ProtocolError, match="message_delta"):
        decoder.close()


@pytest.mark.parametrize(
    ("data", "kind"),
    [(b"[1, 2]", "list"), (b'"text"', "str"), (b"42", "int"), (b"null", "NoneType"), (b"true", "bool")],
)
def test_non_object_json_raises_protocol_error(data: bytes, kind: str) -> None:
    with pytest.raises(ProtocolError, match=f"'ping' carries {kind}, not a JSON object"):
        MessageStreamDecoder().feed(b"event: ping\ndata: " + data + b"\n\n")


_WRONG_SHAPES = {
    "type-is-a-list": {"type": ["ping"]},
    "message-is-a-string": {"type": "message_start", "message": "msg_01"},
    "content_block-is-a-string": {"type": "content_block_start", "index": 0, "content_block": "text"},
    "index-is-a-list": {
        "type": "content_block_start",
        "index": [0],
        "content_block": {"type": "tool_use", "id": "toolu_01", "name": "f", "input": {}},
    },
    "block-delta-is-a-string": {"type": "content_block_delta", "index": 0, "delta": "hi"},
    "citation-is-a-string": {
        "type": "content_block_delta",
        "index": 0,
        "delta": {"type": "citations_delta", "citation": "x"},
    },
    "citation-type-is-a-list": {
        "type": "content_block_delta",
        "index": 0,
        "delta": {"type": "citations_delta", "citation": {"type": ["char_location"]}},
    },
    "message-delta-is-a-string": {"type": "message_delta", "delta": "end_turn"},
    "stop_details-is-a-string": {"type": "message_delta", "delta": {"stop_reason": "refusal", "stop_details": "x"}},
    "stop_reason-is-a-list": {"type": "message_delta", "delta": {"stop_reason": ["end_turn"]}},
    "error-is-a-string": {"type": "error", "error": "Overloaded"},
}


@pytest.mark.parametrize("payload", list(_WRONG_SHAPES.values()), ids=list(_WRONG_SHAPES))
def test_a_wrongly_shaped_payload_never_escapes_as_a_bare_python_error(payload: dict[str, Any]) -> None:
    """Valid JSON of the wrong shape (from a proxy, a recording, a future API) is a protocol error.

    ``errors.py`` promises that every failure is a ``StreamError``: a bare ``AttributeError`` or
    ``TypeError`` out of the decoder reaches the caller as neither ``ProtocolError`` nor anything
    axio knows how to report. The decoder may read such a payload leniently or refuse it with
    ``ProtocolError``; it may not crash.
    """
    decoder = MessageStreamDecoder()
    try:
        decoder.feed(sse(payload, named=False))
        decoder.close()
        if decoder.stop_reason is not None:
            decoder.finish()
    except ProtocolError:
        pass


def test_finish_without_stop_reason_raises() -> None:
    with pytest.raises(ProtocolError, match="without a stop_reason"):
        MessageStreamDecoder().finish()
    events, decoder = run(start(), block_start(0, {"type": "text", "text": ""}), text_delta(0, "cut"), stop(0))
    assert events[-1] == BlockEnd(0)
    with pytest.raises(ProtocolError, match="without a stop_reason"):
        decoder.finish()
    _, stopped_only = run(start(), {"type": "message_stop"})
    assert stopped_only.stopped
    with pytest.raises(ProtocolError, match="without a stop_reason"):
        stopped_only.finish()


def test_a_message_delta_without_stop_reason_sets_none() -> None:
    _, decoder = run(start(), message_delta(None, output_tokens=3))
    assert decoder.stop_reason is None
    assert decoder.counts.output == 3


# ── the error event ─────────────────────────────────────────────────────────────────────────


def error(kind: str = "overloaded_error", message: str = "Overloaded") -> dict[str, Any]:
    return {"type": "error", "error": {"type": kind, "message": message}}


def test_nothing_is_read_after_an_error() -> None:
    decoder = MessageStreamDecoder()
    head = sse(start(), block_start(0, {"type": "text", "text": ""}), text_delta(0, "kept"))
    after = sse(text_delta(0, "dropped"), error("api_error", "second"), message_delta()) + b"data: {broken\n\n"
    events = decoder.feed(head + sse(error()) + after)
    assert events == [IterationStart(0, "msg_01Unit", "claude-unit"), TextDelta(0, "kept")]
    assert decoder.failure == StreamFailure("overloaded_error", "Overloaded")
    # Later reads, even malformed ones, are not parsed at all.
    assert decoder.feed(b"data: {broken\n\n" + sse(message_delta(), {"type": "message_stop"})) == []
    assert decoder.feed(b"data: [1]\n\ndata: unterminated") == []
    assert decoder.close() == []
    assert decoder.failure == StreamFailure("overloaded_error", "Overloaded")
    assert decoder.stop_reason is None
    assert not decoder.stopped
    with pytest.raises(ProtocolError):
        decoder.finish()


def test_error_in_an_unterminated_last_event_is_read_at_close() -> None:
    decoder = MessageStreamDecoder()
    assert decoder.feed(sse(start()) + b"event: error\ndata: " + json.dumps(error()).encode()) != []
    assert decoder.failure is None
    assert decoder.close() == []
    assert decoder.failure == StreamFailure("overloaded_error", "Overloaded")


@pytest.mark.parametrize(
    ("payload", "failure"),
    [
        ({"type": "error"}, StreamFailure("unknown", "")),
        ({"type": "error", "error": None}, StreamFailure("unknown", "")),
        ({"type": "error", "error": {"type": "overloaded_error"}}, StreamFailure("overloaded_error", "")),
        ({"type": "error", "error": {"message": "no type"}}, StreamFailure("unknown", "no type")),
        ({"type": "error", "error": {"type": 529, "message": 7}}, StreamFailure("529", "7")),
    ],
)
def test_error_with_missing_or_odd_fields(payload: dict[str, Any], failure: StreamFailure) -> None:
    events, decoder = run(payload)
    assert events == []
    assert decoder.failure == failure


def test_error_named_only_by_its_event_line() -> None:
    decoder = MessageStreamDecoder()
    decoder.feed(b'event: error\ndata: {"error": {"type": "api_error", "message": "boom"}}\n\n')
    assert decoder.failure == StreamFailure("api_error", "boom")


# ── usage ───────────────────────────────────────────────────────────────────────────────────


def test_counts_to_usage_puts_the_cache_slices_inside_the_input_total() -> None:
    counts = TokenCounts(
        uncached_input=12, output=240, cache_read=30_000, cache_write_5m=500, cache_write_1h=1_000, thinking=150
    )
    assert counts.cache_write == 1_500
    usage = counts.to_usage()
    assert usage == Usage(31_512, 240, cache_read_tokens=30_000, cache_write_tokens=1_500, reasoning_tokens=150)
    assert usage.uncached_input_tokens == 12
    assert usage.answer_tokens == 90
    assert TokenCounts().to_usage() == Usage(0, 0)


def test_cache_creation_total_without_a_split_is_the_5m_slice() -> None:
    _, decoder = run(start(input_tokens=5, cache_creation_input_tokens=700), message_delta(output_tokens=1))
    assert (decoder.counts.cache_write_5m, decoder.counts.cache_write_1h) == (700, 0)
    assert decoder.finish().usage == Usage(705, 1, cache_write_tokens=700)


def test_cache_creation_total_above_its_split_goes_to_the_5m_slice() -> None:
    split = {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 1_000}
    _, decoder = run(start(cache_creation_input_tokens=1_500, cache_creation=split))
    assert (decoder.counts.cache_write_5m, decoder.counts.cache_write_1h) == (500, 1_000)


def test_a_later_split_replaces_an_earlier_total() -> None:
    split = {"ephemeral_5m_input_tokens": 200, "ephemeral_1h_input_tokens": 1_300}
    _, decoder = run(
        start(cache_creation_input_tokens=1_500),
        message_delta(cache_creation_input_tokens=1_500, cache_creation=split),
    )
    assert (decoder.counts.cache_write_5m, decoder.counts.cache_write_1h) == (200, 1_300)


def test_a_later_zero_report_does_not_shrink_the_input_side() -> None:
    """A proxy that zeroes the input counts in message_delta loses no billed tokens."""
    split = {"ephemeral_5m_input_tokens": 30, "ephemeral_1h_input_tokens": 0}
    zeros = {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0}
    _, decoder = run(
        start(input_tokens=100, cache_read_input_tokens=50, cache_creation_input_tokens=30, cache_creation=split),
        message_delta(
            input_tokens=0,
            cache_read_input_tokens=0,
            cache_creation_input_tokens=0,
            cache_creation=zeros,
            output_tokens=9,
        ),
    )
    assert decoder.counts == TokenCounts(uncached_input=100, output=9, cache_read=50, cache_write_5m=30)


def test_a_larger_input_in_message_delta_wins() -> None:
    _, decoder = run(start(input_tokens=100), message_delta(input_tokens=4_000, output_tokens=20))
    assert decoder.finish().usage == Usage(4_000, 20)


def test_thinking_above_output_is_repaired_not_raised() -> None:
    _, decoder = run(start(), message_delta(output_tokens=10, output_tokens_details={"thinking_tokens": 50}))
    assert decoder.finish().usage == Usage(0, 50, reasoning_tokens=50)


@pytest.mark.parametrize("odd", [None, "12", 1.5, True, [3], {"n": 1}])
def test_non_integer_counts_are_ignored(odd: object) -> None:
    _, decoder = run(
        start(input_tokens=7, output_tokens=1),
        message_delta(
            input_tokens=odd,
            output_tokens=odd,
            cache_read_input_tokens=odd,
            cache_creation_input_tokens=odd,
            cache_creation={"ephemeral_5m_input_tokens": odd, "ephemeral_1h_input_tokens": odd},
            output_tokens_details={"thinking_tokens": odd},
        ),
    )
    assert decoder.counts == TokenCounts(uncached_input=7, output=1)


@pytest.mark.parametrize("usage", [None, 5, "usage", [1, 2]])
def test_a_usage_that_is_not_an_object_is_ignored(usage: object) -> None:
    payload = {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": usage}
    _, decoder = run(start(input_tokens=3, output_tokens=1), payload)
    assert decoder.counts == TokenCounts(uncached_input=3, output=1)


_COUNT = st.one_of(st.integers(0, 10**7), st.none(), st.sampled_from(["12", 1.5, True]))
_SPLIT = st.fixed_dictionaries({}, optional={"ephemeral_5m_input_tokens": _COUNT, "ephemeral_1h_input_tokens": _COUNT})
_USAGE = st.fixed_dictionaries(
    {},
    optional={
        "input_tokens": _COUNT,
        "output_tokens": _COUNT,
        "cache_read_input_tokens": _COUNT,
        "cache_creation_input_tokens": _COUNT,
        "cache_creation": st.none() | _SPLIT,
        "output_tokens_details": st.none() | st.fixed_dictionaries({}, optional={"thinking_tokens": _COUNT}),
        "service_tier": st.just("standard"),
    },
)


@settings(max_examples=300, deadline=None)
@given(first=_USAGE, later=st.lists(_USAGE, max_size=4))
def test_usage_invariants_for_any_reports(first: dict[str, Any], later: list[dict[str, Any]]) -> None:
    decoder = MessageStreamDecoder()
    decoder.feed(sse(start(**first)))
    previous = decoder.counts
    for report in later:
        decoder.feed(sse(message_delta(**report)))
        counts = decoder.counts
        # Input-side counts are cumulative: no later report shrinks them.
        assert counts.uncached_input >= previous.uncached_input
        assert counts.cache_read >= previous.cache_read
        assert counts.cache_write >= previous.cache_write
        if type(report.get("output_tokens")) is int:
            assert counts.output == report["output_tokens"]
        previous = counts
    counts = decoder.counts
    assert min(counts.uncached_input, counts.output, counts.cache_read, counts.thinking) >= 0
    assert min(counts.cache_write_5m, counts.cache_write_1h) >= 0
    usage = counts.to_usage()
    assert usage.input_tokens == counts.uncached_input + counts.cache_read + counts.cache_write
    assert usage.cache_read_tokens == counts.cache_read
    assert usage.cache_write_tokens == counts.cache_write
    assert usage.cache_read_tokens + usage.cache_write_tokens <= usage.input_tokens
    assert usage.reasoning_tokens == counts.thinking <= usage.output_tokens
    assert usage.output_tokens == max(counts.output, counts.thinking)
    decoder.feed(sse(message_delta("end_turn")))
    assert decoder.finish().usage == usage


# ── blocks ──────────────────────────────────────────────────────────────────────────────────


def test_tool_use_whose_input_arrives_whole_in_its_start() -> None:
    arguments = {"city": "Zürich", "days": [1, 2], "units": {"temp": "C"}}
    events, _ = run(
        start(),
        block_start(0, {"type": "tool_use", "id": "toolu_01Whole", "name": "forecast", "input": arguments}),
        stop(0),
    )
    assert len(events) == 4
    opening, whole, end = events[1:]
    assert opening == ToolUseStart(0, "toolu_01Whole", "forecast")
    assert isinstance(whole, ToolInputDelta)
    assert (whole.index, whole.tool_use_id) == (0, "toolu_01Whole")
    assert json.loads(whole.partial_json) == arguments
    assert end == BlockEnd(0)


def test_whole_start_input_survives_an_empty_delta() -> None:
    events, _ = run(
        block_start(0, {"type": "tool_use", "id": "toolu_01A", "name": "f", "input": {"a": 1}}),
        json_delta(0, ""),
        stop(0),
    )
    assert events == [ToolUseStart(0, "toolu_01A", "f"), ToolInputDelta(0, "toolu_01A", '{"a": 1}'), BlockEnd(0)]


def test_streamed_input_replaces_a_start_input_rather_than_doubling_it() -> None:
    events, _ = run(
        block_start(0, {"type": "tool_use", "id": "toolu_01A", "name": "f", "input": {"a": 1}}),
        json_delta(0, '{"a": 2}'),
        stop(0),
    )
    assert events == [ToolUseStart(0, "toolu_01A", "f"), ToolInputDelta(0, "toolu_01A", '{"a": 2}'), BlockEnd(0)]


def test_tool_use_with_no_input_at_all_gets_no_delta() -> None:
    events, _ = run(block_start(0, {"type": "tool_use", "id": "toolu_01A", "name": "f", "input": {}}), stop(0))
    assert events == [ToolUseStart(0, "toolu_01A", "f"), BlockEnd(0)]


def test_hosted_block_with_truncated_input_is_dropped_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    opening = {"type": "server_tool_use", "id": "srvtoolu_01Cut", "name": "web_search", "input": {}}
    good = {"type": "server_tool_use", "id": "srvtoolu_01Ok", "name": "web_search", "input": {}}
    with caplog.at_level(logging.WARNING, logger="axio_transport_anthropic.decoder"):
        events, decoder = run(
            block_start(0, opening),
            json_delta(0, ""),
            json_delta(0, '{"query": "half a'),
            stop(0),
            block_start(1, good),
            json_delta(1, '{"query": "whole"}'),
            stop(1),
            message_delta("end_turn"),
        )
    assert events == [
        ProviderEvent(PROVIDER, "server_tool_use", opening, 0),
        BlockEnd(0),
        ProviderEvent(PROVIDER, "server_tool_use", good, 1),
        ProviderOutput(PROVIDER, "server_tool_use", {**good, "input": {"query": "whole"}}, 1, "srvtoolu_01Ok"),
        BlockEnd(1),
    ]
    warnings = [record for record in caplog.records if record.name == "axio_transport_anthropic.decoder"]
    assert len(warnings) == 1
    assert warnings[0].levelno == logging.WARNING
    assert "server_tool_use" in warnings[0].getMessage()
    assert "17 chars" in warnings[0].getMessage()
    assert decoder.finish().stop_reason is StopReason.end_turn


def test_hosted_block_whose_deltas_are_all_empty_has_empty_input() -> None:
    opening = {"type": "mcp_tool_use", "id": "mcptoolu_01", "name": "lookup", "server_name": "kb", "input": {}}
    events, _ = run(block_start(2, opening), json_delta(2, ""), stop(2))
    assert events == [
        ProviderEvent(PROVIDER, "mcp_tool_use", opening, 2),
        ProviderOutput(PROVIDER, "mcp_tool_use", opening, 2, "mcptoolu_01"),
        BlockEnd(2),
    ]


def test_hosted_output_does_not_alter_the_start_event() -> None:
    opening = {"type": "server_tool_use", "id": "srvtoolu_01", "name": "web_search", "input": {}}
    events, _ = run(block_start(0, opening), json_delta(0, '{"query": "q"}'), stop(0))
    first, second = events[0], events[1]
    assert isinstance(first, ProviderEvent)
    assert isinstance(second, ProviderOutput)
    assert first.data["input"] == {}
    assert second.data["input"] == {"query": "q"}


def test_block_starts_that_carry_content_emit_it() -> None:
    events, _ = run(
        block_start(0, {"type": "thinking", "thinking": "pre-filled", "signature": "sig0"}),
        block_start(1, {"type": "text", "text": "Hello"}),
        text_delta(1, ""),
        delta(1, {"type": "thinking_delta", "thinking": ""}),
    )
    assert events == [
        ReasoningDelta(0, "pre-filled"),
        ReasoningSignature(0, "sig0", provider=PROVIDER),
        TextDelta(1, "Hello"),
    ]


def test_a_missing_index_is_block_zero() -> None:
    events, _ = run(
        {"type": "content_block_start", "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "delta": {"type": "text_delta", "text": "x"}},
        {"type": "content_block_stop"},
    )
    assert events == [TextDelta(0, "x"), BlockEnd(0)]


def test_refusal_with_null_stop_details() -> None:
    payload = {"type": "message_delta", "delta": {"stop_reason": "refusal", "stop_details": None}, "usage": {}}
    events, decoder = run(start(), payload)
    assert events[1:] == [Refusal(index=0, text="", spoken=False, category=None, raw={})]
    assert decoder.finish().stop_reason is StopReason.refusal


# ── naming and identity ─────────────────────────────────────────────────────────────────────


def test_message_id_and_model_are_captured() -> None:
    decoder = MessageStreamDecoder()
    assert (decoder.message_id, decoder.model, decoder.started) == (None, None, False)
    events = decoder.feed(sse(start("msg_01Capture", "claude-sonnet-4-5-20250929")))
    assert events == [IterationStart(iteration=0, id="msg_01Capture", model="claude-sonnet-4-5-20250929")]
    assert (decoder.message_id, decoder.model, decoder.started) == (
        "msg_01Capture",
        "claude-sonnet-4-5-20250929",
        True,
    )


def test_message_start_without_id_or_model() -> None:
    events, decoder = run(start(None, None))
    assert events == [IterationStart(iteration=0, id=None, model=None)]
    assert not decoder.started
    events, decoder = run(start("", ""))
    assert (decoder.message_id, decoder.model) == (None, None)
    _, decoder = run(start(None, "claude-only-model"))
    assert decoder.started


def test_stopped_only_after_message_stop() -> None:
    decoder = MessageStreamDecoder()
    decoder.feed(sse(start(), message_delta("end_turn")))
    assert not decoder.stopped
    decoder.feed(sse({"type": "message_stop"}))
    assert decoder.stopped


def test_the_payload_type_wins_over_the_event_line() -> None:
    decoder = MessageStreamDecoder()
    events = decoder.feed(b'event: ping\ndata: {"type": "content_block_stop", "index": 3}\n\n')
    assert events == [BlockEnd(3)]


def test_an_unnamed_payload_without_type_is_a_provider_event() -> None:
    decoder = MessageStreamDecoder()
    events = decoder.feed(b'data: {"hello": "world"}\n\nevent: custom\ndata: {"n": 1, "index": 4}\n\n')
    assert events == [
        ProviderEvent(PROVIDER, "message", {"hello": "world"}, None),
        ProviderEvent(PROVIDER, "custom", {"n": 1, "index": 4}, 4),
    ]


def test_ping_yields_nothing() -> None:
    events, _ = run({"type": "ping"}, {"type": "ping", "extra": 1})
    assert events == []


@pytest.mark.parametrize(
    ("raw", "stop", "kept"),
    [
        ("end_turn", StopReason.end_turn, ""),
        ("stop_sequence", StopReason.end_turn, "stop_sequence"),
        ("tool_use", StopReason.tool_use, ""),
        ("max_tokens", StopReason.max_tokens, ""),
        ("refusal", StopReason.refusal, ""),
        ("pause_turn", StopReason.pause_turn, ""),
        ("model_context_window_exceeded", StopReason.context_window_exceeded, "model_context_window_exceeded"),
        ("error", StopReason.unknown, "error"),
        ("cancelled", StopReason.unknown, "cancelled"),
        ("something_new", StopReason.unknown, "something_new"),
    ],
)
def test_finish_maps_every_stop_reason(raw: str, stop: StopReason, kept: str) -> None:
    _, decoder = run(start(input_tokens=4), message_delta(raw, output_tokens=2))
    end = decoder.finish()
    assert (end.stop_reason, end.raw, end.iteration) == (stop, kept, 0)
    assert end.usage == Usage(4, 2)
    assert decoder.stop_reason == raw
