"""`backprop grade`: students' answers → correct / carried forward / wrong (with cause) / missing.

Per asked value of the student's variant, in this order:

1. **correct** — within the answer tolerance of the true value (answers.py);
2. **carried forward** — not the true value, but what the derivation's own equation
   gives from the student's *own* earlier values (trace equations re-evaluated with
   the student's numbers wherever the student wrote one, and the values derived from
   them elsewhere): full credit, and the feedback says so. A student who writes δ may
   use it in place of ∂L/∂a·σ′ — both readings are tried;
3. **correct (hand-rounded)** — `check`'s hand-rounding diagnosis reproduces it;
4. **wrong** — with the cause `check` names (diagnose.py), in the student's words;
5. **missing** — no answer.

Nothing is solved here: variants are solved by solve.py / graph.py, equations are the
trace's, causes are check's.
"""
from __future__ import annotations

import csv
import io
import math
import re
from typing import Optional

import yaml

from ..calc.arithmetic import FloatArithmetic
from ..errors import BackpropError, ComputeError, SpecError
from ..calc.expr import evaluate
from ..frozen import frozen
from ..check.keys import literal_decimals
from ..read.numbers import Number, describe, parse_text
from ..read.suggest import suggest
from ..read.yamlsafe import MAX_SIZE, load_nodes, where
from .answers import Question, answer_tolerance, questions
from .distractors import diagnoser_for
from .words import cause_feedback, words

_FLOAT = FloatArithmetic()
STUDENT_COLUMNS = ("student", "name", "id")
VARIANT_COLUMNS = ("variant",)
_DELTA = re.compile(r"delta([0-9]+)((?:#[0-9]+)?(?:@[0-9]+)?)")
_DL_DA = re.compile(r"dL/da([0-9]+)((?:#[0-9]+)?(?:@[0-9]+)?)")


@frozen
class Answers:
    """One student's submission: who, which variant, and name → literal text."""

    student: str
    variant: str
    values: tuple[tuple[str, str], ...]
    source: str  # file (and line) for messages


@frozen
class Mark:
    name: str
    status: str  # correct | carried | rounded | wrong | missing
    points: float
    earned: float
    expected: float
    given: Optional[str]
    cause: Optional[str] = None  # check's cause text (wrong) or the operands carried (carried)


@frozen
class Graded:
    student: str
    variant: str
    marks: tuple[Mark, ...]

    @property
    def score(self) -> float:
        return sum(m.earned for m in self.marks)

    @property
    def total(self) -> float:
        return sum(m.points for m in self.marks)


class Grader:
    """Grades submissions against solved variants (each solved and diagnosed once)."""

    def __init__(self, template, variants: dict) -> None:
        self.template = template
        self.variants = variants  # id → Variant
        self._questions: dict[str, list[Question]] = {}
        self._diagnosers: dict = {}

    def questions(self, vid: str) -> list[Question]:
        if vid not in self._questions:
            self._questions[vid] = questions(self.template, self.variants[vid])
        return self._questions[vid]

    def grade(self, answers: Answers) -> Graded:
        if answers.variant not in self.variants:
            raise SpecError(f"unknown variant {answers.variant!r}", file=answers.source,
                            expected="a variant id of variants.csv",
                            hint=suggest(answers.variant, list(self.variants)))
        variant = self.variants[answers.variant]
        qs = self.questions(answers.variant)
        given = dict(answers.values)
        for name in given:
            if name not in variant.named:
                raise SpecError(f"unknown name {name!r}", file=answers.source,
                                expected=f"a canonical name of variant {answers.variant}",
                                hint=suggest(name, list(variant.named)) or "run `backprop key SPEC --names`")
        numbers = {n: v for n, v in ((n, _number(t)) for n, t in given.items()) if v is not None}
        carried = carried_values(variant.trace, numbers, lambda value: answer_tolerance(self.template, value))
        marks = [self._mark(variant, q, given.get(q.name), numbers, carried) for q in qs]
        return Graded(answers.student, answers.variant, tuple(marks))

    def _mark(self, variant, q: Question, text: Optional[str], numbers, carried) -> Mark:
        base = dict(name=q.name, points=q.points, expected=q.value, given=text)
        if text is None or not text.strip():
            return Mark(status="missing", earned=0.0, **{**base, "given": None})
        answer = numbers.get(q.name)
        if answer is None:
            return Mark(status="wrong", earned=0.0, cause="not a number", **base)
        if q.accepts(answer):
            return Mark(status="correct", earned=q.points, **base)
        for value, used in carried.get(q.name, ()):
            if abs(value - q.value) > q.tolerance and abs(answer - value) <= q.tolerance:
                return Mark(status="carried", earned=q.points, cause=", ".join(used), **base)
        cause = self._cause(variant, q, answer, text)
        if cause and cause.startswith("hand rounding"):
            return Mark(status="rounded", earned=q.points, cause=cause, **base)
        return Mark(status="wrong", earned=0.0, cause=cause, **base)

    def _cause(self, variant, q: Question, answer: float, text: str) -> Optional[str]:
        from ..check.diagnose import Miss
        from ..check.keys import Tolerance

        if variant.id not in self._diagnosers:
            self._diagnosers[variant.id] = diagnoser_for(variant)
        d = self._diagnosers[variant.id]
        decimals = literal_decimals(text)
        try:
            return d.cause(Miss(q.name, answer, q.value, Tolerance(abs=q.tolerance), decimals))
        except (BackpropError, ArithmeticError, ValueError):
            return None


