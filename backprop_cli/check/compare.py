"""`backprop check`: answer keys against solves, with the likely cause of each mismatch.

Pipeline per spec (SPEC §6): load the spec → solve it under the chosen number policy
(float64, `--round D`, `--exact`) → read the key and resolve it against the solve
(keys.py) → compare each value within its tolerance → diagnose the mismatches
(diagnose.py) → a frozen `SpecReport`. `check_files` runs many specs in one process and
turns each spec's bad input into a reported error instead of stopping, because a CI run
over a whole folder should say everything that is wrong at once.

Nothing here prints or exits: `render_table` / `report_json` format a `Report`, and the
CLI prints them and picks the exit code (`Report.exit_code`).
"""
from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any, Callable, Iterator, Optional, Sequence, Union

from ..errors import BackpropError, display_path
from ..frozen import frozen, replace
from .keys import Entry, Solution, Tolerance, decimal_tolerance, literal_decimals, literal_tolerance, read_key, resolve
from ..read.numbers import parse_text
from ..read.yamlsafe import MAX_SIZE
from ..safe_text import quoted, visible

EXACT_RELATIVE = 1e-30  # closed forms under --exact: 50-digit evaluation, 1e-30 relative
# A default (literal) tolerance wider than this share of the value lets a wrong number
# pass (`-0.1` passes against −0.2005): such a pass is flagged, never silent — unless
# the literal is the value correctly rounded to its own decimals (`0.5` for 0.4998):
# a key cannot be more right at the precision it chose. docs/check.md, "Tolerance".
LOOSE_SHARE = 0.05
# Rows of the terminal table; JSON and JUnit carry every value. A rich table of
# 100,000 rows takes a minute and 800 MB, and nobody reads it: mismatches come first,
# then loose passes, then the rest up to this many rows, and a caption counts the rest.
TABLE_ROWS = 500


@frozen
class CheckOptions:
    """How values are compared: tolerances that override the key's, and the number policy."""

    abs: Optional[float] = None  # --abs; with --rel, replaces every other tolerance
    rel: Optional[float] = None
    round_digits: Optional[int] = None  # --round D: compare with the hand-rounded solve
    exact: bool = False
    max_size: int = MAX_SIZE
    limits: bool = True  # the work budget (budget.py); --no-limits for trusted files

    @property
    def override(self) -> Optional[Tolerance]:
        if self.abs is None and self.rel is None:
            return None
        return Tolerance(abs=self.abs or 0.0, rel=self.rel or 0.0)


def parse_tolerance_option(text: Optional[str], flag: str) -> Optional[float]:
    """--abs/--rel go through the one number grammar (no float() on arbitrary text)."""
    if text is None:
        return None
    parsed = parse_text(text)
    if isinstance(parsed, str):
        raise BackpropError(f"{flag} takes a number, got {quoted(text)} ({parsed})")
    if parsed.value < 0:
        raise BackpropError(f"{flag} must be ≥ 0, got {text}")
    return parsed.value


@frozen
class Result:
    """One checked value (SPEC §6's JSON `results` record, plus where the key wrote it)."""

    name: str
    expected: Union[float, str]
    computed: Union[float, str]
    difference: Optional[float]
    tolerance: Optional[float]
    ok: bool
    cause: Optional[str] = None
    text: str = ""  # the expected value as written
    line: Optional[int] = None
    column: Optional[int] = None
    warning: Optional[str] = None  # a pass that proves little (the key's precision is loose)


@frozen
class SpecReport:
    spec: str
    key: Optional[str]
    results: tuple[Result, ...] = ()
    error: Optional[str] = None  # bad input (spec, key or flags): the message shown on stderr

    @property
    def checked(self) -> bool:
        return self.error is None and self.key is not None

    @property
    def mismatches(self) -> tuple[Result, ...]:
        return tuple(r for r in self.results if not r.ok)

    @property
    def ok(self) -> bool:
        return self.error is None and not self.mismatches

    @property
    def loose(self) -> tuple[Result, ...]:
        return tuple(r for r in self.results if r.ok and r.warning)


@frozen
class Report:
    specs: tuple[SpecReport, ...]

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    @property
    def exit_code(self) -> int:
        """SPEC §7: 2 if any input is bad, else 1 if any value mismatches, else 0."""
        if any(s.error for s in self.specs) or not any(s.checked for s in self.specs):
            return 2
        return 1 if any(s.mismatches for s in self.specs) else 0


# ----------------------------------------------------------------------------------------
# running


