"""`axio-anthropic load --label NAME=V1,V2`: agent runs cycle through call labels, recorded per run."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from prometheus_client import CollectorRegistry

from axio_transport_anthropic.cli import main
from axio_transport_anthropic.load import LoadConfig, LoadError, command, run_load
from axio_transport_anthropic.simulator import Simulator


def by_labels(registry: CollectorRegistry, name: str, outcome: str = "ok") -> dict[tuple[str, str], float]:
    return {
        (sample.labels["tenant"], sample.labels["agent"]): sample.value
        for family in registry.collect()
        for sample in family.samples
        if sample.name == name and sample.labels.get("outcome", outcome) == outcome and sample.value
    }


async def test_each_run_carries_its_labels_on_every_request() -> None:
    registry = CollectorRegistry()
    labels = (("tenant", ("acme", "globex", "initech")), ("agent", ("support", "billing")))
    async with Simulator() as sim:
        config = LoadConfig(base_url=sim.base_url, api_key="sk-any", requests=12, concurrency=3, labels=labels)
        summary = await run_load(config, registry=registry)
    assert summary.requests["ok"] == 24
    # Run n: tenant n % 3, agent n % 2, so each of the six pairs gets two runs of two requests.
    pairs = {(tenant, agent) for tenant in labels[0][1] for agent in labels[1][1]}
    assert by_labels(registry, "axio_anthropic_requests_total") == dict.fromkeys(pairs, 4.0)
    assert set(by_labels(registry, "axio_anthropic_cost_usd_total")) == pairs
    # The summary still adds up every series, whatever its labels.
    tokens = [
        sample.value
        for family in registry.collect()
        for sample in family.samples
        if sample.name == "axio_anthropic_tokens_total"
    ]
    assert summary.tokens_total == sum(tokens) > 0


def test_labels_of_a_run_cycle_through_the_values() -> None:
    config = LoadConfig(labels=(("tenant", ("a", "b", "c")), ("agent", ("x", "y"))))
    assert [config.labels_of(n) for n in range(4)] == [
        {"tenant": "a", "agent": "x"},
        {"tenant": "b", "agent": "y"},
        {"tenant": "c", "agent": "x"},
        {"tenant": "a", "agent": "y"},
    ]
    assert LoadConfig().labels_of(7) == {}


@pytest.mark.parametrize(
    ("labels", "match"),
    [
        ((("model", ("a",)),), "'model' is taken"),
        ((("tenant", ()),), "one or more non-empty values"),
        ((("tenant", ("a", "")),), "one or more non-empty values"),
    ],
)
async def test_run_load_refuses_bad_labels(labels: tuple[tuple[str, tuple[str, ...]], ...], match: str) -> None:
    with pytest.raises(LoadError, match=match):
        await run_load(LoadConfig(requests=1, labels=labels))


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--label", "tenant"], "expected NAME=VALUE"),
        (["--label", "tenant=a,,b"], "expected NAME=VALUE"),
        (["--label", "tenant=a", "--label", "tenant=b"], "given twice"),
        (["--label", "model=x"], "'model' is taken"),
        (["--label", "team-name=x"], "not a Prometheus label name"),
    ],
)
def test_cli_refuses_bad_label_options_before_the_run(argv: list[str], message: str) -> None:
    result = CliRunner().invoke(main, ["load", "-n", "1", *argv])
    assert result.exit_code == 2, result.output
    assert message in result.output


def test_cli_label_options_become_the_run_labels(monkeypatch: pytest.MonkeyPatch) -> None:
    given: list[LoadConfig] = []

    async def run(config: LoadConfig, **_: object) -> None:
        given.append(config)
        raise LoadError("stopped before the run")

    monkeypatch.setattr(command, "run_load", run)
    argv = ["load", "-n", "1", "--quiet", "--label", "tenant=acme, globex", "--label", "agent=support"]
    result = CliRunner().invoke(main, argv)
    assert result.exit_code == 1 and "stopped before the run" in result.output
    assert [config.labels for config in given] == [(("tenant", ("acme", "globex")), ("agent", ("support",)))]
