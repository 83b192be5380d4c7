"""Read a YAML file the way an untrusted file must be read (SPEC §8).

The order matters: size is checked before reading, encoding (UTF-8, printable
characters) before parsing, nesting depth by a linear pre-scan before any YAML parser
runs (libyaml's composer recurses and crashes on 100,000-deep `[[[`) and, where quotes
could have fooled that scan, by libyaml's non-recursive event parser stopping at the
limit; only then is the text *composed* — never constructed — into a node tree with
line/column marks. Nothing is ever instantiated from a tag: the resolver knows no
implicit types, so every scalar stays text and the spec reader applies one strict
number grammar to it (numbers.py).

The composed tree is then checked once, linearly: duplicate keys are errors (not
last-wins), only core tags are accepted, and aliases may not expand the document
beyond a bound (a "billion laughs" file fails here, in time linear in its size).
"""
from __future__ import annotations

import os
import re

import yaml

from ..errors import SpecError
from ..frozen import frozen
from .grammar import parse_text

MAX_SIZE = 10 * 1024 * 1024  # bytes; `--max-size` overrides
MAX_DEPTH = 100
MAX_EXPANDED_NODES = 2_000_000  # nodes after alias expansion, beyond the file's own

_CORE_TAGS = {
    "tag:yaml.org,2002:" + t for t in ("str", "int", "float", "bool", "null", "seq", "map")
}

_TAGS_OF_KIND = {
    yaml.ScalarNode: {"tag:yaml.org,2002:" + t for t in ("str", "int", "float", "bool", "null")},
    yaml.SequenceNode: {"tag:yaml.org,2002:seq"},
    yaml.MappingNode: {"tag:yaml.org,2002:map"},
}
_KIND_WORD = {yaml.ScalarNode: "single value", yaml.SequenceNode: "list", yaml.MappingNode: "mapping"}


def _fits_tag(node: yaml.Node) -> bool:
    """An explicit !!bool/!!null/!!int/!!float must hold what it says."""
    kind = node.tag.rpartition(":")[2]
    if not isinstance(node, yaml.ScalarNode) or kind == "str":
        return True
    text = node.value.strip().lower()
    if kind == "bool":
        return text in ("true", "false")
    if kind == "null":
        return text in ("", "~", "null")
    return not isinstance(parse_text(node.value), str)


def _short_tag(tag: str) -> str:
    """`tag:yaml.org,2002:python/object` as the user wrote it: `!!python/object`."""
    prefix = "tag:yaml.org,2002:"
    return "!!" + tag[len(prefix):] if tag.startswith(prefix) else tag


try:  # the C parser when PyYAML was built with libyaml: same nodes, far faster
    _BaseParserLoader = yaml.CBaseLoader  # type: ignore[attr-defined]
except AttributeError:  # pragma: no cover - depends on the PyYAML build
    _BaseParserLoader = yaml.BaseLoader


@frozen
class Source:
    """A decoded input file: its label for messages and its text."""

    file: str
    text: str


def read_source(path: str | os.PathLike, max_size: int = MAX_SIZE) -> Source:
    """Read and decode a file, refusing oversize, binary and non-UTF-8 input."""
    file = str(path)
    try:
        size = os.stat(path).st_size
        if os.path.isdir(path):
            raise SpecError("is a directory, not a spec file", file=file)
        if size > max_size:
            raise SpecError(
                "file too large", file=file, expected=f"at most {max_size:,} bytes",
                found=f"{size:,} bytes", hint="raise the limit with --max-size if the file is trusted",
            )
        with open(path, "rb") as fh:
            data = fh.read(max_size + 1)
    except FileNotFoundError:
        raise SpecError("no such file", file=file) from None
    except IsADirectoryError:
        raise SpecError("is a directory, not a spec file", file=file) from None
    except PermissionError:
        raise SpecError("permission denied", file=file) from None
    except OSError as exc:
        raise SpecError(f"cannot read the file ({exc.strerror or exc})", file=file) from None
    if len(data) > max_size:  # grew since stat, or a pipe
        raise SpecError("file too large", file=file, expected=f"at most {max_size:,} bytes")
    return Source(file, decode(data, file))


