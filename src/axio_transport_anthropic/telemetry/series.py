"""The labelled children of the Prometheus families, per provider and model (and per call-label values).

Created once each, so the hot path never calls ``.labels()``; bounded, as the label values are.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from prometheus_client import Counter, Gauge, Histogram

from .call_labels import LabelValues
from .labels import REFRESHING_PROVIDERS, RETRY_REASONS, error_types_of

if TYPE_CHECKING:
    from .instruments import PromInstruments

__all__ = ["ModelSeries", "UsageSeries"]

#: requests, tokens and cost: the families that carry the call labels.
_UsageFamilies = tuple[Counter, Counter, Counter]


class _ByLabel[M: (Counter, Gauge, Histogram)]:
    """The children of one family under fixed leading labels (model and provider, or the provider
    alone), keyed by the value of the label after them.

    ``known`` values are created at once, so their series read 0 rather than nothing until the
    first event: a panel shows 0, and ``rate()`` sees the first increment. Only for fixed
    vocabularies: a label whose values are open-ended would pre-create unbounded series.
    """

    __slots__ = ("_children", "_family", "_key")

    def __init__(self, family: M, key: tuple[str, ...], known: Iterable[str] = ()) -> None:
        self._family: M = family
        self._key = key
        self._children: dict[str, M] = {value: family.labels(*key, value) for value in known}

    def __call__(self, value: str) -> M:
        child = self._children.get(value)
        if child is None:
            # A race only creates the same child twice: .labels() returns the one it already has.
            child = self._children[value] = self._family.labels(*self._key, value)
        return child


class UsageSeries:
    """The requests, tokens and cost children of one model and one set of call-label values."""

    __slots__ = ("cost", "requests", "tokens")

    def __init__(self, families: _UsageFamilies, key: tuple[str, str], values: tuple[str, ...]) -> None:
        # Made at the call's start, so a series is at 0 before the increment at its end.
        requests, tokens, cost = families
        self.requests = {o: requests.labels(*key, o, *values) for o in ("ok", "error", "cancelled")}
        self.tokens = {t: tokens.labels(*key, t, *values) for t in ("input", "output", "cache_read", "cache_creation")}
        self.cost = cost.labels(*key, *values)


class ModelSeries:
    """Every labelled child one model of one provider needs, created once so the hot path never
    calls ``.labels()``. ``provider`` is already a bounded label value (``provider_label``)."""

    __slots__ = (
        "_attribution",
        "_by_labels",
        "_families",
        "_key",
        "_unlabelled",
        "attempts",
        "backoff_seconds",
        "cache_hits",
        "cache_misses",
        "credential_refreshes",
        "duration",
        "errors",
        "in_flight",
        "model",
        "output_tokens",
        "ratelimit_limit",
        "ratelimit_remaining",
        "retries",
        "stop_reasons",
        "time_per_token",
        "ttft",
    )

    def __init__(self, prom: PromInstruments, model: str, provider: str) -> None:
        # Fixed label sets are made now, so their series exist at 0 before the first event. Not
        # attempts (any HTTP status), stop reasons (Anthropic adds some) nor the rate-limit gauges
        # (a 0 there would read as exhausted).
        # The families, not ``prom``: it holds this object, and a cycle would outlive its registry.
        self._families: _UsageFamilies = (prom.requests, prom.tokens, prom.cost)
        self._attribution = prom.attribution
        self.model = model
        key = self._key = (model, provider)
        self._unlabelled = UsageSeries(self._families, key, ()) if prom.attribution is None else None
        #: Per call-label values: bounded, as the values are (``Attribution``).
        self._by_labels: dict[LabelValues, UsageSeries] = {}
        self.cache_hits = prom.cache_hits.labels(*key)
        self.cache_misses = prom.cache_misses.labels(*key)
        self.duration = prom.duration.labels(*key)
        self.ttft = prom.ttft.labels(*key)
        self.time_per_token = prom.time_per_token.labels(*key)
        self.output_tokens = prom.output_tokens.labels(*key)
        self.in_flight = prom.in_flight.labels(*key)
        self.attempts = _ByLabel(prom.attempts, key)
        self.retries = _ByLabel(prom.retries, key, RETRY_REASONS)
        self.backoff_seconds = _ByLabel(prom.backoff_seconds, key, RETRY_REASONS)
        self.stop_reasons = _ByLabel(prom.stop_reasons, key)
        self.errors = _ByLabel(prom.errors, key, error_types_of(provider))
        self.ratelimit_remaining = _ByLabel(prom.ratelimit_remaining, key)
        self.ratelimit_limit = _ByLabel(prom.ratelimit_limit, key)
        # Per provider, not per model: a refresh renews the credentials every model is called with.
        # At 0 from the first request only where credentials do expire.
        known = ("ok", "error") if provider in REFRESHING_PROVIDERS else ()
        self.credential_refreshes = _ByLabel(prom.credential_refreshes, (provider,), known)

    def usage(self, labels: LabelValues = ()) -> UsageSeries:
        """The requests, tokens and cost children for a call with these (resolved) labels."""
        if self._unlabelled is not None:
            return self._unlabelled
        found = self._by_labels.get(labels)
        if found is None:
            attribution = self._attribution
            assert attribution is not None
            if len(labels) != len(attribution.names):
                labels = attribution.resolve({})
            values = tuple(value for _, value in labels)
            # A race only makes it twice: .labels() returns the children it already has.
            found = self._by_labels[labels] = UsageSeries(self._families, self._key, values)
        return found
