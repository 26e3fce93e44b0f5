"""Call labels (tenant, agent): attached with ``call_labels()``, recorded where the config lists them.

Over the simulator: the labels reach the requests, tokens and cost series, the request span (from
its start) and every log line; they are the ones in effect where ``stream()`` was called; tasks
keep their own. Through the lifecycle hooks alone: the cap bounds series, span attributes and log
fields alike, and nothing is kept per request.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import Sequence
from typing import Any, cast

import aiohttp
import pytest
from axio.events import IterationEnd, StreamEvent, TextDelta
from opentelemetry.context import Context
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_ON, Sampler, SamplingResult
from opentelemetry.trace import Link, SpanKind
from opentelemetry.util.types import Attributes
from prometheus_client import CollectorRegistry

from axio_transport_anthropic import AnthropicTransport
from axio_transport_anthropic.decoder import TokenCounts
from axio_transport_anthropic.models import ANTHROPIC_MODELS, cost_usd
from axio_transport_anthropic.simulator import Fault, Simulator
from axio_transport_anthropic.telemetry import (
    AttemptReport,
    RequestInfo,
    ResponseReport,
    TelemetryConfig,
    call_labels,
    current_call_labels,
)
from axio_transport_anthropic.telemetry.logs import REQUEST_END, REQUEST_RETRY, REQUEST_START

from .conftest import SECRET
from .support import request_records, user

MODEL = "claude-sonnet-4-6"
LABELS = ("tenant", "agent")


class SeenAtStart(Sampler):
    """Records the attributes each span starts with: what a sampler can decide on."""

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: Any = None,
    ) -> SamplingResult:
        if name.startswith("chat "):
            self.seen.append(dict(attributes or {}))
        return ALWAYS_ON.should_sample(parent_context, trace_id, name, kind, attributes, links, trace_state)

    def get_description(self) -> str:
        return "SeenAtStart"


class Rig:
    """A registry, an SDK tracer that keeps its spans and what its sampler saw, and the log records."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.sampler = SeenAtStart()
        self.exporter = InMemorySpanExporter()
        self.provider = TracerProvider(sampler=self.sampler, shutdown_on_exit=False)
        self.provider.add_span_processor(SimpleSpanProcessor(self.exporter))

    def config(self, **kw: Any) -> TelemetryConfig:
        options: dict[str, Any] = {"tracer_provider": self.provider, "registry": self.registry, "labels": LABELS}
        return TelemetryConfig(**{**options, **kw})

    def chats(self) -> list[ReadableSpan]:
        return [span for span in self.exporter.get_finished_spans() if span.name.startswith("chat ")]

    def samples(self, name: str) -> list[tuple[dict[str, str], float]]:
        return [
            (dict(sample.labels), sample.value)
            for family in self.registry.collect()
            for sample in family.samples
            if sample.name == name
        ]

    def value(self, name: str, **labels: str) -> float:
        found = self.registry.get_sample_value(name, {"model": MODEL, "provider": "anthropic", **labels})
        return 0.0 if found is None else found


def labels_of(span: ReadableSpan) -> dict[str, Any]:
    return {key: value for key, value in (span.attributes or {}).items() if key.startswith("axio.label.")}


def transport(sim: Simulator, session: aiohttp.ClientSession, config: TelemetryConfig, **kw: Any) -> AnthropicTransport:
    options: dict[str, Any] = {"max_retries": 3, "retry_base_delay": 0.001, "retry_max_delay": 0.01}
    return AnthropicTransport(
        api_key=SECRET, base_url=sim.base_url, session=session, telemetry=config, idle_timeout=5.0, **{**options, **kw}
    )


async def drain(stream: Any) -> list[StreamEvent]:
    return [event async for event in stream]


def usage_of(events: list[StreamEvent]) -> IterationEnd:
    end = events[-1]
    assert isinstance(end, IterationEnd)
    return end


