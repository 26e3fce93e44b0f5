"""The scratch venvs of the clients that are not this project: the published 0.12.2 and the SDK."""

from __future__ import annotations

import platform
import shutil
import subprocess
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from compare_plan import PUBLISHED_VERSION, SDK_VERSION

__all__ = ["Venv", "python_for", "venvs"]


@dataclass(frozen=True, slots=True)
class Venv:
    path: Path
    requirements: tuple[str, ...]

    @property
    def python(self) -> Path:
        return self.path / "bin" / "python"

    @property
    def stamp(self) -> Path:
        return self.path / ".bench-requirements"

    def ready(self) -> bool:
        return self.python.exists() and self.stamp.exists() and self.stamp.read_text() == "\n".join(self.requirements)

    def create(self) -> None:
        base = Path(sys.base_prefix) / "bin" / "python3"
        print(f"setup: {self.path} <- {' '.join(self.requirements)} (Python {platform.python_version()})", flush=True)
        if self.path.exists():
            shutil.rmtree(self.path)
        subprocess.run([str(base), "-m", "venv", str(self.path)], check=True)
        pip = [str(self.python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        subprocess.run([*pip, *self.requirements], check=True)
        self.stamp.write_text("\n".join(self.requirements))


def venvs(root: Path) -> dict[str, Venv]:
    """Same aiohttp (and axio) as the project's venv, so the comparison is of the clients alone."""
    aiohttp, axio = metadata.version("aiohttp"), metadata.version("axio")
    published = Venv(
        root / "bench-published",
        (f"axio-transport-anthropic=={PUBLISHED_VERSION}", f"aiohttp=={aiohttp}", f"axio=={axio}"),
    )
    return {"published": published, "sdk": Venv(root / "bench-sdk", (f"anthropic=={SDK_VERSION}",))}


def python_for(client: str, envs: dict[str, Venv]) -> Path:
    if client == "published":
        return envs["published"].python
    if client.startswith("sdk-"):
        return envs["sdk"].python
    return Path(sys.executable)
