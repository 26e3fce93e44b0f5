"""The golden corpus: Messages API byte streams and the axio events each one must decode to.

Each ``tests/golden/<name>.sse`` is a response body exactly as it crosses the wire (some with CRLF
or bare CR line ends, one without a final line end), written by hand for these tests. Beside it,
``<name>.expected.json`` holds:

``covers``
    What the stream is there to exercise, for the reader.
``events``
    Every event the decoder yields, as ``{"type": <class name>, **dataclasses.asdict(event)}``, and
    for a stream that completes, ``finish()``'s ``IterationEnd`` last.
``state``
    ``message_id``, ``model``, ``stop_reason`` (the API's own word) and ``stopped`` afterwards.
``failure``
    ``null``, or the ``error`` event read (``error_type``, ``message``): the transport raises it
    as ``InStreamError``. Such a stream also names ``finish_raises``.
``counts`` (optional)
    The ``TokenCounts`` afterwards, where the usage split is the point of the stream.

Every stream is decoded fed whole, fed one byte at a time, and (with hypothesis) cut anywhere.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
from axio.events import IterationEnd, StreamEvent
from axio.testing import assert_stream_contract
from hypothesis import given, settings
from hypothesis import strategies as st

from axio_transport_anthropic.decoder import STOP_REASONS, MessageStreamDecoder
from axio_transport_anthropic.errors import ProtocolError

GOLDEN = Path(__file__).parent / "golden"
STREAMS = sorted(GOLDEN.glob("*.sse"))
NAMES = [path.stem for path in STREAMS]

#: Every event class the decoder can emit: the corpus must show each one at least once.
EMITTED = {
    "IterationStart",
    "TextDelta",
    "ReasoningDelta",
    "ReasoningSignature",
    "ToolUseStart",
    "ToolInputDelta",
    "Citation",
    "Refusal",
    "ProviderEvent",
    "ProviderOutput",
    "BlockEnd",
    "IterationEnd",
}


def raw_bytes(name: str) -> bytes:
    return (GOLDEN / f"{name}.sse").read_bytes()


def expected_of(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((GOLDEN / f"{name}.expected.json").read_text(encoding="utf-8"))
    return loaded


def as_json(event: StreamEvent) -> dict[str, Any]:
    """An event as the expected files write it: class name plus its fields, through JSON."""
    fields = dataclasses.asdict(event)
    encoded: dict[str, Any] = json.loads(json.dumps({"type": type(event).__name__, **fields}))
    return encoded


def decode(chunks: Iterable[bytes]) -> tuple[list[StreamEvent], MessageStreamDecoder]:
    """Feed ``chunks`` in order, then close; the events in order, and the decoder to inspect."""
    decoder = MessageStreamDecoder()
    events: list[StreamEvent] = []
    for chunk in chunks:
        events.extend(decoder.feed(chunk))
    events.extend(decoder.close())
    return events, decoder


def with_end(events: list[StreamEvent], decoder: MessageStreamDecoder) -> list[StreamEvent]:
    """The events plus ``finish()``'s IterationEnd, where the turn completed."""
    if decoder.failure is not None or decoder.stop_reason is None:
        return list(events)
    return [*events, decoder.finish()]


def check_against_expected(name: str, events: list[StreamEvent], decoder: MessageStreamDecoder) -> None:
    expected = expected_of(name)
    state = {
        "message_id": decoder.message_id,
        "model": decoder.model,
        "stop_reason": decoder.stop_reason,
        "stopped": decoder.stopped,
    }
    assert state == expected["state"]
    failure = None if decoder.failure is None else dataclasses.asdict(decoder.failure)
    assert failure == expected["failure"]
    if "counts" in expected:
        assert dataclasses.asdict(decoder.counts) == expected["counts"]

    if expected.get("finish_raises") == "ProtocolError":
        assert decoder.failure is not None or decoder.stop_reason is None
        with pytest.raises(ProtocolError):
            decoder.finish()
        assert [as_json(event) for event in events] == expected["events"]
        return

    assert "finish_raises" not in expected
    complete = [*events, decoder.finish()]
    assert [as_json(event) for event in complete] == expected["events"]
    assert_stream_contract(complete)
    # The end's usage is exactly what the decoder's counts say.
    end = complete[-1]
    assert isinstance(end, IterationEnd)
    assert end.usage == decoder.counts.to_usage()


