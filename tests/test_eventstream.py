"""The AWS event-stream framing, against frames built here byte by byte: every split of the input
gives the same frames, a bad CRC or an impossible length is a ``ProtocolError`` (before a huge
frame is waited for), and Bedrock's chunks and exceptions reach the decoder as Anthropic events."""

from __future__ import annotations

import base64
import itertools
import json
import struct
import zlib
from typing import Any

import pytest
from axio.events import IterationEnd, IterationStart, TextDelta
from hypothesis import given, settings
from hypothesis import strategies as st

from axio_transport_anthropic import MessageStreamDecoder, ProtocolError
from axio_transport_anthropic.backends.bedrock_stream import BedrockEventStream
from axio_transport_anthropic.backends.eventstream import Frame, FrameDecoder, encode_frame


def handmade(headers: bytes, payload: bytes) -> bytes:
    """A frame laid out by hand: lengths, prelude CRC, headers, payload, message CRC."""
    prelude = struct.pack(">II", 16 + len(headers) + len(payload), len(headers))
    message = prelude + struct.pack(">I", zlib.crc32(prelude)) + headers + payload
    return message + struct.pack(">I", zlib.crc32(message))


def string_header(name: str, value: str) -> bytes:
    raw = value.encode()
    return bytes([len(name)]) + name.encode() + b"\x07" + struct.pack(">H", len(raw)) + raw


def chunk(event: dict[str, Any]) -> bytes:
    """A Bedrock ``chunk`` event carrying one Anthropic event, with Bedrock's length padding."""
    headers = (
        string_header(":event-type", "chunk")
        + string_header(":content-type", "application/json")
        + string_header(":message-type", "event")
    )
    inner = base64.b64encode(json.dumps(event).encode()).decode()
    return handmade(headers, json.dumps({"bytes": inner, "p": "abcdefghij"}).encode())


def exception(kind: str, message: str) -> bytes:
    headers = string_header(":exception-type", kind) + string_header(":message-type", "exception")
    return handmade(headers, json.dumps({"message": message}).encode())


TURN: list[dict[str, Any]] = [
    {"type": "message_start", "message": {"id": "msg_bdrk_1", "model": "claude-sonnet-4-6", "usage": {}}},
    {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hél"}},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "lo"}},
    {"type": "content_block_stop", "index": 0},
    {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 2}},
    {
        "type": "message_stop",
        "amazon-bedrock-invocationMetrics": {
            "inputTokenCount": 9,
            "outputTokenCount": 2,
            "invocationLatency": 321,
            "firstByteLatency": 87,
        },
    },
]
STREAM = b"".join(chunk(event) for event in TURN)


def frames_of(pieces: list[bytes]) -> list[Frame]:
    decoder = FrameDecoder()
    frames = [frame for piece in pieces for frame in decoder.feed(piece)]
    assert decoder.pending == 0
    return frames


# ── frames ──────────────────────────────────────────────────────────────────────────────────


def test_a_handmade_frame_reads_back() -> None:
    [frame] = frames_of([chunk(TURN[0])])
    assert frame.headers == {":event-type": "chunk", ":content-type": "application/json", ":message-type": "event"}
    assert json.loads(base64.b64decode(json.loads(frame.payload)["bytes"])) == TURN[0]


def test_every_header_type_reads() -> None:
    headers = (
        b"\x01a\x00"  # true
        + b"\x01b\x01"  # false
        + b"\x01c\x02\xff"  # byte
        + b"\x01d\x03\xff\xfe"  # short
        + b"\x01e\x04\x00\x00\x01\x00"  # integer
        + (b"\x01f\x05" + struct.pack(">q", -5))  # long
        + b"\x01g\x06\x00\x03raw"  # bytes
        + b"\x01h\x07\x00\x02\xc3\xa9"  # string (UTF-8)
        + (b"\x01i\x08" + struct.pack(">q", 1_700_000_000_000))  # timestamp
        + (b"\x01j\x09" + bytes(range(16)))  # uuid
    )
    [frame] = frames_of([handmade(headers, b"")])
    assert frame.headers == {
        "a": True,
        "b": False,
        "c": -1,
        "d": -2,
        "e": 256,
        "f": -5,
        "g": b"raw",
        "h": "é",
        "i": 1_700_000_000_000,
        "j": bytes(range(16)),
    }


def test_every_single_split_gives_the_same_frames() -> None:
    whole = frames_of([STREAM])
    assert len(whole) == len(TURN)
    for cut in range(1, len(STREAM)):
        assert frames_of([STREAM[:cut], STREAM[cut:]]) == whole


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=len(STREAM)), max_size=40))
def test_any_splits_give_the_same_frames(cuts: list[int]) -> None:
    edges = [0, *sorted(cuts), len(STREAM)]
    pieces = [STREAM[a:b] for a, b in itertools.pairwise(edges)]
    assert frames_of(pieces) == frames_of([STREAM])


def test_one_byte_at_a_time() -> None:
    assert frames_of([STREAM[i : i + 1] for i in range(len(STREAM))]) == frames_of([STREAM])


@pytest.mark.parametrize("at", [8, 11], ids=["prelude length", "prelude CRC"])
def test_a_bad_prelude_crc_is_a_protocol_error(at: int) -> None:
    frame = bytearray(chunk(TURN[0]))
    frame[at] ^= 0x01
    with pytest.raises(ProtocolError, match="prelude CRC"):
        FrameDecoder().feed(bytes(frame))