def sibling_key(spec: Path) -> Path:
    """configs/bce_2_2_1.yaml → configs/bce_2_2_1.key.yaml (SPEC §7; .key.yml if that is
    the one that exists)."""
    stem = spec.name[: -len(spec.suffix)] if spec.suffix in (".yaml", ".yml") else spec.name
    key = spec.with_name(f"{stem}.key.yaml")
    yml = spec.with_name(f"{stem}.key.yml")
    return yml if not key.exists() and yml.exists() else key


def check_files(specs: Sequence[Path], key: Optional[Path], options: CheckOptions,
                progress: Optional[Callable[[int, int], None]] = None) -> Report:
    """Check every spec (against `key`, or each one's sibling key); never raises for
    bad input — each bad spec becomes a SpecReport with its error. `progress(done,
    total)` is called after each spec."""
    reports = []
    for done, spec in enumerate(specs, 1):
        if progress:
            progress(done - 1, len(specs))
        key_path = key if key is not None else sibling_key(spec)
        if key is None and not key_path.exists():
            reports.append(SpecReport(display_path(spec), None))
            continue
        try:
            reports.append(check_spec(spec, key_path, options))
        except BackpropError as error:
            message = str(error)
            if display_path(spec) not in message and display_path(key_path) not in message:
                message = f"{display_path(spec)}: {message}"  # e.g. "--round is not available with adam"
            reports.append(SpecReport(display_path(spec), display_path(key_path), error=message))
        except ImportError as error:  # e.g. a graph spec before graph mode exists
            reports.append(SpecReport(display_path(spec), display_path(key_path),
                                      error=f"{display_path(spec)}: cannot check this spec ({error})"))
    return Report(tuple(reports))


def check_spec(spec_path: Path, key_path: Path, options: CheckOptions) -> SpecReport:
    """One spec against one key; raises BackpropError (KeyFileError, SpecError) for bad input."""
    from ..load import load_spec

    from ..budget import MAX_DOCUMENT_NODES

    spec = load_spec(spec_path, max_size=options.max_size, max_nodes=MAX_DOCUMENT_NODES if options.limits else None)
    if options.limits:
        check_budget(spec, options)
    key = read_key(key_path, max_size=options.max_size)
    solution = solve_for_check(spec, round_digits=options.round_digits, exact=options.exact)
    entries = resolve(key, solution)
    tolerance = key.tolerance
    del key  # its YAML nodes (~400 bytes a value) are not needed past this point
    results = [compare(entry, tolerance, options, solution) for entry in entries]
    results = explain(results, entries, tolerance, options, solution)
    # mismatches first, then passes that prove little, then the rest; key order kept
    ordered = sorted(results, key=lambda r: (r.ok, r.ok and not r.warning))
    return SpecReport(display_path(spec_path), display_path(key_path), tuple(ordered))


def check_budget(spec: Any, options: CheckOptions) -> None:
    """Refuse, before solving, a check whose solve is estimated past the work budget.
    The diagnoses' re-solves are budgeted one by one (diagnose.py): past the budget, a
    diagnosis is skipped, not the check."""
    from .. import budget

    policy = "exact" if options.exact else "round" if options.round_digits is not None else "float"
    if getattr(spec, "kind", "network") == "layered":  # conv, pooling, norm, dropout, rnn, lstm
        budget.enforce(budget.estimate_layered(spec, fmt=None, policy=policy, what="check"),
                       budget.layered_advice(spec, spec.steps, policy))
        return
    if _is_graph(spec):
        budget.enforce(budget.estimate_graph(spec, policy=policy, fmt=None, what="check"), budget.graph_advice(spec))
        return
    from ..network.solve import float_path, resolve_detail

    detail = resolve_detail(spec, "auto", policy)
    if policy == "float" and float_path(spec, spec.steps, detail) == "engine":
        detail = "matrix"
    estimate = budget.estimate_network(spec, steps=spec.steps, detail=detail, policy=policy, fmt=None,
                                       numbers=budget.spec_numbers(spec), what="check")
    budget.enforce(estimate, budget.network_advice(spec, spec.steps, detail, policy))


