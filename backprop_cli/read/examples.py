"""The shipped example specs (configs/), found both in a checkout and in an installed wheel."""
from __future__ import annotations

from pathlib import Path

from ..frozen import frozen


@frozen
class Example:
    name: str
    path: Path
    description: str


def examples_dir() -> Path:
    """configs/ beside the package in a checkout, or the package data of a wheel."""
    try:
        from importlib.resources import files

        packaged = Path(str(files("backprop_cli.configs")))
        if packaged.is_dir() and any(packaged.glob("*.yaml")):
            return packaged
    except (ModuleNotFoundError, TypeError):
        pass
    return Path(__file__).resolve().parent.parent / "configs"


def is_key_file(path: Path) -> bool:
    """`*.key.yaml` and `*.key.*.yaml` are answer keys, never specs (SPEC §7)."""
    parts = path.name.split(".")
    return "key" in parts[1:-1]


def _description(path: Path) -> str:
    """The first comment line of the file: every shipped example starts with one."""
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            line = line.strip()
            if line.startswith("#"):
                return line.lstrip("#").strip()
            if line:
                break
    return ""


def list_examples() -> list[Example]:
    folder = examples_dir()
    return [
        Example(p.stem, p, _description(p))
        for p in sorted(folder.glob("*.yaml"))
        if not is_key_file(p)
    ]


def find_example(name: str) -> Example | None:
    for example in list_examples():
        if example.name == name:
            return example
    return None
