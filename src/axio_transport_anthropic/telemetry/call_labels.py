"""Labels a host attaches per call (tenant, agent, ...) for cost and usage attribution.

``call_labels(tenant="acme")`` sets them in a ``ContextVar`` around any code that ends up calling
``stream()`` (one call, or a whole ``Agent.run``). ``stream()`` captures them when it is called,
as it captures the OpenTelemetry parent. A ``TelemetryConfig`` with ``labels=(...)`` lets through
only the names it lists and bounds each one's values (``Attribution``): at most ``label_values``
distinct values per name, then ``_OTHER``, so Prometheus series stay bounded.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from contextvars import ContextVar, Token
from types import MappingProxyType, TracebackType
from typing import Final

from ..errors import ConfigurationError
from .labels import OTHER, Vocabulary

__all__ = [
    "NO_LABELS",
    "SPAN_PREFIX",
    "Attribution",
    "LabelValues",
    "call_labels",
    "check_label_names",
    "check_schema",
    "current_call_labels",
]

#: Resolved labels: ``(name, value)`` in the config's order, ``""`` where unset.
LabelValues = tuple[tuple[str, str], ...]
NO_LABELS: Final[Mapping[str, str]] = MappingProxyType({})
#: Span and OpenTelemetry metric attributes are ``axio.label.<name>``: no GenAI convention names a
#: tenant, and ``gen_ai.agent.name`` belongs on the host's own ``invoke_agent`` span.
SPAN_PREFIX: Final = "axio.label."
DEFAULT_LABEL_VALUES: Final = 100

_CURRENT: Final[ContextVar[Mapping[str, str]]] = ContextVar("axio_anthropic_call_labels", default=NO_LABELS)
_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
#: Slugs, ids, UUIDs, domains, e-mail addresses, ``org/team``; anything else becomes ``_OTHER``.
_VALUE: Final = re.compile(r"[A-Za-z0-9_.:@/+=-]{1,64}")
#: Labels the families already carry, scrape target labels, and the log lines' own fields.
_RESERVED: Final = frozenset(
    {"model", "provider", "type", "outcome", "status", "reason", "resource", "le", "quantile", "job", "instance"}
    | {"event", "level", "logger", "timestamp", "message", "error", "trace_id", "span_id", "url", "attempt"}
    | {"attempts", "max_attempts", "max_tokens", "delay_s", "server_requested", "error_type", "request_id"}
    | {"response_model", "response_id", "stop_reason", "duration_s", "time_to_first_token_s", "cost_usd"}
    | {"input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens", "timeout_phase"}
)


class call_labels:  # named like a function: it is used like one, `with call_labels(tenant="acme"):`
    """Attach labels to every ``stream()`` called inside the block: ``with call_labels(tenant="acme"):``.

    Nested blocks add to the outer labels and override them; ``""`` unsets one. Values must be
    strings (``TypeError`` here, not at the request). Names a ``TelemetryConfig`` does not list in
    ``labels`` are ignored by it. The block may span ``await``s; each task has its own labels.
    """

    __slots__ = ("_tokens", "_values")

    def __init__(self, **values: str) -> None:
        for name, value in values.items():
            if not isinstance(value, str):
                raise TypeError(f"call_labels({name}=...) takes a string, not {type(value).__name__}: {value!r}")
        self._values = values
        self._tokens: list[Token[Mapping[str, str]]] = []

    def __enter__(self) -> Mapping[str, str]:
        merged = {**_CURRENT.get(), **self._values}
        labels = MappingProxyType({name: value for name, value in merged.items() if value})
        self._tokens.append(_CURRENT.set(labels))
        return labels

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        _CURRENT.reset(self._tokens.pop())


def current_call_labels() -> Mapping[str, str]:
    """The labels ``call_labels()`` set in the current context (read-only; empty when none)."""
    return _CURRENT.get()


def check_label_names(names: object, label_values: object = DEFAULT_LABEL_VALUES) -> tuple[str, ...]:
    """``names`` as a tuple, or ``ConfigurationError`` saying what is wrong with them or the cap."""
    if isinstance(names, str) or not isinstance(names, Iterable):
        raise ConfigurationError(f"labels must be a tuple of label names, not {names!r}")
    found = tuple(names)
    for name in found:
        if not isinstance(name, str) or not _NAME.fullmatch(name) or name.startswith("__"):
            raise ConfigurationError(
                f"label name {name!r} is not a Prometheus label name ([A-Za-z_][A-Za-z0-9_]*, no leading __)"
            )
        if name in _RESERVED:
            raise ConfigurationError(f"label name {name!r} is taken (a metric label, target label or log field)")
    if len(set(found)) != len(found):
        raise ConfigurationError(f"labels {found} name a label twice")
    if isinstance(label_values, bool) or not isinstance(label_values, int) or label_values < 1:
        raise ConfigurationError(f"label_values must be a whole number of at least 1, not {label_values!r}")
    return found


class Attribution:
    """The labels of one schema (names and cap): each call's values, allow-listed and bounded.

    One per Prometheus registry (shared by every config on it, so the cap bounds its series), or
    per config when metrics are off. Resolving is a few dict and set lookups, once per request.
    """

    __slots__ = ("_unset", "_vocabularies", "cap", "names")

    def __init__(self, names: tuple[str, ...], cap: int) -> None:
        self.names = names
        self.cap = cap
        # "" (unset) and _OTHER are always allowed and use none of the cap.
        self._vocabularies = tuple((name, Vocabulary(("", OTHER), extra=cap, pattern=_VALUE)) for name in names)
        self._unset: LabelValues = tuple((name, "") for name in names)

    def resolve(self, raw: Mapping[str, str]) -> LabelValues:
        if not raw:
            return self._unset
        return tuple([(name, words(raw.get(name) or "")) for name, words in self._vocabularies])


def _describe(labels: tuple[str, ...], cap: int) -> str:
    return f"labels={labels!r}, label_values={cap}" if labels else "no labels"


def check_schema(registered: Attribution | None, labels: tuple[str, ...], cap: int) -> None:
    """``ConfigurationError`` unless a config with ``labels`` and ``cap`` can use families
    registered for ``registered``: a family's label names are fixed once it is registered."""
    have = (registered.names, registered.cap) if registered is not None else ((), 0)
    if have == ((labels, cap) if labels else ((), 0)):
        return
    raise ConfigurationError(
        "the axio_anthropic_* families on this Prometheus registry were registered for a TelemetryConfig "
        f"with {_describe(*have)}, and this TelemetryConfig has {_describe(labels, cap)}: give every "
        "TelemetryConfig on one registry the same labels and label_values, or this one a registry of its own"
    )
