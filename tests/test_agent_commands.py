"""``axio-anthropic demo`` and ``load`` turn ``AxioInstrumentor`` on while their agents run: over
real OTLP, each agent run is one trace (``invoke_agent`` over its ``chat`` and ``execute_tool``
spans); load's runs are counted on the registry it serves; the instrumentor is off again after,
and one the host turned on itself is left on."""

from __future__ import annotations

import gc
import io
from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry

from axio_transport_anthropic.demo import run_demo
from axio_transport_anthropic.load import LoadConfig, run_load
from axio_transport_anthropic.telemetry import AxioInstrumentor
from axio_transport_anthropic.telemetry.agent_setup import agents_traced
from axio_transport_anthropic.telemetry.setup import TelemetryHandle

from .agent_rig import Node, shape, tree
from .otel_globals import clean_globals  # noqa: F401
from .otlp_receiver import OtlpReceiver

pytestmark = [pytest.mark.usefixtures("clean_globals"), pytest.mark.timeout(60)]

POST: tuple[str, list[object]] = ("POST", [])


@pytest.fixture(autouse=True)
def instrumentor_off() -> Iterator[AxioInstrumentor]:
    instrumentor = AxioInstrumentor()
    if instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.uninstrument()
    yield instrumentor
    # The commands' telemetry (exporters, sessions) is freed here rather than in a later test's
    # count of cyclic garbage (tests/test_gc_footprint.py).
    gc.collect()
    if instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.uninstrument()
        pytest.fail("a command left the instrumentor on")


def runs(roots: list[Node]) -> list[Node]:
    assert all(root.name.startswith("invoke_agent") for root in roots), [root.name for root in roots]
    return roots


async def test_load_makes_one_trace_per_agent_run_and_counts_them(monkeypatch: pytest.MonkeyPatch) -> None:
    registry = CollectorRegistry()
    async with OtlpReceiver() as receiver:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url)
        summary = await run_load(LoadConfig(requests=3, concurrency=2), registry=registry)
        spans = receiver.spans()
    assert summary.context.runs.completed == 3, summary
    roots = runs(tree(spans))
    assert len(roots) == 3 and len({root.span.trace_id for root in roots}) == 3
    for root in roots:
        chat, tool, answer = root.children
        assert chat.name.startswith("chat ") and answer.name == chat.name
        assert shape(chat)[1] == [POST] and shape(answer)[1] == [POST]
        assert shape(tool) == ("execute_tool stock_level", [])
    assert registry.get_sample_value("axio_anthropic_agent_runs_total", {"outcome": "ok"}) == 3
    assert registry.get_sample_value("axio_anthropic_agent_turns_sum") == 6
    calls = {"tool": "stock_level", "outcome": "ok"}
    assert registry.get_sample_value("axio_anthropic_agent_tool_calls_total", calls) == 3


async def test_the_demo_run_is_one_trace() -> None:
    async with OtlpReceiver() as receiver:
        out = io.StringIO()
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url)
            assert await run_demo(out=out) == 0, out.getvalue()
        spans = receiver.spans()
    (root,) = runs(tree(spans))
    names = [child.name for child in root.children]
    assert names[0].startswith("chat ") and names[-1] == names[0], names
    assert {"execute_tool utc_now", "execute_tool multiply"} <= set(names), names
    assert all(shape(child)[1] == [POST] for child in root.children if child.name.startswith("chat "))


def handle() -> TelemetryHandle:
    return TelemetryHandle("test", None, None, CollectorRegistry(), None, None)


def test_overlapping_commands_share_the_instrumentor_until_the_last_ends(instrumentor_off: AxioInstrumentor) -> None:
    with agents_traced(handle()) as first:
        assert first and instrumentor_off.is_instrumented_by_opentelemetry
        with agents_traced(handle()) as second:
            assert second
        assert instrumentor_off.is_instrumented_by_opentelemetry
    assert not instrumentor_off.is_instrumented_by_opentelemetry
    with agents_traced(None) as traced:  # no telemetry set up: nothing turned on
        assert not traced and not instrumentor_off.is_instrumented_by_opentelemetry


def test_the_hosts_instrumentor_is_left_on(instrumentor_off: AxioInstrumentor) -> None:
    instrumentor_off.instrument(registry=CollectorRegistry())
    with agents_traced(handle()) as traced:
        assert traced
    assert instrumentor_off.is_instrumented_by_opentelemetry
    instrumentor_off.uninstrument()


def test_an_instrumentor_that_cannot_start_leaves_the_command_untraced(
    instrumentor_off: AxioInstrumentor, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def refuse(**options: object) -> None:
        raise RuntimeError("no")

    monkeypatch.setattr(instrumentor_off, "_instrument", refuse)
    with agents_traced(handle()) as traced:
        assert not traced
    assert "Could not instrument axio's agents" in caplog.text
