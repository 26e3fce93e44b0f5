"""The ``provider`` label: on every request family, bounded, and with each provider's own zeros.

Driven through the lifecycle hooks (what the retry loop calls), so every provider is covered
without a cloud: the transports themselves are checked against the simulator in the Vertex and
Bedrock tests.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from prometheus_client import CollectorRegistry

from axio_transport_anthropic import AnthropicTransport, BedrockTransport, ConfigurationError, VertexAITransport
from axio_transport_anthropic.backends import CredentialRefresh
from axio_transport_anthropic.decoder import TokenCounts
from axio_transport_anthropic.models import ANTHROPIC_MODELS
from axio_transport_anthropic.streaming import _request_info
from axio_transport_anthropic.telemetry import AttemptReport, RequestInfo, ResponseReport, TelemetryConfig
from axio_transport_anthropic.telemetry.labels import ERROR_TYPES, PROVIDERS, error_types_of, provider_label

from .test_metrics import BEDROCK_ERROR_TYPES

MODEL = "claude-sonnet-4-6"


@pytest.fixture
def meters() -> Iterator[tuple[MeterProvider, InMemoryMetricReader]]:
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    yield provider, reader
    provider.shutdown()


def _info(provider: str, host: str = "api.example.com") -> RequestInfo:
    return RequestInfo(
        model=ANTHROPIC_MODELS[MODEL],
        url=f"https://{host}/x",
        server_address=host,
        server_port=443,
        max_tokens=64,
        provider=provider,
    )


def _one_request(config: TelemetryConfig, provider: str) -> None:
    request = config.start(_info(provider))
    request.attempt_started(1, {})
    request.attempt_ended(AttemptReport(1, 200, "req_1", None))
    request.finished("ok", ResponseReport("msg_1", MODEL, "end_turn", TokenCounts(10, 5), 1), None)


def _samples(registry: CollectorRegistry, name: str) -> list[dict[str, str]]:
    return [dict(s.labels) for f in registry.collect() for s in f.samples if s.name == name]


def test_each_provider_gets_its_own_series_of_the_same_model() -> None:
    registry = CollectorRegistry()
    config = TelemetryConfig(registry=registry, traces=False, logs=False)
    for provider in PROVIDERS:
        _one_request(config, provider)
    for provider in PROVIDERS:
        labels = {"model": MODEL, "provider": provider, "outcome": "ok"}
        assert registry.get_sample_value("axio_anthropic_requests_total", labels) == 1
        histogram = {"model": MODEL, "provider": provider}
        assert registry.get_sample_value("axio_anthropic_request_duration_seconds_count", histogram) == 1
        assert registry.get_sample_value("axio_anthropic_in_flight_requests", histogram) == 0
    # Every sample of every request family names its provider.
    for family in registry.collect():
        if family.name.startswith("axio_anthropic_"):
            assert all(sample.labels.get("provider") in PROVIDERS for sample in family.samples), family.name


def test_an_unknown_provider_is_one_fixed_value() -> None:
    registry = CollectorRegistry()
    config = TelemetryConfig(registry=registry, traces=False, logs=False)
    for provider in ("openai", "my.gateway", "x" * 200, ""):
        _one_request(config, provider)
    providers = {labels["provider"] for labels in _samples(registry, "axio_anthropic_requests_total")}
    assert providers == {"_OTHER"}
    assert (
        registry.get_sample_value(
            "axio_anthropic_requests_total", {"model": MODEL, "provider": "_OTHER", "outcome": "ok"}
        )
        == 4
    )
    assert provider_label("aws.bedrock") == "aws.bedrock" and provider_label("AWS.BEDROCK") == "_OTHER"


@pytest.mark.parametrize("provider", PROVIDERS)
def test_errors_are_pre_created_only_for_the_types_the_provider_reports(provider: str) -> None:
    registry = CollectorRegistry()
    _one_request(TelemetryConfig(registry=registry, traces=False, logs=False), provider)
    zeros = {labels["type"] for labels in _samples(registry, "axio_anthropic_errors_total")}
    assert zeros == set(error_types_of(provider))
    assert zeros <= set(ERROR_TYPES)
    if provider == "aws.bedrock":
        assert set(BEDROCK_ERROR_TYPES) <= zeros
    else:
        assert not zeros & set(BEDROCK_ERROR_TYPES)
        assert {"overloaded_error", "rate_limit_error", "timeout", "connection_error"} <= zeros


@pytest.mark.parametrize("provider", PROVIDERS)
def test_credential_refreshes_exist_at_zero_only_where_credentials_expire(provider: str) -> None:
    registry = CollectorRegistry()
    _one_request(TelemetryConfig(registry=registry, traces=False, logs=False), provider)
    found = {(s["provider"], s["outcome"]) for s in _samples(registry, "axio_anthropic_credential_refreshes_total")}
    expected = set() if provider == "anthropic" else {(provider, "ok"), (provider, "error")}
    assert found == expected


def test_otel_instruments_carry_the_provider_name(meters: tuple[MeterProvider, InMemoryMetricReader]) -> None:
    provider, reader = meters
    config = TelemetryConfig(meter_provider=provider, registry=CollectorRegistry(), traces=False, logs=False)
    for name in PROVIDERS:
        request = config.start(_info(name, host=f"{name}.example.com"))
        request.attempt_started(1, {})
        request.credential_refresh(1, CredentialRefresh(0.25))
        request.first_token([])
        request.attempt_ended(AttemptReport(1, 200, "req_1", None))
        request.finished("ok", ResponseReport("msg_1", MODEL, "end_turn", TokenCounts(10, 5), 1), None)
    data = reader.get_metrics_data()
    assert data is not None
    seen: dict[str, set[tuple[object, object]]] = {}
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                for point in metric.data.data_points:
                    attributes = point.attributes or {}
                    pair = (attributes.get("gen_ai.provider.name"), attributes.get("server.address"))
                    seen.setdefault(metric.name, set()).add(pair)
    expected = {(name, f"{name}.example.com") for name in PROVIDERS}
    for name in (
        "gen_ai.client.operation.duration",
        "gen_ai.client.token.usage",
        "gen_ai.client.operation.time_to_first_chunk",
        "axio.anthropic.credential.refresh.duration",
    ):
        assert seen.get(name) == expected, name


@pytest.mark.parametrize(
    ("make", "provider", "host"),
    [
        (lambda: AnthropicTransport(api_key="sk-ant-test-key"), "anthropic", "api.anthropic.com"),
        (lambda: VertexAITransport(project="p", location="global"), "gcp.vertex_ai", "aiplatform.googleapis.com"),
        (
            lambda: VertexAITransport(project="p", location="us-east5"),
            "gcp.vertex_ai",
            "us-east5-aiplatform.googleapis.com",
        ),
        (
            lambda: BedrockTransport(aws_region="ap-northeast-1", api_key="bedrock-api-key-test"),
            "aws.bedrock",
            "bedrock-runtime.ap-northeast-1.amazonaws.com",
        ),
    ],
    ids=["anthropic", "vertex global", "vertex region", "bedrock"],
)
def test_server_address_is_the_real_host_of_each_provider(
    make: Callable[[], AnthropicTransport], provider: str, host: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in (
        "ANTHROPIC_BASE_URL",
        "ANTHROPIC_VERTEX_BASE_URL",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_BEDROCK_RUNTIME",
    ):
        monkeypatch.delenv(name, raising=False)
    transport = make()
    backend = transport.backend()
    info = _request_info(transport, backend, backend.url(), [], [], "", None, {})
    assert (info.provider, info.server_address, info.server_port) == (provider, host, 443)


def test_provider_cannot_be_a_call_label() -> None:
    with pytest.raises(ConfigurationError, match="'provider' is taken"):
        TelemetryConfig(labels=("tenant", "provider"), registry=CollectorRegistry())
