"""`backprop generate`'s output folder: every file's name and text, computed purely.

`build_bundle` returns {relative file name: text}; the CLI writes them (atomically,
never over an existing file without --force). Names per variant `v01`:

    v01.yaml  v01.key.yaml  v01.questions.md  v01.solution.md   (.tex with --format latex)
    exam.md|tex (one variant a page)  exam-solutions.md|tex  variants.csv

The same template, seed and options give byte-identical texts: nothing here reads the
clock, the environment or the file system.
"""
from __future__ import annotations

import csv
import io
import os
import tempfile
from pathlib import Path

from ..errors import BackpropError
from .answers import key_text, questions
from .sheets import (
    exam_latex, exam_markdown, question_latex, question_latex_body, question_markdown, solution_latex_body,
    solution_latex_from_body, solution_markdown,
)

FORMATS = ("markdown", "latex")


def title_of(variant) -> str:
    return getattr(variant.spec, "name", "") or "backprop exercise"


def build_bundle(template, variants, *, format: str = "markdown", lang: str = "en") -> dict[str, str]:
    if format not in FORMATS:
        raise BackpropError(f"unknown format {format!r}: choose markdown or latex")
    ext = "md" if format == "markdown" else "tex"
    files: dict[str, str] = {}
    pages, solutions = [], []
    rows = []
    d = template.decimals
    for v in variants:
        qs = questions(template, v)
        title = title_of(v)
        files[f"{v.id}.yaml"] = v.spec_text
        files[f"{v.id}.key.yaml"] = key_text(v, qs, d, title)
        if format == "markdown":
            q = question_markdown(title, v, qs, d, lang)
            s = solution_markdown(title, v, qs, d, lang)
            pages.append(q)
            solutions.append(s)
        else:
            q = question_latex(title, v, qs, d, lang)
            body = solution_latex_body(title, v, qs, d, lang)
            s = solution_latex_from_body(body, lang)
            pages.append(question_latex_body(title, v, qs, d, lang))
            solutions.append(body)
        files[f"{v.id}.questions.{ext}"] = q
        files[f"{v.id}.solution.{ext}"] = s
        rows.append([v.id, str(v.seed), f"{v.id}.yaml", f"{v.id}.key.yaml", f"{v.id}.questions.{ext}",
                     f"{v.id}.solution.{ext}", *(literal for _, literal in v.drawn)])
    if format == "markdown":
        files["exam.md"] = exam_markdown(pages)
        files["exam-solutions.md"] = exam_markdown(solutions)
    else:
        files["exam.tex"] = exam_latex(pages, lang)
        files["exam-solutions.tex"] = exam_latex(solutions, lang)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["id", "seed", "spec", "key", "questions", "solution", *(g.path for g in template.generators)])
    writer.writerows(rows)
    files["variants.csv"] = buffer.getvalue()
    return files


def write_files(folder: Path, files: dict[str, str], *, force: bool = False, protect=()) -> None:
    """Write every file atomically (a temporary file renamed into place). Without
    `force`, an existing file is never replaced; `protect` (the template itself) never is."""
    protected = {Path(p).resolve() for p in protect}
    targets = {name: folder / name for name in files}
    for name, path in targets.items():
        if path.resolve() in protected:
            raise BackpropError(f"{path}: refusing to write over the input")
        if path.exists() and not force:
            raise BackpropError(f"{path} already exists (use --force to overwrite, or another --out)")
    for path in sorted({path.parent for path in targets.values()}):
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise BackpropError(f"{path}: cannot create the folder ({exc.strerror or exc})") from None
    for name, text in files.items():
        write_atomic(targets[name], text)


def write_atomic(path: Path, text: str, data: bytes | None = None) -> None:
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent or ".")
        with os.fdopen(fd, "wb") as fh:
            fh.write(data if data is not None else text.encode("utf-8"))
        os.replace(tmp, path)
    except OSError as exc:
        raise BackpropError(f"{path}: cannot write ({exc.strerror or exc})") from None