@pytest.mark.parametrize("at", [20, -5, -1], ids=["headers", "payload", "message CRC"])
def test_a_bad_message_crc_is_a_protocol_error(at: int) -> None:
    frame = bytearray(chunk(TURN[0]))
    frame[at] ^= 0x01
    with pytest.raises(ProtocolError, match="message CRC"):
        FrameDecoder().feed(bytes(frame))


def prelude(total: int, headers: int) -> bytes:
    head = struct.pack(">II", total, headers)
    return head + struct.pack(">I", zlib.crc32(head))


@pytest.mark.parametrize(
    ("total", "headers", "what"),
    [
        (16 + 24 * 1024 * 1024 + 1, 0, "payload of 25165825 bytes is too large"),
        (16 + 128 * 1024 + 1, 128 * 1024 + 1, "headers of 131073 bytes exceed"),
        (15, 0, "claims 15 bytes"),
        (20, 8, "claims 20 bytes with 8 of headers"),
    ],
)
def test_impossible_lengths_fail_at_the_prelude(total: int, headers: int, what: str) -> None:
    """Refused from the 12 prelude bytes alone: a corrupt length is never waited for."""
    with pytest.raises(ProtocolError, match=what):
        FrameDecoder().feed(prelude(total, headers))


def test_headers_that_run_past_their_length_are_a_protocol_error() -> None:
    with pytest.raises(ProtocolError, match="malformed headers"):
        FrameDecoder().feed(handmade(b"\x05:name\x07\x00\x09short", b""))


def test_the_encoder_writes_what_botocore_reads() -> None:
    from botocore.eventstream import EventStreamBuffer

    data = encode_frame({":message-type": "event", "flag": True, "off": False, "n": -7, "raw": b"\x00\x01"}, b"xyz")
    buffer = EventStreamBuffer()
    buffer.add_data(data + data)
    messages = list(buffer)
    assert [(m.headers, m.payload) for m in messages] == [
        ({":message-type": "event", "flag": True, "off": False, "n": -7, "raw": b"\x00\x01"}, b"xyz")
    ] * 2
    assert frames_of([data]) == [Frame(messages[0].headers, b"xyz")]


# ── Bedrock's events ────────────────────────────────────────────────────────────────────────


def test_chunks_become_anthropic_events_named_by_their_type() -> None:
    events = BedrockEventStream().feed(STREAM)
    assert [name for name, _ in events] == [event["type"] for event in TURN]
    assert [json.loads(data) for _, data in events] == TURN


@pytest.mark.parametrize(
    ("frame", "error"),
    [
        (exception("throttlingException", "Too many tokens, please wait."), ("throttlingException", "Too many tokens")),
        (
            handmade(
                string_header(":message-type", "error")
                + string_header(":error-code", "InternalFailure")
                + string_header(":error-message", "boom"),
                b"",
            ),
            ("InternalFailure", "boom"),
        ),
    ],
    ids=["exception", "error"],
)
def test_exceptions_and_errors_become_error_events(frame: bytes, error: tuple[str, str]) -> None:
    [(name, data)] = BedrockEventStream().feed(frame)
    assert name == "error"
    body = json.loads(data)
    assert body["type"] == "error"
    assert body["error"]["type"] == error[0]
    assert body["error"]["message"].startswith(error[1])


def test_other_event_types_are_skipped() -> None:
    frame = handmade(string_header(":message-type", "event") + string_header(":event-type", "initial-response"), b"{}")
    assert BedrockEventStream().feed(frame) == []


@pytest.mark.parametrize(
    ("payload", "headers"),
    [
        (b'{"bytes": "not base64!"}', string_header(":message-type", "event") + string_header(":event-type", "chunk")),
        (b"not json", string_header(":message-type", "event") + string_header(":event-type", "chunk")),
        (b"{}", string_header(":message-type", "surprise")),
    ],
    ids=["bad base64", "bad JSON", "unknown message type"],
)
def test_unreadable_frames_are_protocol_errors(payload: bytes, headers: bytes) -> None:
    with pytest.raises(ProtocolError):
        BedrockEventStream().feed(handmade(headers, payload))


def test_a_frame_cut_at_the_end_of_the_body_yields_nothing() -> None:
    framing = BedrockEventStream()
    assert framing.feed(STREAM[:-3]) != []
    assert framing.flush() == []


def test_the_decoder_reads_a_bedrock_stream_as_it_reads_sse() -> None:
    decoder = MessageStreamDecoder(BedrockEventStream())
    events = [event for cut in range(0, len(STREAM), 7) for event in decoder.feed(STREAM[cut : cut + 7])]
    assert isinstance(events[0], IterationStart) and events[0].id == "msg_bdrk_1"
    assert "".join(e.delta for e in events if isinstance(e, TextDelta)) == "Héllo"
    end = decoder.finish()
    assert isinstance(end, IterationEnd) and end.usage.output_tokens == 2
    assert decoder.invocation_metrics == TURN[-1]["amazon-bedrock-invocationMetrics"]


def test_an_exception_mid_stream_is_the_decoders_failure() -> None:
    decoder = MessageStreamDecoder(BedrockEventStream())
    decoder.feed(chunk(TURN[0]) + chunk(TURN[1]) + exception("modelStreamErrorException", "the model broke"))
    assert decoder.failure is not None
    assert (decoder.failure.error_type, decoder.failure.message) == ("modelStreamErrorException", "the model broke")
