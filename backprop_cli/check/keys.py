"""Answer keys (SPEC §6): read a key file and resolve it against one solve.

A key is any subset of the `--format json` document (§5) and/or canonical names (§3)
under `named:` or bare at the top level. Reading happens in two passes because only
the solve knows which names and shapes exist:

1. `read_key` composes the YAML (yamlsafe: marks kept, nothing constructed) and reads
   the key's own settings (`tolerance:`);
2. `resolve` walks the key's nodes beside the solved document and turns every expected
   number into an `Entry` — the label the report shows, the canonical name behind it
   (what diagnoses reason about), the literal text as written (its decimals set the
   default tolerance) and the computed value.

Every problem is a `KeyFileError` with the key file's line, column and field path, and
a "did you mean" where one is close — a key that names W99_new must fail loudly (exit
2), never pass by checking nothing.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from typing import Any, Callable, Iterator, Optional, Union

import numpy as np
import yaml

from ..errors import KeyFileError, SpecError
from ..frozen import frozen
from ..grid import as_written
from ..network.names import NetworkNames, at, parameter_value
from ..read.suggest import suggest
from ..read.numbers import DECIMAL_RE, describe, number
from ..read.yamlsafe import MAX_SIZE, compose, read_source, where, is_plain
from ..safe_text import quoted

# Fields of SPEC §5 that identify a record in a list instead of being checked.
RECORD_IDS = {"steps": ("step",), "layers": ("layer",), "equations": ("name",), "local_gradients": ("node", "input")}
# Words of the JSON structure: never canonical names (SPEC §6).
STRUCTURE_WORDS = frozenset({
    "format", "kind", "name", "steps", "step", "layers", "layer", "equations", "losses", "loss_after",
    "named", "tolerance", "values", "gradients", "local_gradients", "second", "exact", "round", "output",
    "z", "a", "dL_da", "da_dz", "delta", "grad_weights", "grad_bias", "weights", "bias", "frozen",
    "expression", "operands", "value", "condition", "node", "input", "observations",
})
INTEGER_TOLERANCE = 1e-9
# A key holds at most this many numbers (values and record ids), counted on the text
# before YAML is parsed: reading and comparing is linear (~4 s and ~265 MB for 100,000
# values, bench/bench_check.py --big), so the limit keeps a run within seconds and a
# mistake (a key generated in a loop) fails at once with exit 2. docs/check.md, "Limits".
MAX_KEY_NUMBERS = 150_000
# A number in YAML text that is not part of a name (W12_new, loss@3, z1#2, dL/dW5).
_NUMBER_IN_TEXT = re.compile(r"(?<![\w.@#/])[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")
# A plain decimal the fast path may read with float() (numbers.number for the rest).
_SHORT_DECIMAL = re.compile(r"[+-]?(?:0|[1-9][0-9]{0,20})(?:\.[0-9]{0,40})?(?:[eE][+-]?[0-9]{1,2})?")
# The literal rule never asks for more than float64 can agree on: a key copied from
# `solve --format json` (17 significant digits) must pass even where check's float path
# (the numpy engine) and solve's (the scalar derivation) differ in the last bits — up
# to ~1e-13 relative after 1000 steps. docs/check.md, "Tolerance".
FULL_PRECISION_REL = 1e-12

_NEURON_FIELDS = {"z": "z{m}", "a": "a{m}", "dL_da": "dL/da{m}", "da_dz": "da{m}/dz{m}", "delta": "delta{m}"}
# A step has at most 9 digits (MAX_STEPS has 6): a longer run of digits is part of an
# unknown name, never an int() of thousands of digits (Python refuses past 4,300).
_STEP_RE = re.compile(r"(?P<base>.+?)(?:@(?P<step>[0-9]{1,9}))?", re.DOTALL)  # a name may hold a newline
# The canonical grammar of SPEC §3, to tell "no such name in this network" (W99_new)
# from a typo that is no name at all.
_CANONICAL_RE = re.compile(
    r"(?:(?:buf_|m_|v_|sq_|gavg_|sum_)?[Wb][0-9]+(?:_new)?|dL/d[Wb][0-9]+|[xt][0-9]+|dz[0-9]+/d(?:[Wb]|x|a)[0-9]+"
    r"|(?:z|a|delta|dL/da)[0-9]+|da[0-9]+/dz[0-9]+|loss|loss_after"
    r"|lr|momentum|weight_decay|beta1|beta2|eps|slope|alpha|lr_decay|initial_accumulator_value)(?:#[0-9]+)?(?:@[0-9]+)?"
)


# ----------------------------------------------------------------------------------------
# tolerance


@frozen
class Tolerance:
    """Pass when |computed − expected| ≤ abs or ≤ rel·|expected| (SPEC §6)."""

    abs: float = 0.0
    rel: float = 0.0

    def limit(self, expected: float) -> float:
        """The largest difference allowed for this expected value."""
        return max(self.abs, self.rel * abs(expected))

    def allows(self, expected: float, computed: float) -> bool:
        # A hair of slack so that a difference lying exactly on the limit (0.4514 vs
        # 0.45155 at 1.5e-4) is not lost to binary representation.
        return abs(computed - expected) <= self.limit(expected) * (1 + 1e-9)


def literal_tolerance(text: str) -> Tolerance:
    """1.5 units in the last decimal place as written: 0.4510 → 1.5e-4, 2.5e-5 → 1.5e-6;
    integers and fraction strings → 1e-9; never tighter than 1e-12 relative."""
    return decimal_tolerance(literal_decimals(text))


@lru_cache(maxsize=256)
def decimal_tolerance(decimals: Optional[int]) -> Tolerance:
    """The literal rule for a literal with `decimals` decimals (None: an integer)."""
    # one frozen record per number of decimals, not one per value of a 100,000-value key
    if decimals is None:
        return Tolerance(abs=INTEGER_TOLERANCE, rel=FULL_PRECISION_REL)
    return Tolerance(abs=1.5 * 10.0 ** -decimals, rel=FULL_PRECISION_REL)


def literal_decimals(text: str) -> Optional[int]:
    """The decimal place of the literal's last digit (2.5e-5 → 6), None for integers and
    fractions; may be negative (1.2e3 → −2)."""
    t = text.strip().lstrip("+-").lower()
    if "/" in t:
        return None
    mantissa, _, exponent = t.partition("e")
    if "." not in mantissa and not exponent:
        return None
    digits = len(mantissa.split(".", 1)[1]) if "." in mantissa else 0
    return digits - int(exponent or 0)


# ----------------------------------------------------------------------------------------
# the solved side


class Solution:
    """One solve as a key sees it: canonical names → values, the §5 document on demand.

    Work is done only when a key needs it: the solve may start without the scalar
    derivation (`full_detail` builds it when a key names a local factor such as dz3/dW5
    or uses `equations`), the document is built only for keys that use the JSON
    structure, and the names of very large networks — whose `named` holds only the loss
    names (SPEC §5) — are spelled out from the arrays only when a key asks for one."""

    def __init__(
        self, spec: Any, trace: Any, resolve_policy: Optional[Callable[..., "Solution"]] = None,
        full_detail: Optional[Callable[[], Any]] = None,
    ) -> None:
        self.spec = spec
        self.trace = trace
        self.kind = getattr(trace, "kind", "network")
        self._resolve_policy = resolve_policy
        self._full_detail = full_detail
        # Small networks have every name in `named`; only big ones need the arrays.
        self._big = self.kind == "network" and spec.parameter_count > 300
        self._groups: dict[str, dict[str, float]] = {}  # _array_group, by family

    def upgrade(self) -> bool:
        """Switch to the trace with the full scalar derivation; False if this is it."""
        if self._full_detail is None:
            return False
        self.trace, self._full_detail = self._full_detail(), None
        for cached in ("document", "_array_values"):
            self.__dict__.pop(cached, None)
        self._groups = {}
        return True

    @property
    def named(self):
        return self.trace.named

    @cached_property
    def document(self) -> dict:
        if self.kind == "graph":
            from ..render.graph_json import graph_to_json

            return graph_to_json(self.trace)
        if self.kind == "layered":
            from ..render.layered import layered_document

            return layered_document(self.trace)
        from ..render.json_out import network_document

        return network_document(self.trace)

    @property
    def total_steps(self) -> int:
        return len(self.trace.losses) - 1 if self.kind in ("network", "layered") else 1

    @property
    def recorded_steps(self) -> list[int]:
        return [record.step for record in self.trace.steps] if self.kind == "network" else [1]

    @cached_property
    def names(self) -> Optional[NetworkNames]:
        return NetworkNames.of(self.spec) if self.kind == "network" else None

    @cached_property
    def _array_values(self) -> dict[str, float]:
        """Every per-step neuron and parameter name, read from the recorded arrays."""
        out: dict[str, float] = {}
        for family in _FAMILIES:
            out.update(self._array_group(family))
        return out

    def _array_group(self, family: str) -> dict[str, float]:
        """The names of one family (`_family`) read from the recorded arrays: a key of
        100,000 W_new values spells out those, not every z, δ and gradient as well."""
        if family in self._groups:
            return self._groups[family]
        out: dict[str, float] = {}
        fields = _FAMILIES[family]
        for record in self.trace.steps:
            for l, layer in enumerate(record.layers):
                for field_, array in _layer_arrays(layer, self.names.layouts[l]):
                    if field_ not in fields:
                        continue
                    array = np.asarray(array, dtype=np.float64)
                    for index, value in zip(np.ndindex(array.shape), array.ravel().tolist()):
                        name = field_name(self.names, l, field_, index, record.step)
                        if name is not None:
                            out[name] = value
                if family == "param":
                    for name, index in self.names.parameters(l):
                        out[at(name, record.step)] = parameter_value(layer.weights_before, layer.bias_before, index)
        self._groups[family] = out
        return out

    def canonical(self, name: str) -> Optional[str]:
        """The canonical spelling under which `name` has a value (W5_new@1 → W5_new)."""
        if not name.startswith("loss_after@"):  # the common cases first: a key may ask 100,000 times
            if name in self.named:
                return name
            if self._big and name in self._array_group(_family(name)):
                return name
        m = _STEP_RE.fullmatch(name)
        base, step = m.group("base"), m.group("step")
        if base == "loss_after" and step is not None and self.kind == "network":
            s = int(step)  # loss_after@s: the loss after step s, i.e. the loss of step s + 1
            if s == self.total_steps:
                return "loss_after"
            if 1 <= s < self.total_steps:
                return self.canonical(at("loss", s + 1))
        if name in self.named:
            return name
        if step is not None and int(step) == 1 and (
                base in self.named or self._big and base in self._array_group(_family(base))):
            return base  # W5_new@1 is W5_new, in a big network too
        if self.kind == "network" and name in self._array_values_if_needed():
            return name
        return self.canonical(name) if self.upgrade() else None

    def _array_values_if_needed(self) -> dict[str, float]:
        return self._array_values if self._big else {}

    def value(self, name: str) -> Optional[float]:
        canonical = self.canonical(name)
        return None if canonical is None else self.value_of(canonical)

    def value_of(self, canonical: str) -> float:
        """The value of a name `canonical` returned."""
        found = self.named.get(canonical)
        return float(found) if found is not None else self._array_group(_family(canonical))[canonical]

    def all_names(self) -> list[str]:
        names = list(self.named)
        extra = self._array_values_if_needed()
        return names + [n for n in extra if n not in self.named] if extra else names

    def with_policy(self, **policy) -> Optional["Solution"]:
        """The same spec solved under another number policy (round_digits=D), or None
        when that policy is not available for it."""
        return self._resolve_policy(**policy) if self._resolve_policy else None


# Families of per-step names, by the §5 layer fields that hold them ("param": the
# parameters before the step, read from the record's weights_before/bias_before).
_FAMILIES = {
    "neuron": ("z", "a", "dL_da", "da_dz", "delta"),
    "grad": ("grad_weights", "grad_bias"),
    "new": ("weights", "bias"),
    "param": (),
}


def _family(name: str) -> str:
    """Which family of _FAMILIES a per-step name belongs to (W5_new@2 → new)."""
    if name.startswith("dL/d"):
        return "grad" if name[4:5] in ("W", "b") else "neuron"
    base = name.split("@", 1)[0]
    if base.endswith("_new"):
        return "new"
    return "param" if base[:1] in ("W", "b") else "neuron"


def _layer_arrays(layer, layout: str = "out_in") -> Iterator[tuple[str, Any]]:
    for field_ in ("z", "a", "dL_da", "da_dz", "delta"):
        value = getattr(layer, field_)
        if value is not None:
            yield field_, value
    yield "grad_weights", as_written(layer.grad_weights, layout)
    yield "weights", as_written(layer.weights, layout)
    if layer.grad_bias is not None:
        yield "grad_bias", layer.grad_bias
        yield "bias", layer.bias



def field_name(names: NetworkNames, layer: int, field_: str, index: tuple, step: int) -> Optional[str]:
    """The canonical name of one number in a §5 layer record (step `step`, 0-based layer):
    z[n][j] → z3#n, weights[j][i] → W5_new, grad_bias[j] → dL/db3, a shared bias → b2_new."""
    if field_ in _NEURON_FIELDS:
        n, j = index
        neuron = names.neuron(layer, j)
        return at(names.sample(_NEURON_FIELDS[field_].format(m=neuron), n), step)
    if field_ in ("weights", "grad_weights"):
        w = names.written_weight(layer, *index)
        return at(f"dL/d{w}" if field_ == "grad_weights" else f"{w}_new", step)
    if field_ in ("bias", "grad_bias"):
        b = names.bias(layer, index[0] if index else 0)
        if b is None:
            return None
        return at(f"dL/d{b}" if field_ == "grad_bias" else f"{b}_new", step)
    return None


