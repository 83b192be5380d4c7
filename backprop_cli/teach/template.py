"""Exercise templates: a spec in which numbers may be generators (docs/templates.md).

A template is an ordinary network or graph spec plus a few settings of its own:

    input: [{uniform: [-1, 1], decimals: 1}, 1]
    optimizer: {name: sgd, lr: {choice: [0.1, 0.5, 1]}}
    constraints: ["abs(dL/dW1) >= 0.001", "0.05 < a3 < 0.95"]
    reject: {dead_relu: true, saturated_sigmoid: true, zero_gradient: true}
    ask: [loss, dL/dW5, W5_new]
    points: {loss: 2, default: 1}
    decimals: 4

Reading works on the text: each generator's span is replaced by the number drawn for
it and each template setting is blanked with spaces, so a variant is a plain spec that
the one spec reader validates (never a second one), and its error messages keep the
template's own lines and columns. Nothing here solves.
"""
from __future__ import annotations

import os
import re
from decimal import Decimal
from fractions import Fraction
from typing import Optional

import yaml

from ..errors import SpecError
from ..frozen import frozen, replace
from ..read.numbers import Number, describe, parse_text
from ..read.suggest import suggest
from ..read.yamlsafe import MAX_SIZE, is_plain, load_nodes, where

GENERATORS = ("uniform", "integer", "choice")
GENERATOR_OPTIONS = ("decimals", "exclude")
SETTINGS = ("constraints", "reject", "ask", "points", "decimals", "tolerance")
REJECTIONS = ("dead_relu", "saturated_sigmoid", "zero_gradient")
DEFAULT_DECIMALS = 4  # answers: the decimals a student rounds to (and the key is written with)
DEFAULT_UNIFORM_DECIMALS = 2
MAX_DECIMALS = 10
SATURATED = 0.01  # σ′ below this makes a boring (vanishing) exercise

# Field paths where the spec wants a number: a mapping there must be a generator.
_NUMERIC = re.compile(
    r"(?:input|target)(?:\[\d+\])+|layers\[\d+\]\.(?:weights|bias)(?:\[\d+\])*"
    r"|layers\[\d+\]\.activation\.slope|optimizer\.(?:lr|momentum|weight_decay|eps|betas\[\d+\])"
    r"|lr|steps|graph\.[A-Za-z_][A-Za-z0-9_]*"
)


@frozen
class Generator:
    """One number of the template drawn per variant; `draw` returns its literal text."""

    path: str
    kind: str  # uniform | integer | choice
    line: int
    column: int
    start: int  # text offsets of the generator's mapping
    end: int
    low: int = 0  # uniform: bounds in units of 10**-decimals; integer: the bounds
    high: int = 0
    decimals: int = 0
    choices: tuple[str, ...] = ()
    exclude: frozenset = frozenset()  # Fractions never drawn

    def draw(self, rng) -> str:
        for _ in range(1000):
            if self.kind == "choice":
                text = self.choices[rng.randrange(len(self.choices))]
            else:
                k = rng.randint(self.low, self.high)
                text = str(Decimal(k).scaleb(-self.decimals)) if self.kind == "uniform" else str(k)
            if _fraction(text) not in self.exclude:
                return text
        raise SpecError("every value this generator draws is excluded", line=self.line, column=self.column,
                        path=self.path)  # pragma: no cover - read_generator refuses such pools


@frozen
class Setting:
    """A template setting's text as written, with where it is (for messages)."""

    text: str
    line: int
    column: int
    path: str


