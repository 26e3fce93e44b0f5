"""Content blocks of a Messages API stream: ``content_block_start/delta/stop`` to axio events.

Keeps, per block index, which tool call it is, a call's input that arrived whole in its opening
block, and the blocks the API ran itself (server tools, MCP) until they close and can go back whole.
"""

from __future__ import annotations

import json
import logging
from typing import Any, Final, Literal

from axio.events import (
    BlockEnd,
    Citation,
    ProviderEvent,
    ProviderOutput,
    ReasoningDelta,
    ReasoningSignature,
    StreamEvent,
    TextDelta,
    ToolInputDelta,
    ToolUseStart,
)

__all__ = ["PROVIDER", "ContentBlockReader"]

#: The warnings keep the logger name they had when this lived in the decoder module.
logger = logging.getLogger("axio_transport_anthropic.decoder")

#: The ``provider`` named by every provider-specific event this package emits.
PROVIDER: Final = "anthropic"

_UNITS: Final[dict[str, Literal["char", "byte", "page", "block", "unknown"]]] = {
    "char_location": "char",
    "page_location": "page",
    "content_block_location": "block",
    "search_result_location": "block",
    "web_search_result_location": "char",
}


class ContentBlockReader:
    """The content-block half of ``MessageStreamDecoder``, which subclasses it.

    A base class rather than a member object: the decoder's fast lanes read ``_tool_ids`` and
    ``_tool_start_input`` straight off ``self``, and its handler table holds these methods as plain
    functions on the class (never bound methods on an instance, which would make a reference cycle).
    """

    def __init__(self) -> None:
        self._tool_ids: dict[int, str] = {}
        self._tool_start_input: dict[int, dict[str, Any]] = {}
        self._hosted: dict[int, dict[str, Any]] = {}
        self._hosted_json: dict[int, list[str]] = {}

    def _block_start(self, payload: dict[str, Any], out: list[StreamEvent]) -> None:
        index = payload.get("index", 0)
        block = payload.get("content_block") or {}
        match block.get("type"):
            case "text":
                if text := block.get("text"):
                    out.append(TextDelta(index, text))
            case "thinking":
                if text := block.get("thinking"):
                    out.append(ReasoningDelta(index, text))
                if signature := block.get("signature"):
                    out.append(ReasoningSignature(index, signature, provider=PROVIDER))
            case "redacted_thinking":
                out.append(ReasoningSignature(index, block.get("data", ""), redacted=True, provider=PROVIDER))
            case "tool_use":
                self._tool_ids[index] = tool_id = block.get("id", "")
                if start := block.get("input"):
                    self._tool_start_input[index] = start
                out.append(ToolUseStart(index, tool_id, block.get("name", "")))
            case kind:
                # Every other block type is one the API ran itself (server tools, MCP).
                self._hosted[index] = block
                out.append(ProviderEvent(PROVIDER, kind or "content_block_start", block, index))

    def _block_delta(self, payload: dict[str, Any], out: list[StreamEvent]) -> None:
        index = payload.get("index", 0)
        delta = payload.get("delta") or {}
        match delta.get("type"):
            case "text_delta":
                if text := delta.get("text"):
                    out.append(TextDelta(index, text))
            case "thinking_delta":
                if text := delta.get("thinking"):
                    out.append(ReasoningDelta(index, text))
            case "signature_delta":
                out.append(ReasoningSignature(index, delta.get("signature", ""), provider=PROVIDER))
            case "input_json_delta":
                part = delta.get("partial_json", "")
                if index in self._hosted:
                    self._hosted_json.setdefault(index, []).append(part)
                elif part:
                    self._tool_start_input.pop(index, None)
                    out.append(ToolInputDelta(index, self._tool_ids.get(index, ""), part))
            case "citations_delta":
                out.append(_citation(index, delta.get("citation") or {}))
            case _:
                out.append(ProviderEvent(PROVIDER, "content_block_delta", payload, index))

    def _block_stop(self, payload: dict[str, Any], out: list[StreamEvent]) -> None:
        index = payload.get("index", 0)
        if (start := self._tool_start_input.pop(index, None)) is not None:
            # The call arrived whole in its opening block (no deltas): pass its input on as one.
            out.append(ToolInputDelta(index, self._tool_ids.get(index, ""), json.dumps(start)))
        if (hosted := self._hosted.pop(index, None)) is not None:
            item = self._hosted_item(index, hosted)
            if item is not None:
                item_id = item.get("id")
                out.append(
                    ProviderOutput(PROVIDER, item.get("type", ""), item, index, item_id if type(item_id) is str else "")
                )
        out.append(BlockEnd(index))

    def _hosted_item(self, index: int, start: dict[str, Any]) -> dict[str, Any] | None:
        """A block the API ran itself, whole, as it must go back on the next request."""
        item = dict(start)
        parts = self._hosted_json.pop(index, None)
        if parts is None:
            return item
        raw = "".join(parts)
        try:
            item["input"] = json.loads(raw) if raw else {}
        except ValueError:
            # Truncated arguments: replaying a call the model never finished is refused.
            logger.warning("Dropping a %s block whose input did not parse (%d chars)", item.get("type"), len(raw))
            return None
        return item


def _citation(index: int, raw: dict[str, Any]) -> Citation:
    source = raw.get("document_index")
    return Citation(
        index=index,
        cited_text=raw.get("cited_text") or "",
        title=raw.get("title") or raw.get("document_title"),
        url=raw.get("url"),
        source_id=str(source) if source is not None else None,
        start=raw.get("start_char_index", raw.get("start_page_number", raw.get("start_block_index"))),
        end=raw.get("end_char_index", raw.get("end_page_number", raw.get("end_block_index"))),
        unit=_UNITS.get(raw.get("type", ""), "unknown"),
        raw=raw,
    )