def document_name(solution: Solution, path: tuple) -> Optional[str]:
    """The canonical name behind a numeric position of the §5 document, so structured
    entries are diagnosed (and exactly compared) like named ones."""
    if not path:
        return None
    head = path[0]
    if head == "named" and len(path) == 2:
        return path[1]
    if head == "loss_after":
        return "loss_after"
    if head == "equations" or head == "steps" and len(path) > 2 and path[2] == "equations":
        records = solution.document["equations"] if head == "equations" else solution.document["steps"][path[1]]["equations"]
        rest = path[1:] if head == "equations" else path[3:]
        record = records[rest[0]]
        if rest[1:] == ("value",):
            return record["name"]
        if len(rest) == 3 and rest[1] == "operands":
            return rest[2]
        return None
    if solution.kind == "graph" and getattr(solution.trace, "tensor", False):
        return tensor_document_name(solution.trace, path)
    if solution.kind == "graph":
        output = solution.document.get("output") or getattr(solution.trace, "output", "f")
        if head == "values" and len(path) == 2:
            return path[1]
        if head == "gradients" and len(path) == 2:
            return f"d{output}/d{path[1]}"
        if head == "second" and len(path) == 2:
            return f"d2{output}/d{path[1]}2"
        if head == "local_gradients" and len(path) == 3:
            record = solution.document["local_gradients"][path[1]]
            return f"d{record['node']}/d{record['input']}.local"
        return None
    total = solution.total_steps
    if head == "losses" and len(path) == 2:
        return at("loss", path[1] + 1) if path[1] < total else "loss_after"
    if head == "steps" and len(path) >= 3:
        step = solution.document["steps"][path[1]]["step"]
        if path[2] == "loss":
            return at("loss", step)
        if path[2] == "layers" and len(path) >= 5:
            return field_name(solution.names, path[3], path[4], tuple(path[5:]), step)
    return None