# ── the corpus itself ───────────────────────────────────────────────────────────────────────


def test_every_stream_has_its_expectation() -> None:
    expectations = sorted(path.name.removesuffix(".expected.json") for path in GOLDEN.glob("*.expected.json"))
    assert expectations == NAMES
    assert len(NAMES) >= 24


def test_corpus_shows_every_event_and_stop_reason() -> None:
    seen: set[str] = set()
    raw_reasons: set[str | None] = set()
    ends: set[str] = set()
    for name in NAMES:
        expected = expected_of(name)
        seen.update(event["type"] for event in expected["events"])
        raw_reasons.add(expected["state"]["stop_reason"])
        ends.update(event["stop_reason"] for event in expected["events"] if event["type"] == "IterationEnd")
    assert seen == EMITTED
    assert set(STOP_REASONS) <= raw_reasons, "every stop reason the API documents has a stream"
    assert "unknown" in ends
    assert {"end_turn", "tool_use", "max_tokens", "refusal", "pause_turn", "context_window_exceeded"} <= ends
    assert sum(expected_of(name)["failure"] is not None for name in NAMES) >= 2


def test_corpus_bytes_keep_their_quirks() -> None:
    """Guards the recordings against an editor or git normalising them."""
    crlf = raw_bytes("crlf_comments_padding")
    assert crlf.count(b"\r\n") == crlf.count(b"\n") == crlf.count(b"\r") > 0
    assert b"data:    {" in crlf
    assert b"data: \t {" in crlf
    assert b"\n:" in crlf
    assert b'\r\ndata:  "delta"' in crlf

    cr = raw_bytes("cr_line_ends")
    assert b"\n" not in cr
    assert cr.count(b"\r") > 10

    no_events = raw_bytes("no_event_lines")
    assert b"event:" not in no_events
    assert not no_events.endswith((b"\n", b"\r"))

    non_ascii = raw_bytes("non_ascii")
    assert "中文".encode() in non_ascii
    assert "🦀".encode() in non_ascii
    assert b"\\ud83d\\ude00" in non_ascii

    assert b"event:message_start\ndata:{" in raw_bytes("text_multi_block")
    multiline = raw_bytes("multiline_data")
    assert b'data: {"type":"message_start",\ndata: "message"' in multiline

    plain = raw_bytes("text_plain")
    assert plain.startswith(b"event: ping\n")
    assert plain.count(b"event: ping\n") == 3

    extra = raw_bytes("extra_fields")
    for field in (b'"stop_details":null', b'"service_tier"', b'"inference_geo"'):
        assert field in extra

    assert raw_bytes("error_only").count(b"event:") == 1


# ── decoding ────────────────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize("name", NAMES)
def test_fed_whole(name: str) -> None:
    events, decoder = decode([raw_bytes(name)])
    check_against_expected(name, events, decoder)


@pytest.mark.parametrize("name", NAMES)
def test_fed_one_byte_at_a_time(name: str) -> None:
    raw = raw_bytes(name)
    events, decoder = decode(raw[i : i + 1] for i in range(len(raw)))
    check_against_expected(name, events, decoder)


@pytest.mark.parametrize("name", NAMES)
def test_fed_line_by_line_with_empty_reads(name: str) -> None:
    """Network reads that end exactly on line ends, with empty reads between them."""
    raw = raw_bytes(name)
    chunks: list[bytes] = []
    for line in raw.splitlines(keepends=True):
        chunks += [line, b""]
    events, decoder = decode(chunks)
    check_against_expected(name, events, decoder)


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_any_split_decodes_like_the_whole(name: str, data: st.DataObject) -> None:
    raw = raw_bytes(name)
    whole_events, whole = decode([raw])
    cuts = data.draw(
        st.lists(st.integers(min_value=0, max_value=len(raw)), max_size=60).map(sorted),
        label="cuts",
    )
    bounds = [0, *cuts, len(raw)]
    events, decoder = decode(raw[a:b] for a, b in itertools.pairwise(bounds))
    assert with_end(events, decoder) == with_end(whole_events, whole)
    assert decoder.failure == whole.failure
    assert decoder.counts == whole.counts
    assert (decoder.message_id, decoder.model, decoder.stop_reason, decoder.stopped) == (
        whole.message_id,
        whole.model,
        whole.stop_reason,
        whole.stopped,
    )