def _number(text: str) -> Optional[float]:
    """A student's number through the one number grammar; a typographic minus (−, –)
    as typed by word processors reads as '-'."""
    parsed = parse_text(text.strip().replace("−", "-").replace("–", "-")) if text is not None else None
    return parsed.value if isinstance(parsed, Number) else None


def equations_of(trace) -> list:
    """The scalar equations error-carried-forward re-evaluates; typed layers (conv,
    pooling, norm, rnn…) have none — their answers are marked right, hand-rounded or
    wrong with check's cause, never carried forward (docs/templates.md)."""
    if hasattr(trace, "steps"):
        return [e for record in trace.steps for e in getattr(record, "equations", ())]
    return list(getattr(trace, "equations", ()))


def carried_values(trace, numbers: dict[str, float], tolerance=lambda value: 0.0,
                   ) -> dict[str, list[tuple[float, tuple[str, ...]]]]:
    """name → [(value from the student's own numbers, the wrong values it came from)].

    Every equation is re-evaluated in order over an environment in which each name
    holds the student's number when the student wrote one, else the value the
    student's numbers lead to; a number within `tolerance` of the true value counts as
    right (rounded, not wrong). A second pass follows the δ route: wherever an
    equation multiplies ∂L/∂a_M by σ′_M and the student wrote δ_M, the student's δ_M
    stands for the product (δ = ∂L/∂a · σ′) — for students who carry δ down the chain."""
    truth = trace.named
    wrong = {n for n, v in numbers.items() if n in truth and abs(v - truth[n]) > tolerance(truth[n]) + _close(truth[n])}
    if not wrong:
        return {}
    deltas = {m.group(1) + m.group(2): n for n in numbers if (m := _DELTA.fullmatch(n))}
    out: dict[str, list] = {}
    for route in (False, True):
        if route and not deltas:
            break
        for name, found in _carry(trace, numbers, wrong, deltas if route else {}).items():
            if found not in out.setdefault(name, []):
                out[name].append(found)
    return out


def _carry(trace, numbers: dict, wrong: set, deltas: dict) -> dict[str, tuple[float, tuple[str, ...]]]:
    env = dict(trace.named)
    env.update({n: v for n, v in numbers.items() if n in env})
    tainted: dict[str, set] = {n: {n} for n in wrong}
    out = {}
    for e in equations_of(trace):
        names = [name for name, _ in e.operands]
        scope, taint = env, {n: tainted.get(n, set()) for n in names}
        for n in names:
            m = _DL_DA.fullmatch(n)
            suffix = m and m.group(1) + m.group(2)
            if not suffix or suffix not in deltas:
                continue
            sigma = f"da{m.group(1)}/dz{m.group(1)}{m.group(2)}"
            if sigma not in names or e.name in (f"delta{suffix}", n, sigma) or n in numbers or sigma in numbers:
                continue
            scope = dict(scope) if scope is env else scope
            delta = deltas[suffix]
            scope[n], scope[sigma] = numbers[delta], 1.0
            taint[n], taint[sigma] = tainted.get(delta, set()), set()
        used = set().union(*taint.values()) if taint else set()
        if not used:
            continue
        value = _eval(e.expr, scope)
        if value is None:
            continue
        out[e.name] = (value, tuple(sorted(used)))
        if e.name not in numbers:
            env[e.name] = value
            tainted[e.name] = used
    return out


