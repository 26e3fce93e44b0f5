"""The load test is not part of the default run: it is collected only when named on the command
line (``pytest tests/load``), e.g. by ``make load-test``; ``pytest`` or ``pytest tests`` skip it."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).parent.resolve()


def _named(config: pytest.Config) -> bool:
    for arg in config.args:
        path = Path(config.invocation_params.dir, arg.split("::", 1)[0]).resolve()
        if path == HERE or HERE in path.parents:
            return True
    return False


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    if collection_path.suffix == ".py" and collection_path.name.startswith("test_") and not _named(config):
        return True
    return None


class CountedLogs(logging.Filter):
    """Counts the transport's log records by event name and drops them."""

    def __init__(self) -> None:
        super().__init__()
        self.counts: Counter[str] = Counter()

    def filter(self, record: logging.LogRecord) -> bool:
        self.counts[record.getMessage().split(" ", 1)[0]] += 1
        return False


@pytest.fixture(autouse=True)
def counted_logs() -> Iterator[CountedLogs]:
    """The transport's logs still go through its whole pipeline, but no handler keeps them: pytest's
    capture (which keeps every record for the report, and attaches to this logger too) would make
    thousands of them part of the heap under test. At INFO, as an operator would run: every
    request's end line is produced."""
    logger = logging.getLogger("axio_transport_anthropic")
    counted = CountedLogs()
    level = logger.level
    logger.addFilter(counted)
    logger.setLevel(logging.INFO)
    try:
        yield counted
    finally:
        logger.removeFilter(counted)
        logger.setLevel(level)
