"""Retry behaviour against injected faults: what is retried, what is not, and what is raised."""

from __future__ import annotations

import asyncio
import logging

import pytest
from axio.events import IterationEnd, StreamEvent, TextDelta
from axio.testing import assert_stream_contract

from axio_transport_anthropic import (
    AnthropicError,
    AnthropicTransport,
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    InStreamError,
)
from axio_transport_anthropic.simulator import Fault, Reply, Simulator

from .conftest import SECRET
from .support import collect, user


def _assert_no_secret(exc: BaseException, caplog: pytest.LogCaptureFixture) -> None:
    assert SECRET not in str(exc)
    assert SECRET not in repr(exc)
    assert SECRET not in caplog.text


@pytest.mark.parametrize(
    "fault",
    [
        Fault.rate_limited(retry_after=0.01),
        Fault.rate_limited(retry_after=None, retry_after_ms=5),
        Fault.overloaded(),
        Fault.server_error(500),
        Fault.server_error(502, plain_text=True),
        Fault.server_error(503, plain_text=True),
        Fault.server_error(504),
        Fault.http_error(408, "timeout_error", "Request timed out"),
        Fault.http_error(409, "conflict_error", "Conflict"),
        Fault.reset(),
        Fault.reset(after_events=1),
        Fault.stream_error("overloaded_error", "Overloaded", after_events=0),
        Fault.stream_error("overloaded_error", "Overloaded", after_events=1),
        Fault.stream_error("api_error", "Internal server error", after_events=1),
    ],
    ids=lambda f: f"{f.kind}-{f.status}-{f.after_events}",
)
async def test_transient_failures_before_any_output_are_retried(
    sim: Simulator, transport: AnthropicTransport, fault: Fault
) -> None:
    sim.inject(fault)
    sim.enqueue(Reply.text("recovered"))
    events = await collect(transport)
    assert_stream_contract(events)
    assert "".join(e.delta for e in events if isinstance(e, TextDelta)) == "recovered"
    assert [r.fault for r in sim.requests] == [fault.kind, None]


@pytest.mark.parametrize(
    ("status", "error_type"),
    [
        (400, "invalid_request_error"),
        (401, "authentication_error"),
        (403, "permission_error"),
        (404, "not_found_error"),
        (413, "request_too_large"),
    ],
)
async def test_client_errors_are_raised_at_once(
    sim: Simulator, transport: AnthropicTransport, caplog: pytest.LogCaptureFixture, status: int, error_type: str
) -> None:
    caplog.set_level(logging.DEBUG)
    sim.inject(Fault.http_error(status, error_type, f"the {error_type} message"))
    with pytest.raises(APIStatusError) as caught:
        await collect(transport)
    error = caught.value
    assert (error.status, error.error_type, error.attempts) == (status, error_type, 1)
    assert error.message == f"the {error_type} message"
    assert error.request_id and error.request_id == sim.requests[0].request_id
    assert f"HTTP {status} {error_type}" in str(error) and "after 1 attempt" in str(error)
    assert len(sim.requests) == 1
    _assert_no_secret(error, caplog)


