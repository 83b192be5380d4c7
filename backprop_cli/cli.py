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

from .errors import BackpropError, ComputeError
from .read.yamlsafe import MAX_SIZE

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
        output.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
    except OSError as exc:
        raise BackpropError(f"{output}: cannot write ({exc.strerror or exc})") from None


@app.command()
def solve(
    spec: Path = typer.Argument(..., help="The network or graph spec (YAML).", show_default=False),
    format: Format = typer.Option(Format.table, "--format", "-f", help="Output format."),
    steps: Optional[int] = typer.Option(None, "--steps", help="Training steps (overrides the spec's `steps`)."),
    digits: int = typer.Option(4, "--digits", help="Decimals shown (small values keep 3 significant digits, exact integers print as "
                        "integers); computation stays full precision."),
    round_: Optional[int] = typer.Option(
        None, "--round", metavar="D",
        help="Hand-calculation mode: round every computed number to D decimals and carry the rounded values.",
    ),
    exact: bool = typer.Option(False, "--exact", help="Exact rationals and closed forms (sympy)."),
    symbolic: bool = typer.Option(False, "--symbolic", help="Show each gradient as a formula in the names first."),
    detail: Detail = typer.Option(Detail.auto, "--detail", help="Scalar equations, matrix form, or chosen by size."),
    notation: Optional[str] = typer.Option(None, "--notation", help="Display notation: standard, mazur, hidden_output, indexed."),
    standalone: bool = typer.Option(False, "--standalone", help="LaTeX: a complete document for pdflatex."),
    lang: Lang = typer.Option(Lang.en, "--lang", help="Language of the prose: en or ko."),
    show_steps: Optional[str] = typer.Option(
        None, "--show-steps", metavar="WHICH",
        help="Steps written out in full: all, first,last or numbers such as 1,2,5. Default: every step "
        "of a run of up to 3 steps, else steps 1, 2 and the last (the loss table covers every step).",
    ),
    heading_level: int = typer.Option(
        1, "--heading-level", metavar="N",
        help="LaTeX/Markdown: level of the top headings (1 = \\section*/##, 2 = \\subsection*/###, ...).",
    ),
    no_title: bool = typer.Option(False, "--no-title", help="LaTeX/Markdown: leave out the title block."),
    questions: bool = typer.Option(
        False, "--questions",
        help="A question sheet: the givens and the tasks with blanks, no answers (table, LaTeX, Markdown).",
    ),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write to this file instead of stdout."),
    max_size: int = typer.Option(MAX_SIZE, "--max-size", help="Refuse spec files larger than this many bytes."),
) -> None:
    """Solve a spec and show every step: forward pass, loss, chain rule, update.

    Example: backprop solve configs/bce_2_2_1.yaml --format latex --standalone -o bce_2_2_1.tex
    """
    from .render import render
    from .load import load_spec

    try:
        if not 0 <= digits <= 15:
            raise BackpropError(f"--digits takes 0…15, got {digits}")
        if format == Format.table and standalone:
            raise BackpropError("--standalone applies to --format latex")
        if questions and format == Format.json:
            raise BackpropError("--questions applies to --format table, latex or markdown")
        from .render.common import parse_show_steps

        shown = parse_show_steps(show_steps)
        loaded = load_spec(spec, max_size=max_size)
        for message in getattr(loaded, "warnings", ()):
            _warn(f"{spec}: {message}")
        trace = _solve(loaded, steps=steps, round_digits=round_, exact=exact, symbolic=symbolic, detail=detail.value,
                       show_steps=shown)
        if questions:
            from .render.questions import render_questions

            text = render_questions(trace, format.value, digits=digits, lang=lang.value, notation=notation,
                                    standalone=standalone, heading_level=heading_level, title=not no_title)
            _write(text, output)
            return
        if format == Format.table and output is None:
            from rich.console import Console

            from .render import table_renderable

            Console().print(table_renderable(trace, digits=digits, lang=lang.value, notation=notation, show_steps=shown))
            return
        text = render(trace, format.value, digits=digits, lang=lang.value, notation=notation, standalone=standalone,
                      show_steps=shown, heading_level=heading_level, title=not no_title, width=None)
        _write(text, output)
    except ComputeError as error:  # raised below the file level: name the file here
        raise _fail(error.located(file=str(spec))) from None
    except BackpropError as error:
        raise _fail(error) from None


