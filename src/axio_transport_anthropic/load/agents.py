"""The agent each load worker drives: one tool, one question that needs it.

Against the simulator the first declared tool is called and the answer follows, so every run is
a two-turn tool loop; against the real API the question is worded so the model calls it too.
"""

from __future__ import annotations

from contextlib import aclosing
from typing import Final

from axio import Agent
from axio.context import MemoryContextStore
from axio.events import Error, SessionEndEvent
from axio.tool import Tool
from axio.types import StopReason

from ..transport import AnthropicTransport

__all__ = ["QUESTION", "SYSTEM", "make_agent", "run_agent"]

SYSTEM: Final = "You are a terse inventory assistant. Always use the stock_level tool for stock questions."
QUESTION: Final = "How many units of the item 'widget' are in stock? Use the stock_level tool, then answer briefly."
#: A tool loop needs two turns; the slack covers a model that calls the tool twice.
_MAX_ITERATIONS: Final = 4


async def stock_level(item: str) -> str:
    """Units of an item in stock."""
    return f"{item}: {sum(map(ord, item)) % 97} units in stock"


def make_agent(transport: AnthropicTransport) -> Agent:
    """One agent per worker: an agent keeps per-run state, so concurrent runs get their own."""
    return Agent(
        system=SYSTEM,
        transport=transport,
        tools=[Tool(name="stock_level", handler=stock_level)],
        max_iterations=_MAX_ITERATIONS,
    )


async def run_agent(agent: Agent, question: str = QUESTION) -> bool:
    """One agent run on a fresh conversation; ``True`` when it ended with an answer."""
    ok = True
    async with aclosing(agent.run_stream(question, MemoryContextStore())) as events:
        async for event in events:
            ended_badly = isinstance(event, SessionEndEvent) and event.stop_reason != StopReason.end_turn
            if isinstance(event, Error) or ended_badly:
                ok = False
    return ok
