"""The `backprop` command's entry point: start-up with the garbage collector paused.

Importing typer (with pydantic) and our modules allocates a few hundred thousand
objects that live until the process exits; while they are being created, the cyclic
garbage collector rescans them again and again — measured at 15–20 % of a worked
example's whole run. So the command imports with collection paused, then `gc.freeze()`
moves everything alive into the permanent generation (never rescanned, never freed —
it would not have been freed anyway) and collection resumes for the real work, which
therefore never grows memory without bound. Library users (`import backprop_cli`)
are untouched: only this entry point does it.
"""
from __future__ import annotations

import gc


def main() -> None:
    gc.disable()
    try:
        from .cli import main as cli_main
    finally:
        gc.freeze()
        gc.enable()
    cli_main()
