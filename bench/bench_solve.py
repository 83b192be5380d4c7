"""Whole-process timings of `backprop solve`, reported as ratios from one run.

1. seed 000 as a table vs a minimal typer app printing one rich table (our stack's
   floor; goal ≤ 1.2×).
2. one SGD step of a 784-256-256-10 MLP, batch 64, `--format json`, vs a PyTorch
   float64 script reading the same YAML (C loader) and writing the same JSON
   (goal ≤ 0.8×).

Machines are noisy: each command runs REPEAT times, the median is kept, and only the
ratios are meant to be compared across runs. Usage: python bench/bench_solve.py
"""
from __future__ import annotations

import os
import random
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OUT = HERE / "out"
REPEAT = int(os.environ.get("REPEAT", "5"))


def backprop_cmd() -> list[str]:
    exe = shutil.which("backprop")
    return [exe] if exe else [sys.executable, "-m", "backprop_cli"]


def timed(cmd: list[str], repeat: int = REPEAT) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def big_spec(path: Path, widths=(784, 256, 256, 10), batch=64, seed=0) -> None:
    rng = random.Random(seed)

    def row(n, scale):
        return "[" + ", ".join(f"{rng.uniform(-scale, scale):.6f}" for _ in range(n)) + "]"

    lines = ["name: MLP 784-256-256-10, batch 64", "input: ["]
    lines += [f"  {row(widths[0], 1.0)}," for _ in range(batch)]
    lines.append("]")
    lines.append("target: [" + ", ".join(str(rng.randrange(widths[-1])) for _ in range(batch)) + "]")
    lines.append("layers:")
    for l in range(1, len(widths)):
        scale = 1 / widths[l - 1] ** 0.5
        lines.append("  - weights: [")
        lines += [f"      {row(widths[l - 1], scale)}," for _ in range(widths[l])]
        lines.append("    ]")
        lines.append(f"    bias: {row(widths[l], scale)}")
        lines.append(f"    activation: {'softmax' if l == len(widths) - 1 else 'relu'}")
    lines += ["loss: cross_entropy", "optimizer: {name: sgd, lr: 0.1}"]
    path.write_text("\n".join(lines) + "\n")


def main() -> None:
    OUT.mkdir(exist_ok=True)
    seed = ROOT / "configs" / "seed000.yaml"
    bp = backprop_cmd()
    floor = timed([sys.executable, str(HERE / "floor_app.py"), str(seed)])
    ours = timed(bp + ["solve", str(seed)])
    print(f"seed000 table: backprop {ours:.3f}s, typer+rich floor {floor:.3f}s, ratio {ours / floor:.2f}x (goal <= 1.2x)")

    big = OUT / "mlp_784_256_256_10.yaml"
    if not big.exists():
        big_spec(big)
    print(f"big spec: {big.stat().st_size / 1e6:.1f} MB")
    ours_big = timed(bp + ["solve", str(big), "--format", "json", "-o", str(OUT / "ours.json")], repeat=3)
    try:
        import torch  # noqa: F401
    except ImportError:
        print(f"MLP step json: backprop {ours_big:.3f}s (torch not installed: no ratio)")
        return
    theirs = timed([sys.executable, str(HERE / "torch_step.py"), str(big), str(OUT / "torch.json")], repeat=3)
    print(f"MLP step json: backprop {ours_big:.3f}s, pytorch {theirs:.3f}s, ratio {ours_big / theirs:.2f}x (goal <= 0.8x)")


if __name__ == "__main__":
    main()
