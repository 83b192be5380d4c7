"""PyTorch's conventions that both the numpy engine and the scalar derivation follow.

Kept apart from functions.py (numpy) so the derivation of a small example never
imports numpy.
"""
from __future__ import annotations

import struct

BCE_LOG_FLOOR = -100.0
# torch's BCE backward divides by max(ŷ(1 − ŷ), EPSILON) with EPSILON = 1e-12 held as a
# float32, i.e. 9.999999960041972e-13 in float64: PyTorch is the reference (SPEC §2 says
# 1e-12, meaning PyTorch's), and a saturated gradient would otherwise differ by 4e-9.
BCE_EPS = struct.unpack("f", struct.pack("f", 1e-12))[0]


def loss_scale(loss: str, reduction: str, N: int, K: int) -> int:
    """The divisor the reduction applies (1 for sum): NK for mse/bce, N otherwise."""
    if reduction == "sum":
        return 1
    return N * K if loss in ("mse", "bce") else N
