"""SSEDecoder: the text/event-stream framing, from bytes in any split to whole events."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterable

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from axio_transport_anthropic.sse import ServerSentEvent, SSEDecoder


def decode(chunks: Iterable[bytes]) -> list[ServerSentEvent]:
    decoder = SSEDecoder()
    out: list[ServerSentEvent] = []
    for chunk in chunks:
        out += decoder.feed(chunk)
    return out + decoder.flush()


def split_at(raw: bytes, cuts: Iterable[int]) -> list[bytes]:
    bounds = [0, *sorted(cuts), len(raw)]
    return [raw[a:b] for a, b in itertools.pairwise(bounds)]


def E(event: str, data: bytes) -> ServerSentEvent:
    return ServerSentEvent(event, data)


# ── fields ──────────────────────────────────────────────────────────────────────────────────


def test_named_event() -> None:
    assert SSEDecoder().feed(b"event: ping\ndata: {}\n\n") == [E("ping", b"{}")]


def test_unnamed_event_is_message() -> None:
    assert SSEDecoder().feed(b"data: {}\n\n") == [E("message", b"{}")]


def test_event_and_data_without_the_space() -> None:
    assert SSEDecoder().feed(b"event:ping\ndata:{}\n\n") == [E("ping", b"{}")]


def test_leading_space_is_stripped_only_once() -> None:
    out = SSEDecoder().feed(b"event:  two\ndata:  two spaces\ndata:\tno strip of a tab\n\n")
    assert out == [E(" two", b" two spaces\n\tno strip of a tab")]


def test_trailing_whitespace_is_kept() -> None:
    assert SSEDecoder().feed(b"data: x  \t\n\n") == [E("message", b"x  \t")]


def test_colon_inside_the_value_is_kept() -> None:
    assert SSEDecoder().feed(b"data: a: b:c\n\n") == [E("message", b"a: b:c")]


def test_multi_line_data_is_joined_with_lf() -> None:
    out = SSEDecoder().feed(b"data: first\ndata: second\ndata:\ndata: fourth\n\n")
    assert out == [E("message", b"first\nsecond\n\nfourth")]


def test_data_line_with_no_colon_is_an_empty_value() -> None:
    assert SSEDecoder().feed(b"data\n\n") == [E("message", b"")]
    assert SSEDecoder().feed(b"data\ndata: x\ndata\n\n") == [E("message", b"\nx\n")]


def test_empty_data_still_dispatches() -> None:
    assert SSEDecoder().feed(b"data:\n\n") == [E("message", b"")]
    assert SSEDecoder().feed(b"event: e\ndata: \n\n") == [E("e", b"")]


def test_event_without_data_is_not_dispatched() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"event: lonely\n\n") == []
    assert decoder.flush() == []


def test_event_name_resets_after_dispatch() -> None:
    out = SSEDecoder().feed(b"event: a\ndata: 1\n\ndata: 2\n\n")
    assert out == [E("a", b"1"), E("message", b"2")]


def test_event_name_resets_on_a_blank_line_even_without_data() -> None:
    assert SSEDecoder().feed(b"event: a\n\ndata: 2\n\n") == [E("message", b"2")]


def test_last_event_line_wins_and_may_follow_the_data() -> None:
    assert SSEDecoder().feed(b"event: a\ndata: 1\nevent: b\n\n") == [E("b", b"1")]


def test_id_retry_and_unknown_fields_are_ignored() -> None:
    raw = b"id: 7\nretry: 3000\nfoo: bar\nid\ndatax: no\nEvent: no\nDATA: no\ndata: yes\n\n"
    assert SSEDecoder().feed(raw) == [E("message", b"yes")]


def test_comments_are_ignored_anywhere() -> None:
    raw = b": hello\nevent: a\n: inside\ndata: 1\n:\n\n: between\n\ndata: 2\n\n"
    assert SSEDecoder().feed(raw) == [E("a", b"1"), E("message", b"2")]


def test_comment_only_stream_yields_nothing() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b": keep-alive\n\n:\n: another one\n\n: unterminated") == []
    assert decoder.flush() == []


def test_no_bom_the_first_line_is_read_from_its_first_byte() -> None:
    """A stream without a byte-order mark: nothing at its start is taken for one and dropped."""
    raw = b"event: message_start\ndata: {}\n\n"
    assert decode(raw[i : i + 1] for i in range(len(raw))) == [E("message_start", b"{}")]
    assert decode([b"e", raw[1:]]) == [E("message_start", b"{}")]


def test_data_stays_bytes_and_is_never_decoded() -> None:
    invalid = b"\xff\xfe \xc3"
    assert SSEDecoder().feed(b"data: " + invalid + b"\n\n") == [E("message", invalid)]


def test_event_name_is_utf8_and_invalid_bytes_are_replaced() -> None:
    assert SSEDecoder().feed("event: café\ndata: 1\n\n".encode()) == [E("café", b"1")]
    assert SSEDecoder().feed(b"event: a\xffb\ndata: 1\n\n") == [E("a\ufffdb", b"1")]


def test_several_events_in_one_read_come_back_in_order() -> None:
    raw = b"".join(b"event: e%d\ndata: %d\n\n" % (i, i) for i in range(50))
    assert SSEDecoder().feed(raw) == [E(f"e{i}", str(i).encode()) for i in range(50)]


def test_empty_reads_change_nothing() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"") == []
    assert decoder.feed(b"data: 1\n") == []
    assert decoder.feed(b"") == []
    assert decoder.feed(b"\n") == [E("message", b"1")]
    assert decoder.feed(b"") == []


# ── line ends ───────────────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize("newline", [b"\n", b"\r\n", b"\r"], ids=["LF", "CRLF", "CR"])
def test_every_line_end(newline: bytes) -> None:
    raw = newline.join([b"event: a", b"data: 1", b"data: 2", b"", b"data: 3", b"", b""])
    assert decode([raw]) == [E("a", b"1\n2"), E("message", b"3")]
    decoder = SSEDecoder()
    if newline == b"\r":
        # The final CR could be the first half of a CRLF: its event waits for the next byte or flush().
        assert decoder.feed(raw) == [E("a", b"1\n2")]
        assert decoder.flush() == [E("message", b"3")]
    else:
        assert decoder.feed(raw) == [E("a", b"1\n2"), E("message", b"3")]
        assert decoder.flush() == []


def test_mixed_line_ends_in_one_stream() -> None:
    raw = b"event: a\rdata: 1\r\ndata: 2\n\r\ndata: 3\r\r"
    assert decode([raw]) == [E("a", b"1\n2"), E("message", b"3")]


def test_crlf_split_between_cr_and_lf_is_one_line_end() -> None:
    """Read as two line ends, the CR and the LF would make a blank line and end the event early."""
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\r") == []
    assert decoder.feed(b"\ndata: b\r") == []
    assert decoder.feed(b"\n\r") == []
    assert decoder.feed(b"\n") == [E("message", b"a\nb")]
    assert decoder.flush() == []


def test_bare_cr_as_a_whole_read() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a") == []
    assert decoder.feed(b"\r") == []
    assert decoder.feed(b"\r") == []  # a CR may still be followed by LF: held until the next byte
    assert decoder.feed(b"d") == [E("message", b"a")]
    assert decoder.feed(b"ata: b\r\r") == []
    assert decoder.flush() == [E("message", b"b")]


def test_cr_then_lf_is_not_two_blank_lines() -> None:
    assert decode([b"data: a\r\r", b"\ndata: b\n\n"]) == [E("message", b"a"), E("message", b"b")]


# ── flush ───────────────────────────────────────────────────────────────────────────────────


def test_flush_dispatches_an_unterminated_event() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"event: a\ndata: 1") == []
    assert decoder.flush() == [E("a", b"1")]
    assert decoder.flush() == []


@pytest.mark.parametrize("ending", [b"\n", b"\r\n", b"\r"], ids=["LF", "CRLF", "CR"])
def test_flush_after_a_terminated_line_without_the_blank_line(ending: bytes) -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: 1" + ending) == []
    assert decoder.flush() == [E("message", b"1")]


def test_flush_of_a_lone_unterminated_event_line_yields_nothing() -> None:
    decoder = SSEDecoder()
    decoder.feed(b"data: 1\n\nevent: half")
    assert decoder.flush() == []


def test_flush_on_a_fresh_or_drained_decoder_yields_nothing() -> None:
    decoder = SSEDecoder()
    assert decoder.flush() == []
    assert decoder.feed(b"data: 1\n\n") == [E("message", b"1")]
    assert decoder.flush() == []


def test_decoder_is_reusable_after_flush() -> None:
    decoder = SSEDecoder()
    decoder.feed(b"event: a\ndata: 1")
    assert decoder.flush() == [E("a", b"1")]
    assert decoder.feed(b"data: 2\n\n") == [E("message", b"2")]


# ── long lines and the tail ─────────────────────────────────────────────────────────────────


def test_very_long_line_split_across_many_chunks() -> None:
    payload = bytes(range(32, 127)) * 5_000  # ~470 KB on one line
    raw = b"event: big\ndata: " + payload + b"\n\n"
    decoder = SSEDecoder()
    out: list[ServerSentEvent] = []
    for start in range(0, len(raw), 997):
        out += decoder.feed(raw[start : start + 997])
    assert out == [E("big", payload)]
    assert b"".join(decoder._partial) == b""


def test_tail_holds_only_the_unfinished_line() -> None:
    """One huge event of many lines, fed in small reads: the decoder keeps only the partial line
    (never everything read so far), so nothing already handled is scanned again."""
    line = b"data: " + b"0123456789" * 4 + b"\n"
    raw = b"event: huge\n" + line * 5_000 + b"\n"
    decoder = SSEDecoder()
    last_lf = -1
    out: list[ServerSentEvent] = []
    for start in range(0, len(raw), 37):
        end = min(start + 37, len(raw))
        out += decoder.feed(raw[start:end])
        if (lf := raw.rfind(b"\n", start, end)) != -1:
            last_lf = lf
        assert b"".join(decoder._partial) == raw[last_lf + 1 : end]
        assert len(b"".join(decoder._partial)) < len(line)
    assert out == [E("huge", b"\n".join([line[6:-1]] * 5_000))]


def test_one_long_line_costs_linear_time_in_its_reads() -> None:
    """Feeding one long line in N reads should cost about what the same bytes cost as many lines.

    Re-joining the whole unfinished line to every new read is quadratic: a 2 MB line in 1 KB reads
    copies about 2 GB. The docstring promises that nothing already handled is copied again.
    """
    size, step = 2 << 20, 1024
    one_line = b"data: " + b"x" * size + b"\n\n"
    many_lines = (b"data: " + b"x" * 100 + b"\n") * (size // 107) + b"\n"

    def feed_time(raw: bytes) -> float:
        decoder = SSEDecoder()
        began = time.perf_counter()
        for start in range(0, len(raw), step):
            decoder.feed(raw[start : start + step])
        return time.perf_counter() - began

    baseline = min(feed_time(many_lines) for _ in range(3))
    assert feed_time(one_line) < 10 * baseline + 0.1


# ── any split, any line end ─────────────────────────────────────────────────────────────────

_SAMPLE = "event: e\u0301t\u00e9\r\ndata: caf\u00e9 \u4e2d\u6587 \U0001f980\r\n: note \u2603\r\ndata:\u00e9\r\n\r\n"


def test_every_single_cut_of_a_crlf_stream_with_multibyte_text() -> None:
    raw = _SAMPLE.encode() + b"data: x\r\r\n"
    expected = decode([raw])
    assert expected == [E("e\u0301t\u00e9", "caf\u00e9 \u4e2d\u6587 \U0001f980\n\u00e9".encode()), E("message", b"x")]
    for cut in range(len(raw) + 1):
        assert decode(split_at(raw, [cut])) == expected, cut


def test_every_pair_of_cuts_of_a_crlf_stream_with_multibyte_text() -> None:
    raw = _SAMPLE.encode()
    expected = decode([raw])
    for first in range(len(raw) + 1):
        for second in range(first, len(raw) + 1):
            assert decode(split_at(raw, [first, second])) == expected, (first, second)


_TEXT = st.one_of(
    st.text(st.characters(codec="utf-8", exclude_characters="\r\n"), max_size=12),
    st.sampled_from(["", " ", " leading space", "é", "中文", "🦀👍🏽", "a: b", ":not a comment", '{"k": [1]}']),
)
_NAMES = st.one_of(
    st.text(st.characters(codec="utf-8", exclude_characters="\r\n"), max_size=8),
    st.sampled_from(["message_start", "content_block_delta", "ping", "événement", "事件"]),
)


@st.composite
def sse_streams(draw: st.DrawFn) -> tuple[bytes, list[ServerSentEvent]]:
    """A stream built line by line, and the events the standard says it carries."""

    def field(name: str, value: str) -> bytes:
        # With no space after the colon, a value's own leading space would be read as the separator.
        spaced = value.startswith(" ") or draw(st.booleans())
        return f"{name}{': ' if spaced else ':'}{value}".encode()

    newline = draw(st.sampled_from([b"\n", b"\r\n", b"\r"]), label="newline")
    lines: list[bytes] = []
    expected: list[ServerSentEvent] = []
    for _ in range(draw(st.integers(0, 5))):
        values = draw(st.lists(_TEXT, max_size=4))
        block: list[bytes] = []
        for value in values:
            block.append(b"data" if value == "" and draw(st.booleans()) else field("data", value))
        name = draw(st.none() | _NAMES)
        if name is not None:
            block.insert(draw(st.integers(0, len(block))), field("event", name))
        for _ in range(draw(st.integers(0, 2))):
            noise = draw(st.sampled_from([":", ": ", "id: ", "retry: ", "x-unknown: "])) + draw(_TEXT)
            block.insert(draw(st.integers(0, len(block))), noise.encode())
        lines += [*block, b""]
        if values:
            expected.append(E(name or "message", b"\n".join(v.encode() for v in values)))
    unterminated: bool = draw(st.booleans())
    if lines and unterminated:
        lines.pop()  # the last event is never terminated by a blank line: flush() reads it
        raw = newline.join(lines) + draw(st.sampled_from([b"", newline]))
    else:
        raw = b"".join(line + newline for line in lines)
    return raw, expected


@settings(max_examples=300, deadline=None)
@given(stream=sse_streams(), data=st.data())
@example(stream=(b"data: a\r\n\r\n", [E("message", b"a")]), data=None).via("CR|LF split")
def test_generated_streams_in_any_split(
    stream: tuple[bytes, list[ServerSentEvent]], data: st.DataObject | None
) -> None:
    raw, expected = stream
    assert decode([raw]) == expected
    if data is None:
        cuts = [raw.index(b"\r") + 1]
    else:
        cuts = data.draw(st.lists(st.integers(0, len(raw)), max_size=30), label="cuts")
    assert decode(split_at(raw, cuts)) == expected


@settings(max_examples=100, deadline=None)
@given(stream=sse_streams())
def test_generated_streams_one_byte_at_a_time(stream: tuple[bytes, list[ServerSentEvent]]) -> None:
    raw, expected = stream
    assert decode(raw[i : i + 1] for i in range(len(raw))) == expected
