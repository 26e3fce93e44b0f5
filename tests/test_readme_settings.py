"""The README's configuration table lists every setting the constructor takes, and only those."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from axio_transport_anthropic import AnthropicTransport

README = Path(__file__).resolve().parent.parent / "README.md"


def configuration_table() -> set[str]:
    section = README.read_text(encoding="utf-8").split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    listed: set[str] = set()
    for line in section.splitlines():
        cells = line.split("|")
        if line.startswith("| `") and len(cells) > 2:
            listed.update(re.findall(r"`([a-z_]+)`", cells[1]))
    return listed


def test_the_configuration_table_lists_every_constructor_field() -> None:
    fields = {f.name for f in dataclasses.fields(AnthropicTransport) if f.init}
    listed = configuration_table()
    assert not fields - listed, f"README.md's configuration table has no row for {sorted(fields - listed)}"
    assert not listed - fields, f"README.md's configuration table lists {sorted(listed - fields)}, no such setting"
