"""The exceptions the library raises for bad input and impossible numbers.

The CLI catches `BackpropError` at its edge and prints `str(error)` — one message
naming the file, line, column, field path, what was expected and what was found —
then exits with `error.exit_code` (2). Nothing below the CLI prints or exits.
"""
from __future__ import annotations

import os

from .safe_text import LIMIT, clip, clip_message, visible


class BackpropError(Exception):
    """Base of every error a user can cause; exit code 2 (SPEC §7)."""

    exit_code = 2


class SpecError(BackpropError):
    """A problem in an input file, located as precisely as the YAML allows."""

    def __init__(
        self,
        message: str = "",
        *,
        file: str | None = None,
        line: int | None = None,
        column: int | None = None,
        path: str | None = None,
        expected: str | None = None,
        found: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.message = message
        self.file = file
        self.line = line
        self.column = column
        self.path = path
        self.expected = expected
        self.found = found
        self.hint = hint
        super().__init__(str(self))

    def located(self, **where) -> "SpecError":
        """A copy with missing location fields filled in (callers higher up know the file)."""
        fields = dict(
            file=self.file, line=self.line, column=self.column, path=self.path,
            expected=self.expected, found=self.found, hint=self.hint,
        )
        for key, value in where.items():
            if fields.get(key) is None:
                fields[key] = value
        return type(self)(self.message, **fields)

    def __str__(self) -> str:
        return printable(self._text())

    def _text(self) -> str:
        place = self.file or "<input>"
        if self.line is not None:
            place += f":{self.line}"
            if self.column is not None:
                place += f":{self.column}"
        parts = [place]
        if self.path:  # a path holds the user's own keys: cut, like every echo of them
            parts.append(clip(self.path, 2 * LIMIT))
        body = self.message
        if self.expected is not None or self.found is not None:
            said = []
            if self.expected is not None:
                said.append(f"expected {self.expected}")
            if self.found is not None:
                said.append(f"found {self.found}")
            body = f"{body}: {', '.join(said)}" if body else ", ".join(said)
        text = ": ".join(parts) + ": " + body
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text


def printable(text: str) -> str:
    """Text from the input (keys, values, expressions) is quoted in messages: a control
    character in it (a YAML "\\e[2J" escape) must not reach the user's terminal as one,
    and a megabyte field must not flood it (safe_text.clip_message, the backstop under
    every per-fragment `clip`)."""
    return clip_message(text)


def display_path(path) -> str:
    """A file name as messages and reports show it: bytes that are not UTF-8 (which
    Python keeps as lone surrogates) as `\\xff`, control characters — a newline too, which
    would forge a second `error:` line — escaped. Never used to open the file."""
    text = path if isinstance(path, str) else os.fsdecode(path)
    text = text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return visible(text)  # as every other echo of user text: \x1b, \u009b, \n


class KeyFileError(SpecError):
    """A problem in an answer key (SPEC §6): unknown names, wrong shapes, non-numbers."""


class ComputeError(BackpropError):
    """A quantity became NaN or infinite, or a rounded value broke a log or division.

    Raised instead of printing a non-finite number (SPEC §8). The message names the
    quantity and the step or node; `file` (given here or filled in by `located`) puts
    the spec's name in front, as every message to a user must have it."""

    def __init__(self, message: str = "", *, file: str | None = None, line: int | None = None,
                 column: int | None = None) -> None:
        self.message = message
        self.file = file
        self.line = line  # where the quantity is written (a graph node's line and column)
        self.column = column
        super().__init__(str(self))

    def located(self, **where) -> "ComputeError":
        """A copy naming the file (and line, column), unless it already does."""
        file = self.file or where.get("file")
        line = self.line if self.line is not None else where.get("line")
        column = self.column if self.column is not None else where.get("column")
        file = None if self.message.startswith(f"{file}:") else file
        return type(self)(self.message, file=file, line=line, column=column)

    def __str__(self) -> str:
        if not self.file:
            return printable(self.message)
        place = self.file
        if self.line is not None:
            place += f":{self.line}" + (f":{self.column}" if self.column is not None else "")
        return printable(f"{place}: {self.message}")
