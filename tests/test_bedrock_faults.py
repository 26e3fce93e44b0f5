"""Bedrock's errors and the simulator's faults through BedrockTransport: in-stream exceptions retry
as their HTTP equivalents before any output and are never replayed after it, validation is not
retried, a throttling storm passes within max_retries, and every preset fault profile plays on the
Bedrock route with each stream ending as its faults say and nothing left open."""

from __future__ import annotations

from typing import Any

import pytest

from axio_transport_anthropic import AnthropicError, APIStatusError, BedrockTransport, InStreamError
from axio_transport_anthropic.simulator import Fault, FaultProfile, Reply, Simulator

from .bedrock_support import aws_config, bedrock
from .leaks import Captured, assert_released
from .support import collect, keyless_sim, text_of, user

__all__ = ["aws_config", "keyless_sim"]  # fixtures

pytestmark = pytest.mark.timeout(30)


RETRIED = ["throttlingException", "serviceUnavailableException", "internalServerException",
           "modelStreamErrorException", "modelTimeoutException"]  # fmt: skip


@pytest.mark.parametrize("exception", RETRIED)
@pytest.mark.parametrize("after_events", [0, 1], ids=["first frame", "after message_start"])
async def test_in_stream_exceptions_before_output_are_retried(
    sim: Simulator, exception: str, after_events: int
) -> None:
    sim.enqueue(Reply.text("after the exception"))
    sim.inject(Fault.stream_error(exception, "Bedrock hiccup", after_events=after_events))
    events = await collect(bedrock(sim))
    assert text_of(events) == "after the exception"
    assert [r.fault for r in sim.requests] == ["stream_error", None]


async def test_a_validation_exception_is_not_retried(sim: Simulator) -> None:
    sim.inject(Fault.stream_error("validationException", "Input is too long for requested model.", after_events=0))
    with pytest.raises(InStreamError) as caught:
        await collect(bedrock(sim))
    assert (caught.value.error_type, caught.value.attempts) == ("validationException", 1)
    assert caught.value.message == "Input is too long for requested model."
    assert caught.value.request_id == sim.requests[-1].request_id
    assert len(sim.requests) == 1


@pytest.mark.parametrize("exception", [*RETRIED, "validationException"])
async def test_in_stream_exceptions_after_output_are_raised_never_replayed(sim: Simulator, exception: str) -> None:
    sim.enqueue(Reply.text("one two three four five six seven eight"), Reply.text("a replay"))
    sim.inject(Fault.stream_error(exception, "mid-answer", after_events=3))
    seen: list[Any] = []
    with pytest.raises(InStreamError) as caught:
        await consume(bedrock(sim), seen)
    assert caught.value.error_type == exception and caught.value.attempts == 1
    assert text_of(seen) == "one two "  # what arrived before the exception, once
    assert len(sim.requests) == 1


async def consume(t: BedrockTransport, seen: list[Any]) -> None:
    async for event in t.stream(user("hi"), [], ""):
        seen.append(event)


async def test_a_throttling_storm_then_success_within_max_retries(sim: Simulator) -> None:
    sim.inject(*[Fault.rate_limited()] * 8)
    sim.enqueue(Reply.text("through the storm"))
    events = await collect(bedrock(sim, max_retries=10))
    assert text_of(events) == "through the storm"
    assert [r.fault for r in sim.requests] == ["rate_limited"] * 8 + [None]
    # Every attempt signed: nine requests, each verified by the simulator.
    assert all(r.headers["authorization"].startswith("AWS4-HMAC-SHA256") for r in sim.requests)


async def test_a_storm_longer_than_max_retries_ends_in_a_429(sim: Simulator) -> None:
    sim.inject(*[Fault.rate_limited()] * 5)
    with pytest.raises(APIStatusError) as caught:
        await collect(bedrock(sim, max_retries=3))
    error = caught.value
    assert (error.status, error.error_type, error.attempts) == (429, "ThrottlingException", 4)
    assert error.message == "Too many requests, please wait before trying again."


@pytest.mark.parametrize(
    "fault",
    [Fault.overloaded(), Fault.server_error(500), Fault.server_error(503, plain_text=True), Fault.reset(),
     Fault.reset(after_events=1), Fault.slow_first_byte(0.3)],
    ids=["overloaded as 503", "500", "a proxy's plain 503", "reset", "reset after message_start", "slow first byte"],
)  # fmt: skip
async def test_faults_that_are_retried(sim: Simulator, fault: Fault) -> None:
    sim.inject(fault)
    assert text_of(await collect(bedrock(sim, first_byte_timeout=0.2)))
    assert len(sim.requests) == 2


@pytest.mark.parametrize(
    ("fault", "error_type"),
    [
        (Fault.http_error(424, "ModelErrorException", "The model failed"), "ModelErrorException"),
        (Fault.http_error(400, "ServiceQuotaExceededException", "quota"), "ServiceQuotaExceededException"),
        (Fault.http_error(404, "not_found_error", "no such model"), "ResourceNotFoundException"),
    ],
)
async def test_faults_that_are_not(sim: Simulator, fault: Fault, error_type: str) -> None:
    sim.inject(fault)
    with pytest.raises(APIStatusError) as caught:
        await collect(bedrock(sim))
    assert (caught.value.status, caught.value.error_type, caught.value.attempts) == (fault.status, error_type, 1)


@pytest.mark.parametrize("profile", [name for name in FaultProfile.names() if name != "none"])
async def test_every_fault_profile_plays_on_bedrock(profile: str) -> None:
    """Each stream ends whole or with an AnthropicError its faults explain; nothing is left open."""
    captured = Captured()
    async with Simulator(profile=profile, seed=11) as sim:
        t = bedrock(sim, telemetry=captured.config(), max_retries=6, first_byte_timeout=0.3, idle_timeout=0.3)
        async with t:
            ended: list[str] = []
            for _ in range(25):
                try:
                    events = await collect(t)
                except AnthropicError as exc:
                    ended.append(exc.error_type or type(exc).__name__)
                else:
                    assert text_of(events)
                    ended.append("ok")
            assert t._owned is not None
            await assert_released(t._owned, captured, (t.model.id,), sim)
        faults = [r.fault for r in sim.requests if r.fault]
    assert faults, f"{profile} injected nothing in {len(sim.requests)} requests"
    assert ended.count("ok") >= 20, ended
