"""`--help` as a reader wants it at 80 columns: click's plain layout (typer runs on its own copy of click), without the type
noise typer adds (`{spec}` in the usage line, `<bool>` beside flags, `<list[Path]>`
beside arguments, `<int>`/`<str>`/`<path>` beside options).

Arguments show as their metavar (`SPEC|DIR...`) or upper-case name; an option that takes
a value shows its metavar or its name in capitals (`--steps STEPS`), a choice its
choices (`--format [table|latex|markdown|json]`), a flag nothing. click's formatter wraps
at spaces, so no word is broken.
"""
from __future__ import annotations

from typing import Any

from typer.core import TyperArgument, TyperCommand, TyperOption


def _argument_name(param: TyperArgument) -> str:
    name = param.metavar or (param.name or "").upper()
    return name + ("..." if param.nargs != 1 and not name.endswith("...") else "")


def _option_name(param: TyperOption) -> str:
    names = ", ".join(sorted(param.opts, key=lambda o: (o.startswith("--"), o)))
    if getattr(param, "is_flag", False) or getattr(param, "count", False):
        return names
    desc = getattr(param, "type_descriptor", None)
    if desc is not None and desc.is_choice:
        return f"{names} [{'|'.join(str(getattr(c, 'value', c)) for c in desc.choices or ())}]"
    return f"{names} {param.metavar or (param.name or '').upper()}"


class HelpCommand(TyperCommand):
    """A typer command whose help reads like click's, minus the type noise."""

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            if isinstance(param, TyperArgument):
                name = _argument_name(param)
                pieces.append(name if param.required else f"[{name}]")
        return pieces

    def format_options(self, ctx: Any, formatter: Any) -> None:
        arguments, options = [], []
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is None:
                continue
            if isinstance(param, TyperArgument):
                arguments.append((_argument_name(param), record[1]))
            elif isinstance(param, TyperOption):
                options.append((_option_name(param), record[1]))
        for title, rows in (("Arguments", arguments), ("Options", options)):
            if rows:
                with formatter.section(title):
                    formatter.write_dl(rows)
