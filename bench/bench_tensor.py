"""Issue 11's speed goal: a graph with a 256×256 matrix node solved with `--format json`
in ≤ 1.5× the time of a PyTorch float64 script reading the same YAML (C loader) and
writing the same numbers (torch_tensor_graph.py). Both run as whole processes,
interleaved, REPEAT times; medians of CPU and wall time. The outputs are compared
(every `named` element to 1e-9) so the two sides provably do the same work.
Usage: python bench/bench_tensor.py   (REPEAT=9 for steadier figures)
"""
from __future__ import annotations

import json
import random
import sys
from importlib.util import find_spec

from bench_solve import HERE, OUT, REPEAT, backprop_cmd, ratio_line, timed


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
    ours_out, theirs_out = OUT / "tensor_ours.json", OUT / "tensor_torch.json"
    commands = {"ours": backprop_cmd() + ["solve", str(path), "--format", "json", "-o", str(ours_out)]}
    if find_spec("torch") is None:
        t = timed(commands, repeat=REPEAT)["ours"]
        print(f"256x256 graph json: backprop CPU {t[0]:.3f}s, wall {t[1]:.3f}s (torch not installed: no ratio)")
        return
    commands["torch"] = [sys.executable, str(HERE / "torch_tensor_graph.py"), str(path), str(theirs_out)]
    t = timed(commands, repeat=REPEAT)
    ours, theirs = json.loads(ours_out.read_text()), json.loads(theirs_out.read_text())
    worst = max(abs(ours["named"][k] - v) / max(1.0, abs(v)) for k, v in theirs["named"].items())
    print(f"same numbers: {len(theirs['named'])} named elements, worst relative difference {worst:.1e}")
    print(ratio_line("256x256 tensor graph json vs PyTorch script", t["ours"], t["torch"],
                     "goal <= 1.5x"))


if __name__ == "__main__":
    main()
