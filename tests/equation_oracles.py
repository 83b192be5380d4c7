"""Independent re-evaluation of the `equations` of JSON output (SPEC §5).

* `VERIFY`: the shared verify_equations.py (scalar and element records), found beside
  the checkout (`../shared/tools/`) or at $BACKPROP_VERIFY; tests skip without it.
* `matrix_eval`: a matrix record's expression evaluated with NumPy and the caller's
  helper functions — never the engine's evaluator — for the records verify_equations.py
  cannot read (array operands).
"""
from __future__ import annotations

import ast
import importlib.util
import os
import re
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
VERIFY = Path(os.environ.get("BACKPROP_VERIFY") or ROOT.parent / "shared" / "tools" / "verify_equations.py")
if not VERIFY.exists() and Path("/work/shared/tools/verify_equations.py").exists():  # a scratch clone elsewhere
    VERIFY = Path("/work/shared/tools/verify_equations.py")


def load_verifier():
    """The verify_equations module, or None when it is not on this machine."""
    if not VERIFY.exists():
        return None
    spec = importlib.util.spec_from_file_location("verify_equations", VERIFY)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_BINARY = {ast.Add: np.add, ast.Sub: np.subtract, ast.Mult: np.multiply, ast.Div: np.divide, ast.Pow: np.power,
           ast.MatMult: np.matmul}


def parse_record(expression: str) -> tuple[ast.Expression, dict[str, str]]:
    """A record's expression as a Python tree, each `{operand}` a placeholder name:
    (tree, {placeholder: operand name})."""
    names: dict[str, str] = {}

    def sub(m):
        names[f"_v{len(names)}"] = m.group(1)
        return f"_v{len(names) - 1}"

    return ast.parse(re.sub(r"\{([^{}]+)\}", sub, expression), mode="eval"), names


def matrix_eval(expression: str, operands: dict, helpers: dict):
    """`{dL/dz} @ transpose({x})` with operands {"dL/dz": [[…]], "x": […]}, in NumPy."""
    tree, names = parse_record(expression)

    def ev(n):
        if isinstance(n, ast.Expression):
            return ev(n.body)
        if isinstance(n, ast.Constant):
            return n.value
        if isinstance(n, ast.Name):
            return np.asarray(operands[names[n.id]], dtype=float)
        if isinstance(n, ast.UnaryOp):
            return -ev(n.operand)
        if isinstance(n, ast.BinOp):
            return _BINARY[type(n.op)](ev(n.left), ev(n.right))
        if isinstance(n, ast.Call):
            return helpers[n.func.id](*[ev(a) for a in n.args])
        raise AssertionError(ast.dump(n))

    return ev(tree)