def tensor_array(solution: Solution, name: str):
    """The whole array a tensor graph's name stands for (`x`, `dz/dx`), or None."""
    trace = solution.trace
    if not getattr(trace, "tensor", False):
        return None
    if getattr(trace, "steps", ()):  # gradient descent: step-qualified arrays too (w_new@2)
        return trace.array(name)
    if name in trace.values:
        return trace.values[name]
    m = re.fullmatch(r"d(\w+)/d(\w+)", name)
    if m and m[1] in trace.gradients and m[2] in trace.gradients[m[1]]:
        return trace.gradients[m[1]][m[2]]
    return None


def tensor_document_name(trace, path: tuple) -> Optional[str]:
    """values.W[0][1] → W[1,2]; gradients.x[1][0] → dz/dx[2,1] (several outputs:
    gradients.z.x[…]) — the element names of `named`, for diagnosis."""
    from ..tensor.names import element_name

    head = path[0]
    steps = getattr(trace, "steps", ())
    if head == "steps" and len(path) >= 3 and path[1] < len(steps):  # gradient descent: steps[i].field…
        s, field_ = steps[path[1]].step, path[2]
        if field_ == "loss":
            return at("loss", s)
        if len(path) >= 4 and field_ in ("values", "gradients", "updates"):
            base = {"values": path[3], "gradients": f"d{trace.output}/d{path[3]}", "updates": f"{path[3]}_new"}[field_]
            return at(element_name(base, tuple(path[4:])), s)
        return None
    if head == "losses" and len(path) == 2 and steps:
        return at("loss", path[1] + 1) if path[1] < len(steps) else "loss_after"
    if head == "values" and len(path) >= 2:
        return element_name(path[1], tuple(path[2:]))
    if head == "gradients" and len(path) >= 2:
        if len(trace.outputs) > 1:
            return element_name(f"d{path[1]}/d{path[2]}", tuple(path[3:])) if len(path) >= 3 else None
        return element_name(f"d{trace.output}/d{path[1]}", tuple(path[2:]))
    return None