@frozen
class Template:
    file: str
    text: str  # the template as written
    kind: str  # network | graph
    generators: tuple[Generator, ...]
    constraints: tuple[Setting, ...]
    reject: tuple[str, ...]  # the built-in rejections that are on
    ask: tuple[Setting, ...]  # canonical names asked (empty: the default set)
    points: tuple[tuple[str, float, Setting], ...]  # (name, points, where) ; name "default" too
    decimals: int
    tolerance: Optional[tuple[float, float]]  # (abs, rel) of answers, None: from `decimals`
    blanked: tuple[tuple[int, int], ...]  # text spans of the template settings

    def instantiate(self, drawn: dict, compact: bool = False) -> str:
        """The spec text of one variant: generators replaced by their drawn literal and
        settings blanked, every other character (so every line and column) kept —
        or, `compact`, each generator replaced by its literal alone (for reading)."""
        edits = [(g.start, g.end, drawn[g.path]) for g in self.generators]
        edits += [(start, end, "") for start, end in self.blanked]
        out, at = [], 0
        for start, end, literal in sorted(edits):
            out.append(self.text[at:start])
            span = self.text[start:end]
            filler = re.sub(r"[^\n]", " ", span)  # newlines stay: lines do not move
            if compact and literal:
                out.append(literal + "\n" * span.count("\n"))
            else:
                out.append(literal + filler[len(literal):] if len(literal) <= len(span.split("\n")[0]) else literal + filler)
            at = end
        out.append(self.text[at:])
        return "".join(out)

    def plain(self, drawn: dict, header: str) -> str:
        """A variant's spec as a teacher reads it: no trailing blanks, no lines left
        empty by the removed settings, a comment line naming the variant first."""
        text = self.instantiate(drawn, compact=True)
        removed = _removed_lines(self.text, self.blanked)
        lines = [line.rstrip() for i, line in enumerate(text.split("\n"), 1) if i not in removed]
        while lines and not lines[-1]:
            lines.pop()
        return f"# {header}\n" + "\n".join(lines) + "\n"


def _removed_lines(text: str, spans) -> set[int]:
    out: set[int] = set()
    for start, end in spans:
        first = text.count("\n", 0, start) + 1
        last = text.count("\n", 0, end) + 1
        line_start = text.rfind("\n", 0, start) + 1
        if text[line_start:start].strip():
            first += 1
        line_end = text.find("\n", end)
        if text[end: len(text) if line_end < 0 else line_end].strip():
            last -= 1
        out.update(range(first, last + 1))
    return out


def _fraction(text: str) -> Fraction:
    return Fraction(text.strip())


# ----------------------------------------------------------------------------------------
# reading


def load_template(path: str | os.PathLike, max_size: int = MAX_SIZE) -> Template:
    """Read a template file: the YAML read safely (yamlsafe), generators and settings found."""
    source, root = load_nodes(path, max_size)
    return read_template(root, source.text, source.file)


