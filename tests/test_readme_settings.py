"""The README's settings tables list every setting the constructors take, and only those: the
Configuration table AnthropicTransport's, and each cloud's section the settings its transport adds
or gives another default (the ones it shares unchanged are in the Configuration table)."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from axio_transport_anthropic import AnthropicTransport, BedrockTransport, VertexAITransport

README = Path(__file__).resolve().parent.parent / "README.md"
#: The header row that starts a settings table (other tables in a section are not settings).
SETTINGS_HEADER = "| field | default | meaning |"


def section(title: str) -> str:
    return README.read_text(encoding="utf-8").split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


def settings_table(text: str) -> set[str]:
    """The names in the first column of the section's settings table."""
    assert SETTINGS_HEADER in text, f"no settings table ({SETTINGS_HEADER}) in the section"
    listed: set[str] = set()
    for line in text.split(SETTINGS_HEADER, 1)[1].splitlines()[2:]:
        if not line.startswith("|"):
            break
        listed.update(re.findall(r"`([a-z_]+)`", line.split("|")[1]))
    return listed


def configuration_table() -> set[str]:
    return settings_table(section("Configuration"))


def init_fields(cls: type[AnthropicTransport]) -> dict[str, dataclasses.Field[object]]:
    return {f.name: f for f in dataclasses.fields(cls) if f.init}


def own_settings(cls: type[AnthropicTransport]) -> set[str]:
    """The settings ``cls`` adds to AnthropicTransport's, or declares again with its own default."""
    base = init_fields(AnthropicTransport)
    return {
        name
        for name, f in init_fields(cls).items()
        if name not in base or (f.default, f.default_factory) != (base[name].default, base[name].default_factory)
    }


def test_the_configuration_table_lists_every_constructor_field() -> None:
    fields = set(init_fields(AnthropicTransport))
    listed = configuration_table()
    assert not fields - listed, f"README.md's configuration table has no row for {sorted(fields - listed)}"
    assert not listed - fields, f"README.md's configuration table lists {sorted(listed - fields)}, no such setting"


@pytest.mark.parametrize(
    ("cls", "title"),
    [(VertexAITransport, "Claude on Vertex AI"), (BedrockTransport, "Claude on Amazon Bedrock")],
)
def test_each_cloud_section_lists_the_settings_its_transport_adds(cls: type[AnthropicTransport], title: str) -> None:
    own = own_settings(cls)
    assert own, f"{cls.__name__} declares no setting of its own: the comparison is broken"
    listed = settings_table(section(title))
    assert not own - listed, f"README.md's {title!r} settings table has no row for {sorted(own - listed)}"
    unknown = listed - set(init_fields(cls))
    assert not unknown, f"README.md's {title!r} settings table lists {sorted(unknown)}, not a {cls.__name__} setting"