# ----------------------------------------------------------------------------------------
# the key file


@frozen
class AnswerKey:
    file: str
    root: yaml.MappingNode
    tolerance: Optional[Tolerance]  # `tolerance:` in the key, replacing the literal default


@frozen
class Entry:
    """One value the key expects, with what the solve computed for it."""

    label: str  # the name as the key wrote it, or the output's JSON path
    name: Optional[str]  # canonical name, when the value has one
    expected: Union[float, str]  # a float, or text for textual fields (`kind`, `expression`)
    text: str  # the literal as written
    computed: Union[float, str]
    line: Optional[int] = None
    column: Optional[int] = None

    @property
    def numeric(self) -> bool:
        return isinstance(self.expected, float)


def read_key(path: str | os.PathLike, max_size: int = MAX_SIZE) -> AnswerKey:
    """Read an answer key's YAML and its own settings; names are resolved later."""
    try:
        source = read_source(path, max_size)
        _check_count(source.text, source.file)
        root = compose(source)
    except SpecError as error:
        raise _as_key_error(error) from None
    file = source.file
    if not isinstance(root, yaml.MappingNode):
        raise KeyFileError(
            "not an answer key", file=file, **where(root), expected="a mapping of names and/or output fields",
            found=describe(root),
        )
    tolerance = None
    for k, v in root.value:
        if isinstance(k, yaml.ScalarNode) and k.value == "tolerance":
            tolerance = _read_tolerance(v, file)
    return AnswerKey(file, root, tolerance)


