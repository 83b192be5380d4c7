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
from typing import Callable, Any, Optional, Sequence, Union

from ..errors import BackpropError
from ..frozen import frozen, replace
from .keys import Entry, Solution, Tolerance, literal_decimals, literal_tolerance, read_key, resolve
from ..read.numbers import parse_text
from ..read.yamlsafe import MAX_SIZE

EXACT_RELATIVE = 1e-30  # closed forms under --exact: 50-digit evaluation, 1e-30 relative


@frozen
class CheckOptions:
    """How values are compared: tolerances that override the key's, and the number policy."""

    abs: Optional[float] = None  # --abs; with --rel, replaces every other tolerance
    rel: Optional[float] = None
    round_digits: Optional[int] = None  # --round D: compare with the hand-rounded solve
    exact: bool = False
    max_size: int = MAX_SIZE

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
        raise BackpropError(f"{flag} takes a number, got {text!r} ({parsed})")
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
            reports.append(SpecReport(str(spec), None))
            continue
        try:
            reports.append(check_spec(spec, key_path, options))
        except BackpropError as error:
            message = str(error)
            if str(spec) not in message and str(key_path) not in message:
                message = f"{spec}: {message}"  # e.g. "--round is not available with adam"
            reports.append(SpecReport(str(spec), str(key_path), error=message))
        except ImportError as error:  # e.g. a graph spec before graph mode exists
            reports.append(SpecReport(str(spec), str(key_path), error=f"{spec}: cannot check this spec ({error})"))
    return Report(tuple(reports))


def check_spec(spec_path: Path, key_path: Path, options: CheckOptions) -> SpecReport:
    """One spec against one key; raises BackpropError (KeyFileError, SpecError) for bad input."""
    from ..load import load_spec

    spec = load_spec(spec_path, max_size=options.max_size)
    key = read_key(key_path, max_size=options.max_size)
    solution = solve_for_check(spec, round_digits=options.round_digits, exact=options.exact)
    entries = resolve(key, solution)
    results = [compare(entry, key.tolerance, options, solution) for entry in entries]
    results = explain(results, entries, key.tolerance, options, solution)
    ordered = sorted(results, key=lambda r: r.ok)  # mismatches first, key order kept
    return SpecReport(str(spec_path), str(key_path), tuple(ordered))


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
    from ..network.solve import solve

    if round_digits is None and not exact:
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
    where = {"text": entry.text, "line": entry.line, "column": entry.column}
    if not entry.numeric:
        return Result(entry.label, entry.expected, entry.computed, None, None, entry.expected == entry.computed, **where)
    if options.exact and "/" in entry.text and entry.name is not None:
        exact = getattr(solution.trace, "exact", {}).get(entry.name)
        if exact is not None:
            ok, difference, limit = _exact_compare(exact, entry.text)
            return Result(entry.label, entry.expected, entry.computed, difference, limit, ok, **where)
    tolerance = tolerance_for(entry, key_tolerance, options)
    difference = entry.computed - entry.expected
    return Result(
        entry.label, entry.expected, entry.computed, difference, tolerance.limit(entry.expected),
        tolerance.allows(entry.expected, entry.computed), **where,
    )


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


def summary_line(report: SpecReport) -> str:
    if report.error is not None:
        return f"ERROR   {report.spec}: bad input (see the message above)"
    if report.key is None:
        return f"NO KEY  {report.spec}: no answer key (looked for {sibling_key(Path(report.spec))})"
    total, bad = len(report.results), len(report.mismatches)
    if bad:
        return f"FAIL    {report.spec}: {bad} of {total} values mismatch (key {report.key})"
    return f"PASS    {report.spec}: {total} values match (key {report.key})"


def total_line(report: Report) -> str:
    checked = [s for s in report.specs if s.checked]
    values = sum(len(s.results) for s in checked)
    bad = sum(len(s.mismatches) for s in checked)
    failing = sum(1 for s in checked if s.mismatches)
    parts = [f"{len(checked)} spec{'s' if len(checked) != 1 else ''} checked, {values} values"]
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
    decimals = literal_decimals(result.text)
    if decimals is not None and 0 <= decimals <= 14 and "e" not in result.text.lower():
        return f"{result.computed:.{min(decimals + 2, 16)}f}"
    return f"{result.computed:.10g}"


def render_table(report: SpecReport, mismatches_only: bool = False):
    """A rich table: name, expected, computed, difference, ok, cause — mismatches first."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    table = Table(title=Text(f"{report.spec}  ⟷  {report.key}"), box=box.SIMPLE_HEAD, title_justify="left")
    table.add_column("name", style="bold", no_wrap=True)
    table.add_column("expected", justify="right", no_wrap=True)
    table.add_column("computed", justify="right", no_wrap=True)
    table.add_column("difference", justify="right", no_wrap=True)
    table.add_column("ok", justify="center", no_wrap=True)
    table.add_column("cause")
    for r in report.results:
        if mismatches_only and r.ok:
            continue
        difference = "" if r.difference is None else f"{r.difference:+.2e}"
        cause = "" if r.ok else (r.cause or NO_CAUSE)
        cells = (Text(str(c)) for c in (r.name, r.text, shown_computed(r), difference))  # key text is never markup
        mark = Text("✓", style="green") if r.ok else Text("✗", style="bold red")
        table.add_row(*cells, mark, Text(cause), style=None if r.ok else "red")
    return table


def report_json(report: Report) -> dict:
    """SPEC §6: {"ok", "specs": [{"spec", "key", "ok", "results": [...]}]}; a spec that
    could not be checked adds its "error"."""
    specs = []
    for s in report.specs:
        entry: dict[str, Any] = {"spec": s.spec, "key": s.key, "ok": s.ok, "results": [_result_json(r) for r in s.results]}
        if s.error is not None:
            entry["error"] = s.error
        specs.append(entry)
    return {"ok": report.ok, "specs": specs}


def _result_json(r: Result) -> dict:
    return {
        "name": r.name, "expected": r.expected, "computed": r.computed, "difference": r.difference,
        "tolerance": r.tolerance, "ok": r.ok, "cause": r.cause,
    }
