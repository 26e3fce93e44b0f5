"""Save the screenshot of the settings screen inside axio-tui that the README shows.

    .venv/bin/python tests/scripts/axio_tui_screenshot.py docs/img/axio-tui-anthropic-settings.svg

The real app in a home of its own (axio-tui keeps its database under the home, a path it fixes at
import), with a key and a gateway's base URL saved, opened with Ctrl+P → "Configure Anthropic".
The key is not a real one, and the screen shows it masked anyway.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from pathlib import Path

_HOME = Path(tempfile.mkdtemp(prefix="axio-tui-screenshot-"))
os.environ["HOME"] = str(_HOME)
os.environ["XDG_CONFIG_HOME"] = str(_HOME / ".config")
for _name in ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_BASE_URL"):
    os.environ.pop(_name, None)

import axio_tui.app  # type: ignore[import-untyped]  # noqa: E402  # axio-tui ships no py.typed
from axio_tui.app import AgentApp  # noqa: E402
from axio_tui.options import StartupOptions  # type: ignore[import-untyped]  # noqa: E402
from axio_tui.paths import ConfigPaths  # type: ignore[import-untyped]  # noqa: E402
from axio_tui.sqlite_config import GLOBAL_PROJECT, ProjectConfig  # type: ignore[import-untyped]  # noqa: E402

SAVED = {
    "api_key": "sk-ant-api03-not-a-real-key-0123456789",
    "base_url": "https://llm-gateway.internal/anthropic/v1",
    "max_retries": "4",
    "first_byte_timeout": "60",
}


async def main(out: Path) -> None:
    axio_tui.app.DB_PATH = _HOME / "axio.db"
    config = ProjectConfig(_HOME / "axio.db", project=GLOBAL_PROJECT)
    for key, value in SAVED.items():
        await config.set(f"transport.anthropic.{key}", value)
    await config.close()
    app = AgentApp(paths=ConfigPaths.discover(_HOME, _HOME), options=StartupOptions(isolated=True))
    async with app.run_test(size=(104, 32)) as pilot:
        async with asyncio.timeout(20):
            await app.ready.wait()
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"Configure Anthropic")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await pilot.pause(0.5)
        await pilot.click("#idle-timeout")
        await pilot.press(*"90")
        await pilot.pause(0.5)
        app.save_screenshot(filename=out.name, path=str(out.parent))


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/img/axio-tui-anthropic-settings.svg")))
