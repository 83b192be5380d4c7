"""Gradient descent on a tensor graph (issue 12 item 3): least squares with 100 parameters
(X: 100 samples × 100 features), 10 SGD steps, `--format json`, against a PyTorch float64
script reading the same YAML and writing the same numbers (torch_tensor_minimize.py).
Both run as whole processes, interleaved, REPEAT times; medians of CPU and wall time.
Every `named` number of the PyTorch output is compared with ours (relative 1e-9).
Usage: python bench/bench_tensor_minimize.py   (REPEAT=9 for steadier figures)
"""
from __future__ import annotations

import random

from bench_solve import OUT, versus_torch


def spec(path, features: int = 100, samples: int = 100, steps: int = 10, seed: int = 0) -> None:
    rng = random.Random(seed)
    row = lambda n: "[" + ", ".join(f"{rng.uniform(-1, 1):.6f}" for _ in range(n)) + "]"  # noqa: E731
    lines = [f"name: least squares, {features} parameters", "graph:", "  X: ["]
    lines += [f"    {row(features)}," for _ in range(samples)]
    lines += ["  ]", f"  y: {row(samples)}", f"  w: {row(features)}", "  r: X @ w - y",
              f"  f: sum(r ** 2) / {samples}", "minimize: f", "wrt: [w]", "optimizer: {name: sgd, lr: 0.05}",
              f"steps: {steps}"]
    path.write_text("\n".join(lines) + "\n")


def main() -> None:
    OUT.mkdir(exist_ok=True)
    path = OUT / "least_squares_100.yaml"
    spec(path)
    versus_torch("100-parameter least squares, 10 steps, json", path, "torch_tensor_minimize.py", "minimize",
                 "no goal set; reported")


if __name__ == "__main__":
    main()
