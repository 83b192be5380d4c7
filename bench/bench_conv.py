"""Issue 12's engine: a conv → relu → max-pool graph (1×3×32×32 input, 8 filters 3×3,
2×2 pooling, f = sum(y ** 2)) solved with `--format json` vs a PyTorch float64 script
reading the same YAML (C loader) and writing the same numbers (torch_conv_graph.py).
Both run as whole processes, interleaved, REPEAT times; medians of CPU and wall time.
The outputs are compared (every `named` element to 1e-9) so both sides do the same work.
Usage: python bench/bench_conv.py   (REPEAT=9 for steadier figures)
"""
from __future__ import annotations

import random

from bench_solve import OUT, versus_torch


def nested(rng, shape) -> str:
    if len(shape) == 1:
        return "[" + ", ".join(f"{rng.uniform(-1, 1):.6f}" for _ in range(shape[0])) + "]"
    return "[" + ", ".join(nested(rng, shape[1:]) for _ in range(shape[0])) + "]"


def spec(path, seed: int = 0) -> None:
    rng = random.Random(seed)
    lines = ["name: conv 8x3x3x3 on 1x3x32x32, relu, maxpool 2", "graph:",
             f"  x: {nested(rng, (1, 3, 32, 32))}", f"  K: {nested(rng, (8, 3, 3, 3))}",
             f"  b: {nested(rng, (8, 1, 1))}", "  z: conv2d(x, K) + b", "  a: relu(z)", "  y: maxpool2d(a, 2)",
             "  f: sum(y ** 2)", "output: f"]
    path.write_text("\n".join(lines) + "\n")


def main() -> None:
    OUT.mkdir(exist_ok=True)
    path = OUT / "conv_32.yaml"
    spec(path)
    versus_torch("conv→relu→maxpool graph json", path, "torch_conv_graph.py", "conv", "reported",
                 max_difference=1e-9)


if __name__ == "__main__":
    main()
