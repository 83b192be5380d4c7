"""The command line: the only place that reads files, prints, and picks exit codes.

Every library error (`BackpropError`) is caught here and becomes one message on stderr
and exit 2 (SPEC §7); nothing else in the package prints or exits.
"""
from __future__ import annotations

import itertools
import os
import sys
from enum import Enum
from pathlib import Path
from typing import List, Optional

import typer

from .errors import BackpropError, ComputeError, display_path
from .help_format import HelpCommand
from .safe_text import clip, clip_message, quoted, visible
from .read.yamlsafe import MAX_SIZE, check_max_size
from .budget import MAX_DOCUMENT_NODES, spec_numbers

app = typer.Typer(
    name="backprop",
    help="Worked-example solver for neural-network backpropagation: every forward, "
    "chain-rule and update step, as tables, LaTeX, Markdown or JSON.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
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


def _fail(error: BaseException, code: int = 2, lang: str = "en") -> "typer.Exit":
    """One message on stderr (in `lang` where the catalogue has it) and the exit code;
    the message is cut to a readable length whatever the input held."""
    if lang != "en" and isinstance(error, BackpropError):
        from .messages import localized

        typer.echo(clip_message(localized(error, lang)), err=True)
    else:
        typer.echo(f"error: {clip_message(str(error))}", err=True)
    return typer.Exit(code)


def _warn(message: str) -> None:
    typer.echo(f"warning: {clip_message(message)}", err=True)


class _VisibleStream:
    """stdout for rich when it is not a terminal: rich writes no styles there, so every
    control character in what it writes came from user text — shown, never obeyed. The
    backstop under the escaping at each place user text enters a table."""

    def __init__(self, stream) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        return self._stream.write(visible(text, lines=True))

    def isatty(self) -> bool:
        return False

    def __getattr__(self, name):
        return getattr(self._stream, name)


def _console(**options):
    """A rich Console on stdout; off a terminal it writes through `_VisibleStream`."""
    from rich.console import Console

    if sys.stdout.isatty():
        return Console(**options)
    return Console(file=_VisibleStream(sys.stdout), force_terminal=False, **options)


def _piped_width() -> int:
    """Off a terminal: $COLUMNS when the user set it (a CI log, `COLUMNS=80 … | less`),
    else 160 — wide enough that a cause is not folded in a log nobody resizes."""
    try:
        columns = int(os.environ.get("COLUMNS", ""))
    except ValueError:
        return 160
    return columns if 40 <= columns <= 1000 else 160


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
    """Text output (LaTeX, Markdown, JSON, XML) to stdout or, atomically, to a file.

    Every renderer escapes user text itself; this is the backstop: no control character
    leaves the program raw (in JSON a DEL/C1 character becomes a `\\u` escape, which
    is the same JSON string)."""
    from .files import write_atomically

    text = visible(text if text.endswith("\n") else text + "\n", lines=True)
    if output is None:
        sys.stdout.write(text)
        return
    write_atomically(output, text)


@app.command(cls=HelpCommand)
def solve(
    spec: Path = typer.Argument(..., help="The network or graph spec (YAML).", show_default=False),
    format: Format = typer.Option(Format.table, "--format", "-f", help="Output format."),
    steps: Optional[int] = typer.Option(None, "--steps", metavar="N", help="Training steps (overrides the spec's `steps`)."),
    digits: int = typer.Option(4, "--digits", metavar="D", help="Decimals shown (small values keep 3 significant digits, exact integers print as "
                        "integers); computation stays full precision."),
    round_: Optional[int] = typer.Option(
        None, "--round", metavar="D",
        help="Hand-calculation mode: round every computed number to D decimals and carry the rounded values.",
    ),
    exact: bool = typer.Option(False, "--exact", help="Exact rationals and closed forms (sympy)."),
    symbolic: bool = typer.Option(False, "--symbolic", help="Show each gradient as a formula in the names first."),
    detail: Detail = typer.Option(Detail.auto, "--detail", help="Scalar equations, matrix form, or chosen by size."),
    notation: Optional[str] = typer.Option(None, "--notation", metavar="NAME", help="Display notation: standard, mazur, hidden_output, indexed (network specs; no effect on JSON)."),
    standalone: bool = typer.Option(False, "--standalone", help="LaTeX: a complete document for pdflatex (only with --format latex)."),
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
    output: Optional[Path] = typer.Option(None, "--output", "-o", metavar="FILE", help="Write to this file instead of stdout."),
    max_size: int = typer.Option(MAX_SIZE, "--max-size", metavar="BYTES", help="Refuse spec files larger than this many bytes."),
    no_limits: bool = typer.Option(
        False, "--no-limits", help="Skip the work budget (estimated time and memory, docs/limits.md) for a trusted file.",
    ),
) -> None:
    """Solve a spec and show every step: forward pass, loss, chain rule, update.

    Example: backprop solve configs/bce_2_2_1.yaml --format latex --standalone -o bce_2_2_1.tex
    """
    from .render import render
    from .load import load_spec

    try:
        if output is not None:
            from .files import guard_outputs

            guard_outputs(output, "--output", [("spec", spec)])
        if not 0 <= digits <= 15:
            raise BackpropError(f"--digits takes 0…15, got {digits}")
        if format != Format.latex and standalone:  # an option that would do nothing is refused
            raise BackpropError(f"--standalone applies to --format latex (not {format.value})")
        if questions and format == Format.json:
            raise BackpropError("--questions applies to --format table, latex or markdown")
        if format == Format.json and notation is not None:  # harmless in scripts: said, not refused
            _warn("--notation has no effect with --format json (JSON always uses the canonical names)")
        from .render.common import parse_show_steps

        shown = parse_show_steps(show_steps)
        check_max_size(max_size)
        loaded = load_spec(spec, max_size=max_size, max_nodes=None if no_limits else MAX_DOCUMENT_NODES)
        if notation is not None and _is_graph_spec(loaded):
            _warn("--notation has no effect on a graph spec (a graph is written in its own node names)")
        if not no_limits:
            _enforce_budget(loaded, steps=steps, round_digits=round_, exact=exact, detail=detail.value, fmt=format.value)
        for message in getattr(loaded, "warnings", ()):
            _warn(f"{display_path(spec)}: {message}")
        trace = _solve(loaded, steps=steps, round_digits=round_, exact=exact, symbolic=symbolic, detail=detail.value,
                       show_steps=shown)
        if questions:
            from .render.questions import render_questions

            text = render_questions(trace, format.value, digits=digits, lang=lang.value, notation=notation,
                                    standalone=standalone, heading_level=heading_level, title=not no_title)
            _write(text, output)
            return
        if format == Format.table and output is None:
            from .render import table_renderable

            _console().print(table_renderable(trace, digits=digits, lang=lang.value, notation=notation, show_steps=shown))
            return
        text = render(trace, format.value, digits=digits, lang=lang.value, notation=notation, standalone=standalone,
                      show_steps=shown, heading_level=heading_level, title=not no_title, width=None)
        _write(text, output)
    except ComputeError as error:  # raised below the file level: name the file here
        raise _fail(error.located(file=display_path(spec)), lang=lang.value) from None
    except BackpropError as error:
        raise _fail(error, lang=lang.value) from None


def _enforce_budget(loaded, *, steps, round_digits, exact, detail, fmt) -> None:
    """Refuse, before solving, a run estimated past the work budget (budget.py)."""
    from .budget import enforce, estimate_graph, estimate_network, graph_advice, network_advice

    policy = "exact" if exact else "round" if round_digits is not None else "float"
    if getattr(loaded, "kind", "network") == "layered":  # conv, pooling, norm, dropout, rnn, lstm
        from .budget import estimate_layered, layered_advice

        total = steps if isinstance(steps, int) and steps >= 1 else loaded.steps
        enforce(estimate_layered(loaded, steps=total, fmt=fmt, policy=policy), layered_advice(loaded, total, policy))
        return
    if _is_graph_spec(loaded):
        minimize_steps = steps if getattr(loaded, "minimize", None) and isinstance(steps, int) and steps >= 1 else None
        enforce(estimate_graph(loaded, policy=policy, fmt=fmt, steps=minimize_steps), graph_advice(loaded))
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


def _solve(loaded, *, steps, round_digits, exact, symbolic, detail, show_steps=None):
    if _is_graph_spec(loaded):
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


@app.command(cls=HelpCommand)
def validate(
    specs: List[Path] = typer.Argument(..., metavar="SPEC|DIR", help="Spec files or directories.", show_default=False),
    max_size: int = typer.Option(MAX_SIZE, "--max-size", metavar="BYTES", help="Refuse spec files larger than this many bytes."),
    no_limits: bool = typer.Option(
        False, "--no-limits", help="Read documents past 1,000,000 values after alias expansion (trusted files).",
    ),
) -> None:
    """Check spec files without solving them: every file is read, each bad one reported.

    Prints `ok  FILE` for each good spec and one error message per bad one (stderr);
    exit 2 if any file is bad, else 0.

    Example: backprop validate configs/
    """
    from .load import load_spec

    try:
        check_max_size(max_size)
    except BackpropError as error:
        raise _fail(error) from None
    files = _spec_files(specs)
    if not files:
        raise _fail(BackpropError("no spec files given (key files are skipped)"))
    progress, advance = _progress(len(files), "validating")
    bad = 0
    try:
        for done, path in enumerate(files, 1):
            try:
                loaded = load_spec(path, max_size=max_size, max_nodes=None if no_limits else MAX_DOCUMENT_NODES)
            except BackpropError as error:  # report it and go on: a class folder has many files
                typer.echo(f"error: {error}", err=True)
                bad += 1
                continue
            finally:
                if advance:
                    advance(done, len(files))
            for message in getattr(loaded, "warnings", ()):
                _warn(f"{display_path(path)}: {message}")
            typer.echo(f"ok  {display_path(path)}")
    finally:
        if progress is not None:
            progress.stop()
    if bad:
        if len(files) > 1:
            typer.echo(f"{bad} of {len(files)} spec files are bad", err=True)
        raise typer.Exit(2)


@app.command(cls=HelpCommand)
def check(
    specs: List[Path] = typer.Argument(
        ..., metavar="SPEC|DIR", help="Spec files or directories (key files among them are skipped).", show_default=False,
    ),
    key: Optional[Path] = typer.Option(None, "--key", help="The answer key (default: each spec's sibling <stem>.key.yaml)."),
    abs_: Optional[str] = typer.Option(None, "--abs", metavar="A", help="Absolute tolerance; replaces the key's and the default."),
    rel: Optional[str] = typer.Option(None, "--rel", metavar="R", help="Relative tolerance; replaces the key's and the default."),
    round_: Optional[int] = typer.Option(None, "--round", metavar="D", help="Check against the hand-rounded computation (D decimals)."),
    exact: bool = typer.Option(False, "--exact", help="Compare fraction strings exactly."),
    format: CheckFormat = typer.Option(
        CheckFormat.table, "--format", "-f",
        help="Report format: the table shows each tolerance and at most 500 rows, mismatches first; json lists every value.",
    ),
    junit: Optional[Path] = typer.Option(None, "--junit", metavar="FILE", help="Also write JUnit XML (one testcase per value)."),
    max_size: int = typer.Option(MAX_SIZE, "--max-size", metavar="BYTES", help="Refuse spec and key files larger than this many bytes."),
    no_limits: bool = typer.Option(
        False, "--no-limits", help="Skip the work budget (estimated time and memory, docs/limits.md) for trusted files.",
    ),
) -> None:
    """Check answer keys against the solved values and name the likely cause of each mismatch.

    A value that passes only because the key wrote too few decimals is flagged "loose".
    Exit 0 when every value matches, 1 on any mismatch, 2 on bad input.

    Example: backprop check configs/*.yaml --junit check.xml
    """
    from .calc.arithmetic import check_round_digits
    from .check.compare import (
        CheckOptions, check_files, parse_tolerance_option, render_table, report_json_lines, summary_line, total_line,
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
    if junit is not None:
        try:
            _guard_junit(junit, files + [p for p in specs if not p.is_dir()], key)
        except BackpropError as error:
            raise _fail(error) from None
    progress, advance = _progress(len(files), "checking")
    try:
        report = check_files(files, key, options, progress=advance)
    finally:
        if progress is not None:
            progress.stop()
    for spec_report in report.specs:
        if spec_report.error is not None:
            typer.echo(f"error: {clip_message(spec_report.error)}", err=True)
    if not any(s.checked or s.error for s in report.specs):
        typer.echo("error: no answer key found for any spec (write <stem>.key.yaml beside it, or pass --key)", err=True)
    if format == CheckFormat.json:
        if any(s.checked for s in report.specs):
            lines = report_json_lines(report)  # streamed: a 100,000-value report is 15 MB
            while chunk := list(itertools.islice(lines, 2000)):
                typer.echo(visible("\n".join(chunk), lines=True))
    else:
        console = _console(highlight=False, width=None if sys.stdout.isatty() else _piped_width())
        several = len(report.specs) > 1
        for spec_report in report.specs:
            if spec_report.checked and (not several or spec_report.mismatches):
                console.print(render_table(spec_report, mismatches_only=several, width=console.width))
        for spec_report in report.specs:
            if spec_report.error is None:  # bad input is reported on stderr only (SPEC §8)
                console.print(visible(summary_line(spec_report)), markup=False)
        if several and any(s.error is None for s in report.specs):
            console.print(total_line(report), markup=False)
    if junit is not None:
        from .check.junit import junit_xml

        try:
            _write(junit_xml(report), junit)
        except BackpropError as error:
            raise _fail(error) from None
    raise typer.Exit(report.exit_code)


def _guard_junit(junit: Path, files: list[Path], key: Optional[Path]) -> None:
    """--junit never writes over a spec or an answer key of the run (its own or a sibling)."""
    from .check.compare import sibling_key
    from .files import guard_outputs

    unique = list(dict.fromkeys(files))
    inputs = [("spec", f) for f in unique] + [("answer key", sibling_key(f)) for f in unique]
    if key is not None:
        inputs.append(("answer key", key))
    guard_outputs(junit, "--junit", inputs)


@app.command(cls=HelpCommand)
def init(
    path: Path = typer.Argument(Path("net.yaml"), help="Where to write the starter spec."),
    example: Optional[str] = typer.Option(None, "--example", help="Start from a shipped example (see `backprop examples`)."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing file (a symlink is replaced, never followed)."),
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
            raise _fail(BackpropError(f"no example named {quoted(example)} ({hint})"))
        text = found.path.read_text(encoding="utf-8")
    else:
        text = STARTER
    try:
        _create(path, text, force)
    except BackpropError as error:
        raise _fail(error) from None
    typer.echo(f"wrote {visible(str(path))}: edit it, then run `backprop solve {visible(str(path))}`")


def _create(path: Path, text: str, force: bool) -> None:
    """`init`'s write. Without --force: only a new file — created with O_EXCL, which never
    follows a symlink (not even a dangling one) and loses no race with another writer.
    With --force: written atomically; a symlink at `path` is replaced by the new file and
    the file it pointed to is left as it was."""
    from .files import write_atomically

    shown = clip(str(path), 200)
    if path.is_symlink() and not force:
        raise BackpropError(f"{shown} is a symbolic link (to {clip(os.readlink(path), 200)}); "
                            "not following it (use --force to replace the link)")
    if path.is_dir():
        raise BackpropError(f"{shown} is a directory: give a file name, e.g. {shown}/net.yaml")
    if force:
        write_atomically(path, text, follow=False)
        return
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o666)
    except FileExistsError:
        raise BackpropError(f"{shown} already exists (use --force to overwrite)") from None
    except OSError as exc:
        raise BackpropError(f"{shown}: cannot write ({exc.strerror or exc})") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(text.encode("utf-8"))
            fh.flush()
            os.fsync(fh.fileno())
    except OSError as exc:
        os.unlink(path)  # ours, created above: a half-written starter helps nobody
        raise BackpropError(f"{shown}: cannot write ({exc.strerror or exc}); nothing was kept") from None


@app.command(cls=HelpCommand)
def examples() -> None:
    """List the shipped examples, one a line: NAME  description.

    Example: backprop init mine.yaml --example $(backprop examples | head -1 | cut -d' ' -f1)
    """
    from .read.examples import list_examples

    items = list_examples()
    width = max((len(e.name) for e in items), default=0)
    for e in items:
        typer.echo(f"{e.name.ljust(width)}  {e.description}")


@app.command(cls=HelpCommand)
def schema() -> None:
    """Print the JSON Schema of the spec format, for editors' YAML language servers.

    Example: backprop schema > backprop.schema.json
    """
    import json

    from .read.schema import spec_schema

    typer.echo(json.dumps(spec_schema(), indent=2))


# ----------------------------------------------------------------------------------------
# teaching: templates → variants, exports, grading (backprop_cli/teach/, docs/templates.md)


class SheetFormat(str, Enum):
    markdown = "markdown"
    latex = "latex"


class MoodleType(str, Enum):
    cloze = "cloze"
    numerical = "numerical"


@app.command(cls=HelpCommand)
def generate(
    template: Path = typer.Argument(..., help="The template: a spec whose numbers may be generators.", show_default=False),
    count: int = typer.Option(..., "--count", "-n", help="How many variants.", show_default=False),
    seed: int = typer.Option(..., "--seed", help="Random seed: the same seed gives byte-identical output.", show_default=False),
    out: Path = typer.Option(..., "--out", help="Folder for the variants, keys, sheets and variants.csv.", show_default=False),
    format: SheetFormat = typer.Option(SheetFormat.markdown, "--format", "-f", help="Question sheets and solutions as Markdown or LaTeX."),
    pdf: bool = typer.Option(False, "--pdf", help="With --format latex: compile every .tex with pdflatex (skipped with a warning if absent)."),
    lang: Lang = typer.Option(Lang.en, "--lang", help="Language of the sheets and exports: en or ko."),
    moodle: Optional[Path] = typer.Option(None, "--moodle", metavar="FILE", help="Also write Moodle XML (a cloze question per variant)."),
    moodle_type: MoodleType = typer.Option(MoodleType.cloze, "--moodle-type", help="cloze: one question per variant; numerical: one per blank."),
    gift: Optional[Path] = typer.Option(None, "--gift", metavar="FILE", help="Also write Moodle GIFT (numerical questions)."),
    qti: Optional[Path] = typer.Option(None, "--qti", metavar="FILE", help="Also write a QTI 1.2 zip (Canvas import)."),
    max_tries: Optional[int] = typer.Option(None, "--max-tries", help="Candidates to try before giving up (default: 50 per variant, at least 500)."),
    force: bool = typer.Option(False, "--force", help="Overwrite files already in --out."),
    max_size: int = typer.Option(MAX_SIZE, "--max-size", help="Refuse template files larger than this many bytes."),
) -> None:
    """Write N seeded variants of a template: spec, answer key, question sheet and solution
    each, a combined exam (one variant a page) and variants.csv; optionally LMS exports.

    Example: backprop generate configs/templates/sigmoid_2_2_1.yaml --count 30 --seed 1 --out exam/ --moodle exam.xml
    """
    from .teach.bundle import build_bundle, title_of, write_atomic, write_files
    from .teach.template import load_template
    from .teach.variants import generate as generate_variants

    try:
        if pdf and format != SheetFormat.latex:
            raise BackpropError("--pdf needs --format latex")
        if max_tries is not None and max_tries < 1:
            raise BackpropError(f"--max-tries takes a positive number, got {max_tries}")
        loaded = load_template(template, max_size=max_size)
        progress, advance = _progress(count, "generating")
        try:
            variants = generate_variants(loaded, count, seed, max_tries=max_tries, progress=advance)
        finally:
            if progress is not None:
                progress.stop()
        files = build_bundle(loaded, variants, format=format.value, lang=lang.value)
        exports = {}
        title = title_of(variants[0])
        if moodle is not None:
            from .teach.lms import moodle_xml

            exports[moodle] = moodle_xml(loaded, variants, lang=lang.value, kind=moodle_type.value, title=title).encode()
        if gift is not None:
            from .teach.lms import gift as gift_text

            exports[gift] = gift_text(loaded, variants, lang=lang.value, title=title).encode()
        if qti is not None:
            from .teach.lms import qti_zip

            exports[qti] = qti_zip(loaded, variants, lang=lang.value, title=title)
        for path in exports:
            if path.resolve() == template.resolve():
                raise BackpropError(f"{path}: refusing to write over the input")
            if path.exists() and not force:
                raise BackpropError(f"{path} already exists (use --force to overwrite)")
        write_files(out, files, force=force, protect=[template])
        for path, data in exports.items():
            write_atomic(path, "", data)
    except ComputeError as error:
        raise _fail(error.located(file=str(template))) from None
    except BackpropError as error:
        raise _fail(error) from None
    typer.echo(f"wrote {len(variants)} variants to {out} (variants.csv lists them)")
    for path in exports:
        typer.echo(f"wrote {path}")
    if pdf:
        _compile_pdfs(out, sorted(name for name in files if name.endswith(".tex")))


def _compile_pdfs(folder: Path, names: list[str]) -> None:
    import shutil
    import subprocess

    if shutil.which("pdflatex") is None:
        _warn("pdflatex not found: the .tex files are written, PDFs skipped")
        return
    failed = []
    # pdfTeX stamps dates and a file ID from the clock unless told a fixed time: same seed, same PDFs
    env = {**os.environ, "SOURCE_DATE_EPOCH": "946684800", "FORCE_SOURCE_DATE": "1"}
    for name in names:
        for _ in range(2):  # twice: page references settle on the second run
            done = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", name],
                                  cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
            if done.returncode:
                failed.append(name)
                break
    for name in names:  # pdflatex's by-products, except the log of a failed run
        stem = name[: -len(".tex")]
        for ext in (".aux", ".out") + (() if name in failed else (".log",)):
            (folder / (stem + ext)).unlink(missing_ok=True)
    if failed:
        _warn(f"pdflatex failed on {', '.join(failed)} (see the .log beside each)")
    else:
        typer.echo(f"compiled {len(names)} PDFs in {folder}")


@app.command(cls=HelpCommand)
def grade(
    template: Path = typer.Argument(..., help="The template the variants came from (points, decimals, tolerance).", show_default=False),
    answers: List[Path] = typer.Argument(..., help="Students' answers: one CSV (student, variant, a column per name) and/or a YAML file per student.", show_default=False),
    variants: Path = typer.Option(..., "--variants", help="The folder `backprop generate --out` wrote (its variants.csv and specs).", show_default=False),
    out: Path = typer.Option(..., "--out", help="Folder for gradebook.csv and feedback/<student>.md.", show_default=False),
    lang: Lang = typer.Option(Lang.en, "--lang", help="Language of the feedback: en or ko."),
    force: bool = typer.Option(False, "--force", help="Overwrite files already in --out."),
    max_size: int = typer.Option(MAX_SIZE, "--max-size", help="Refuse input files larger than this many bytes."),
) -> None:
    """Grade students' answers: correct, error carried forward, wrong with the likely cause, missing.

    Example: backprop grade configs/templates/sigmoid_2_2_1.yaml answers.csv --variants exam/ --out grades/
    """
    from .teach.bundle import write_files
    from .teach.grade import Grader, feedback_file_name, feedback_markdown, gradebook_csv, read_answers_csv, read_answers_yaml
    from .teach.template import load_template
    from .teach.variants import load_variants
    from .read.yamlsafe import read_source

    try:
        loaded = load_template(template, max_size=max_size)
        solved = load_variants(variants, max_size)
        if not solved:
            raise BackpropError(f"{variants}: variants.csv lists no variants")
        grader = Grader(loaded, solved)
        known: dict = {}  # every canonical name: asked ones are graded, the rest feed error carried forward
        for vid, variant in solved.items():
            known.update((q.name, None) for q in grader.questions(vid))
            known.update((name, None) for name in variant.named)
        submissions = []
        for path in answers:
            if path.suffix.lower() == ".csv":
                source = read_source(path, max_size)
                submissions += read_answers_csv(source.text, source.file, known)
            else:
                submissions.append(read_answers_yaml(path, max_size, variant_ids=list(solved)))
        graded = [grader.grade(s) for s in submissions]
        files = {"gradebook.csv": gradebook_csv(graded)}
        used: set = set()
        for g in graded:
            files["feedback/" + feedback_file_name(g.student, used)] = feedback_markdown(g, lang.value)
        write_files(out, files, force=force, protect=[template, *answers])
    except ComputeError as error:
        raise _fail(error.located(file=str(template))) from None
    except BackpropError as error:
        raise _fail(error) from None
    if graded:
        mean = sum(g.score for g in graded) / len(graded)
        carried = sum(1 for g in graded for m in g.marks if m.status == "carried")
        typer.echo(f"graded {len(graded)} students: mean {mean:.2f} of {graded[0].total:g} points; "
                   f"{carried} answers credited by error carried forward")
    typer.echo(f"wrote {out / 'gradebook.csv'} and {len(graded)} feedback files in {out / 'feedback'}")


@app.command(cls=HelpCommand)
def key(
    spec: Path = typer.Argument(..., help="The network or graph spec (YAML).", show_default=False),
    names: bool = typer.Option(False, "--names", help="List every canonical name with its symbol and meaning instead."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write to this file instead of stdout (never over an existing one)."),
    max_size: int = typer.Option(MAX_SIZE, "--max-size", help="Refuse spec files larger than this many bytes."),
) -> None:
    """Write an answer-key skeleton with every canonical name (symbol and meaning as comments).

    Example: backprop key configs/bce_2_2_1.yaml -o my.key.yaml ; backprop key configs/bce_2_2_1.yaml --names
    """
    from .load import load_spec
    from .teach.skeleton import names_table, skeleton_text

    try:
        loaded = load_spec(spec, max_size=max_size)
        trace = _solve(loaded, steps=None, round_digits=None, exact=False, symbolic=False, detail="auto")
        text = names_table(loaded, trace) if names else skeleton_text(loaded, trace, str(spec))
        if output is not None:
            if output.exists():
                raise BackpropError(f"{output} already exists (a key is never overwritten: choose another name)")
            if output.resolve() == spec.resolve():
                raise BackpropError(f"{output}: refusing to write over the input")
        _write(text, output)
    except ComputeError as error:
        raise _fail(error.located(file=str(spec))) from None
    except BackpropError as error:
        raise _fail(error) from None


MAX_ARGUMENT = 4096  # PATH_MAX: no file name, number or option value is longer


def _bounded_argv() -> None:
    """Cut any command-line argument longer than MAX_ARGUMENT before typer sees it: its
    usage errors echo the value whole (a 1 MB `--format` value was 1 MB on stderr). No
    valid argument is that long, so the cut one is still refused — with a short message."""
    sys.argv[1:] = [clip(a) if len(a) > MAX_ARGUMENT else a for a in sys.argv[1:]]


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
        _bounded_argv()
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