def solve_for_check(spec: Any, *, round_digits: Optional[int] = None, exact: bool = False) -> Solution:
    """Solve under the policy the check asks for; the Solution can re-solve the same spec
    under another policy (hand rounding, for the diagnoses)."""
    def again(**policy) -> Solution:
        return solve_for_check(spec, **policy)

    if _is_graph(spec):
        from ..calc.arithmetic import ExactArithmetic, RoundedArithmetic
        from ..graph.minimize import solve_any_graph

        if round_digits is not None and exact:
            raise BackpropError("--round and --exact cannot be combined: choose one number policy")
        arith = ExactArithmetic() if exact else RoundedArithmetic(round_digits) if round_digits is not None else None
        trace = solve_any_graph(spec, arith)
        return Solution(spec, trace, again)
    if getattr(spec, "kind", "network") == "layered":
        from ..network.typed_solve import solve_layered

        return Solution(spec, solve_layered(spec, round_digits=round_digits, exact=exact), again)
    from ..network.solve import float_path, resolve_detail, solve

    if round_digits is None and not exact:
        if float_path(spec, spec.steps, resolve_detail(spec, "auto", "float")) == "derivation":
            # the path `solve` takes for this spec: the same bits as its JSON (issue 17)
            return Solution(spec, solve(spec), again)
        # float64 values come from the engine; the scalar derivation is built only if
        # the key names one of its local factors (Solution.upgrade) — 5× faster.
        return Solution(spec, solve(spec, detail="matrix"), again, full_detail=lambda: solve(spec))
    try:
        trace = solve(spec, round_digits=round_digits, exact=exact)
    except (ImportError, NotImplementedError) as error:
        flag = "--exact" if exact else "--round"
        raise BackpropError(f"{flag} is not available for this spec ({error})") from None
    return Solution(spec, trace, again)


def _is_graph(spec: Any) -> bool:
    return getattr(spec, "kind", "network") == "graph" or type(spec).__name__ == "GraphSpec"


# ----------------------------------------------------------------------------------------
# comparing


def tolerance_for(entry: Entry, key_tolerance: Optional[Tolerance], options: CheckOptions) -> Tolerance:
    """--abs/--rel, else the key's `tolerance:`, else 1.5 units in the literal's last place."""
    return options.override or key_tolerance or literal_tolerance(entry.text)


def compare(entry: Entry, key_tolerance: Optional[Tolerance], options: CheckOptions, solution: Solution) -> Result:
    # Results are built with every field positional: the cheapest frozen record, which
    # matters for keys of 100,000 values.
    label, expected, computed, text, line, column = entry.label, entry.expected, entry.computed, entry.text, entry.line, entry.column
    if not entry.numeric:
        return Result(label, expected, computed, None, None, expected == computed, None, text, line, column, None)
    if options.exact and "/" in text and entry.name is not None:
        exact = getattr(solution.trace, "exact", {}).get(entry.name)
        if exact is not None:
            ok, difference, limit = _exact_compare(exact, text)
            return Result(label, expected, computed, difference, limit, ok, None, text, line, column, None)
    chosen = options.override or key_tolerance
    decimals = None if chosen else literal_decimals(text)
    tolerance = chosen or decimal_tolerance(decimals)  # = tolerance_for(entry, …)
    difference = computed - expected
    limit = tolerance.limit(expected)
    ok = abs(difference) <= limit * (1 + 1e-9)  # Tolerance.allows, inlined
    warning = None if not ok or chosen else loose_warning(expected, computed, limit, decimals)
    return Result(label, expected, computed, difference, limit, ok, None, text, line, column, warning)


def loose_warning(expected: float, computed: float, limit: float, decimals: Optional[int]) -> Optional[str]:
    """Words for a pass under a literal tolerance wider than LOOSE_SHARE of the value
    (of the larger of expected and computed, so `0.0` against 0.03 is caught too) by a
    literal that is not the value rounded to the literal's own decimals."""
    scale = max(abs(expected), abs(computed))
    if decimals is None or scale == 0 or limit <= LOOSE_SHARE * scale:
        return None
    half_unit = 0.5 * 10.0 ** -decimals
    if abs(computed - expected) <= half_unit * (1 + 1e-9):
        return None  # the correct rounding: as right as this precision can be
    rounded = f"{computed:.{decimals}f}" if decimals >= 0 else f"{computed:.3g}"
    return (f"loose: passes only by its written precision (±{limit:.2g}, {100 * limit / scale:.0f} % of the "
            f"value); {'rounded' if decimals >= 0 else 'it is'} {rounded}: write more decimals")


