"""One worker process of tests/test_multiprocess.py: N stream() calls against a simulator it is given.

Run with PROMETHEUS_MULTIPROC_DIR set, so its metrics go to that directory's files:
``python multiprocess_worker.py BASE_URL REQUESTS OUT_JSON``. Writes what it saw to OUT_JSON.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import aiohttp
from axio.blocks import TextBlock
from axio.events import IterationEnd
from axio.messages import Message
from opentelemetry.sdk.trace import TracerProvider

from axio_transport_anthropic import AnthropicTransport
from axio_transport_anthropic.telemetry import TelemetryConfig


async def main(base_url: str, requests: int) -> dict[str, int]:
    # The default registry, as a multiprocess app would use; the values go to the mmap files anyway.
    telemetry = TelemetryConfig(traces=False, logs=False)
    tracer = TracerProvider().get_tracer("worker")
    ok = output = 0
    async with aiohttp.ClientSession() as session:
        transport = AnthropicTransport(
            api_key="k",
            base_url=base_url,
            session=session,
            retry_base_delay=0.001,
            retry_max_delay=0.01,
            telemetry=telemetry,
        )
        for i in range(requests):
            messages = [Message(role="user", content=[TextBlock(text=f"question {i} from {os.getpid()}")])]
            # Inside a sampled span: exemplars must be skipped in multiprocess mode, not fail.
            with tracer.start_as_current_span("turn"):
                async for event in transport.stream(messages, [], ""):
                    if isinstance(event, IterationEnd):
                        ok += 1
                        output += event.usage.output_tokens
    return {"pid": os.getpid(), "ok": ok, "output_tokens": output}


if __name__ == "__main__":
    result = asyncio.run(main(sys.argv[1], int(sys.argv[2])))
    Path(sys.argv[3]).write_text(json.dumps(result))
