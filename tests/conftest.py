"""Fixtures shared by the test files."""
from __future__ import annotations

import pytest

from tests.equation_oracles import load_verifier


@pytest.fixture(scope="session")
def verifier():
    """verify_equations.py (SPEC §5's independent re-evaluation); skips where it is absent."""
    module = load_verifier()
    if module is None:
        pytest.skip("verify_equations.py not available")
    return module