def _exact_compare(value: Any, text: str) -> tuple[bool, float, float]:
    """A fraction string against an exact value: equal as rationals, or within 1e-30
    relative when the value is a closed form (evaluated to 50 digits)."""
    if getattr(value, "is_rational", False):  # arithmetic.ExactValue: a Fraction …
        value = value.expr
    elif hasattr(value, "to_sympy"):  # … or a closed form, handed to sympy to evaluate
        value = value.to_sympy()
    target = Fraction(text.strip())
    if isinstance(value, (int, Fraction)):  # exact arithmetic keeps rationals as Fractions
        return value == target, float(value - target), 0.0
    import sympy

    target = sympy.Rational(target.numerator, target.denominator)
    if getattr(value, "is_Rational", False):
        return bool(value == target), float(value - target), 0.0
    gap = sympy.N(value - target, 50)
    limit = EXACT_RELATIVE * abs(target) if target != 0 else EXACT_RELATIVE
    return bool(abs(gap) <= limit), float(gap), float(limit)


def explain(results: list[Result], entries: list[Entry], key_tolerance, options, solution) -> list[Result]:
    """The cause of each numeric mismatch that has a canonical name (None: no simple one)."""
    if all(r.ok for r in results):
        return results
    from .diagnose import Diagnoser, Miss

    diagnoser = Diagnoser(solution)
    out = []
    for result, entry in zip(results, entries):
        if not result.ok and entry.numeric and entry.name is not None:
            miss = Miss(
                entry.name, entry.expected, entry.computed, tolerance_for(entry, key_tolerance, options),
                literal_decimals(entry.text),
            )
            result = replace(result, cause=diagnoser.cause(miss))
        out.append(result)
    return out


# ----------------------------------------------------------------------------------------
# formatting (pure: strings and rich renderables; the CLI prints them)

NO_CAUSE = "no simple explanation"


def count(n: int, singular: str, plural: Optional[str] = None) -> str:
    """'1 value', '2 values'."""
    return f"{n} {singular if n == 1 else plural or singular + 's'}"


def summary_line(report: SpecReport) -> str:
    if report.error is not None:
        return f"ERROR   {report.spec}: bad input (see the message above)"
    if report.key is None:
        return f"NO KEY  {report.spec}: no answer key (looked for {sibling_key(Path(report.spec))})"
    total, bad = len(report.results), len(report.mismatches)
    loose = len(report.loose)
    note = f"; {count(loose, 'value')} {'passes' if loose == 1 else 'pass'} only loosely (few decimals)" if loose else ""
    if bad:
        verb = "mismatches" if bad == 1 else "mismatch"
        return f"FAIL    {report.spec}: {bad} of {count(total, 'value')} {verb}{note} (key {report.key})"
    verb = "matches" if total == 1 else "match"
    return f"PASS    {report.spec}: {count(total, 'value')} {verb}{note} (key {report.key})"


def total_line(report: Report) -> str:
    checked = [s for s in report.specs if s.checked]
    values = sum(len(s.results) for s in checked)
    bad = sum(len(s.mismatches) for s in checked)
    failing = sum(1 for s in checked if s.mismatches)
    parts = [f"{count(len(checked), 'spec')} checked, {count(values, 'value')}"]
    parts.append(f"{bad} mismatch{'es' if bad != 1 else ''} in {failing} spec{'s' if failing != 1 else ''}" if bad else "all match")
    missing = sum(1 for s in report.specs if s.key is None and s.error is None)
    if missing:
        parts.append(f"{missing} without a key")
    errors = sum(1 for s in report.specs if s.error)
    if errors:
        parts.append(f"{errors} with bad input")
    return "; ".join(parts)


def shown_computed(result: Result) -> str:
    """Computed values with two more decimals than the expected literal, to see the gap."""
    if not isinstance(result.computed, float):
        return str(result.computed)
    computed = result.computed + 0.0  # −0.0 shows as 0.0
    decimals = literal_decimals(result.text)
    if decimals is not None and 0 <= decimals <= 14 and "e" not in result.text.lower():
        return f"{computed:.{min(decimals + 2, 16)}f}"
    return f"{computed:.10g}"


COMPACT_BELOW = 120  # columns: narrower tables drop difference and tolerance, so the cause stays readable


