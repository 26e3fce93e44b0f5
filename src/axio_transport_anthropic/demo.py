"""The demo ``make demo`` runs: an axio agent with a tool, streaming to the terminal.

Against the built-in simulator by default; against the real API when ``ANTHROPIC_API_KEY`` is set.
"""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import TextIO

from axio import Agent
from axio.context import MemoryContextStore
from axio.events import Error, SessionEndEvent, TextDelta, ToolResult, ToolUseStart
from axio.tool import Tool

from .simulator import Simulator
from .transport import AnthropicTransport

QUESTION = "What time is it in UTC right now, and what is 17 * 23? Use the tools."


async def utc_now() -> str:
    """The current date and time in UTC, ISO 8601."""
    return datetime.now(UTC).isoformat(timespec="seconds")


async def multiply(a: int, b: int) -> str:
    """Multiply two integers."""
    return str(a * b)


@asynccontextmanager
async def _endpoint(real: bool) -> AsyncIterator[tuple[str | None, str]]:
    if real:
        yield None, "the Anthropic API"
        return
    async with Simulator() as sim:
        yield sim.base_url, f"the built-in simulator at {sim.base_url}"


async def run_demo(question: str = QUESTION, *, out: TextIO = sys.stdout) -> int:
    """Run one agent session; returns a process exit code."""
    real = bool(os.environ.get("ANTHROPIC_API_KEY"))
    async with _endpoint(real) as (base_url, where):
        overrides = {"base_url": base_url, "api_key": "sk-simulator"} if base_url else {}
        async with AnthropicTransport(max_retries=3, retry_base_delay=0.5, **overrides) as transport:  # type: ignore[arg-type]
            agent = Agent(
                system="You are a concise assistant. Use the tools when they help.",
                transport=transport,
                tools=[Tool(name="utc_now", handler=utc_now), Tool(name="multiply", handler=multiply)],
                max_iterations=6,
            )
            print(f"axio agent on {transport.model.id} via {where}", file=out)
            print(f"> {question}\n", file=out)
            code = 0
            async for event in agent.run_stream(question, MemoryContextStore()):
                match event:
                    case TextDelta(delta=delta):
                        out.write(delta)
                        out.flush()
                    case ToolUseStart(name=name):
                        print(f"\n[calling {name}]", file=out)
                    case ToolResult(name=name, content=content, is_error=is_error):
                        print(f"[{name} -> {'error: ' if is_error else ''}{content}]", file=out)
                    case Error(exception=exc):
                        print(f"\nerror: {exc}", file=out)
                        code = 1
                    case SessionEndEvent(stop_reason=reason, total_usage=usage):
                        print(
                            f"\n\n[done: {reason}; {usage.input_tokens} input tokens "
                            f"({usage.cache_read_tokens} cached), {usage.output_tokens} output]",
                            file=out,
                        )
            return code
