"""The command line: the only place that reads files, prints, and picks exit codes.

Every library error (`BackpropError`) is caught here and becomes one message on stderr
and exit 2 (SPEC §7); nothing else in the package prints or exits.
"""
from __future__ import annotations

import os
import sys
from enum import Enum
from pathlib import Path
from typing import List, Optional

import typer

from .errors import BackpropError, ComputeError, display_path
from .budget import MAX_DOCUMENT_NODES, spec_numbers
from .read.yamlsafe import MAX_SIZE, check_max_size

app = typer.Typer(
    name="backprop",
    help="Worked-example solver for neural-network backpropagation: every forward, "
    "chain-rule and update step, as tables, LaTeX, Markdown or JSON.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


class Format(str, Enum):
    table = "table"
    latex = "latex"
    markdown = "markdown"
    json = "json"


class Detail(str, Enum):
    auto = "auto"
    scalar = "scalar"
    matrix = "matrix"


class Lang(str, Enum):
    en = "en"
    ko = "ko"


class CheckFormat(str, Enum):
    table = "table"
    json = "json"


def _fail(error: BaseException, code: int = 2) -> "typer.Exit":
    typer.echo(f"error: {error}", err=True)
    return typer.Exit(code)


def _warn(message: str) -> None:
    typer.echo(f"warning: {message}", err=True)


def _progress(total: int, label: str):
    """A rich progress bar on a TTY for long work; None (silent) when piped."""
    if total < 50 or not sys.stderr.isatty() or os.environ.get("CI"):
        return None, None
    from rich.console import Console
    from rich.progress import Progress

    progress = Progress(console=Console(stderr=True), transient=True)
    task = progress.add_task(label, total=total)
    progress.start()

    def advance(done: int, _total: int) -> None:
        progress.update(task, completed=done)

    return progress, advance


def _write(text: str, output: Optional[Path]) -> None:
    if output is None:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        return
    try:
        output.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8", errors="backslashreplace")
    except OSError as exc:
        raise BackpropError(f"{display_path(output)}: cannot write ({exc.strerror or exc})") from None


@app.command()
def solve(
    spec: Path = typer.Argument(..., help="The network or graph spec (YAML).", show_default=False),
    format: Format = typer.Option(Format.table, "--format", "-f", help="Output format."),
    steps: Optional[int] = typer.Option(None, "--steps", help="Training steps (overrides the spec's `steps`)."),
    digits: int = typer.Option(4, "--digits", help="Decimals shown; computation stays full precision."),
    round_: Optional[int] = typer.Option(
        None, "--round", metavar="D",
        help="Hand-calculation mode: round every computed number to D decimals and carry the rounded values.",
    ),
    exact: bool = typer.Option(False, "--exact", help="Exact rationals and closed forms (sympy)."),
    symbolic: bool = typer.Option(False, "--symbolic", help="Show each gradient as a formula in the names first."),
    detail: Detail = typer.Option(Detail.auto, "--detail", help="Scalar equations, matrix form, or chosen by size."),
    notation: Optional[str] = typer.Option(None, "--notation", help="Display notation: standard, mazur, hidden_output, indexed (network specs; no effect on JSON)."),
    standalone: bool = typer.Option(False, "--standalone", help="LaTeX: a complete document for pdflatex (only with --format latex)."),
    lang: Lang = typer.Option(Lang.en, "--lang", help="Language of the prose: en or ko."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write to this file instead of stdout."),
    max_size: int = typer.Option(MAX_SIZE, "--max-size", help="Refuse spec files larger than this many bytes."),
    no_limits: bool = typer.Option(
        False, "--no-limits", help="Skip the work budget (estimated time and memory, docs/limits.md) for a trusted file.",
    ),
) -> None:
    """Solve a spec and show every step: forward pass, loss, chain rule, update.

    Example: backprop solve configs/bce_2_2_1.yaml --format latex --standalone -o bce_2_2_1.tex
    """
    from .render import render
    from .network.spec import load_spec

    try:
        if not 0 <= digits <= 15:
            raise BackpropError(f"--digits takes 0…15, got {digits}")
        if format != Format.latex and standalone:  # an option that would do nothing is refused
            raise BackpropError(f"--standalone applies to --format latex (not {format.value})")
        if format == Format.json and notation is not None:  # harmless in scripts: said, not refused
            _warn("--notation has no effect with --format json (JSON always uses the canonical names)")
        check_max_size(max_size)
        loaded = load_spec(spec, max_size=max_size, max_nodes=None if no_limits else MAX_DOCUMENT_NODES)
        if notation is not None and _is_graph_spec(loaded):
            _warn("--notation has no effect on a graph spec (a graph is written in its own node names)")
        if not no_limits:
            _enforce_budget(loaded, steps=steps, round_digits=round_, exact=exact, detail=detail.value, fmt=format.value)
        for message in getattr(loaded, "warnings", ()):
            _warn(f"{display_path(spec)}: {message}")
        trace = _solve(loaded, steps=steps, round_digits=round_, exact=exact, symbolic=symbolic, detail=detail.value)
        if format == Format.table and output is None:
            from rich.console import Console

            from .render.table import render_table

            Console().print(render_table(trace, digits=digits, lang=lang.value, notation=notation))
            return
        text = render(trace, format.value, digits=digits, lang=lang.value, notation=notation, standalone=standalone)
        _write(text, output)
    except ComputeError as error:  # raised below the file level: name the file here
        raise _fail(error.located(file=display_path(spec))) from None
    except BackpropError as error:
        raise _fail(error) from None


def _enforce_budget(loaded, *, steps, round_digits, exact, detail, fmt) -> None:
    """Refuse, before solving, a run estimated past the work budget (budget.py)."""
    from .budget import enforce, estimate_graph, estimate_network, graph_advice, network_advice

    policy = "exact" if exact else "round" if round_digits is not None else "float"
    if _is_graph_spec(loaded):
        enforce(estimate_graph(loaded, policy=policy, fmt=fmt), graph_advice(loaded))
        return
    from .network.solve import resolve_detail

    total = steps if steps is not None else loaded.steps
    if not isinstance(total, int) or total < 1:
        return  # the solve refuses it with its own message
    resolved = resolve_detail(loaded, detail, policy)
    estimate = estimate_network(loaded, steps=total, detail=resolved, policy=policy, fmt=fmt,
                                numbers=spec_numbers(loaded))
    enforce(estimate, network_advice(loaded, total, resolved, policy))


def _is_graph_spec(loaded) -> bool:
    return getattr(loaded, "kind", "network") == "graph" or type(loaded).__name__ == "GraphSpec"


def _solve(loaded, *, steps, round_digits, exact, symbolic, detail):
    if _is_graph_spec(loaded):
        from .graph.solve import solve_graph

        if steps is not None:
            raise BackpropError("--steps applies to network specs, not graphs")
        if symbolic:
            raise BackpropError("--symbolic applies to network specs (a graph already shows its local formulas)")
        return solve_graph(loaded, **_graph_policy(round_digits, exact))
    from .network.solve import solve as solve_network

    progress, advance = _progress(steps or loaded.steps, "solving")
    try:
        return solve_network(
            loaded, steps=steps, round_digits=round_digits, exact=exact, detail=detail, symbolic=symbolic,
            progress=advance,
        )
    finally:
        if progress is not None:
            progress.stop()


def _graph_policy(round_digits, exact) -> dict:
    from .calc.arithmetic import ExactArithmetic, RoundedArithmetic

    if round_digits is not None and exact:
        raise BackpropError("--round and --exact cannot be combined: choose one number policy")
    if exact:
        return {"arith": ExactArithmetic()}
    if round_digits is not None:
        if not 0 <= round_digits <= 12:
            raise BackpropError(f"--round takes 0…12 decimals, got {round_digits}")
        return {"arith": RoundedArithmetic(round_digits)}
    return {}


def _spec_files(paths: List[Path]) -> list[Path]:
    """Files as given; a directory means its *.yaml specs; key files are skipped."""
    from .read.examples import is_key_file

    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            out.extend(p for p in sorted(path.glob("*.yaml")) + sorted(path.glob("*.yml")) if not is_key_file(p))
        elif not is_key_file(path):
            out.append(path)
    return out


@app.command()
def validate(
    specs: List[Path] = typer.Argument(..., help="Spec files or directories.", show_default=False),
    max_size: int = typer.Option(MAX_SIZE, "--max-size", help="Refuse spec files larger than this many bytes."),
    no_limits: bool = typer.Option(
        False, "--no-limits", help="Read documents past 1,000,000 values after alias expansion (trusted files).",
    ),
) -> None:
    """Check spec files without solving them; exit 2 at the first bad one.

    Example: backprop validate configs/
    """
    from .network.spec import load_spec

    try:
        check_max_size(max_size)
    except BackpropError as error:
        raise _fail(error) from None
    files = _spec_files(specs)
    if not files:
        raise _fail(BackpropError("no spec files given (key files are skipped)"))
    progress, advance = _progress(len(files), "validating")
    try:
        for done, path in enumerate(files, 1):
            try:
                loaded = load_spec(path, max_size=max_size, max_nodes=None if no_limits else MAX_DOCUMENT_NODES)
            except BackpropError as error:
                raise _fail(error) from None
            for message in getattr(loaded, "warnings", ()):
                _warn(f"{display_path(path)}: {message}")
            typer.echo(f"ok  {display_path(path)}")
            if advance:
                advance(done, len(files))
    finally:
        if progress is not None:
            progress.stop()


@app.command()
def check(
    specs: List[Path] = typer.Argument(
        ..., metavar="SPEC|DIR", help="Spec files or directories (key files among them are skipped).", show_default=False,
    ),
    key: Optional[Path] = typer.Option(None, "--key", help="The answer key (default: each spec's sibling <stem>.key.yaml)."),
    abs_: Optional[str] = typer.Option(None, "--abs", metavar="A", help="Absolute tolerance; replaces the key's and the default."),
    rel: Optional[str] = typer.Option(None, "--rel", metavar="R", help="Relative tolerance; replaces the key's and the default."),
    round_: Optional[int] = typer.Option(None, "--round", metavar="D", help="Check against the hand-rounded computation (D decimals)."),
    exact: bool = typer.Option(False, "--exact", help="Compare fraction strings exactly."),
    format: CheckFormat = typer.Option(CheckFormat.table, "--format", "-f", help="Report format."),
    junit: Optional[Path] = typer.Option(None, "--junit", metavar="FILE", help="Also write JUnit XML (one testcase per value)."),
    max_size: int = typer.Option(MAX_SIZE, "--max-size", help="Refuse spec and key files larger than this many bytes."),
    no_limits: bool = typer.Option(
        False, "--no-limits", help="Skip the work budget (estimated time and memory, docs/limits.md) for trusted files.",
    ),
) -> None:
    """Check answer keys against the solved values and name the likely cause of each mismatch.

    Exit 0 when every value matches, 1 on any mismatch, 2 on bad input.
    Example: backprop check configs/*.yaml --junit check.xml
    """
    from .calc.arithmetic import check_round_digits
    from .check.compare import (
        CheckOptions, check_files, parse_tolerance_option, render_table, report_json, summary_line, total_line,
    )

    try:
        options = CheckOptions(
            abs=parse_tolerance_option(abs_, "--abs"), rel=parse_tolerance_option(rel, "--rel"),
            round_digits=None if round_ is None else check_round_digits(round_), exact=exact,
            max_size=check_max_size(max_size), limits=not no_limits,
        )
    except BackpropError as error:
        raise _fail(error) from None
    files = _spec_files(specs)
    if not files:
        raise _fail(BackpropError("no spec files given (key files are skipped)"))
    progress, advance = _progress(len(files), "checking")
    try:
        report = check_files(files, key, options, progress=advance)
    finally:
        if progress is not None:
            progress.stop()
    for spec_report in report.specs:
        if spec_report.error is not None:
            typer.echo(f"error: {spec_report.error}", err=True)
    if not any(s.checked or s.error for s in report.specs):
        typer.echo("error: no answer key found for any spec (write <stem>.key.yaml beside it, or pass --key)", err=True)
    if format == CheckFormat.json:
        if any(s.checked for s in report.specs):
            import json

            typer.echo(json.dumps(report_json(report), ensure_ascii=False, indent=2))
    else:
        from rich.console import Console

        console = Console(highlight=False, width=None if sys.stdout.isatty() else 160)
        several = len(report.specs) > 1
        for spec_report in report.specs:
            if spec_report.checked and (not several or spec_report.mismatches):
                console.print(render_table(spec_report, mismatches_only=several))
        for spec_report in report.specs:
            if spec_report.error is None:  # bad input is reported on stderr only (SPEC §8)
                console.print(summary_line(spec_report), markup=False)
        if several and any(s.error is None for s in report.specs):
            console.print(total_line(report), markup=False)
    if junit is not None:
        from .check.junit import junit_xml

        try:
            _write(junit_xml(report), junit)
        except BackpropError as error:
            raise _fail(error) from None
    raise typer.Exit(report.exit_code)


@app.command()
def init(
    path: Path = typer.Argument(Path("net.yaml"), help="Where to write the starter spec."),
    example: Optional[str] = typer.Option(None, "--example", help="Start from a shipped example (see `backprop examples`)."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing file."),
) -> None:
    """Write a commented starter spec to edit (never overwrites without --force).

    Example: backprop init my_net.yaml --example bce_2_2_1
    """
    from .read.examples import find_example, list_examples
    from .read.starter import STARTER

    if example is not None:
        found = find_example(example)
        if found is None:
            from .network.spec import suggest

            names = [e.name for e in list_examples()]
            hint = suggest(example, names) or "run `backprop examples` to list them"
            raise _fail(BackpropError(f"no example named {example!r} ({hint})"))
        text = found.path.read_text(encoding="utf-8")
    else:
        text = STARTER
    if path.exists() and not force:
        raise _fail(BackpropError(f"{display_path(path)} already exists (use --force to overwrite)"))
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise _fail(BackpropError(f"{display_path(path)}: cannot write ({exc.strerror or exc})")) from None
    typer.echo(f"wrote {display_path(path)}: edit it, then run `backprop solve {display_path(path)}`")


@app.command()
def examples() -> None:
    """List the shipped examples, one a line: NAME  description.

    Example: backprop init mine.yaml --example $(backprop examples | head -1 | cut -d' ' -f1)
    """
    from .read.examples import list_examples

    items = list_examples()
    width = max((len(e.name) for e in items), default=0)
    for e in items:
        typer.echo(f"{e.name.ljust(width)}  {e.description}")


@app.command()
def schema() -> None:
    """Print the JSON Schema of the spec format, for editors' YAML language servers.

    Example: backprop schema > backprop.schema.json
    """
    import json

    from .read.schema import spec_schema

    typer.echo(json.dumps(spec_schema(), indent=2))


# Equations are trees: a neuron with 6,000 inputs (the --detail scalar maximum) is a
# 6,000-term sum, and the renderers print it recursively. The core walks (expr.py) fall
# back to loops; as a net under every other walker, the command runs in a thread whose
# stack holds RECURSION_LIMIT Python frames (measured: < 3 KB of C stack each).
RECURSION_LIMIT = 40_000
THREAD_STACK = 256 * 1024 * 1024


def _run_with_deep_stack(function) -> None:
    """Run `function()` in a thread with a deep stack; re-raise what it raised here."""
    import threading

    outcome: list[BaseException] = []

    def target() -> None:
        try:
            function()
        except BaseException as exc:  # handed to the main thread, which decides the exit
            outcome.append(exc)

    old_limit, old_size = sys.getrecursionlimit(), threading.stack_size()
    try:
        threading.stack_size(THREAD_STACK)
        sys.setrecursionlimit(RECURSION_LIMIT)
        worker = threading.Thread(target=target, name="backprop", daemon=True)
        worker.start()
    except (RuntimeError, ValueError, MemoryError):  # no such stack here: run as is
        threading.stack_size(old_size)
        sys.setrecursionlimit(old_limit)
        function()
        return
    threading.stack_size(old_size)
    try:
        while worker.is_alive():
            worker.join(0.1)  # a timeout keeps Ctrl-C deliverable to this thread
    finally:
        sys.setrecursionlimit(old_limit)
    if outcome:
        raise outcome[0]


def main() -> None:
    """Console-script entry: a bug must still not show a traceback to a user."""
    for stream in (sys.stdout, sys.stderr):  # text that is not UTF-8 (a file name) is escaped, never a crash
        try:
            stream.reconfigure(errors="backslashreplace")
        except (AttributeError, ValueError):  # pragma: no cover - a replaced stream
            pass
    try:
        _run_with_deep_stack(app)
    except (KeyboardInterrupt, BrokenPipeError):
        sys.exit(130)
    except SystemExit:
        raise
    except RecursionError:
        typer.echo("error: input nested too deeply to process", err=True)
        sys.exit(2)
    except Exception as exc:  # pragma: no cover - the safety net for bugs
        typer.echo(f"internal error (a bug in backprop, please report it): {type(exc).__name__}: {exc}", err=True)
        sys.exit(3)
