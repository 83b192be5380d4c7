"""Issue 11's speed goal: a graph with a 256×256 matrix node solved with `--format json`
in ≤ 1.5× the time of a PyTorch float64 script reading the same YAML (C loader) and
writing the same numbers (torch_tensor_graph.py). Both run as whole processes,
interleaved, REPEAT times; medians of CPU and wall time. The outputs are compared
(every `named` element to 1e-9) so the two sides provably do the same work.
Usage: python bench/bench_tensor.py   (REPEAT=9 for steadier figures)
"""
from __future__ import annotations

import random

from bench_solve import OUT, versus_torch


def spec(path, n: int = 256, seed: int = 0) -> None:
    rng = random.Random(seed)
    row = lambda: "[" + ", ".join(f"{rng.uniform(-1, 1):.6f}" for _ in range(n)) + "]"  # noqa: E731
    lines = [f"name: {n}x{n} matrix times a vector", "graph:", "  W: ["]
    lines += [f"    {row()}," for _ in range(n)]
    lines += ["  ]", f"  x: {row()}", "  q: W @ x", "  f: sum(tanh(q) ** 2)", "output: f"]
    path.write_text("\n".join(lines) + "\n")


def main() -> None:
    OUT.mkdir(exist_ok=True)
    path = OUT / "tensor_256.yaml"
    spec(path)
    versus_torch("256x256 tensor graph json", path, "torch_tensor_graph.py", "tensor", "goal <= 1.5x")


if __name__ == "__main__":
    main()
