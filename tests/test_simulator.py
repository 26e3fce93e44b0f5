"""The simulator over a real loopback socket, driven by a plain aiohttp client."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from click.testing import CliRunner
from multidict import CIMultiDict

from axio_transport_anthropic.simulator import (
    FAULT_KINDS,
    Fault,
    FaultProfile,
    Reply,
    Simulator,
)
from axio_transport_anthropic.simulator.cache import PromptCache
from axio_transport_anthropic.simulator.chunking import RandomChunker
from axio_transport_anthropic.simulator.command import simulate

HEADERS = {"x-api-key": "sk-test", "anthropic-version": "2023-06-01", "content-type": "application/json"}
MODEL = "claude-sonnet-4-6"
WEATHER_TOOL = {
    "name": "get_weather",
    "description": "Weather for a city",
    "input_schema": {
        "type": "object",
        "properties": {
            "city": {"type": "string"},
            "days": {"type": "integer"},
            "metric": {"type": "boolean"},
            "note": {"type": "string"},
        },
        "required": ["city", "days", "metric"],
    },
}

Event = tuple[str, dict[str, Any]]


def request_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": MODEL,
        "max_tokens": 512,
        "messages": [{"role": "user", "content": "What is the weather in Paris?"}],
    }
    body.update(overrides)
    return body


def parse_sse(raw: bytes) -> list[Event]:
    text = raw.decode().replace("\r\n", "\n")
    events: list[Event] = []
    for frame in text.split("\n\n"):
        if not frame.strip():
            continue
        fields = dict(line.split(": ", 1) for line in frame.split("\n"))
        events.append((fields["event"], json.loads(fields["data"])))
    return events


def names(events: list[Event]) -> list[str]:
    return [name for name, _ in events]


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator() as simulator:
        yield simulator


async def post(
    session: aiohttp.ClientSession, sim: Simulator, body: Any, headers: dict[str, str] | None = None
) -> tuple[int, CIMultiDict[str], bytes]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    async with session.post(f"{sim.base_url}/messages", data=data, headers=headers or HEADERS) as response:
        return response.status, CIMultiDict(response.headers), await response.read()


async def stream(session: aiohttp.ClientSession, sim: Simulator, **overrides: Any) -> list[Event]:
    status, headers, raw = await post(session, sim, request_body(stream=True, **overrides))
    assert status == 200
    assert headers["Content-Type"].startswith("text/event-stream")
    return parse_sse(raw)


async def wait_for_no_open_streams(sim: Simulator) -> None:
    for _ in range(200):
        if not sim.open_streams:
            return
        await asyncio.sleep(0.01)
    assert sim.open_streams == 0


async def read_into(response: aiohttp.ClientResponse, sink: bytearray, first: asyncio.Event | None = None) -> None:
    async for chunk in response.content.iter_any():
        sink += chunk
        if first is not None and b"\n\n" in sink:
            first.set()


# --- streams and replies ---------------------------------------------------------------------------


async def test_default_stream_has_the_api_event_order(sim: Simulator, session: aiohttp.ClientSession) -> None:
    events = await stream(session, sim)
    order = names(events)
    assert order[:3] == ["message_start", "content_block_start", "ping"]
    assert order[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    assert set(order[3:-3]) == {"content_block_delta"}
    assert len(order[3:-3]) > 2
    message = events[0][1]["message"]
    assert message["id"].startswith("msg_sim_")
    assert message["model"] == MODEL
    assert message["content"] == []
    assert message["usage"]["output_tokens"] == 1
    text = "".join(data["delta"]["text"] for name, data in events if name == "content_block_delta")
    assert "What is the weather in Paris?" in text
    assert any(ch in text for ch in "é—🙂")
    final = events[-2][1]
    assert final["delta"] == {"stop_reason": "end_turn", "stop_sequence": None}
    assert final["usage"]["output_tokens"] == max(1, len(text) // 4)
    assert sim.requests[0].request_id.startswith("req_sim_")
    assert sim.requests[0].fault is None
    assert sim.open_streams == 0


async def test_scripted_tool_use_streams_empty_first_json_delta(sim: Simulator, session: aiohttp.ClientSession) -> None:
    arguments = {"city": "Paris", "units": "metric", "days": [1, 2, 3]}
    sim.enqueue(Reply.tool_use("get_weather", arguments, text="Checking the weather."))
    events = await stream(session, sim)
    starts = [data for name, data in events if name == "content_block_start"]
    assert [s["content_block"]["type"] for s in starts] == ["text", "tool_use"]
    tool_start = starts[1]["content_block"]
    assert tool_start["input"] == {}
    assert tool_start["name"] == "get_weather"
    assert tool_start["id"].startswith("toolu_sim_")
    pieces = [
        data["delta"]["partial_json"]
        for name, data in events
        if name == "content_block_delta" and data["delta"]["type"] == "input_json_delta"
    ]
    assert pieces[0] == ""
    assert len(pieces) > 2
    assert json.loads("".join(pieces)) == arguments
    assert events[-2][1]["delta"]["stop_reason"] == "tool_use"


async def test_default_reply_calls_the_first_tool_then_reads_its_result(
    sim: Simulator, session: aiohttp.ClientSession
) -> None:
    status, _, raw = await post(session, sim, request_body(tools=[WEATHER_TOOL]))
    assert status == 200
    message = json.loads(raw)
    call = message["content"][-1]
    assert message["stop_reason"] == "tool_use"
    assert call["type"] == "tool_use"
    assert call["input"] == {"city": "example", "days": 42, "metric": True}
    follow_up = [
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": message["content"]},
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": call["id"], "content": "Sunny, 21 °C"}],
        },
    ]
    status, _, raw = await post(session, sim, request_body(tools=[WEATHER_TOOL], messages=follow_up))
    answer = json.loads(raw)
    assert answer["stop_reason"] == "end_turn"
    assert "Sunny, 21 °C" in answer["content"][0]["text"]


async def test_thinking_stream_ends_with_empty_delta_and_signature(
    sim: Simulator, session: aiohttp.ClientSession
) -> None:
    events = await stream(session, sim, thinking={"type": "enabled", "budget_tokens": 1024})
    first_start = next(data for name, data in events if name == "content_block_start")
    assert first_start["content_block"] == {"type": "thinking", "thinking": "", "signature": ""}
    deltas = [data["delta"] for name, data in events if name == "content_block_delta" and data["index"] == 0]
    assert [d["type"] for d in deltas[-2:]] == ["thinking_delta", "signature_delta"]
    assert deltas[-2]["thinking"] == ""
    assert len(base64.b64decode(deltas[-1]["signature"], validate=True)) > 64
    assert "".join(d["thinking"] for d in deltas[:-1])


async def test_scripted_thinking_as_a_json_message(sim: Simulator, session: aiohttp.ClientSession) -> None:
    sim.enqueue(Reply.thinking("Let me think.", "Forty-two."))
    status, headers, raw = await post(session, sim, request_body())
    assert status == 200
    assert headers["Content-Type"].startswith("application/json")
    message = json.loads(raw)
    assert set(message) == {"id", "type", "role", "model", "content", "stop_reason", "stop_sequence", "usage"}
    assert message["type"] == "message"
    assert message["role"] == "assistant"
    assert message["stop_sequence"] is None
    thinking, text = message["content"]
    assert thinking["type"] == "thinking"
    assert thinking["thinking"] == "Let me think."
    assert thinking["signature"]
    assert text == {"type": "text", "text": "Forty-two."}
    assert message["usage"]["output_tokens"] == 13 // 4 + 10 // 4
    assert headers["request-id"] == sim.requests[0].request_id


async def test_max_tokens_cuts_the_reply(sim: Simulator, session: aiohttp.ClientSession) -> None:
    sim.enqueue(Reply.text("word " * 100))
    _, _, raw = await post(session, sim, request_body(max_tokens=5))
    message = json.loads(raw)
    assert message["stop_reason"] == "max_tokens"
    assert message["usage"]["output_tokens"] == 5
    assert len(message["content"][0]["text"]) == 20


async def test_models_listing(sim: Simulator, session: aiohttp.ClientSession) -> None:
    async with session.get(f"{sim.base_url}/models", headers=HEADERS) as response:
        assert response.status == 200
        listing = await response.json()
    ids = [entry["id"] for entry in listing["data"]]
    assert MODEL in ids
    assert listing["has_more"] is False
    assert listing["first_id"] == ids[0]
    assert listing["last_id"] == ids[-1]
    entry = listing["data"][ids.index(MODEL)]
    assert entry["type"] == "model"
    assert entry["display_name"] == "Claude Sonnet 4.6"
    assert entry["created_at"]
    async with session.get(f"{sim.base_url}/models/nope", headers=HEADERS) as response:
        assert response.status == 404


# --- request errors --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "body", "status", "error_type", "needle"),
    [
        ({"anthropic-version": "2023-06-01"}, request_body(), 401, "authentication_error", "x-api-key"),
        ({"x-api-key": "k"}, request_body(), 400, "invalid_request_error", "anthropic-version"),
        (HEADERS, b"{not json", 400, "invalid_request_error", "JSON"),
        (
            HEADERS,
            {"max_tokens": 5, "messages": [{"role": "user", "content": "x"}]},
            400,
            "invalid_request_error",
            "model",
        ),
        (HEADERS, request_body(messages=[]), 400, "invalid_request_error", "messages"),
        (HEADERS, {"model": MODEL, "max_tokens": 5}, 400, "invalid_request_error", "messages"),
        (
            HEADERS,
            {"model": MODEL, "messages": [{"role": "user", "content": "x"}]},
            400,
            "invalid_request_error",
            "max_tokens",
        ),
        (HEADERS, request_body(model="claude-nope"), 404, "not_found_error", "claude-nope"),
    ],
)
async def test_request_errors(
    sim: Simulator,
    session: aiohttp.ClientSession,
    headers: dict[str, str],
    body: Any,
    status: int,
    error_type: str,
    needle: str,
) -> None:
    got_status, got_headers, raw = await post(session, sim, body, headers)
    assert got_status == status
    error = json.loads(raw)
    assert error["type"] == "error"
    assert error["error"]["type"] == error_type
    assert needle in error["error"]["message"]
    assert error["request_id"] == got_headers["request-id"]


async def test_wrong_key_is_rejected_when_a_key_is_required(session: aiohttp.ClientSession) -> None:
    async with Simulator(api_key="sk-right") as sim:
        status, _, raw = await post(session, sim, request_body())
        assert status == 401
        assert json.loads(raw)["error"]["type"] == "authentication_error"
        ok, _, _ = await post(session, sim, request_body(), {**HEADERS, "x-api-key": "sk-right"})
        assert ok == 200


async def test_unknown_path_is_a_json_404(sim: Simulator, session: aiohttp.ClientSession) -> None:
    async with session.get(f"{sim.base_url}/nothing", headers=HEADERS) as response:
        assert response.status == 404
        assert (await response.json())["error"]["type"] == "not_found_error"


# --- faults ----------------------------------------------------------------------------------------


async def test_rate_limited_fault_headers(sim: Simulator, session: aiohttp.ClientSession) -> None:
    sim.inject(Fault.rate_limited(retry_after=0.01, should_retry=False), Fault.rate_limited(None, retry_after_ms=250))
    status, headers, raw = await post(session, sim, request_body())
    assert status == 429
    assert json.loads(raw)["error"]["type"] == "rate_limit_error"
    assert headers["retry-after"] == "0.01"
    assert headers["x-should-retry"] == "false"
    status, headers, _ = await post(session, sim, request_body())
    assert status == 429
    assert headers["retry-after-ms"] == "250"
    assert "retry-after" not in headers
    status, _, _ = await post(session, sim, request_body())
    assert status == 200
    assert [r.fault for r in sim.requests] == ["rate_limited", "rate_limited", None]


@pytest.mark.parametrize(
    ("fault", "status", "error_type"),
    [
        (Fault.overloaded(), 529, "overloaded_error"),
        (Fault.server_error(), 500, "api_error"),
        (Fault.server_error(502), 502, "api_error"),
        (Fault.server_error(503), 503, "api_error"),
        (Fault.server_error(504), 504, "timeout_error"),
        (Fault.http_error(409, "conflict_error", "Conflict", {"x-extra": "1"}), 409, "conflict_error"),
    ],
)
async def test_http_faults_have_api_error_bodies(
    sim: Simulator, session: aiohttp.ClientSession, fault: Fault, status: int, error_type: str
) -> None:
    sim.inject(fault)
    got, headers, raw = await post(session, sim, request_body(stream=True))
    assert got == status
    assert headers["Content-Type"].startswith("application/json")
    assert json.loads(raw)["error"]["type"] == error_type
    assert "request-id" in headers


async def test_plain_text_proxy_error(sim: Simulator, session: aiohttp.ClientSession) -> None:
    sim.inject(Fault.server_error(503, plain_text=True))
    status, headers, raw = await post(session, sim, request_body())
    assert status == 503
    assert headers["Content-Type"].startswith("text/plain")
    assert raw.startswith(b"upstream connect error")
    assert sim.requests[0].fault == "server_error_plain"


async def test_reset_before_any_byte(sim: Simulator, session: aiohttp.ClientSession) -> None:
    sim.inject(Fault.reset())
    with pytest.raises(aiohttp.ClientConnectionError):
        await post(session, sim, request_body(stream=True))
    assert (await post(session, sim, request_body()))[0] == 200


async def test_reset_after_events(sim: Simulator, session: aiohttp.ClientSession) -> None:
    sim.inject(Fault.reset(after_events=2))
    received = bytearray()
    async with session.post(f"{sim.base_url}/messages", json=request_body(stream=True), headers=HEADERS) as resp:
        assert resp.status == 200
        with pytest.raises(aiohttp.ClientPayloadError):
            await read_into(resp, received)
    assert names(parse_sse(bytes(received))) == ["message_start", "content_block_start"]
    await wait_for_no_open_streams(sim)


@pytest.mark.parametrize(("after", "expected"), [(0, ["error"]), (1, ["message_start", "error"])])
async def test_stream_error_event(
    sim: Simulator, session: aiohttp.ClientSession, after: int, expected: list[str]
) -> None:
    sim.inject(Fault.stream_error(after_events=after))
    events = await stream(session, sim)
    assert names(events) == expected
    assert events[-1][1] == {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}


async def test_stream_error_on_a_json_request_is_an_http_error(sim: Simulator, session: aiohttp.ClientSession) -> None:
    sim.inject(Fault.stream_error())
    status, _, raw = await post(session, sim, request_body())
    assert status == 529
    assert json.loads(raw)["error"]["type"] == "overloaded_error"


async def test_scripted_reply_survives_a_fault_for_the_retry(sim: Simulator, session: aiohttp.ClientSession) -> None:
    sim.inject(Fault.overloaded(), Fault.stream_error(after_events=3))
    sim.enqueue(Reply.text("kept for the retry"))
    assert (await post(session, sim, request_body()))[0] == 529
    assert names(await stream(session, sim))[-1] == "error"
    _, _, raw = await post(session, sim, request_body())
    assert json.loads(raw)["content"][0]["text"] == "kept for the retry"


async def test_slow_first_byte(sim: Simulator, session: aiohttp.ClientSession) -> None:
    sim.inject(Fault.slow_first_byte(0.2))
    started = time.monotonic()
    events = await stream(session, sim)
    assert time.monotonic() - started >= 0.2
    assert names(events)[-1] == "message_stop"


@pytest.mark.parametrize("fault", [Fault.reset(after_events=1), Fault.stall(duration=0.05)])
async def test_body_faults_on_a_json_request(sim: Simulator, session: aiohttp.ClientSession, fault: Fault) -> None:
    sim.inject(fault)
    if fault.kind == "stall":
        status, _, raw = await post(session, sim, request_body())
        assert status == 200
        assert json.loads(raw)["type"] == "message"
    else:
        with pytest.raises(aiohttp.ClientPayloadError):
            await post(session, sim, request_body())
    await wait_for_no_open_streams(sim)


async def test_delays_pace_the_stream(session: aiohttp.ClientSession) -> None:
    async with Simulator(first_byte_delay=0.1, token_delay=0.01) as sim:
        started = time.monotonic()
        events = await stream(session, sim)
    deltas = names(events).count("content_block_delta")
    assert time.monotonic() - started >= 0.1 + deltas * 0.01


def test_bad_settings_are_rejected() -> None:
    with pytest.raises(ValueError, match="chunking"):
        Simulator(chunking="sideways")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="line_ending"):
        Simulator(line_ending="\r")
    with pytest.raises(ValueError, match="unknown rate limit"):
        Simulator(rate_limits={"bananas": 1})


async def test_stall_ends_when_the_client_hangs_up(sim: Simulator, session: aiohttp.ClientSession) -> None:
    sim.inject(Fault.stall(after_events=1, duration=3600))
    async with session.post(f"{sim.base_url}/messages", json=request_body(stream=True), headers=HEADERS) as resp:
        first = await asyncio.wait_for(resp.content.readuntil(b"\n\n"), 2)
        assert first.startswith(b"event: message_start")
        assert sim.open_streams == 1
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(resp.content.read(1), 0.1)
        resp.close()
    await wait_for_no_open_streams(sim)


async def test_stall_ends_when_the_simulator_stops(session: aiohttp.ClientSession) -> None:
    baseline = asyncio.all_tasks()
    received = bytearray()
    first_event = asyncio.Event()

    async def read_stream(url: str) -> None:
        async with session.post(f"{url}/messages", json=request_body(stream=True), headers=HEADERS) as resp:
            await read_into(resp, received, first_event)

    async with Simulator() as sim:
        sim.inject(Fault.stall(after_events=1, duration=3600))
        reader = asyncio.create_task(read_stream(sim.base_url))
        await asyncio.wait_for(first_event.wait(), 2)
        assert sim.open_streams == 1
        stopping = time.monotonic()
    assert time.monotonic() - stopping < 1
    assert sim.open_streams == 0
    with pytest.raises(aiohttp.ClientPayloadError):
        await reader
    assert names(parse_sse(bytes(received))) == ["message_start"]
    assert asyncio.all_tasks() <= baseline


async def test_queued_faults_win_over_the_profile(session: aiohttp.ClientSession) -> None:
    async with Simulator(profile=FaultProfile({"overloaded": 1.0})) as sim:
        sim.inject(Fault.server_error())
        assert (await post(session, sim, request_body()))[0] == 500
        assert (await post(session, sim, request_body()))[0] == 529
    assert [r.fault for r in sim.requests] == ["server_error", "overloaded"]


# --- prompt cache and rate limits ------------------------------------------------------------------


def cached(block: dict[str, Any], ttl: str | None = None) -> dict[str, Any]:
    control = {"type": "ephemeral", **({"ttl": ttl} if ttl else {})}
    return {**block, "cache_control": control}


async def usage_of(session: aiohttp.ClientSession, sim: Simulator, body: dict[str, Any]) -> dict[str, Any]:
    _, _, raw = await post(session, sim, body)
    usage: dict[str, Any] = json.loads(raw)["usage"]
    return usage


async def test_cache_reads_what_the_previous_turn_wrote(sim: Simulator, session: aiohttp.ClientSession) -> None:
    system = [cached({"type": "text", "text": "You are a weather bot. " * 40}, ttl="1h")]
    question = {"type": "text", "text": "Weather in Paris?"}
    turn1 = request_body(
        system=system, tools=[WEATHER_TOOL], messages=[{"role": "user", "content": [cached(question)]}]
    )
    first = await usage_of(session, sim, turn1)
    assert first["cache_read_input_tokens"] == 0
    assert first["cache_creation"]["ephemeral_1h_input_tokens"] > 0
    assert first["cache_creation"]["ephemeral_5m_input_tokens"] > 0
    assert first["cache_creation_input_tokens"] == sum(first["cache_creation"].values())

    call = {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}}
    result = {"type": "tool_result", "tool_use_id": "toolu_1", "content": "Sunny"}
    messages = [
        {"role": "user", "content": [question]},
        {"role": "assistant", "content": [call]},
        {"role": "user", "content": [cached(result)]},
    ]
    turn2 = request_body(system=system, tools=[WEATHER_TOOL], messages=messages)
    second = await usage_of(session, sim, turn2)
    assert second["cache_read_input_tokens"] == first["cache_creation_input_tokens"]
    assert second["cache_creation_input_tokens"] > 0
    assert second["input_tokens"] == 0

    third = await usage_of(session, sim, turn2)
    assert third["cache_read_input_tokens"] == second["cache_read_input_tokens"] + second["cache_creation_input_tokens"]
    assert third["cache_creation_input_tokens"] == 0


async def test_cache_usage_is_in_the_stream(sim: Simulator, session: aiohttp.ClientSession) -> None:
    system = [cached({"type": "text", "text": "Be brief. " * 30})]
    await stream(session, sim, system=system)
    events = await stream(session, sim, system=system)
    start_usage = events[0][1]["message"]["usage"]
    final_usage = events[-2][1]["usage"]
    assert start_usage["cache_read_input_tokens"] > 0
    assert start_usage["output_tokens"] == 1
    assert final_usage["cache_read_input_tokens"] == start_usage["cache_read_input_tokens"]
    assert final_usage["output_tokens"] > 1


def test_cache_entries_expire() -> None:
    now = [0.0]
    cache = PromptCache(clock=lambda: now[0])
    body = request_body(system=[cached({"type": "text", "text": "x" * 400})])
    cache.commit(cache.plan(body))
    now[0] = 299.0
    assert cache.plan(body).usage.cache_read_input_tokens > 0
    cache.commit(cache.plan(body))  # a read refreshes the entry
    now[0] = 598.0
    assert cache.plan(body).usage.cache_read_input_tokens > 0
    now[0] = 900.0
    assert cache.plan(body).usage.cache_read_input_tokens == 0


async def test_rate_limit_headers_count_down(session: aiohttp.ClientSession) -> None:
    async with Simulator(rate_limits={"requests": 2}) as sim:
        _, first, _ = await post(session, sim, request_body())
        _, second, _ = await post(session, sim, request_body())
        status, third, raw = await post(session, sim, request_body())
    for headers in (first, second):
        for bucket in ("requests", "tokens", "input-tokens", "output-tokens"):
            for part in ("limit", "remaining", "reset"):
                assert f"anthropic-ratelimit-{bucket}-{part}" in headers
        assert headers["anthropic-ratelimit-requests-reset"].endswith("Z")
        assert headers["anthropic-organization-id"]
    assert int(first["anthropic-ratelimit-requests-remaining"]) == 1
    assert int(second["anthropic-ratelimit-requests-remaining"]) == 0
    assert int(second["anthropic-ratelimit-tokens-remaining"]) < int(first["anthropic-ratelimit-tokens-remaining"])
    assert status == 429
    assert json.loads(raw)["error"]["type"] == "rate_limit_error"
    assert int(third["retry-after"]) >= 1
    assert sim.requests[-1].fault == "rate_limit_exceeded"


# --- profiles, chunking, command line --------------------------------------------------------------


def test_fault_profile_is_deterministic() -> None:
    def picks(profile: FaultProfile) -> list[Fault | None]:
        return [profile.choose() for _ in range(300)]

    assert picks(FaultProfile.named("chaos", seed=3)) == picks(FaultProfile.named("chaos", seed=3))
    assert picks(FaultProfile.named("chaos", seed=3)) != picks(FaultProfile.named("chaos", seed=4))
    chosen = [f.kind for f in picks(FaultProfile.named("chaos", seed=3)) if f is not None]
    assert set(chosen) == set(FAULT_KINDS)
    assert 60 < len(chosen) < 180
    assert all(f is None for f in picks(FaultProfile.named("none")))
    assert set(FaultProfile.names()) == {"none", "flaky", "rate-limited", "overloaded", "chaos"}
    with pytest.raises(ValueError, match="unknown fault kinds"):
        FaultProfile({"meteor": 0.1})


async def test_profile_faults_repeat_with_the_seed(session: aiohttp.ClientSession) -> None:
    runs: list[list[str | None]] = []
    for _ in range(2):
        async with Simulator(profile="rate-limited", seed=11) as sim:
            for _ in range(20):
                await post(session, sim, request_body())
        runs.append([r.fault for r in sim.requests])
    assert runs[0] == runs[1]
    assert "rate_limited" in runs[0]
    assert None in runs[0]


async def test_random_chunking_keeps_the_bytes(session: aiohttp.ClientSession) -> None:
    bodies: list[bytes] = []
    reads: list[int] = []
    for chunking in ("event", "random"):
        async with Simulator(seed=5, chunking=chunking, line_ending="\r\n") as sim:
            sim.enqueue(Reply.thinking("Hmm — ünïcödé 🙂 " * 5, "Résumé — done 🙂 " * 5))
            async with session.post(
                f"{sim.base_url}/messages", json=request_body(stream=True), headers=HEADERS
            ) as resp:
                chunks = [chunk async for chunk in resp.content.iter_any()]
            assert sim.open_streams == 0
        bodies.append(b"".join(chunks))
        reads.append(len(chunks))
    assert bodies[0] == bodies[1]
    assert names(parse_sse(bodies[1]))[-1] == "message_stop"
    assert reads[1] > reads[0]


def test_random_chunker_cuts_inside_characters_and_crlf() -> None:
    data = [("data: é—🙂\r\n\r\n" * 3).encode() for _ in range(50)]
    chunker = RandomChunker(random.Random(1))
    pieces = [piece for event in data for piece in chunker.feed(event)] + chunker.flush()
    assert b"".join(pieces) == b"".join(data)
    assert any(_splits_a_character(piece) for piece in pieces)
    assert any(piece.endswith(b"\r") for piece in pieces)


def _splits_a_character(piece: bytes) -> bool:
    try:
        piece.decode()
    except UnicodeDecodeError:
        return True
    return False


def test_command_rejects_bad_options() -> None:
    result = CliRunner().invoke(simulate, ["--chunking", "sideways"])
    assert result.exit_code == 2
    assert "Invalid value" in result.output
    result = CliRunner().invoke(simulate, ["--profile", "nope"])
    assert result.exit_code == 2
    assert "Traceback" not in result.output


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_command_serves_until_sigint() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "axio_transport_anthropic.simulator", "--port", "0", "--quiet"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        first_line = process.stdout.readline()
        assert first_line.startswith("Anthropic simulator listening on http://127.0.0.1:")
        assert "export ANTHROPIC_BASE_URL=http://127.0.0.1:" in process.stdout.readline()
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, err
    assert "Simulator stopped." in out
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("given", "named"),
    [
        (["requests"], "'requests' is not NAME=COUNT"),
        (["bananas=5"], "unknown rate limit 'bananas' in 'bananas=5'"),
        (["requests=lots"], "'lots' in 'requests=lots' is not a whole number"),
        (["requests=2.5"], "'2.5' in 'requests=2.5' is not a whole number"),
        (["tokens=0"], "'tokens=0': a limit must be a positive whole number"),
        (["input_tokens=-40"], "'input_tokens=-40': a limit must be a positive whole number"),
        (["requests=60,,tokens=5"], "an empty entry in 'requests=60,,tokens=5'"),
        (["requests=60,output_tokens=x"], "'x' in 'output_tokens=x' is not a whole number"),
        (["requests=60", "requests=70"], "'requests' is given more than once"),
        (["input-tokens=60,input_tokens=70"], "'input_tokens' is given more than once"),
    ],
)
def test_command_rejects_bad_rate_limits(given: list[str], named: str) -> None:
    args = [arg for value in given for arg in ("--rate-limit", value)]
    result = CliRunner().invoke(simulate, ["--port", "0", *args])
    assert result.exit_code == 2, result.output
    assert "Invalid value for '--rate-limit'" in result.output
    assert named in result.output
    assert "Traceback" not in result.output


def test_command_documents_rate_limits() -> None:
    result = CliRunner().invoke(simulate, ["--help"])
    assert result.exit_code == 0
    text = " ".join(result.output.split())  # the help wraps anywhere
    assert "--rate-limit NAME=COUNT" in text
    for default in ("requests (4,000)", "tokens (2,000,000)", "input_tokens (1,600,000)", "output_tokens (400,000)"):
        assert default in text


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
async def test_command_serves_the_rate_limits_it_is_given(session: aiohttp.ClientSession) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "axio_transport_anthropic.simulator",
        "--port",
        "0",
        "--quiet",
        "--rate-limit",
        "requests=2",
        "--rate-limit",
        "input-tokens=5000,output_tokens=3000",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        lines = [(await asyncio.wait_for(process.stdout.readline(), 10)).decode() for _ in range(4)]
        base_url = lines[0].split("listening on ")[1].split()[0]
        assert lines[3].startswith("Rate limits per minute: requests 2, tokens 2,000,000, input_tokens 5,000,")
        seen = []
        for _ in range(3):
            async with session.post(f"{base_url}/messages", json=request_body(), headers=HEADERS) as resp:
                await resp.read()
                seen.append((resp.status, resp.headers))
    finally:
        process.send_signal(signal.SIGINT)
        await asyncio.wait_for(process.communicate(), 10)
    assert [status for status, _ in seen] == [200, 200, 429]
    first, second = seen[0][1], seen[1][1]
    assert first["anthropic-ratelimit-requests-limit"] == "2"
    assert first["anthropic-ratelimit-input-tokens-limit"] == "5000"
    assert first["anthropic-ratelimit-output-tokens-limit"] == "3000"
    assert first["anthropic-ratelimit-tokens-limit"] == "2000000"
    assert [first["anthropic-ratelimit-requests-remaining"], second["anthropic-ratelimit-requests-remaining"]] == [
        "1",
        "0",
    ]
    assert process.returncode == 0


async def test_default_reply_reads_every_result_of_parallel_tool_calls(
    sim: Simulator, session: aiohttp.ClientSession
) -> None:
    calls = [
        {"type": "tool_use", "id": "toolu_1", "name": "utc_now", "input": {}},
        {"type": "tool_use", "id": "toolu_2", "name": "multiply", "input": {"a": 17, "b": 23}},
    ]
    follow_up = [
        {"role": "user", "content": "The time, and 17 * 23?"},
        {"role": "assistant", "content": calls},
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "2026-01-01T00:00:00+00:00"},
                {"type": "tool_result", "tool_use_id": "toolu_2", "content": "391"},
            ],
        },
    ]
    status, _, raw = await post(session, sim, request_body(messages=follow_up))
    assert status == 200
    text = json.loads(raw)["content"][0]["text"]
    assert "“2026-01-01T00:00:00+00:00” and “391”" in text, text