def _eval(expr, env) -> Optional[float]:
    try:
        value = float(evaluate(expr, env, _FLOAT))
    except (ArithmeticError, ValueError, ComputeError, KeyError, OverflowError):
        return None
    return value if math.isfinite(value) else None


def _close(b: float) -> float:
    return 1e-12 * max(1.0, abs(b))


# ----------------------------------------------------------------------------------------
# reading submissions


def read_answers_csv(text: str, file: str, known_names) -> list[Answers]:
    """One row per student: a student column, a `variant` column, a column per name."""
    rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        raise SpecError("empty CSV", file=file, expected="a header row: student, variant, then canonical names")
    header = [h.strip() for h in rows[0]]
    lowered = [h.lower() for h in header]
    student_col = next((lowered.index(c) for c in STUDENT_COLUMNS if c in lowered), None)
    if student_col is None:  # student_id, "Student name", …
        student_col = next((i for i, h in enumerate(lowered) if "student" in h and h not in known_names), None)
    variant_col = next((lowered.index(c) for c in VARIANT_COLUMNS if c in lowered), None)
    if variant_col is None:  # variant_id, "Variant", …
        variant_col = next((i for i, h in enumerate(lowered) if "variant" in h and h not in known_names), None)
    if student_col is None or variant_col is None:
        raise SpecError("missing column", file=file, line=1, column=1,
                        expected="a `student` and a `variant` column", found=", ".join(header[:6]))
    names = {}
    for i, h in enumerate(header):
        if i in (student_col, variant_col) or not h:
            continue
        if h not in known_names:
            raise SpecError(f"unknown column {h!r}", file=file, line=1, column=_csv_column(rows[0], i),
                            expected="a canonical name of the variants",
                            hint=suggest(h, list(known_names)) or "run `backprop key SPEC --names`")
        names[i] = h
    out = []
    for r, row in enumerate(rows[1:], 2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) > len(header):
            raise SpecError("more cells than columns", file=file, line=r, expected=f"{len(header)} cells",
                            found=f"{len(row)}")
        cell = lambda i: row[i].strip() if i < len(row) else ""  # noqa: E731
        student = cell(student_col) or f"row {r}"
        values = tuple((name, cell(i)) for i, name in names.items() if cell(i))
        out.append(Answers(student, cell(variant_col), values, f"{file}:{r}"))
    return out


def _csv_column(row: list[str], index: int) -> int:
    return sum(len(c) + 1 for c in row[:index]) + 1