async def test_a_wrong_key_is_an_authentication_error_that_does_not_leak(
    sim: Simulator, transport: AnthropicTransport, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    transport.api_key = "sk-ant-wrong-key-XYZ"
    with pytest.raises(APIStatusError) as caught:
        await collect(transport)
    assert caught.value.status == 401 and caught.value.error_type == "authentication_error"
    assert "sk-ant-wrong-key-XYZ" not in str(caught.value) + repr(caught.value) + caplog.text
    assert "sk-ant-wrong-key-XYZ" not in repr(transport) + str(transport.to_dict(redact=True))


async def test_should_retry_false_wins_over_a_retryable_status(sim: Simulator, transport: AnthropicTransport) -> None:
    sim.inject(Fault.rate_limited(retry_after=0.01, should_retry=False))
    with pytest.raises(APIStatusError) as caught:
        await collect(transport)
    assert caught.value.status == 429 and len(sim.requests) == 1


async def test_should_retry_true_wins_over_a_client_status(sim: Simulator, transport: AnthropicTransport) -> None:
    sim.inject(Fault.http_error(400, "invalid_request_error", "flaky proxy", headers={"x-should-retry": "true"}))
    events = await collect(transport)
    assert isinstance(events[-1], IterationEnd) and len(sim.requests) == 2


async def test_exhausted_retries_say_how_many_attempts(
    sim: Simulator, transport: AnthropicTransport, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    sim.inject(*[Fault.overloaded()] * 4)
    with pytest.raises(APIStatusError) as caught:
        await collect(transport)
    assert caught.value.attempts == 4 and len(sim.requests) == 4
    assert caught.value.error_type == "overloaded_error" and "after 4 attempts" in str(caught.value)
    assert caplog.text.count("anthropic.request.retry") == 3
    _assert_no_secret(caught.value, caplog)


async def test_the_server_requested_wait_is_honoured(sim: Simulator, transport: AnthropicTransport) -> None:
    sim.inject(Fault.rate_limited(retry_after=None, retry_after_ms=200))
    loop = asyncio.get_running_loop()
    started = loop.time()
    await collect(transport)
    assert loop.time() - started >= 0.19


async def test_a_wait_past_the_deadline_fails_now(sim: Simulator, transport: AnthropicTransport) -> None:
    transport.deadline = 0.5
    sim.inject(Fault.rate_limited(retry_after=30))
    with pytest.raises(APIStatusError) as caught:
        await asyncio.wait_for(collect(transport), 5)
    assert "deadline" in str(caught.value) and len(sim.requests) == 1


async def test_an_absurd_server_wait_is_not_slept(sim: Simulator, transport: AnthropicTransport) -> None:
    sim.inject(Fault.rate_limited(retry_after=86_400))
    with pytest.raises(APIStatusError):
        await asyncio.wait_for(collect(transport), 5)
    assert len(sim.requests) == 1


async def _consume_until_text(transport: AnthropicTransport, seen: list[StreamEvent]) -> None:
    async for event in transport.stream(user("hi"), [], ""):
        seen.append(event)


async def test_a_reset_after_output_is_raised_not_replayed(sim: Simulator, transport: AnthropicTransport) -> None:
    sim.inject(Fault.reset(after_events=4))
    sim.enqueue(Reply.text("a fairly long answer that streams in several deltas"))
    seen: list[StreamEvent] = []
    with pytest.raises(APIConnectionError) as caught:
        await _consume_until_text(transport, seen)
    assert any(isinstance(e, TextDelta) for e in seen)
    assert len(sim.requests) == 1 and caught.value.attempts == 1


async def test_an_in_stream_error_after_output_is_raised_with_its_details(
    sim: Simulator, transport: AnthropicTransport
) -> None:
    sim.inject(Fault.stream_error("overloaded_error", "Overloaded", after_events=4))
    sim.enqueue(Reply.text("a fairly long answer that streams in several deltas"))
    seen: list[StreamEvent] = []
    with pytest.raises(InStreamError) as caught:
        await _consume_until_text(transport, seen)
    error = caught.value
    assert (error.error_type, error.message, error.status) == ("overloaded_error", "Overloaded", 200)
    assert error.request_id == sim.requests[0].request_id
    assert any(isinstance(e, TextDelta) for e in seen) and len(sim.requests) == 1


async def test_an_in_stream_client_error_is_not_retried(sim: Simulator, transport: AnthropicTransport) -> None:
    sim.inject(Fault.stream_error("invalid_request_error", "bad", after_events=1))
    with pytest.raises(InStreamError) as caught:
        await collect(transport)
    assert caught.value.error_type == "invalid_request_error" and len(sim.requests) == 1


async def test_a_slow_first_byte_times_out_and_is_retried(sim: Simulator, transport: AnthropicTransport) -> None:
    transport.first_byte_timeout = 0.2
    sim.inject(Fault.slow_first_byte(2.0))
    events = await collect(transport)
    assert isinstance(events[-1], IterationEnd) and len(sim.requests) == 2


async def test_a_stall_after_output_raises_an_idle_timeout(sim: Simulator, transport: AnthropicTransport) -> None:
    transport.idle_timeout = 0.2
    sim.inject(Fault.stall(after_events=4, duration=30))
    sim.enqueue(Reply.text("a fairly long answer that streams in several deltas"))
    with pytest.raises(APITimeoutError) as caught:
        await asyncio.wait_for(collect(transport), 5)
    assert caught.value.phase == "idle" and len(sim.requests) == 1
    assert "timeout" in str(caught.value)


async def test_a_stall_before_output_is_retried(sim: Simulator, transport: AnthropicTransport) -> None:
    transport.first_byte_timeout = 0.3
    transport.idle_timeout = 0.2
    sim.inject(Fault.stall(after_events=1, duration=30))
    events = await asyncio.wait_for(collect(transport), 5)
    assert isinstance(events[-1], IterationEnd) and len(sim.requests) == 2


async def test_an_unreachable_server_is_a_connection_error_after_retries() -> None:
    async with Simulator() as sim:
        url = sim.base_url
    transport = AnthropicTransport(api_key="k", base_url=url, max_retries=2, retry_base_delay=0.001)
    with pytest.raises(APIConnectionError) as caught:
        await collect(transport)
    assert caught.value.attempts == 3 and isinstance(caught.value, AnthropicError)


async def test_abandoning_the_stream_releases_the_response(sim: Simulator, transport: AnthropicTransport) -> None:
    sim.enqueue(Reply.text("one two three four five six seven eight nine ten"))
    stream = transport.stream(user("hi"), [], "")
    async for event in stream:
        if isinstance(event, TextDelta):
            break
    await stream.aclose()  # type: ignore[attr-defined]
    for _ in range(50):
        if sim.open_streams == 0:
            break
        await asyncio.sleep(0.01)
    assert sim.open_streams == 0


async def test_cancelling_the_consumer_releases_the_response(sim: Simulator, transport: AnthropicTransport) -> None:
    sim.inject(Fault.stall(after_events=3, duration=30))
    seen: list[StreamEvent] = []
    task = asyncio.create_task(_consume_until_text(transport, seen))
    for _ in range(100):
        if sim.open_streams:
            break
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    for _ in range(50):
        if sim.open_streams == 0:
            break
        await asyncio.sleep(0.01)
    assert sim.open_streams == 0 and len(sim.requests) == 1