def read_template(root: yaml.Node, text: str, file: str) -> Template:
    if not isinstance(root, yaml.MappingNode):
        raise SpecError("a template is a spec mapping", file=file, **where(root),
                        expected="a mapping of spec fields (input, layers, … or graph)", found=describe(root))
    keys = {k.value for k, _ in root.value if isinstance(k, yaml.ScalarNode)}
    kind = "graph" if "graph" in keys else "network"
    settings: dict[str, tuple[yaml.Node, yaml.Node]] = {}
    nested: set[str] = set()  # settings written under a `template:` mapping
    blanked = []
    for k, v in root.value:
        word = k.value if isinstance(k, yaml.ScalarNode) else None
        if word not in SETTINGS + ("template",):
            continue
        if root.flow_style:
            raise SpecError("template settings need a block-style top level", file=file, **where(k),
                            path=word, expected="one `key: value` per line", found="a {…} mapping")
        blanked.append((k.start_mark.index, v.end_mark.index))
        if word != "template":
            settings[word] = (k, v)
            continue
        if not isinstance(v, yaml.MappingNode):
            raise SpecError("bad `template`", file=file, **where(v), path="template",
                            expected="a mapping of template settings (constraints, ask, points, …)", found=describe(v))
        for k2, v2 in v.value:
            inner = k2.value if isinstance(k2, yaml.ScalarNode) else "?"
            if inner not in SETTINGS:
                raise SpecError(f"unknown template setting {inner!r}", file=file, **where(k2),
                                path=f"template.{inner}", expected=", ".join(SETTINGS), hint=suggest(inner, SETTINGS))
            settings[inner] = (k2, v2)
            nested.add(inner)
    generators: list[Generator] = []
    for k, v in root.value:
        if isinstance(k, yaml.ScalarNode) and k.value not in SETTINGS + ("name", "description", "notation", "template"):
            _find_generators(v, k.value, file, generators)

    def read(word: str, reader, *args):
        try:
            value = reader(settings.get(word), *args)
            if word in nested and word in ("constraints", "ask"):
                value = tuple(replace(x, path="template." + x.path) for x in value)
            elif word in nested and word == "points":
                value = tuple((n, v, replace(x, path="template." + x.path)) for n, v, x in value)
            return value
        except SpecError as error:  # `template.points.z9`, not `points.z9`, when nested
            if word in nested and error.path:
                raise SpecError(error.message, file=error.file, line=error.line, column=error.column,
                                path="template." + error.path, expected=error.expected, found=error.found,
                                hint=error.hint) from None
            raise

    return Template(
        file=file, text=text, kind=kind, generators=tuple(generators),
        constraints=read("constraints", _read_texts, "constraints", file, "a list of constraints"),
        reject=read("reject", _read_reject, file),
        ask=read("ask", _read_texts, "ask", file, "a list of canonical names"),
        points=read("points", _read_points, file),
        decimals=read("decimals", _read_decimals, file),
        tolerance=read("tolerance", _read_tolerance, file),
        blanked=tuple(blanked),
    )


def _find_generators(node: yaml.Node, path: str, file: str, out: list) -> None:
    if isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _find_generators(item, f"{path}[{i}]", file, out)
    elif isinstance(node, yaml.MappingNode):
        keys = [k.value for k, _ in node.value if isinstance(k, yaml.ScalarNode)]
        if _NUMERIC.fullmatch(path) or any(k in GENERATORS for k in keys):
            out.append(read_generator(node, path, file))
            return
        for k, v in node.value:
            if isinstance(k, yaml.ScalarNode):
                _find_generators(v, f"{path}.{k.value}", file, out)