def _check_count(text: str, file: str) -> None:
    """Refuse a key over MAX_KEY_NUMBERS numbers before parsing it (linear, ~0.1 s a MB)."""
    found = 0
    for found, _ in enumerate(_NUMBER_IN_TEXT.finditer(text), 1):
        if found > MAX_KEY_NUMBERS:
            break
    if found > MAX_KEY_NUMBERS:
        raise KeyFileError(
            "answer key too big", file=file, expected=f"at most {MAX_KEY_NUMBERS:,} numbers",
            found=f"more than {MAX_KEY_NUMBERS:,}", hint="split the key: check one part of the output at a time",
        )


def _as_key_error(error: SpecError) -> KeyFileError:
    return KeyFileError(
        error.message, file=error.file, line=error.line, column=error.column, path=error.path,
        expected=error.expected, found=error.found, hint=error.hint,
    )


def _read_tolerance(node: yaml.Node, file: str) -> Tolerance:
    if not isinstance(node, yaml.MappingNode):
        raise KeyFileError(
            file=file, path="tolerance", **where(node), expected="a mapping {abs: A, rel: R}", found=describe(node),
            hint="write e.g. tolerance: {abs: 1.5e-4}",
        )
    values = {}
    for k, v in node.value:
        name = getattr(k, "value", None)
        if name not in ("abs", "rel"):
            hint = suggest(str(name), ("abs", "rel")) or "tolerance has abs and rel"
            raise KeyFileError("unknown key", file=file, path=f"tolerance.{name}", **where(k), hint=hint)
        n = _number(v, f"tolerance.{name}", file)
        if n.value < 0:
            raise KeyFileError(file=file, path=f"tolerance.{name}", **where(v), expected="a number ≥ 0", found=n.text)
        values[name] = n.value
    return Tolerance(**values)


def _number(node: yaml.Node, path: str, file: str, what: str = "a number"):
    """(value, text) of a numeric node; short plain decimals are read directly (the
    full grammar of numbers.number accepts them unchanged), everything else — tags,
    fractions, bad input with its message — goes through numbers.number."""
    text = node.value if isinstance(node, yaml.ScalarNode) and not node.style else None
    if text is not None and _SHORT_DECIMAL.fullmatch(text) and DECIMAL_RE.fullmatch(text):
        return _Literal(float(text), text)
    try:
        parsed = number(node, path, file, what)
    except SpecError as error:
        raise _as_key_error(error) from None
    return _Literal(parsed.value, parsed.text)


class _Literal:
    __slots__ = ("value", "text")

    def __init__(self, value: float, text: str) -> None:
        self.value, self.text = value, text


def json_path(path: tuple) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


# ----------------------------------------------------------------------------------------
# resolution


def resolve(key: AnswerKey, solution: Solution) -> list[Entry]:
    """Every expected value of the key, paired with the computed one (document order)."""
    if _mentions(key.root, "equations"):
        solution.upgrade()
    resolver = _Resolver(key.file, solution)
    resolver.top(key.root)
    if not resolver.entries:
        raise KeyFileError("the key checks no values", file=key.file, **where(key.root),
                           hint="give canonical names under named: (loss: 0.5368) or output fields under steps:")
    return resolver.entries


def _mentions(node: yaml.Node, word: str) -> bool:
    """Whether any mapping key in the tree is `word`."""
    if isinstance(node, yaml.MappingNode):
        return any(getattr(k, "value", None) == word or _mentions(v, word) for k, v in node.value)
    if isinstance(node, yaml.SequenceNode):
        return any(_mentions(child, word) for child in node.value)
    return False


