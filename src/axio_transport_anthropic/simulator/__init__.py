"""An Anthropic-compatible Messages API server for tests, demos, load and benchmarks."""

from .faults import FAULT_KINDS, Fault, FaultProfile
from .replies import Block, Reply, TextBlock, ThinkingBlock, ToolUseBlock
from .server import RecordedRequest, Simulator

__all__ = [
    "FAULT_KINDS",
    "Block",
    "Fault",
    "FaultProfile",
    "RecordedRequest",
    "Reply",
    "Simulator",
    "TextBlock",
    "ThinkingBlock",
    "ToolUseBlock",
]