# ── where the labels go ─────────────────────────────────────────────────────────────────────


async def test_labels_reach_the_requests_tokens_and_cost_series(sim: Simulator, session: aiohttp.ClientSession) -> None:
    rig = Rig()
    client = transport(sim, session, rig.config(traces=False, logs=False))
    sim.inject(Fault.rate_limited(retry_after=0.01))
    with call_labels(tenant="acme", agent="support"):
        end = usage_of(await drain(client.stream(user("hi"), [], "")))
    await drain(client.stream(user("unlabelled"), [], ""))

    acme = {"tenant": "acme", "agent": "support"}
    unset = {"tenant": "", "agent": ""}
    assert rig.value("axio_anthropic_requests_total", outcome="ok", **acme) == 1
    assert rig.value("axio_anthropic_requests_total", outcome="ok", **unset) == 1
    usage = end.usage
    tokens = rig.samples("axio_anthropic_tokens_total")
    by_type = {labels["type"]: value for labels, value in tokens if labels["tenant"] == "acme"}
    assert by_type == {
        "input": usage.input_tokens - usage.cache_read_tokens - usage.cache_write_tokens,
        "output": usage.output_tokens,
        "cache_read": usage.cache_read_tokens,
        "cache_creation": usage.cache_write_tokens,
    }
    expected = cost_usd(
        ANTHROPIC_MODELS[MODEL],
        uncached_input=int(by_type["input"]),
        output=usage.output_tokens,
        cache_read=usage.cache_read_tokens,
        cache_write_5m=usage.cache_write_tokens,
    )
    assert rig.value("axio_anthropic_cost_usd_total", **acme) == pytest.approx(expected, rel=1e-12)
    # Only those three families: the others keep their label names, retries included.
    for family in rig.registry.collect():
        names = {name for sample in family.samples for name in sample.labels}
        attributed = family.name in ("axio_anthropic_requests", "axio_anthropic_tokens", "axio_anthropic_cost_usd")
        assert ("tenant" in names and "agent" in names) == attributed, family.name
    assert rig.value("axio_anthropic_retries_total", reason="rate_limited") == 1


async def test_labels_are_on_the_request_span_from_its_start(sim: Simulator, session: aiohttp.ClientSession) -> None:
    rig = Rig()
    client = transport(sim, session, rig.config(metrics=False, logs=False))
    with call_labels(tenant="acme", agent="support"):
        await drain(client.stream(user("hi"), [], ""))
    with call_labels(tenant="globex"):  # agent unset: no attribute at all
        await drain(client.stream(user("hi"), [], ""))
    at_start = [{k: v for k, v in seen.items() if k.startswith("axio.label.")} for seen in rig.sampler.seen]
    assert at_start == [{"axio.label.tenant": "acme", "axio.label.agent": "support"}, {"axio.label.tenant": "globex"}]
    assert [labels_of(span) for span in rig.chats()] == at_start
    attempts = [span for span in rig.exporter.get_finished_spans() if span.name == "POST"]
    assert attempts and not any(labels_of(span) for span in attempts)


async def test_labels_are_fields_of_every_log_line(sim: Simulator, session: aiohttp.ClientSession) -> None:
    rig = Rig()
    client = transport(sim, session, rig.config(traces=False, metrics=False))
    sim.inject(Fault.rate_limited(retry_after=0.01))
    with request_records() as logged, call_labels(tenant="acme", agent="support"):
        await drain(client.stream(user("hi"), [], ""))
        sim.inject(Fault.http_error(400, "invalid_request_error", "bad"))
        with pytest.raises(Exception, match="bad"):
            await drain(client.stream(user("hi"), [], ""))
    events = [record["event"] for record in logged.entries]
    assert events == [REQUEST_START, REQUEST_RETRY, REQUEST_END, REQUEST_START, "anthropic.request.error"]
    assert all((record["tenant"], record["agent"]) == ("acme", "support") for record in logged.entries), logged.entries


