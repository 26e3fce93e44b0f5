"""The pure retry rules: which statuses are retried, why, and how long to wait first."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from multidict import CIMultiDict, CIMultiDictProxy

from axio_transport_anthropic.retry import (
    STATUS_OF_ERROR_TYPE,
    backoff,
    reason_for,
    retry_delay,
    server_delay,
    should_retry,
)


class FixedRandom(random.Random):
    """A ``random.Random`` whose ``random()`` returns the values given, in turn."""

    def __init__(self, *values: float) -> None:
        super().__init__(0)
        self.values = list(values)

    def random(self) -> float:
        return self.values.pop(0)


# ── should_retry ────────────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize("status", [408, 409, 429, 500, 502, 503, 504, 529])
def test_retryable_statuses(status: int) -> None:
    assert should_retry(status) is True
    assert should_retry(status, {}) is True


@pytest.mark.parametrize("status", [400, 401, 402, 403, 404, 413, 422])
def test_client_errors_are_not_retried(status: int) -> None:
    assert should_retry(status) is False
    assert should_retry(status, {"retry-after": "1"}) is False


@pytest.mark.parametrize("verdict", ["false", "False", "FALSE", " false "])
def test_x_should_retry_false_wins_over_a_retryable_status(verdict: str) -> None:
    for status in (429, 500, 503, 529):
        assert should_retry(status, {"x-should-retry": verdict}) is False


@pytest.mark.parametrize("verdict", ["true", "True", "TRUE", " true"])
def test_x_should_retry_true_wins_over_a_client_error(verdict: str) -> None:
    for status in (400, 401, 404, 413):
        assert should_retry(status, {"x-should-retry": verdict}) is True


@pytest.mark.parametrize(("status", "expected"), [(400, False), (503, True)])
def test_an_unreadable_x_should_retry_falls_back_to_the_status(status: int, expected: bool) -> None:
    assert should_retry(status, {"x-should-retry": "maybe"}) is expected
    assert should_retry(status, {"x-should-retry": ""}) is expected


def test_x_should_retry_is_read_from_case_insensitive_headers() -> None:
    headers = CIMultiDictProxy(CIMultiDict([("X-Should-Retry", "false")]))
    assert should_retry(529, headers) is False


def test_x_should_retry_header_name_is_case_insensitive_in_a_plain_dict() -> None:
    # attempt.py hands the rules ``dict(response.headers)``, which keeps the server's spelling:
    # HTTP header names are case-insensitive, so a proxy's ``X-Should-Retry`` must still count.
    assert should_retry(529, {"X-Should-Retry": "false"}) is False
    assert should_retry(400, {"X-Should-Retry": "true"}) is True


# ── reason_for ──────────────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        (429, "rate_limited"),
        (529, "overloaded"),
        (408, "conflict"),
        (409, "conflict"),
        (504, "timeout"),
        (500, "server_error"),
        (502, "server_error"),
        (503, "server_error"),
    ],
)
def test_reason_for_a_status(status: int, reason: str) -> None:
    assert reason_for(status) == reason
    # ``timeout`` only matters when no response arrived at all.
    assert reason_for(status, timeout=True) == reason


def test_reason_for_no_response() -> None:
    assert reason_for(None) == "connection_error"
    assert reason_for(None, timeout=False) == "connection_error"
    assert reason_for(None, timeout=True) == "timeout"


# ── server_delay ────────────────────────────────────────────────────────────────────────────

NOW = datetime(2015, 10, 21, 7, 28, 0, tzinfo=UTC)


def test_no_headers_no_delay() -> None:
    assert server_delay(None) is None
    assert server_delay({}) is None
    assert server_delay({"request-id": "req_1"}) is None


@pytest.mark.parametrize(("raw", "seconds"), [("1500", 1.5), ("250", 0.25), ("20000", 20.0), ("1.5", 0.0015)])
def test_retry_after_ms(raw: str, seconds: float) -> None:
    assert server_delay({"retry-after-ms": raw}) == pytest.approx(seconds)


def test_retry_after_ms_wins_over_retry_after() -> None:
    assert server_delay({"retry-after-ms": "1200", "retry-after": "30"}) == pytest.approx(1.2)


def test_an_unreadable_retry_after_ms_falls_back_to_retry_after() -> None:
    assert server_delay({"retry-after-ms": "soon", "retry-after": "7"}) == pytest.approx(7.0)
    assert server_delay({"retry-after-ms": "-5", "retry-after": "3"}) == pytest.approx(3.0)


@pytest.mark.parametrize(("raw", "seconds"), [("3", 3.0), ("2.5", 2.5), (" 12 ", 12.0), ("0.25", 0.25)])
def test_retry_after_seconds(raw: str, seconds: float) -> None:
    assert server_delay({"retry-after": raw}) == pytest.approx(seconds)


def test_retry_after_http_date_in_the_future() -> None:
    headers = {"retry-after": "Wed, 21 Oct 2015 07:28:30 GMT"}
    assert server_delay(headers, now=NOW) == pytest.approx(30.0)
    assert server_delay(headers, now=NOW - timedelta(minutes=2)) == pytest.approx(150.0)


def test_retry_after_http_date_in_the_past_is_no_delay() -> None:
    assert server_delay({"retry-after": "Wed, 21 Oct 2015 07:27:00 GMT"}, now=NOW) is None
    # Exactly now is no wait either.
    assert server_delay({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}, now=NOW) is None


@pytest.mark.parametrize("raw", ["-1", "-0.5", "inf", "Infinity", "nan", "1e400", "soon", "", "Wed, 99 Foo 2015"])
def test_unreadable_retry_after_is_no_delay(raw: str) -> None:
    assert server_delay({"retry-after": raw}, now=NOW) is None


@pytest.mark.parametrize("raw", ["-1", "inf", "nan", "garbage"])
def test_unreadable_retry_after_ms_alone_is_no_delay(raw: str) -> None:
    assert server_delay({"retry-after-ms": raw}) is None


def test_retry_after_header_name_is_case_insensitive_in_a_plain_dict() -> None:
    # attempt.py passes ``dict(response.headers)``: a proxy spelling ``Retry-After`` keeps that case.
    assert server_delay({"Retry-After": "3"}) == pytest.approx(3.0)
    assert server_delay({"Retry-After-Ms": "1500"}) == pytest.approx(1.5)


# ── backoff ─────────────────────────────────────────────────────────────────────────────────


def test_backoff_grows_exponentially_at_the_floor_of_the_jitter() -> None:
    waits = [backoff(n, base=1.0, cap=1000.0, rng=FixedRandom(0.0)) for n in range(1, 7)]
    assert waits == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0]


def test_backoff_at_the_top_of_the_jitter_is_the_ceiling() -> None:
    top = 1.0 - 2**-53
    waits = [backoff(n, base=2.0, cap=1000.0, rng=FixedRandom(top)) for n in range(1, 5)]
    assert waits == pytest.approx([2.0, 4.0, 8.0, 16.0])
    assert all(w <= c for w, c in zip(waits, [2.0, 4.0, 8.0, 16.0], strict=True))


def test_backoff_is_capped() -> None:
    assert backoff(10, base=1.0, cap=8.0, rng=FixedRandom(0.0)) == 4.0
    assert backoff(60, base=5.0, cap=60.0, rng=FixedRandom(0.5)) == pytest.approx(45.0)
    assert backoff(1024, base=5.0, cap=60.0, rng=FixedRandom(0.0)) == 30.0


def test_backoff_does_not_overflow_on_a_late_attempt() -> None:
    # max_retries has no upper bound, so attempt 1025 and later are reachable; 2.0 ** 1024 overflows.
    assert backoff(1026, base=5.0, cap=60.0, rng=FixedRandom(0.0)) == 30.0
    assert backoff(5000, base=0.001, cap=60.0, rng=FixedRandom(0.0)) == 30.0


def test_backoff_jitter_stays_within_half_and_all_of_the_ceiling() -> None:
    rng = random.Random(1234)
    for attempt in range(1, 12):
        ceiling = min(30.0, 0.5 * 2.0 ** (attempt - 1))
        for _ in range(200):
            wait = backoff(attempt, base=0.5, cap=30.0, rng=rng)
            assert 0.5 * ceiling <= wait <= ceiling


def test_backoff_jitter_actually_varies() -> None:
    rng = random.Random(7)
    waits = {backoff(4, base=1.0, cap=100.0, rng=rng) for _ in range(50)}
    assert len(waits) == 50
    assert min(waits) < 5.0 < max(waits)


def test_backoff_is_reproducible_with_a_seeded_rng() -> None:
    first = [backoff(n, base=1.0, cap=60.0, rng=random.Random(42)) for n in range(1, 8)]
    second = [backoff(n, base=1.0, cap=60.0, rng=random.Random(42)) for n in range(1, 8)]
    assert first == second
    expected_rng = random.Random(42)
    assert first[0] == pytest.approx(1.0 * (0.5 + 0.5 * expected_rng.random()))


# ── retry_delay ─────────────────────────────────────────────────────────────────────────────


def test_retry_delay_prefers_the_server() -> None:
    delay, asked = retry_delay(3, {"retry-after-ms": "1500"}, base=5.0, cap=60.0, rng=FixedRandom(0.0))
    assert delay == pytest.approx(1.5)
    assert asked is True


def test_retry_delay_falls_back_to_backoff() -> None:
    assert retry_delay(3, None, base=5.0, cap=60.0, rng=FixedRandom(0.0)) == (10.0, False)
    assert retry_delay(3, {"retry-after": "garbage"}, base=5.0, cap=60.0, rng=FixedRandom(0.0)) == (10.0, False)


# ── STATUS_OF_ERROR_TYPE ────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize(
    ("error_type", "status"),
    [
        ("overloaded_error", 529),
        ("rate_limit_error", 429),
        ("api_error", 500),
        ("timeout_error", 504),
        ("invalid_request_error", 400),
        ("authentication_error", 401),
        ("permission_error", 403),
        ("not_found_error", 404),
        ("request_too_large", 413),
        # Bedrock's in-stream exceptions, as the issue maps them.
        ("throttlingException", 429),
        ("serviceUnavailableException", 503),
        ("internalServerException", 500),
        ("modelStreamErrorException", 500),
        ("modelTimeoutException", 408),
        ("validationException", 400),
    ],
)
def test_status_of_error_type(error_type: str, status: int) -> None:
    assert STATUS_OF_ERROR_TYPE[error_type] == status


def test_in_stream_error_types_retry_as_their_status_would() -> None:
    retried = {t for t, s in STATUS_OF_ERROR_TYPE.items() if should_retry(s)}
    assert retried == {"overloaded_error", "rate_limit_error", "api_error", "timeout_error"} | {
        "throttlingException",
        "serviceUnavailableException",
        "internalServerException",
        "modelStreamErrorException",
        "modelTimeoutException",
    }