@dataclass
class _Resolver:
    file: str
    solution: Solution
    entries: list[Entry] = field(default_factory=list)

    def fail(self, node: Optional[yaml.Node], path: str, message: str = "", **kw) -> KeyFileError:
        loc = where(node) if node is not None else {}
        return KeyFileError(message, file=self.file, path=path or None, **loc, **kw)

    # -- top level and names ---------------------------------------------------------------

    def top(self, root: yaml.MappingNode) -> None:
        for k, v in root.value:
            if not isinstance(k, yaml.ScalarNode):
                raise self.fail(k, "", expected="a plain key", found=describe(k))
            word = k.value
            if word in ("tolerance", "observations"):  # observations: teaching remarks, not values to check
                continue
            if word == "named":
                self.named(v)
            elif word in STRUCTURE_WORDS and word in self.solution.document:
                self.walk(v, self.solution.document[word], (word,), word)
            else:  # a bare canonical name (`loss:`), or an error that says which it is not
                self.name(k, v, word, word)

    def named(self, node: yaml.Node) -> None:
        if not isinstance(node, yaml.MappingNode):
            raise self.fail(node, "named", expected="a mapping of canonical names to numbers", found=describe(node))
        for k, v in node.value:
            if not isinstance(k, yaml.ScalarNode):
                raise self.fail(k, "named", expected="a canonical name", found=describe(k))
            self.name(k, v, k.value, f"named.{k.value}")

    def name(self, key_node: yaml.ScalarNode, node: yaml.Node, name: str, path: str) -> None:
        if isinstance(node, yaml.SequenceNode) and tensor_array(self.solution, name) is not None:
            self.whole_array(node, name, np.asarray(tensor_array(self.solution, name)), (), path)
            return
        canonical = self.solution.canonical(name)
        if canonical is None:
            raise self.unknown_name(key_node, name, path)
        literal = _number(node, path, self.file)
        mark = node.start_mark
        self.entries.append(Entry(
            name, canonical, literal.value, literal.text, self.solution.value_of(canonical), mark.line + 1, mark.column + 1,
        ))

    def whole_array(self, node: yaml.Node, name: str, array: np.ndarray, index: tuple, path: str) -> None:
        """A tensor graph's whole array under its name (`dz/dx: [[8, 8], [8, 8]]`): one
        entry per element, named W[1,2] as `named` names it (1-based)."""
        from ..tensor.names import element_name

        if len(index) == array.ndim:
            base, at_, step = name.partition("@")  # w_new@2 → w_new[1]@2: the index before the step
            element = element_name(base, index) + at_ + step
            literal = _number(node, path, self.file)
            self.entries.append(Entry(element, element, literal.value, literal.text,
                                      self.solution.value(element), **where(node)))
            return
        size = array.shape[len(index)]
        if not isinstance(node, yaml.SequenceNode) or len(node.value) != size:
            raise self.fail(node, path, "wrong shape", expected=f"{name}'s shape {list(array.shape)}: a list of "
                            f"{size} here", found=describe(node))
        for i, item in enumerate(node.value):
            self.whole_array(item, name, array, index + (i,), f"{path}[{i}]")

    def unknown_name(self, node: yaml.Node, name: str, path: str) -> KeyFileError:
        solution = self.solution
        m = _STEP_RE.fullmatch(name)
        base, step = m.group("base"), m.group("step")
        known = solution.all_names()
        if name in STRUCTURE_WORDS:
            return self.fail(node, path, f"{quoted(name)} is a word of the output's structure, not a canonical name",
                             hint=self._structure_hint(name))
        if step is not None and solution.canonical(base) is not None:
            s, total = int(step), solution.total_steps
            if s < 1 or s > total:
                return self.fail(node, path, f"step {s} is out of range",
                                 expected=_step_range(total), found=f"@{s} (this spec runs {_steps(total)})")
            return self.fail(node, path, f"step {s} is not recorded",
                             hint=f"with {total} steps the output records steps {_recorded(solution)}")
        if solution.kind == "network" and "#" not in base and solution.spec.samples > 1 \
                and solution.canonical(at(f"{base}#1", int(step or 1))) is not None:
            return self.fail(node, path, "this spec is a batch: name the sample",
                             hint=f"{solution.spec.samples} samples: {base}#1 … {base}#{solution.spec.samples}")
        same_step = [n for n in known if (_STEP_RE.fullmatch(n).group("step") == step)]
        hint = suggest(name, same_step) or suggest(name, known)
        note = _range_note(name, known)
        if note:
            hint = f"{hint} ({note})" if hint else note
        if _CANONICAL_RE.fullmatch(name):
            message = f"this network has no {quoted(name)[1:-1]}"
            if re.search(r"[A-Za-z#@]0(?![0-9])", name):  # delta0, W0_new, z1#0, loss@0
                message += " (names are 1-based: neurons, weights, biases, samples and steps count from 1)"
            return self.fail(node, path, message, hint=hint)
        return self.fail(node, path, f"unknown name {quoted(name)}", hint=hint or "names follow SPEC §3 (W1, b1, z1, a1, dL/dW1, W1_new, loss, …)")

    def _structure_hint(self, word: str) -> str:
        if self.solution.kind == "network":
            if word in ("layers", "layer") or word in _NEURON_FIELDS or word in ("weights", "bias", "grad_weights", "grad_bias", "frozen"):
                return "layer fields go under steps: - layers: - {layer: 1, weights: [[…]]}"
            if word in ("values", "gradients", "local_gradients", "second"):
                return f"{quoted(word)} belongs to graph specs; this is a network spec"
        elif word in ("steps", "layers", "losses"):
            return f"{quoted(word)} belongs to network specs; this is a graph spec"
        return f"top-level fields of this output: {', '.join(k for k in self.solution.document)}"

    # -- the JSON structure ----------------------------------------------------------------

    def walk(self, node: yaml.Node, doc: Any, out: tuple, path: str) -> None:
        if isinstance(doc, dict):
            self.mapping(node, doc, out, path)
        elif isinstance(doc, list):
            self.sequence(node, doc, out, path)
        elif doc is None:
            if is_plain(node) and node.value in ("", "~", "null"):
                return
            raise self.fail(node, path, "nothing to compare: the output has null here",
                            found=describe(node), hint="a layer without a bias has bias: null; leave it out")
        elif isinstance(doc, bool) or isinstance(doc, str):
            if not isinstance(node, yaml.ScalarNode):
                raise self.fail(node, path, expected="text", found=describe(node))
            computed = str(doc).lower() if isinstance(doc, bool) else doc
            self.entries.append(Entry(json_path(out), None, node.value, node.value, computed, **where(node)))
        else:
            if isinstance(node, yaml.SequenceNode):
                hint = "this value is a single number (a shared bias is one scalar)" if out[-1] in ("bias", "grad_bias") else None
                raise self.fail(node, path, expected="a number", found=describe(node), hint=hint)
            literal = _number(node, path, self.file)
            self.entries.append(Entry(
                json_path(out), document_name(self.solution, out), literal.value, literal.text, float(doc), **where(node),
            ))

    def mapping(self, node: yaml.Node, doc: dict, out: tuple, path: str) -> None:
        if not isinstance(node, yaml.MappingNode):
            raise self.fail(node, path, expected="a mapping", found=describe(node))
        ids = RECORD_IDS.get(_list_name(out), ())
        for k, v in node.value:
            if not isinstance(k, yaml.ScalarNode):
                raise self.fail(k, path, expected="a plain key", found=describe(k))
            word = k.value
            sub = f"{path}.{word}"
            if word in ids:
                continue  # it chose the record; sequence() matched it already
            if word not in doc:
                raise self.fail(k, sub, self._missing_field(word, doc, out), hint=suggest(word, list(doc) + list(ids)))
            self.walk(v, doc[word], out + (word,), sub)

    def _missing_field(self, word: str, doc: dict, out: tuple) -> str:
        if word == "da_dz" and "layer" in doc:
            return f"layer {doc['layer']} is softmax: it has no da_dz (its Jacobian is not a vector)"
        if out and out[-1] in ("values", "gradients", "second"):
            return f"the graph has no node {quoted(word)} here"
        return f"unknown field {quoted(word)}"

    def sequence(self, node: yaml.Node, doc: list, out: tuple, path: str) -> None:
        if not isinstance(node, yaml.SequenceNode):
            raise self.fail(node, path, expected=f"a list of {len(doc)}", found=describe(node))
        items = node.value
        if out[-1] == "equations" and not doc and items:
            raise self.fail(node, path, "this output has no scalar equations",
                            hint="batches and networks over 300 parameters are derived in matrix form (SPEC §5)")
        if doc and all(isinstance(d, dict) for d in doc):
            self.records(items, doc, out, path)
            return
        if doc and all(isinstance(d, str) for d in doc) or not doc and out[-1] == "frozen":
            texts = [getattr(i, "value", None) for i in items]
            if not all(isinstance(i, yaml.ScalarNode) for i in items):
                raise self.fail(node, path, expected="a list of words", found=describe(node))
            shown = "[" + ", ".join(sorted(texts)) + "]"
            self.entries.append(Entry(json_path(out), None, shown, shown, "[" + ", ".join(sorted(doc)) + "]", **where(node)))
            return
        # N = 1: a row may be written without the batch nesting (SPEC §6).
        if (len(doc) == 1 and isinstance(doc[0], list) and items
                and all(isinstance(i, yaml.ScalarNode) for i in items) and len(items) == len(doc[0])):
            self.sequence(node, doc[0], out + (0,), path)
            return
        if len(items) != len(doc) or doc and isinstance(doc[0], list) and all(isinstance(i, yaml.ScalarNode) for i in items):
            hint = "write the rows as a list of lists: [[…], […]]" if doc and isinstance(doc[0], list) else None
            raise self.fail(node, path, "wrong shape", expected=_shape_words(doc), found=describe(node), hint=hint)
        for i, (item, d) in enumerate(zip(items, doc)):
            self.walk(item, d, out + (i,), f"{path}[{i}]")

    def records(self, items: list, doc: list, out: tuple, path: str) -> None:
        ids = RECORD_IDS.get(out[-1], ())
        for position, item in enumerate(items):
            sub = f"{path}[{position}]"
            if not isinstance(item, yaml.MappingNode):
                raise self.fail(item, sub, expected="a record (a mapping)", found=describe(item))
            given = {k.value: v for k, v in item.value if isinstance(k, yaml.ScalarNode) and k.value in ids}
            if given:
                index = self.find_record(given, doc, sub)
            else:
                index = position
                if index >= len(doc):
                    raise self.fail(item, sub, f"record {position} is out of range",
                                    expected=f"at most {len(doc)} records in {out[-1]}", found=f"{len(items)}",
                                    hint=f"give the {ids[0]}: field to pick a record" if ids else None)
            self.walk(item, doc[index], out + (index,), sub)

    def find_record(self, given: dict, doc: list, path: str) -> int:
        wanted = {}
        for field_, node in given.items():
            if field_ in ("step", "layer"):
                n = _number(node, f"{path}.{field_}", self.file, "a whole number")
                if n.value != int(n.value):
                    raise self.fail(node, f"{path}.{field_}", expected="a whole number", found=n.text)
                wanted[field_] = int(n.value)
            else:
                wanted[field_] = getattr(node, "value", None)
        for index, record in enumerate(doc):
            if all(record.get(f) == v for f, v in wanted.items()):
                return index
        node = next(iter(given.values()))
        f_path = f"{path}.{next(iter(given))}"
        if "step" in wanted:
            s, total = wanted["step"], self.solution.total_steps
            if 1 <= s <= total:
                raise self.fail(node, f_path, f"step {s} is not recorded",
                                hint=f"with {total} steps the output records steps {_recorded(self.solution)}")
            raise self.fail(node, f_path, f"step {s} is out of range", expected=_step_range(total),
                            found=f"{s} (this spec runs {_steps(total)})")
        if "layer" in wanted:
            raise self.fail(node, f_path, f"layer {wanted['layer']} is out of range", expected=f"a layer 1…{len(doc)}")
        shown = ", ".join(f"{f} {v}" for f, v in wanted.items())
        choices = [str(r.get(next(iter(wanted)))) for r in doc]
        raise self.fail(node, f_path, f"no record with {shown}", hint=suggest(str(next(iter(wanted.values()))), choices))