def read_generator(node: yaml.MappingNode, path: str, file: str) -> Generator:
    """`{uniform: [lo, hi], decimals: d}`, `{integer: [lo, hi]}`, `{choice: [a, b, …]}`,
    each with an optional `exclude: [values]`."""
    fields: dict[str, tuple[yaml.Node, yaml.Node]] = {}
    for k, v in node.value:
        word = k.value if isinstance(k, yaml.ScalarNode) else "?"
        if word not in GENERATORS + GENERATOR_OPTIONS:
            hint = suggest(word, GENERATORS + GENERATOR_OPTIONS)
            raise SpecError(f"unknown generator {word!r}", file=file, **where(k), path=f"{path}.{word}",
                            expected="uniform, integer or choice (with decimals, exclude)",
                            found=repr(word), hint=hint)
        fields[word] = (k, v)
    kinds = [w for w in GENERATORS if w in fields]
    if len(kinds) != 1:
        raise SpecError("a generator needs exactly one of uniform, integer, choice", file=file, **where(node),
                        path=path, expected="one generator", found=", ".join(kinds) or "none")
    kind = kinds[0]
    _, body = fields[kind]
    at = f"{path}.{kind}"
    loc = where(node)
    base = dict(path=path, kind=kind, line=loc["line"], column=loc["column"],
                start=node.start_mark.index, end=node.end_mark.index)
    if kind == "choice" and "decimals" in fields:
        raise SpecError("`decimals` applies to uniform", file=file, **where(fields["decimals"][0]),
                        path=f"{path}.decimals", hint="write the choices with the decimals you want")
    exclude = _read_exclude(fields.get("exclude"), path, file)
    if kind == "choice":
        if not isinstance(body, yaml.SequenceNode) or not body.value:
            raise SpecError("bad choice", file=file, **where(body), path=at, expected="a non-empty list of numbers",
                            found=describe(body))
        texts = tuple(_literal(item, f"{at}[{i}]", file) for i, item in enumerate(body.value))
        if all(_fraction(t) in exclude for t in texts):
            raise SpecError("every choice is excluded", file=file, **where(body), path=at)
        return Generator(**base, choices=texts, exclude=exclude)
    if not isinstance(body, yaml.SequenceNode) or len(body.value) != 2:
        raise SpecError("bad range", file=file, **where(body), path=at, expected="[low, high]",
                        found=describe(body))
    low_text, high_text = (_literal(item, f"{at}[{i}]", file) for i, item in enumerate(body.value))
    low, high = _fraction(low_text), _fraction(high_text)
    if low > high:
        raise SpecError("bad range: low above high", file=file, **where(body), path=at,
                        expected="low ≤ high", found=f"[{low_text}, {high_text}]")
    if kind == "integer":
        if low.denominator != 1 or high.denominator != 1:
            raise SpecError("integer bounds must be integers", file=file, **where(body), path=at,
                            expected="[low, high] integers", found=f"[{low_text}, {high_text}]",
                            hint="use uniform with decimals for decimal values")
        grid = (int(low), int(high), 0)
    else:
        decimals = DEFAULT_UNIFORM_DECIMALS
        if "decimals" in fields:
            decimals = _small_int(fields["decimals"][1], f"{path}.decimals", file, 0, MAX_DECIMALS)
        scale = 10 ** decimals
        lo, hi = -((-low * scale) // 1), (high * scale) // 1  # ceil, floor on the decimal grid
        if lo > hi:
            raise SpecError(f"no value with {decimals} decimals lies in this range", file=file, **where(body),
                            path=at, expected="a wider range or more decimals", found=f"[{low_text}, {high_text}]")
        grid = (int(lo), int(hi), decimals)
    pool = grid[1] - grid[0] + 1
    inside = {x for x in exclude if low <= x <= high and (x * 10 ** grid[2]).denominator == 1}
    if pool <= len(inside):
        raise SpecError("every value in the range is excluded", file=file, **where(body), path=at)
    return Generator(**base, low=grid[0], high=grid[1], decimals=grid[2], exclude=exclude)


def _literal(node: yaml.Node, path: str, file: str) -> str:
    """A number as written (the variant uses this very text)."""
    if not isinstance(node, yaml.ScalarNode):
        raise SpecError("not a number", file=file, **where(node), path=path, expected="a number", found=describe(node))
    parsed = parse_text(node.value)
    if not isinstance(parsed, Number) or not is_plain(node) and "/" not in node.value:
        raise SpecError("not a number", file=file, **where(node), path=path, expected="a number",
                        found=repr(node.value))
    text = node.value.strip()
    if "e" in text.lower():  # 1e-3 → its decimal form, so the spec reader sees a plain number
        text = format(Decimal(text), "f")
    return text


def _read_exclude(field, path: str, file: str) -> frozenset:
    if field is None:
        return frozenset()
    _, node = field
    items = node.value if isinstance(node, yaml.SequenceNode) else [node]
    return frozenset(_fraction(_literal(item, f"{path}.exclude", file)) for item in items)


def _small_int(node: yaml.Node, path: str, file: str, lo: int, hi: int) -> int:
    text = node.value if isinstance(node, yaml.ScalarNode) else None
    if text is None or not re.fullmatch(r"[0-9]+", text.strip()) or not lo <= int(text) <= hi:
        raise SpecError("bad value", file=file, **where(node), path=path, expected=f"an integer {lo}…{hi}",
                        found=describe(node) if text is None else repr(text))
    return int(text)


def _read_decimals(field, file: str) -> int:
    if field is None:
        return DEFAULT_DECIMALS
    return _small_int(field[1], "decimals", file, 0, MAX_DECIMALS)


def _read_texts(field, path: str, file: str, expected: str) -> tuple[Setting, ...]:
    if field is None:
        return ()
    _, node = field
    items = node.value if isinstance(node, yaml.SequenceNode) else None
    if items is None:
        raise SpecError(f"bad `{path}`", file=file, **where(node), path=path, expected=expected, found=describe(node))
    out = []
    for i, item in enumerate(items):
        if not isinstance(item, yaml.ScalarNode) or not item.value.strip():
            raise SpecError(f"bad `{path}` entry", file=file, **where(item), path=f"{path}[{i}]",
                            expected="text", found=describe(item))
        loc = where(item)
        # a quoted scalar's text starts one column after its mark
        column = loc["column"] + (1 if item.style in ("'", '"') else 0)
        out.append(Setting(item.value, loc["line"], column, f"{path}[{i}]"))
    return tuple(out)


def _read_reject(field, file: str) -> tuple[str, ...]:
    on = dict.fromkeys(REJECTIONS, True)
    if field is None:
        return REJECTIONS
    _, node = field
    if isinstance(node, yaml.ScalarNode) and node.value.strip().lower() in ("false", "none", "off"):
        return ()
    if not isinstance(node, yaml.MappingNode):
        raise SpecError("bad `reject`", file=file, **where(node), path="reject",
                        expected="a mapping such as {dead_relu: true, zero_gradient: false}", found=describe(node))
    for k, v in node.value:
        word = k.value if isinstance(k, yaml.ScalarNode) else "?"
        if word not in REJECTIONS:
            raise SpecError(f"unknown rejection {word!r}", file=file, **where(k), path=f"reject.{word}",
                            expected=", ".join(REJECTIONS), hint=suggest(word, REJECTIONS))
        flag = v.value.strip().lower() if isinstance(v, yaml.ScalarNode) else ""
        if flag not in ("true", "false"):
            raise SpecError("bad value", file=file, **where(v), path=f"reject.{word}", expected="true or false",
                            found=describe(v))
        on[word] = flag == "true"
    return tuple(w for w in REJECTIONS if on[w])


def _read_points(field, file: str) -> tuple:
    if field is None:
        return ()
    _, node = field
    if not isinstance(node, yaml.MappingNode):
        raise SpecError("bad `points`", file=file, **where(node), path="points",
                        expected="a mapping of canonical names to points, e.g. {loss: 2, default: 1}",
                        found=describe(node))
    out = []
    for k, v in node.value:
        name = k.value if isinstance(k, yaml.ScalarNode) else "?"
        parsed = parse_text(v.value) if isinstance(v, yaml.ScalarNode) else "not a number"
        if isinstance(parsed, str) or parsed.value < 0:
            raise SpecError("bad points", file=file, **where(v), path=f"points.{name}",
                            expected="a number ≥ 0", found=describe(v) if isinstance(parsed, str) else v.value)
        loc = where(k)
        out.append((name, parsed.value, Setting(name, loc["line"], loc["column"], f"points.{name}")))
    return tuple(out)


def _read_tolerance(field, file: str) -> Optional[tuple[float, float]]:
    if field is None:
        return None
    _, node = field
    if not isinstance(node, yaml.MappingNode):
        raise SpecError("bad `tolerance`", file=file, **where(node), path="tolerance",
                        expected="{abs: A} and/or {rel: R}", found=describe(node))
    values = {"abs": 0.0, "rel": 0.0}
    for k, v in node.value:
        word = k.value if isinstance(k, yaml.ScalarNode) else "?"
        parsed = parse_text(v.value) if isinstance(v, yaml.ScalarNode) else "not a number"
        if word not in values or isinstance(parsed, str) or parsed.value < 0:
            raise SpecError("bad tolerance", file=file, **where(v), path=f"tolerance.{word}",
                            expected="abs or rel, a number ≥ 0", found=describe(v))
        values[word] = parsed.value
    return values["abs"], values["rel"]