def _solve(loaded, *, steps, round_digits, exact, symbolic, detail, show_steps=None):
    if getattr(loaded, "kind", "network") == "graph" or type(loaded).__name__ == "GraphSpec":
        from .graph.solve import solve_graph

        if getattr(loaded, "minimize", None):
            return _minimize(loaded, steps, round_digits, exact)
        if steps is not None:
            raise BackpropError("--steps applies to network specs and to graphs with `minimize:`")
        if show_steps is not None:
            raise BackpropError("--show-steps applies to network specs, not graphs (a graph has no steps)")
        if symbolic:
            raise BackpropError("--symbolic applies to network specs (a graph already shows its local formulas)")
        return solve_graph(loaded, **_graph_policy(round_digits, exact))
    if getattr(loaded, "kind", "network") == "layered":  # conv, pooling, norm, dropout, rnn, lstm
        from .network.typed_solve import solve_layered

        if symbolic:
            raise BackpropError("--symbolic applies to dense networks")
        return solve_layered(loaded, steps=steps, round_digits=round_digits, exact=exact)
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


def _minimize(loaded, steps, round_digits, exact):
    """Gradient descent on a graph (`minimize:`), `--steps` overriding the spec's."""
    from .calc.arithmetic import FloatArithmetic
    from .frozen import replace
    from .graph.solve import MAX_MINIMIZE_STEPS
    from .graph.minimize import solve_minimize

    if steps is not None:
        if not 1 <= steps <= MAX_MINIMIZE_STEPS:
            raise BackpropError(f"--steps: a graph's gradient descent takes 1…{MAX_MINIMIZE_STEPS} steps, got {steps}")
        loaded = replace(loaded, steps=steps)
    return solve_minimize(loaded, _graph_policy(round_digits, exact).get("arith") or FloatArithmetic())


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
) -> None:
    """Check spec files without solving them; exit 2 at the first bad one.

    Example: backprop validate configs/
    """
    from .load import load_spec

    files = _spec_files(specs)
    if not files:
        raise _fail(BackpropError("no spec files given (key files are skipped)"))
    progress, advance = _progress(len(files), "validating")
    try:
        for done, path in enumerate(files, 1):
            try:
                loaded = load_spec(path, max_size=max_size)
            except BackpropError as error:
                raise _fail(error) from None
            for message in getattr(loaded, "warnings", ()):
                _warn(f"{path}: {message}")
            typer.echo(f"ok  {path}")
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
) -> None:
    """Check answer keys against the solved values and name the likely cause of each mismatch.

    Exit 0 when every value matches, 1 on any mismatch, 2 on bad input.
    Example: backprop check configs/*.yaml --junit check.xml
    """
    from .check.compare import (
        CheckOptions, check_files, parse_tolerance_option, render_table, report_json, summary_line, total_line,
    )

    try:
        options = CheckOptions(
            abs=parse_tolerance_option(abs_, "--abs"), rel=parse_tolerance_option(rel, "--rel"),
            round_digits=round_, exact=exact, max_size=max_size,
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
            from .read.suggest import suggest

            names = [e.name for e in list_examples()]
            hint = suggest(example, names) or "run `backprop examples` to list them"
            raise _fail(BackpropError(f"no example named {example!r} ({hint})"))
        text = found.path.read_text(encoding="utf-8")
    else:
        text = STARTER
    if path.exists() and not force:
        raise _fail(BackpropError(f"{path} already exists (use --force to overwrite)"))
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise _fail(BackpropError(f"{path}: cannot write ({exc.strerror or exc})")) from None
    typer.echo(f"wrote {path}: edit it, then run `backprop solve {path}`")


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


def main() -> None:
    """Console-script entry: a bug must still not show a traceback to a user."""
    try:
        app()
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