async def test_opentelemetry_usage_metrics_carry_the_labels(sim: Simulator, session: aiohttp.ClientSession) -> None:
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    try:
        config = TelemetryConfig(
            registry=CollectorRegistry(), meter_provider=provider, traces=False, logs=False, labels=LABELS
        )
        with call_labels(tenant="acme"):
            await drain(transport(sim, session, config).stream(user("hi"), [], ""))
        data = reader.get_metrics_data()
        assert data is not None
        points = {
            metric.name: [dict(point.attributes or {}) for point in metric.data.data_points]
            for resource in data.resource_metrics
            for scope in resource.scope_metrics
            for metric in scope.metrics
        }
    finally:
        provider.shutdown()
    for name in ("gen_ai.client.token.usage", "gen_ai.client.operation.duration"):
        assert points[name] and all(p.get("axio.label.tenant") == "acme" for p in points[name]), name
        assert not any("axio.label.agent" in p for p in points[name]), "an unset label is no attribute"
    # Latency stays by model: a label per tenant there would multiply histograms for no question asked.
    assert not any("axio.label.tenant" in p for p in points["gen_ai.client.operation.time_to_first_chunk"])


async def test_names_the_config_does_not_list_are_ignored(sim: Simulator, session: aiohttp.ClientSession) -> None:
    rig = Rig()
    client = transport(sim, session, rig.config(labels=("tenant",)))
    with request_records(logging.INFO) as logged, call_labels(tenant="acme", team="platform"):
        await drain(client.stream(user("hi"), [], ""))
    assert {name for labels, _ in rig.samples("axio_anthropic_requests_total") for name in labels} == {
        "model",
        "provider",
        "outcome",
        "tenant",
    }
    (chat,) = rig.chats()
    assert labels_of(chat) == {"axio.label.tenant": "acme"}
    assert [(record.get("tenant"), "team" in record) for record in logged.entries] == [("acme", False)]


async def test_a_config_without_labels_records_none(sim: Simulator, session: aiohttp.ClientSession) -> None:
    rig = Rig()
    client = transport(sim, session, rig.config(labels=()))
    with request_records(logging.INFO) as logged, call_labels(tenant="acme"):
        await drain(client.stream(user("hi"), [], ""))
    assert {name for labels, _ in rig.samples("axio_anthropic_requests_total") for name in labels} == {
        "model",
        "provider",
        "outcome",
    }
    assert [labels_of(span) for span in rig.chats()] == [{}]
    assert ["tenant" in record for record in logged.entries] == [False]


# ── when, and whose ─────────────────────────────────────────────────────────────────────────


async def test_the_labels_are_those_where_stream_was_called(sim: Simulator, session: aiohttp.ClientSession) -> None:
    rig = Rig()
    client = transport(sim, session, rig.config(logs=False))
    with call_labels(tenant="acme"):
        made_inside = client.stream(user("inside"), [], "")
    made_outside = client.stream(user("outside"), [], "")
    with call_labels(tenant="globex"):  # iterated under other labels: still its own
        await drain(made_inside)
        await drain(made_outside)
    assert rig.value("axio_anthropic_requests_total", outcome="ok", tenant="acme", agent="") == 1
    assert rig.value("axio_anthropic_requests_total", outcome="ok", tenant="", agent="") == 1
    assert rig.value("axio_anthropic_requests_total", outcome="ok", tenant="globex", agent="") == 0
    assert [labels_of(span) for span in rig.chats()] == [{"axio.label.tenant": "acme"}, {}]


