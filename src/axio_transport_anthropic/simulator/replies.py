"""Scripted replies: what the simulated model says, block by block."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

__all__ = ["Block", "Reply", "TextBlock", "ThinkingBlock", "ToolUseBlock", "estimate_tokens"]

#: The real tokenizer averages roughly four characters per token on English text.
_CHARS_PER_TOKEN = 4


def estimate_tokens(text: str) -> int:
    return max(1, len(text) // _CHARS_PER_TOKEN)


@dataclass(frozen=True, slots=True)
class TextBlock:
    text: str


@dataclass(frozen=True, slots=True)
class ThinkingBlock:
    thinking: str
    #: None lets the simulator derive a deterministic base64 signature from the text.
    signature: str | None = None


@dataclass(frozen=True, slots=True)
class ToolUseBlock:
    name: str
    input: Mapping[str, Any] = field(default_factory=dict)
    #: None lets the simulator assign a `toolu_sim_...` id.
    id: str | None = None

    @property
    def input_json(self) -> str:
        return json.dumps(self.input, ensure_ascii=False)


Block = TextBlock | ThinkingBlock | ToolUseBlock


def _block_text(block: Block) -> str:
    match block:
        case TextBlock(text=text):
            return text
        case ThinkingBlock(thinking=thinking):
            return thinking
        case ToolUseBlock():
            return block.name + block.input_json


@dataclass(frozen=True, slots=True)
class Reply:
    """One assistant message: content blocks plus the stop reason the API reports."""

    blocks: Sequence[Block]
    stop_reason: str = "end_turn"

    @classmethod
    def text(cls, text: str, stop_reason: str = "end_turn") -> Reply:
        return cls((TextBlock(text),), stop_reason)

    @classmethod
    def tool_use(cls, name: str, input: Mapping[str, Any], *, text: str | None = None, id: str | None = None) -> Reply:
        call = ToolUseBlock(name, dict(input), id)
        blocks: tuple[Block, ...] = (TextBlock(text), call) if text else (call,)
        return cls(blocks, "tool_use")

    @classmethod
    def thinking(cls, thinking_text: str, then_text: str, *, signature: str | None = None) -> Reply:
        return cls((ThinkingBlock(thinking_text, signature), TextBlock(then_text)), "end_turn")

    def output_tokens(self) -> int:
        return max(1, sum(estimate_tokens(_block_text(block)) for block in self.blocks))

    def within(self, max_tokens: int) -> Reply:
        """This reply cut to `max_tokens`, as the API cuts generation, with stop_reason `max_tokens`."""
        if self.output_tokens() <= max_tokens:
            return self
        budget = max_tokens * _CHARS_PER_TOKEN
        kept: list[Block] = []
        for block in self.blocks:
            size = len(_block_text(block))
            if size <= budget:
                kept.append(block)
                budget -= size
                continue
            # A half-written tool call cannot be parsed, so it is dropped rather than cut.
            if isinstance(block, TextBlock) and budget > 0:
                kept.append(TextBlock(block.text[:budget]))
            elif isinstance(block, ThinkingBlock) and budget > 0:
                kept.append(replace(block, thinking=block.thinking[:budget]))
            break
        if not kept:
            kept.append(TextBlock(""))
        return Reply(tuple(kept), "max_tokens")
