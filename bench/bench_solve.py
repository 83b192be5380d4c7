"""Whole-process timings of `backprop solve`, reported as ratios from one run.

1. seed 000 as a table vs a minimal typer app printing one rich table (our stack's
   floor; goal ≤ 1.2×); `--format json` beside it for reference.
2. one SGD step of a 784-256-256-10 MLP, batch 64, `--format json`, vs a PyTorch
   float64 script reading the same YAML (C loader) and writing the same JSON
   (goal ≤ 0.8×).

Machines are noisy: the commands of a comparison run interleaved, REPEAT times each,
and the median is kept; both CPU time (user + system of the child: steadier on a busy
machine) and wall time are reported, and only ratios are meant to be compared across
runs. Children run without PYTHONDONTWRITEBYTECODE, as on a user's machine, so an
editable install reuses its bytecode instead of recompiling every module every run.
Usage: python bench/bench_solve.py   (REPEAT=15 for steadier figures)
"""
from __future__ import annotations

import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import time
from importlib.util import find_spec
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OUT = HERE / "out"
REPEAT = int(os.environ.get("REPEAT", "5"))


def backprop_cmd() -> list[str]:
    exe = shutil.which("backprop")
    return [exe] if exe else [sys.executable, "-m", "backprop_cli"]


def _env() -> dict:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def timed(commands: dict[str, list[str]], repeat: int = REPEAT) -> dict[str, tuple[float, float]]:
    """name → (median CPU seconds, median wall seconds), the commands interleaved."""
    cpu: dict[str, list[float]] = {name: [] for name in commands}
    wall: dict[str, list[float]] = {name: [] for name in commands}
    env = _env()
    for _ in range(repeat):
        for name, cmd in commands.items():
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
            wall[name].append(time.perf_counter() - start)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu[name].append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return {name: (statistics.median(cpu[name]), statistics.median(wall[name])) for name in commands}


def ratio_line(label: str, ours: tuple[float, float], theirs: tuple[float, float], goal: str) -> str:
    return (f"{label}: CPU {ours[0]:.3f}s vs {theirs[0]:.3f}s = {ours[0] / theirs[0]:.2f}x, "
            f"wall {ours[1]:.3f}s vs {theirs[1]:.3f}s = {ours[1] / theirs[1]:.2f}x ({goal})")


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


def versus_torch(label: str, spec: Path, torch_script: str, stem: str, goal: str,
                 max_difference: float | None = None) -> None:
    """`backprop solve SPEC --format json` against a PyTorch script writing the same named
    numbers (same JSON `named`): the worst relative difference, then the time ratio."""
    ours_out, theirs_out = OUT / f"{stem}_ours.json", OUT / f"{stem}_torch.json"
    commands = {"ours": backprop_cmd() + ["solve", str(spec), "--format", "json", "-o", str(ours_out)]}
    if find_spec("torch") is None:
        t = timed(commands, repeat=REPEAT)["ours"]
        print(f"{label}: backprop CPU {t[0]:.3f}s, wall {t[1]:.3f}s (torch not installed: no ratio)")
        return
    commands["torch"] = [sys.executable, str(HERE / torch_script), str(spec), str(theirs_out)]
    t = timed(commands, repeat=REPEAT)
    ours, theirs = json.loads(ours_out.read_text()), json.loads(theirs_out.read_text())
    worst = max(abs(ours["named"][k] - v) / max(1.0, abs(v)) for k, v in theirs["named"].items())
    if max_difference is not None:
        assert worst <= max_difference, worst
    print(f"same numbers: {len(theirs['named'])} named elements, worst relative difference {worst:.1e}")
    print(ratio_line(f"{label} vs PyTorch script", t["ours"], t["torch"], goal))


def main() -> None:
    OUT.mkdir(exist_ok=True)
    seed = str(ROOT / "configs" / "bce_2_2_1.yaml")
    bp = backprop_cmd()
    # warm-up: an editable install writes its bytecode on the first run
    subprocess.run(bp + ["solve", seed], check=True, stdout=subprocess.DEVNULL, env=_env())
    t = timed({
        "floor": [sys.executable, str(HERE / "floor_app.py"), seed],
        "table": bp + ["solve", seed],
        "json": bp + ["solve", seed, "--format", "json"],
    })
    print(ratio_line("bce_2_2_1 table vs typer+rich floor", t["table"], t["floor"], "goal <= 1.2x"))
    print(ratio_line("bce_2_2_1 json  vs typer+rich floor", t["json"], t["floor"], "for reference"))

    big = OUT / "mlp_784_256_256_10.yaml"
    if not big.exists():
        big_spec(big)
    print(f"big spec: {big.stat().st_size / 1e6:.1f} MB")
    # a trusted file past the default work budget (docs/limits.md): --no-limits
    commands = {"ours": bp + ["solve", str(big), "--format", "json", "--no-limits", "-o", str(OUT / "ours.json")]}
    if find_spec("torch") is None:
        ours = timed(commands, repeat=3)["ours"]
        print(f"MLP step json: backprop CPU {ours[0]:.3f}s, wall {ours[1]:.3f}s (torch not installed: no ratio)")
        return
    commands["torch"] = [sys.executable, str(HERE / "torch_step.py"), str(big), str(OUT / "torch.json")]
    t = timed(commands, repeat=3)
    print(ratio_line("MLP 784-256-256-10 step json vs PyTorch script", t["ours"], t["torch"], "goal <= 0.8x"))


if __name__ == "__main__":
    main()