async def test_concurrent_tasks_keep_their_own_labels(session: aiohttp.ClientSession) -> None:
    """Eight tasks interleave their streams; task i asks i + 1 questions that name its tenant."""
    rig = Rig()
    async with Simulator(api_key=SECRET, token_delay=0.002) as sim:
        client = transport(sim, session, rig.config(capture_content=True))

        async def tenant(i: int) -> None:
            with call_labels(tenant=f"t{i}", agent="worker"):
                for _ in range(i + 1):
                    async for event in client.stream(user(f"question from t{i}"), [], ""):
                        if isinstance(event, TextDelta):
                            await asyncio.sleep(0)  # let the others in mid-stream

        with request_records(logging.INFO) as logged:
            await asyncio.wait_for(asyncio.gather(*(tenant(i) for i in range(8))), 30)
    for i in range(8):
        assert rig.value("axio_anthropic_requests_total", outcome="ok", tenant=f"t{i}", agent="worker") == i + 1
    spans = rig.chats()
    assert len(spans) == 36
    for span in spans:
        attributes = span.attributes or {}
        asked = cast(str, attributes["gen_ai.input.messages"])
        assert f"question from {cast(str, attributes['axio.label.tenant'])}" in asked
    by_response = {(span.attributes or {})["gen_ai.response.id"]: labels_of(span) for span in spans}
    ends = [record for record in logged.entries if record["event"] == REQUEST_END]
    assert len(ends) == 36
    for record in ends:
        expected = {"axio.label.tenant": record["tenant"], "axio.label.agent": "worker"}
        assert by_response[record["response_id"]] == expected


async def test_call_labels_nest_unset_reset_and_stay_in_their_task() -> None:
    assert current_call_labels() == {}
    with call_labels(tenant="acme", agent="support") as outer:
        assert outer == {"tenant": "acme", "agent": "support"}
        with call_labels(agent="billing"):
            assert current_call_labels() == {"tenant": "acme", "agent": "billing"}
            with call_labels(tenant=""):  # "" unsets
                assert current_call_labels() == {"agent": "billing"}
        assert current_call_labels() == outer

        async def elsewhere() -> dict[str, str]:
            with call_labels(tenant="globex"):
                await asyncio.sleep(0)
                return dict(current_call_labels())

        # A task starts with a copy of its creator's labels; what it sets stays in it.
        assert await asyncio.create_task(elsewhere()) == {"tenant": "globex", "agent": "support"}
        assert current_call_labels() == outer
        with pytest.raises(RuntimeError), call_labels(tenant="boom"):
            raise RuntimeError
        assert current_call_labels() == outer
    assert current_call_labels() == {}
    reused = call_labels(tenant="acme")
    with reused, reused:
        assert current_call_labels() == {"tenant": "acme"}
    assert current_call_labels() == {}


@pytest.mark.parametrize("value", [42, None, b"acme", 1.5, ["acme"]])
def test_call_labels_refuses_a_value_that_is_not_a_string_when_called(value: Any) -> None:
    with pytest.raises(TypeError, match=r"call_labels\(tenant=\.\.\.\) takes a string"):
        call_labels(tenant=value)
    assert current_call_labels() == {}


# ── bounds ──────────────────────────────────────────────────────────────────────────────────


def _info(**labels: str) -> RequestInfo:
    return RequestInfo(
        model=ANTHROPIC_MODELS[MODEL],
        url="http://127.0.0.1:1/v1/messages",
        server_address="127.0.0.1",
        server_port=1,
        max_tokens=1024,
        call_labels=labels,
    )


def _request(config: TelemetryConfig, **labels: str) -> None:
    """One successful request through the lifecycle hooks, as the transport reports it."""
    observer = config.start(_info(**labels))
    observer.attempt_started(1, {})
    observer.first_token([TextDelta(0, "hi")])
    observer.attempt_ended(AttemptReport(1, 200, "req_1", None))
    counts = TokenCounts(uncached_input=10, output=5, cache_read=3, cache_write_5m=2)
    observer.finished("ok", ResponseReport("msg_1", MODEL, "end_turn", counts, 1), None)