def read_answers_yaml(path, max_size: int = MAX_SIZE, variant_ids=()) -> Answers:
    """A student's key file: names (bare or under `named:`, as a §6 key), with
    `student:` (default: the file name) and `variant:` — or, without it, the variant id
    found in the file name (`alice.v03.yaml`, `v03/alice.yaml`), or the only variant."""
    source, root = load_nodes(path, max_size)
    file = source.file
    if not isinstance(root, yaml.MappingNode):
        raise SpecError("not a student answer file", file=file, **where(root),
                        expected="a mapping with variant: and the answers", found=describe(root))
    fields, values = {}, []
    for k, v in root.value:
        word = k.value if isinstance(k, yaml.ScalarNode) else "?"
        if word in ("student", "variant"):
            if not isinstance(v, yaml.ScalarNode):
                raise SpecError(f"bad `{word}`", file=file, **where(v), path=word, expected="text", found=describe(v))
            fields[word] = v.value.strip()
        elif word == "tolerance":
            continue  # a §6 key's own setting: grading uses the template's tolerance
        elif word == "named":
            if not isinstance(v, yaml.MappingNode):
                raise SpecError("bad `named`", file=file, **where(v), path="named",
                                expected="a mapping of names to numbers", found=describe(v))
            values += [(kk.value, vv.value) for kk, vv in v.value if isinstance(vv, yaml.ScalarNode)]
        elif isinstance(v, yaml.ScalarNode):
            values.append((word, v.value))
        else:
            raise SpecError(f"bad answer for {word!r}", file=file, **where(v), path=word, expected="a number",
                            found=describe(v))
    from pathlib import PurePath

    parts = PurePath(file).parts
    tokens = [t for part in parts[-2:] for t in re.split(r"[^A-Za-z0-9]+", part)]
    stem = re.sub(r"(\.key)?\.ya?ml$", "", parts[-1]) if parts else "student"
    if "variant" not in fields:
        found = [v for v in variant_ids if v in tokens]
        if len(found) == 1:
            fields["variant"] = found[0]
            stem = re.sub(rf"(^|[^A-Za-z0-9]){re.escape(found[0])}(?=[^A-Za-z0-9]|$)", "", stem).strip("._- ") or stem
        elif len(variant_ids) == 1:
            fields["variant"] = next(iter(variant_ids))
        else:
            raise SpecError("which variant?", file=file, **where(root),
                            expected="`variant: v01` in the file, or the variant id in its name (alice.v01.yaml)")
    student = fields.get("student") or stem
    return Answers(student, fields["variant"], tuple(values), file)


# ----------------------------------------------------------------------------------------
# outputs


def gradebook_csv(graded: list[Graded]) -> str:
    names: list[str] = []
    for g in graded:
        names += [m.name for m in g.marks if m.name not in names]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["student", "variant", "score", "max", "percent", "correct", "carried_forward", "wrong",
                     "missing", *names])
    for g in graded:
        counts = {s: sum(1 for m in g.marks if m.status == s) for s in ("correct", "carried", "rounded", "wrong", "missing")}
        by_name = {m.name: _pts(m.earned) for m in g.marks}
        percent = f"{100 * g.score / g.total:.1f}" if g.total else "0.0"
        writer.writerow([g.student, g.variant, _pts(g.score), _pts(g.total), percent,
                         counts["correct"] + counts["rounded"], counts["carried"], counts["wrong"], counts["missing"],
                         *(by_name.get(n, "") for n in names)])
    return buffer.getvalue()


def feedback_markdown(g: Graded, lang: str) -> str:
    from ..safe_text import markdown_text

    w = words(lang)
    out = [f"# {markdown_text(w['feedback_title'].format(student=g.student, variant=g.variant))}", "",
           w["summary"].format(score=_pts(g.score), total=_pts(g.total)), ""]
    carried = sum(1 for m in g.marks if m.status == "carried")
    if carried:
        out += [w["ecf_note"].format(n=carried), ""]
    out += [f"| {w['name']} | {w['yours']} | {w['expected']} | {w['points']} | |", "|---|---|---|---|---|"]
    for m in g.marks:
        out.append(f"| `{m.name}` | {markdown_text(m.given or '—')} | {m.expected:.6g} | "
                   f"{_pts(m.earned)}/{_pts(m.points)} | {markdown_text(_verdict(m, lang))} |")
    return "\n".join(out) + "\n"


def _verdict(m: Mark, lang: str) -> str:
    w = words(lang)
    if m.status == "correct":
        return w["correct"]
    if m.status == "missing":
        return w["missing"]
    if m.status == "carried":
        return f"{w['carried']}: {m.cause}"
    if m.status == "rounded":
        return w["hand_rounded"]
    if m.cause == "not a number":
        return f"{w['wrong']}: not a number"
    return f"{w['wrong']}: " + (cause_feedback(m.cause, lang) if m.cause else w["no_cause"])


def _pts(p: float) -> str:
    return str(int(p)) if float(p).is_integer() else f"{p:g}"


def feedback_file_name(student: str, used: set) -> str:
    stem = re.sub(r"[^\w.-]+", "_", student, flags=re.UNICODE).strip("._") or "student"
    name, i = f"{stem}.md", 2
    while name in used:
        name, i = f"{stem}-{i}.md", i + 1
    used.add(name)
    return name
