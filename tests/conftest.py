"""Fixtures shared by the test files."""
from __future__ import annotations

import pytest

from tests.cli_proc import WarmCLI
from tests.equation_oracles import load_verifier


@pytest.fixture(scope="session")
def verifier():
    """verify_equations.py (SPEC §5's independent re-evaluation); skips where it is absent."""
    module = load_verifier()
    if module is None:
        pytest.skip("verify_equations.py not available")
    return module


@pytest.fixture(scope="module")
def cli():
    """One warm backprop process per test module (tests/cli_proc.py)."""
    warm = WarmCLI()
    yield warm
    warm.close()