def test_a_thousand_tenants_give_at_most_cap_plus_one_series_per_model_and_type() -> None:
    rig = Rig()
    config = rig.config(label_values=10)
    with request_records(logging.INFO) as logged:
        for i in range(1000):
            _request(config, tenant=f"tenant-{i}", agent="support")
    first_ten = {f"tenant-{i}" for i in range(10)}
    for kind in ("input", "output", "cache_read", "cache_creation"):
        tenants = {
            labels["tenant"]
            for labels, _ in rig.samples("axio_anthropic_tokens_total")
            if labels["model"] == MODEL and labels["type"] == kind
        }
        assert tenants == first_ten | {"_OTHER"}, kind
    ok = {
        labels["tenant"]: value
        for labels, value in rig.samples("axio_anthropic_requests_total")
        if labels["outcome"] == "ok"
    }
    assert ok == {**dict.fromkeys(first_ten, 1.0), "_OTHER": 990.0}
    costs = {labels["tenant"] for labels, _ in rig.samples("axio_anthropic_cost_usd_total")}
    assert costs == first_ten | {"_OTHER"}
    # Spans and logs are bounded the same way, with the same values.
    assert {labels_of(span)["axio.label.tenant"] for span in rig.chats()} == first_ten | {"_OTHER"}
    assert {record["tenant"] for record in logged.entries} == first_ten | {"_OTHER"}


def test_malformed_values_become_other_without_using_the_cap() -> None:
    rig = Rig()
    config = rig.config(label_values=2, traces=False, logs=False)
    for tenant in ("acme corp", "x" * 65, "café", "a\nb", "acme", "org/team-1", "acme"):
        _request(config, tenant=tenant)
    tenants = {
        labels["tenant"]: value
        for labels, value in rig.samples("axio_anthropic_requests_total")
        if labels["outcome"] == "ok"
    }
    assert tenants == {"_OTHER": 4.0, "acme": 2.0, "org/team-1": 1.0}


def test_every_config_on_a_registry_shares_its_cap() -> None:
    rig = Rig()
    first, second = rig.config(label_values=3, traces=False), rig.config(label_values=3, traces=False)
    for i in range(5):
        _request(first, tenant=f"a{i}")
        _request(second, tenant=f"b{i}")
    tenants = {labels["tenant"] for labels, _ in rig.samples("axio_anthropic_cost_usd_total")}
    assert tenants == {"a0", "b0", "a1", "_OTHER"}


def test_nothing_is_kept_per_request() -> None:
    rig = Rig()
    config = rig.config(label_values=5)
    _request(config, tenant="warm-up")
    gc.collect()
    before = sum(isinstance(obj, RequestInfo) for obj in gc.get_objects())
    for i in range(300):
        _request(config, tenant=f"tenant-{i}", agent=f"agent-{i % 7}")
    gc.collect()
    assert sum(isinstance(obj, RequestInfo) for obj in gc.get_objects()) == before
    # What is kept per label value is bounded by the cap: 6 tenants (5 + _OTHER) x 6 agents.
    series = {tuple(sorted(labels.items())) for labels, _ in rig.samples("axio_anthropic_requests_total")}
    assert len(series) <= 6 * 6 * 3


# ── configuration ───────────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize(
    ("labels", "label_values", "match"),
    [
        ("tenant", 100, "a tuple of label names"),
        (("model",), 100, "'model' is taken"),
        (("job",), 100, "'job' is taken"),
        (("status",), 100, "'status' is taken"),
        (("__tenant",), 100, "not a Prometheus label name"),
        (("team-name",), 100, "not a Prometheus label name"),
        (("tenant", "tenant"), 100, "twice"),
        (("tenant",), 0, "label_values must be a whole number"),
        (("tenant",), True, "label_values must be a whole number"),
    ],
)
def test_label_names_and_cap_are_checked_when_the_config_is_made(labels: Any, label_values: Any, match: str) -> None:
    from axio_transport_anthropic.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match=match):
        TelemetryConfig(registry=CollectorRegistry(), labels=labels, label_values=label_values)


