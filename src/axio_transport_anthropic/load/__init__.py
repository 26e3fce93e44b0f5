"""``axio-anthropic load``: concurrent axio agents against the simulator or an API, with a summary.

From Python: ``summary = await run_load(LoadConfig(requests=50, concurrency=8))``.
"""

from .config import LoadConfig, LoadError
from .quantile import histogram_quantile
from .run import run_load
from .summary import Latency, RunCounts, Summary

__all__ = ["Latency", "LoadConfig", "LoadError", "RunCounts", "Summary", "histogram_quantile", "run_load"]