def render_table(report: SpecReport, mismatches_only: bool = False, rows: int = TABLE_ROWS, width: Optional[int] = None):
    """A rich table: name, expected, computed, difference, tolerance, ok, cause —
    mismatches first, at most `rows` rows (a caption counts those left out). Under
    COMPACT_BELOW columns the difference and tolerance columns are left out (expected
    and computed say the same, and JSON/JUnit keep them): at 80 columns the cause would
    otherwise be squeezed to a few letters a line."""
    compact = width is not None and width < COMPACT_BELOW
    from rich import box
    from rich.table import Table
    from rich.text import Text

    shown = [r for r in report.results if not (mismatches_only and r.ok and not r.warning)]
    left_out = len(shown) - rows
    caption = None
    if left_out > 0:
        shown = shown[:rows]
        caption = Text(f"… and {count(left_out, 'more value')} not shown ({count(len(report.mismatches), 'mismatch', 'mismatches')} "
                       "in all); --format json or --junit lists every value", justify="left")
    table = Table(title=Text(f"{visible(report.spec)}  ⟷  {visible(str(report.key))}"), box=box.SIMPLE_HEAD, title_justify="left",
                  caption=caption, caption_justify="left")
    table.add_column("name", style="bold", no_wrap=True)
    table.add_column("expected", justify="right", no_wrap=True)
    table.add_column("computed", justify="right", no_wrap=True)
    if not compact:
        table.add_column("difference", justify="right", no_wrap=True)
        table.add_column("tolerance", justify="right", no_wrap=True)
    table.add_column("ok", justify="center", no_wrap=True)
    table.add_column("cause", min_width=20)
    for r in shown:
        difference = "" if r.difference is None else f"{r.difference:+.2e}"
        cause = (r.warning or "") if r.ok else (r.cause or NO_CAUSE)
        # key text: never markup, never a control character
        texts = (r.name, r.text, shown_computed(r)) + (() if compact else (difference, shown_tolerance(r)))
        cells = (Text(visible(str(c))) for c in texts)
        mark = (Text("~", style="bold yellow") if r.warning else Text("✓", style="green")) if r.ok else Text("✗", style="bold red")
        table.add_row(*cells, mark, Text(visible(cause)), style=None if r.ok and not r.warning else "yellow" if r.ok else "red")
    return table


def shown_tolerance(r: Result) -> str:
    """±limit, the largest difference that passes (0 for an exact comparison)."""
    if r.tolerance is None:
        return "equal"
    return "exact" if r.tolerance == 0 else f"±{r.tolerance:.2g}"


def report_json(report: Report) -> dict:
    """SPEC §6: {"ok", "specs": [{"spec", "key", "ok", "results": [...]}]}; a spec that
    could not be checked adds its "error"."""
    return {"ok": report.ok, "specs": [_spec_json(s, [result_json(r) for r in s.results]) for s in report.specs]}


def report_json_text(report: Report) -> str:
    """`report_json` as text (json.loads gives back the same document)."""
    return "\n".join(report_json_lines(report))


def report_json_lines(report: Report) -> Iterator[str]:
    """`report_json` as lines of text, one result a line, for the CLI to stream: the C
    encoder on each small record (the pretty-printing encoder is pure Python and took
    ~5 s for 200 specs), a layout a person can still read and diff, and no second copy
    of a 100,000-value report in memory."""
    import json

    encode = json.JSONEncoder(ensure_ascii=False, separators=(", ", ": ")).encode
    yield '{"ok": ' + encode(report.ok) + ', "specs": ['
    for i, s in enumerate(report.specs):
        head = encode({"spec": s.spec, "key": s.key, "ok": s.ok})
        yield "  " + head[:-1] + ', "results": ['
        last = len(s.results) - 1
        for j, r in enumerate(s.results):
            yield "    " + encode(result_json(r)) + ("," if j < last else "")
        error = "" if s.error is None else ', "error": ' + encode(s.error)
        yield "  ]" + error + "}" + ("," if i < len(report.specs) - 1 else "")
    yield "]}"


def _spec_json(s: SpecReport, results: list) -> dict:
    entry: dict[str, Any] = {"spec": s.spec, "key": s.key, "ok": s.ok, "results": results}
    if s.error is not None:
        entry["error"] = s.error
    return entry


def result_json(r: Result) -> dict:
    """One result record; −0.0 is written 0.0, as solve writes it (x + 0.0 drops the sign
    of a zero only). `warning` is added when a pass proves little (docs/check.md)."""
    record = {
        "name": r.name, "expected": _no_negative_zero(r.expected), "computed": _no_negative_zero(r.computed),
        "difference": _no_negative_zero(r.difference), "tolerance": _no_negative_zero(r.tolerance),
        "ok": r.ok, "cause": r.cause,
    }
    if r.warning is not None:
        record["warning"] = r.warning
    return record


def _no_negative_zero(x: Any) -> Any:
    return x + 0.0 if isinstance(x, float) else x