def test_different_labels_on_one_registry_are_a_configuration_error_naming_both() -> None:
    from axio_transport_anthropic.errors import ConfigurationError

    registry = CollectorRegistry()
    tenants = TelemetryConfig(registry=registry, labels=("tenant",), traces=False, logs=False)
    _request(tenants, tenant="acme")
    # Made after the families were registered: refused at once.
    with pytest.raises(ConfigurationError) as raised:
        TelemetryConfig(registry=registry, labels=("tenant", "agent"))
    assert "labels=('tenant',), label_values=100" in str(raised.value)
    assert "labels=('tenant', 'agent'), label_values=100" in str(raised.value)
    with pytest.raises(ConfigurationError, match=r"label_values=100.*label_values=5"):
        TelemetryConfig(registry=registry, labels=("tenant",), label_values=5)
    # A config without labels can only tell at its first request.
    plain = TelemetryConfig(registry=registry, traces=False, logs=False)
    with pytest.raises(ConfigurationError, match=r"labels=\('tenant',\), label_values=100.*has no labels"):
        _request(plain)
    # The same labels share the registry, and the reverse order is refused too.
    _request(TelemetryConfig(registry=registry, labels=("tenant",), traces=False, logs=False), tenant="globex")
    other = CollectorRegistry()
    _request(TelemetryConfig(registry=other, traces=False, logs=False))
    with pytest.raises(ConfigurationError, match=r"registered for a TelemetryConfig with no labels"):
        TelemetryConfig(registry=other, labels=("tenant",))


def test_without_metrics_a_config_bounds_its_own_labels() -> None:
    rig = Rig()
    config = rig.config(metrics=False, logs=False, label_values=1)
    for tenant in ("acme", "globex", "acme"):
        _request(config, tenant=tenant)
    assert [labels_of(span).get("axio.label.tenant") for span in rig.chats()] == ["acme", "_OTHER", "acme"]


async def test_no_label_name_can_shadow_a_log_field(sim: Simulator, session: aiohttp.ClientSession) -> None:
    """A label is a log field of its own name: every field the transport logs is refused as one."""
    from axio_transport_anthropic.errors import ConfigurationError

    client = transport(sim, session, TelemetryConfig(registry=CollectorRegistry(), metrics=False), max_retries=1)
    sim.inject(Fault.rate_limited(retry_after=0.01), Fault.overloaded())
    with request_records() as logged:
        with pytest.raises(Exception, match="verloaded"):
            await drain(client.stream(user("hi"), [], ""))
        await drain(client.stream(user("hi"), [], ""))
    fields = {name for record in logged.entries for name in record}
    assert {"event", "status", "error_type", "message", "cost_usd", "time_to_first_token_s"} <= fields
    for name in sorted(fields):
        with pytest.raises(ConfigurationError, match="is taken"):
            TelemetryConfig(registry=CollectorRegistry(), labels=(name,))


def test_labels_may_be_any_sequence_of_names_and_are_kept_as_a_tuple() -> None:
    config = TelemetryConfig(registry=CollectorRegistry(), labels=["tenant", "agent"])  # type: ignore[arg-type]
    assert config.labels == ("tenant", "agent")
    config.labels = ["tenant"]  # type: ignore[assignment]
    _request(config, tenant="acme")
    assert config.labels == ("tenant",)


def test_with_labels_copies_every_other_field() -> None:
    import dataclasses

    with call_labels(tenant="acme"):
        info = dataclasses.replace(_info(), temperature=0.5, top_k=3, max_attempts=4, operation="chat")
    labels = (("tenant", "acme"),)
    copy = info.with_labels(labels)
    assert copy == dataclasses.replace(info, labels=labels) and copy.labels == labels
    assert all(getattr(copy, f.name) is getattr(info, f.name) for f in dataclasses.fields(info) if f.name != "labels")