_WIDE_BOMS = (
    (b"\xff\xfe\x00\x00", "UTF-32"), (b"\x00\x00\xfe\xff", "UTF-32"),
    (b"\xff\xfe", "UTF-16"), (b"\xfe\xff", "UTF-16"),
)


def decode(data: bytes, file: str) -> str:
    for bom, name in _WIDE_BOMS:
        if data.startswith(bom):
            raise SpecError(
                f"the file is {name} text", file=file, line=1, column=1, expected="UTF-8",
                found=f"a {name} byte-order mark", hint="save the file as UTF-8",
            )
    if b"\x00" in data:
        at = data.index(b"\x00")
        line, column = _position(data, at)
        raise SpecError(
            "binary data (a NUL byte)", file=file, line=line, column=column,
            expected="a UTF-8 YAML text file",
        )
    try:
        text = data.decode("utf-8-sig")  # a BOM is allowed (SPEC §8)
    except UnicodeDecodeError as exc:
        line, column = _position(data, exc.start)
        raise SpecError(
            "not UTF-8", file=file, line=line, column=column, expected="UTF-8 text",
            found=f"byte 0x{data[exc.start]:02x}", hint="save the file as UTF-8",
        ) from None
    check_printable(text, file)
    return text


def check_printable(text: str, file: str) -> None:
    """Refuse characters YAML does not allow (libyaml would too, without a line number)."""
    bad = _NON_PRINTABLE.search(text)
    if bad:
        line = text.count("\n", 0, bad.start()) + 1
        column = bad.start() - (text.rfind("\n", 0, bad.start()) + 1) + 1
        raise SpecError(
            "a control character YAML does not allow", file=file, line=line, column=column,
            expected="printable text", found=f"U+{ord(bad.group()):04X}",
            hint="is this a binary file? a spec is plain UTF-8 text",
        )


