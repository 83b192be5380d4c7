"""The user documentation stands on its own: no links out of the repository, links that
resolve, no research-note jargon ("seed 000"), the README's test command the one CI runs,
every example file the README names shipped, every shipped example described."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from backprop_cli.read.examples import list_examples

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)#\s]*[./][^)#\s]*)(?:#[^)]*)?\)")  # a path or URL, not m[W₅](s)


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_links_stay_in_the_repository_and_resolve(doc):
    text = doc.read_text(encoding="utf-8")
    assert "../shared" not in text and "SPEC.md" not in text
    for target in LINK.findall(text):
        if target.startswith(("http://", "https://")):
            continue
        assert not target.startswith(".."), target
        assert (doc.parent / target).exists(), (doc.name, target)


@pytest.mark.parametrize("doc", DOCS + sorted((ROOT / "configs").glob("*.yaml")), ids=lambda p: p.name)
def test_no_research_note_jargon(doc):
    text = doc.read_text(encoding="utf-8")
    # a research-note id ("seed 000", "seed0", "the seeds") is jargon; a random seed
    # (`generate --seed S`, variants.csv's seed column) is a word users need
    assert not re.search(r"\bseed\s*0\d\d|seed0|\bthe seeds?\b(?! column)|\bseed \d{3}\b", text, re.I), doc.name


def test_readme_test_command_is_the_one_ci_runs():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    command = 'pip install -e ".[test]" && python -m pytest'
    assert command in readme and command in ci


def test_readme_names_only_shipped_examples():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for path in set(re.findall(r"configs/[\w.]+\.yaml", readme)):
        assert (ROOT / path).exists(), path
    shipped = {e.name for e in list_examples()}
    for name in shipped:
        assert f"`{name}`" in readme, name  # the examples table credits each one
    for example in list_examples():
        assert example.description and "seed" not in example.description.lower()
