"""What a ``TelemetryConfig`` without ``labels`` exposes for Anthropic's own API, byte for byte.

``tests/golden/exposition-no-labels.txt`` is the /metrics text of a fixed scenario (two models;
successes with and without the prompt cache, retries, a failure, a cancellation, rate-limit
headers) under a fixed clock. The test replays the scenario through today's code and compares bytes.

What it pins, and why each part is there:

- the series as they were before call labels existed (made first from that revision), so a config
  without labels pays nothing for them;
- a ``provider="anthropic"`` label on every sample (issue 13: one dashboard for Anthropic, Vertex AI
  and Bedrock; prometheus-client writes labels in name order, so it comes after ``outcome`` and
  before ``reason``, ``status`` and ``type``). This was a deliberate change to the file; stripping
  that label from it gives back the earlier golden text exactly, plus the next point;
- the ``axio_anthropic_credential_refreshes_total`` family's HELP and TYPE lines with no sample:
  it is registered with the others, and Anthropic's API has no credentials to refresh;
- the ``errors`` series pre-created at 0 for Anthropic's error types only: Bedrock's exception
  names are pre-created for Bedrock's series alone (``labels.error_types_of``).

Regenerate it only for a deliberate change to the exposition, and say why in the commit:

    .venv/bin/python -m tests.test_labels_exposition --write
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

from axio.events import TextDelta
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client import metrics as prometheus_metrics

from axio_transport_anthropic.decoder import TokenCounts
from axio_transport_anthropic.errors import APIStatusError
from axio_transport_anthropic.models import ANTHROPIC_MODELS
from axio_transport_anthropic.telemetry import AttemptReport, RequestInfo, ResponseReport, TelemetryConfig
from axio_transport_anthropic.telemetry import metrics as metrics_module

GOLDEN = Path(__file__).resolve().parent / "golden" / "exposition-no-labels.txt"
LIMITS = {
    "anthropic-ratelimit-requests-limit": "50",
    "anthropic-ratelimit-requests-remaining": "49",
    "anthropic-ratelimit-tokens-limit": "90000",
    "anthropic-ratelimit-tokens-remaining": "80000",
}


class _Clock:
    """A clock that moves 0.125 s per reading: the same durations on every run."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        self.now += 0.125
        return self.now


def _created() -> float:
    # Creation times are wall-clock readings, different on every run: one fixed value.
    return 1_700_000_000.0


def _info(model: str) -> RequestInfo:
    return RequestInfo(
        model=ANTHROPIC_MODELS[model],
        url="http://127.0.0.1:1/v1/messages",
        server_address="127.0.0.1",
        server_port=1,
        max_tokens=1024,
    )


def scenario(config: TelemetryConfig) -> None:
    """Every kind of request the metrics tell apart, through the lifecycle hooks."""
    delta = [TextDelta(0, "hi")]
    for model, counts in (
        ("claude-sonnet-4-6", TokenCounts(uncached_input=120, output=40, cache_write_5m=900)),
        ("claude-sonnet-4-6", TokenCounts(uncached_input=30, output=55, cache_read=900)),
        ("claude-haiku-4-5", TokenCounts(uncached_input=12, output=1)),
    ):
        request = config.start(_info(model))
        request.attempt_started(1, {})
        request.first_token(delta)
        for _ in range(3):
            request.chunk(delta)
        request.attempt_ended(AttemptReport(1, 200, "req_ok", LIMITS))
        request.finished("ok", ResponseReport("msg_1", model, "end_turn", counts, 1), None)

    overloaded = APIStatusError("Overloaded", status=529, error_type="overloaded_error")
    request = config.start(_info("claude-sonnet-4-6"))
    for attempt in (1, 2):
        request.attempt_started(attempt, {})
        request.attempt_ended(AttemptReport(attempt, 529, f"req_{attempt}", None, overloaded, "overloaded"))
        if attempt == 1:
            request.backoff(1, "overloaded", 0.5, False)
    request.finished("error", ResponseReport(None, None, None, TokenCounts(), 2), overloaded)

    request = config.start(_info("claude-haiku-4-5"))
    request.attempt_started(1, {})
    request.first_token(delta)
    request.finished("cancelled", ResponseReport("msg_2", "claude-haiku-4-5", None, TokenCounts(10, 2), 1), None)


def exposition() -> bytes:
    """The scenario's /metrics text, on a fresh registry, under the fixed clock (only in the two
    modules that read it: another thread's clock, a watchdog's, is left alone)."""
    ours, theirs = vars(metrics_module), vars(prometheus_metrics)
    saved = ours["time"], theirs["time"]
    ours["time"], theirs["time"] = SimpleNamespace(perf_counter=_Clock()), SimpleNamespace(time=_created)
    try:
        registry = CollectorRegistry()
        scenario(TelemetryConfig(registry=registry, traces=False, logs=False))
        return generate_latest(registry)
    finally:
        ours["time"], theirs["time"] = saved


def test_without_labels_the_exposition_is_byte_for_byte_what_it_was() -> None:
    expected = GOLDEN.read_bytes()
    got = exposition()
    assert got == expected, "the /metrics text of a config without labels changed:\n" + "\n".join(
        _diff(expected.decode(), got.decode())
    )


def test_an_anthropic_exposition_names_only_anthropic_and_none_of_bedrocks_errors() -> None:
    """What the golden file should show, said without it: a regenerated file that broke either
    would still fail here."""
    text = exposition().decode()
    samples = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert samples and all('provider="anthropic"' in line for line in samples)
    assert "Exception" not in text and "credentials_error" not in text
    assert not [line for line in samples if line.startswith("axio_anthropic_credential_refreshes")]


def _diff(expected: str, got: str) -> Iterator[str]:
    import difflib

    return difflib.unified_diff(expected.splitlines(), got.splitlines(), "golden", "now", lineterm="", n=1)


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit("usage: python -m tests.test_labels_exposition --write")
    GOLDEN.write_bytes(exposition())
    print(f"wrote {GOLDEN}")