def _list_name(out: tuple) -> str:
    """The list a record sits in: ('steps', 0) → 'steps'."""
    return out[-2] if len(out) >= 2 and isinstance(out[-1], int) else ""


def _shape_words(doc: list) -> str:
    if doc and isinstance(doc[0], list):
        return f"{len(doc)} rows of {len(doc[0])} (shape {len(doc)}×{len(doc[0])})"
    return f"a list of {len(doc)}"


def _steps(total: int) -> str:
    return f"{total} step" if total == 1 else f"{total} steps"


def _step_range(total: int) -> str:
    return "step 1" if total == 1 else f"a step 1…{total}"


def _recorded(solution: Solution) -> str:
    steps = solution.recorded_steps
    if len(steps) > 2 and steps[-2] == steps[-1] - 1 and steps == list(range(1, len(steps) + 1)):
        return f"1–{steps[-1]}"
    return f"1–{steps[-2]} and {steps[-1]}" if len(steps) > 1 else "1"


def _range_note(name: str, known: list[str]) -> Optional[str]:
    """'weights W1…W6' for a W name that is out of this network's range."""
    m = re.match(r"(dL/d)?([Wb])([0-9]+)", name)
    if not m:
        return None
    letter = m.group(2)
    numbers = sorted({int(k[1:]) for k in known if re.fullmatch(rf"{letter}[0-9]+", k)})
    if not numbers:
        return "this network has no biases" if letter == "b" else None
    word = "weights" if letter == "W" else "biases"
    return f"this network's {word} are {letter}{numbers[0]}…{letter}{numbers[-1]}"