# YAML's printable set: tab, line breaks, and everything printable (the C0/C1 controls,
# DEL and U+FFFE/U+FFFF are not). Checked on the decoded text, in one regex pass.
_NON_PRINTABLE = re.compile("[^\t\n\r\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _position(data: bytes, offset: int) -> tuple[int, int]:
    line = data.count(b"\n", 0, offset) + 1
    column = offset - (data.rfind(b"\n", 0, offset) + 1) + 1
    return line, column


# A quote opens a quoted scalar only where a token may start; '#' starts a comment only
# after white space. Good enough to find nesting that libyaml would see, in one pass:
# each line's block level (indentation, `- ` and `? ` indicators) plus the flow depth
# (`[`, `{`) at every opening bracket. Over-counting is safe; the event check below
# covers what quotes can hide.
_DEPTH_TOKEN = re.compile(
    r"""(?P<line>^( *)((?:[-?](?: +|$))*))"""
    r"""|(?P<open>[\[{])|(?P<close>[\]}])"""
    r"""|(?<![^\s\[{,:])"(?:[^"\\]|\\.)*(?:"|\Z)"""
    r"""|(?<![^\s\[{,:])'(?:[^']|'')*(?:'|\Z)"""
    r"""|(?<!\S)\#[^\n]*""",
    re.S | re.M,
)


def check_depth(source: Source, limit: int = MAX_DEPTH) -> None:
    """Linear pre-scan: refuse nesting deeper than `limit` before any parser sees it."""
    text = source.text
    flow = block = deepest = deepest_at = 0
    stack: list[int] = []  # indentation of the open block levels
    for m in _DEPTH_TOKEN.finditer(text):
        kind = m.lastgroup
        if kind == "open":
            flow += 1
            level = block + flow
        elif kind == "close":
            flow = max(0, flow - 1)
            continue
        elif kind == "line":
            end = m.end()
            dashes = m.group(3)
            if not dashes and (end >= len(text) or text[end] in "\n\r#"):
                continue  # blank or comment line: no structure (a bare `-` line still nests)
            indent = len(m.group(2))
            while stack and stack[-1] > indent:
                stack.pop()
            if not stack or stack[-1] < indent:
                stack.append(indent)
            block = len(stack) + dashes.count("-") + dashes.count("?")
            level = block + flow
        else:
            continue  # a quoted scalar or a comment
        if level > deepest:
            deepest, deepest_at = level, m.start()
    if deepest > limit:
        line = text.count("\n", 0, deepest_at) + 1
        raise SpecError(
            "nesting too deep", file=source.file, line=line,
            expected=f"at most {limit} levels", found=f"{deepest} levels",
        )


def check_event_depth(source: Source, limit: int = MAX_DEPTH) -> None:
    """The exact nesting depth from libyaml's event stream, stopping at the first level
    beyond `limit`.

    The text pre-scan cannot know for certain where a quoted scalar starts (in
    `name: x "` the quote is part of a plain scalar, yet the scan would take the lines
    after it for a string and miss their nesting), and libyaml's composer recurses in
    C — a miss there is a segmentation fault, not an error. The event parser is a state
    machine (no recursion), and stopping at depth `limit` + 1 bounds its quadratic
    bookkeeping, so this pass is linear. Run when the text has quotes (the only thing
    that can fool the pre-scan)."""
    starts = (yaml.SequenceStartEvent, yaml.MappingStartEvent)
    ends = (yaml.SequenceEndEvent, yaml.MappingEndEvent)
    depth = 0
    for event in yaml.parse(source.text, Loader=_BaseParserLoader):
        if isinstance(event, starts):
            depth += 1
            if depth > limit:
                raise _too_deep(source, event.start_mark, limit)
        elif isinstance(event, ends):
            depth -= 1


def _too_deep(source: Source, mark: yaml.Mark | None, limit: int = MAX_DEPTH) -> SpecError:
    return SpecError(
        "nesting too deep", file=source.file,
        line=mark.line + 1 if mark else None, column=mark.column + 1 if mark else None,
        expected=f"at most {limit} levels", found=f"more than {limit} levels",
    )


def _is_parser_depth_limit(exc: yaml.MarkedYAMLError) -> bool:
    """PyYAML's own nesting guard (libyaml ≥ 0.2.5's scanner, bundled since PyYAML 6.0.4)
    can fire before our event check reaches `limit` + 1: its scanner looks ahead through
    a run of `[[[…` looking for a simple key. It is the same error, so it gets our words."""
    return "nesting depth" in (exc.problem or "") or "nesting depth" in (exc.context or "")


def compose(source: Source) -> yaml.Node:
    """Compose one YAML document into nodes with marks; never construct objects."""
    check_depth(source)
    try:
        if "'" in source.text or '"' in source.text:
            check_event_depth(source)
        node = yaml.compose(source.text, Loader=_BaseParserLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        if _is_parser_depth_limit(exc):
            raise _too_deep(source, mark) from None
        problem = exc.problem or exc.context or "invalid YAML"
        if exc.context and exc.problem:
            problem = f"{exc.context}: {exc.problem}"
        start = exc.context_mark
        opened = ("while scanning a quoted scalar", "while parsing a flow")
        if start is not None and mark is not None and start.line != mark.line and (exc.context or "").startswith(opened):
            # an unclosed quote or bracket is found where the file ends: say where it began
            problem += f" (it began at line {start.line + 1}, column {start.column + 1})"
        hint = None
        if mark is not None and "\t" in _line_of(source.text, mark.line):
            hint = "YAML indentation uses spaces, not tabs"
        elif "single document" in problem:
            hint = "a spec is one YAML document: remove the second `---` and what follows it"
        raise SpecError(
            f"invalid YAML: {problem}", file=source.file,
            line=mark.line + 1 if mark else None, column=mark.column + 1 if mark else None,
            hint=hint,
        ) from None
    except yaml.YAMLError as exc:
        first = (str(exc).splitlines() or ["unreadable"])[0]
        raise SpecError(f"invalid YAML: {first}", file=source.file) from None
    except RecursionError:
        raise SpecError("nesting too deep", file=source.file, expected=f"at most {MAX_DEPTH} levels") from None
    if node is None or (is_plain(node) and node.value == ""):  # no content, or a bare `---`
        raise SpecError("empty", file=source.file, expected="a YAML mapping", found="no content")
    check_tree(node, source.file)
    return node


def _line_of(text: str, index: int) -> str:
    lines = text.splitlines()
    return lines[index] if 0 <= index < len(lines) else ""


def is_plain(node: yaml.Node) -> bool:
    """An unquoted scalar (libyaml's C parser says '' where the pure-Python one says None)."""
    return isinstance(node, yaml.ScalarNode) and not node.style


def where(node: yaml.Node) -> dict:
    """Line and column (1-based) of a node, for SpecError(**where(node))."""
    mark = node.start_mark
    return {"line": mark.line + 1, "column": mark.column + 1}


def check_tree(root: yaml.Node, file: str) -> None:
    """Duplicate keys, tags, cycles and alias expansion — one memoised pass."""
    sizes: dict[int, int] = {}
    active: set[int] = set()
    distinct = 0

    def size(node: yaml.Node) -> int:
        nonlocal distinct
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in active:
            raise SpecError("an alias refers to a node that contains it (a cycle)", file=file, **where(node))
        if node.tag not in _CORE_TAGS:
            raise SpecError(
                "tag not allowed", file=file, **where(node),
                expected="plain YAML values (core tags only)", found=f"tag {_short_tag(node.tag)}",
                hint="backprop never builds objects from YAML tags: remove the tag",
            )
        if node.tag not in _TAGS_OF_KIND[type(node)] or not _fits_tag(node):
            raise SpecError(
                f"tag {_short_tag(node.tag)} does not fit the value", file=file, **where(node),
                expected=f"a {_KIND_WORD[type(node)]} without this tag",
                found=f"{_short_tag(node.tag)} {node.value!r}" if isinstance(node, yaml.ScalarNode)
                else f"tag {_short_tag(node.tag)}",
            )
        distinct += 1
        total = 1
        if isinstance(node, yaml.ScalarNode):
            pass
        else:
            active.add(key)
            if isinstance(node, yaml.MappingNode):
                seen: dict[str, int] = {}
                for k, v in node.value:
                    if isinstance(k, yaml.ScalarNode):
                        first = seen.get(k.value)
                        if first is not None:
                            raise SpecError(
                                f"duplicate key {k.value!r} (first at line {first}; "
                                "YAML keys must be unique)", file=file, **where(k),
                            )
                        seen[k.value] = k.start_mark.line + 1
                    total += size(k) + size(v)
            else:
                for child in node.value:
                    total += size(child)
            active.discard(key)
        sizes[key] = total
        if total > MAX_EXPANDED_NODES + distinct:
            raise SpecError(
                "aliases expand the document too far (an alias bomb?)", file=file, **where(node),
                expected=f"at most {MAX_EXPANDED_NODES:,} nodes after expansion",
            )
        return total

    size(root)


def load_nodes(path: str | os.PathLike, max_size: int = MAX_SIZE) -> tuple[Source, yaml.Node]:
    source = read_source(path, max_size)
    return source, compose(source)


def load_text(text: str, file: str = "<string>") -> yaml.Node:
    text = text[1:] if text.startswith("\ufeff") else text
    check_printable(text, file)
    return compose(Source(file, text))
