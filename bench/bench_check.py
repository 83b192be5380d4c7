"""Benchmark: `backprop check` over 200 spec/key pairs, and over keys of 100,000 values.

Copies the shipped examples and their answer keys (configs/) round-robin into a temp
directory until there are 200 pairs, then times

* the library call `check_files` (load, solve, resolve, compare — in process), and
* the whole command, `backprop check DIR` and `backprop check DIR --format json`, in a
  fresh interpreter (start-up included; goal for the JSON report: ≤ 1.5 s).

`--big` generates big keys instead (issue 16.4: reading and comparing a key is linear,
≤ 5 s and ≤ 300 MB for 100,000 values) and runs `backprop check --format json` on each
in a fresh process, reporting CPU time (user + system: steadier than wall time on a
shared machine), wall time and peak RSS:

* named: 99,856 `Wk_new` of a 316-316-1 network's first layer (canonical names);
* structured: the same values as `steps[0].layers[0].weights` rows;
* records: 20,000 `equations` records of a 2-2-1 network, 1000 steps;
* losses: `losses` of a 2-2-1 network run for 100,000 steps (the solve itself — the
  engine's 100,000 steps — is timed apart, with `solve --format json`);
* over the limit: a key of more than 150,000 numbers (keys.MAX_KEY_NUMBERS): exit 2.

The keys hold the values `backprop solve --format json` prints (a benchmark, not a
test: the tests check values against independent oracles).

Run: python bench/bench_check.py [--pairs 200] [--profile] [--big]
"""
from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ROOT / "configs"


def make_pairs(folder: Path, count: int) -> list[Path]:
    examples = sorted(p for p in CONFIGS.glob("*.yaml") if ".key." not in p.name and p.with_name(p.stem + ".key.yaml").exists())
    specs = []
    for i in range(count):
        source = examples[i % len(examples)]
        spec = folder / f"{i:03d}_{source.name}"
        shutil.copyfile(source, spec)
        shutil.copyfile(source.with_name(source.stem + ".key.yaml"), folder / f"{i:03d}_{source.stem}.key.yaml")
        specs.append(spec)
    return specs


def timed(args: list[str]) -> tuple[int, float, float, float]:
    """(exit code, CPU seconds, wall seconds, peak RSS MB) of `backprop ARGS` in a fresh process."""
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "backprop_cli", *args], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    return (os.waitstatus_to_exitcode(status), usage.ru_utime + usage.ru_stime, time.perf_counter() - start,
            usage.ru_maxrss / 1024)


def solved(spec: Path) -> dict:
    out = subprocess.run([sys.executable, "-m", "backprop_cli", "solve", str(spec), "--format", "json"],
                         capture_output=True, text=True, check=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    return json.loads(out.stdout)


def big_keys(folder: Path) -> list[tuple[str, Path, Path]]:
    """Write the big spec/key pairs of --big; (label, spec, key) each."""
    rng = random.Random(16)
    n = 316
    big = {"name": "316-316-1", "input": [round(rng.uniform(-1, 1), 2) for _ in range(n)], "target": [0.5],
           "layers": [{"weights": [[round(rng.uniform(-0.1, 0.1), 4) for _ in range(n)] for _ in range(n)],
                       "bias": [0.0] * n, "activation": "sigmoid"},
                      {"weights": [[round(rng.uniform(-0.1, 0.1), 4) for _ in range(n)]], "bias": [0.0],
                       "activation": "sigmoid"}],
           "loss": "mse", "optimizer": {"name": "sgd", "lr": 0.5}}
    spec = folder / "big.yaml"
    spec.write_text(json.dumps(big))
    weights = solved(spec)["steps"][0]["layers"][0]["weights"]
    named = folder / "big.named.key.yaml"
    with named.open("w") as fh:
        fh.write("named:\n")
        fh.writelines(f"  W{k}_new: {v!r}\n" for k, v in enumerate((v for row in weights for v in row), 1))
    structured = folder / "big.structured.key.yaml"
    with structured.open("w") as fh:
        fh.write("steps:\n  - layers:\n      - layer: 1\n        weights:\n")
        fh.writelines(f"          - {json.dumps(row)}\n" for row in weights)

    small = (CONFIGS / "bce_2_2_1.yaml").read_text(encoding="utf-8")
    thousand = folder / "steps1000.yaml"
    thousand.write_text(small + "steps: 1000\n", encoding="utf-8")
    records = folder / "steps1000.key.yaml"
    with records.open("w") as fh:
        fh.write("steps:\n")
        count = 0
        for step in solved(thousand)["steps"]:
            fh.write(f"  - step: {step['step']}\n    equations:\n")
            for e in step["equations"]:
                fh.write(f"      - {{name: {json.dumps(e['name'])}, value: {e['value']!r}}}\n")
                count += 1
            if count >= 20_000:
                break
    long = folder / "steps100000.yaml"
    long.write_text(small + "steps: 100000\n", encoding="utf-8")
    losses = folder / "steps100000.key.yaml"
    losses.write_text("losses: [" + ", ".join(repr(v) for v in solved(long)["losses"]) + "]\n")
    over = folder / "over.key.yaml"
    over.write_text("losses: [" + ", ".join(["0.5"] * 150_001) + "]\n")
    return [("named: 99,856 Wk_new", spec, named), ("structured: 316 rows of 316", spec, structured),
            ("records: 20,000 equations", thousand, records), ("losses: 100,001 (100,000 steps)", long, losses),
            ("over the limit: 150,001 numbers", long, over)]


def main_big() -> int:
    worst = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        cases = big_keys(Path(tmp))
        code, cpu, wall, _ = timed(["solve", str(cases[3][1]), "--format", "json"])
        solve_cpu = cpu
        print(f"solve alone, 100,000 steps of 2-2-1: {cpu:.2f} s CPU ({wall:.2f} s wall)")
        for label, spec, key in cases:
            code, cpu, wall, rss = timed(["check", str(spec), "--key", str(key), "--format", "json"])
            print(f"{label:36s} exit {code}  {cpu:6.2f} s CPU  {wall:6.2f} s wall  {rss:5.0f} MB peak")
            if "100,000 steps" in label:
                cpu -= solve_cpu  # the engine's time, not the key's
            if not label.startswith("over"):
                worst = max(worst, cpu)
    return 0 if worst <= 5.0 else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=200)
    parser.add_argument("--profile", action="store_true", help="print the 25 costliest functions")
    parser.add_argument("--big", action="store_true", help="keys of 100,000 values instead (issue 16.4)")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    if args.big:
        return main_big()
    from backprop_cli.check.compare import CheckOptions, check_files

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        specs = make_pairs(folder, args.pairs)
        profiler = cProfile.Profile() if args.profile else None
        start = time.perf_counter()
        if profiler:
            profiler.enable()
        report = check_files(specs, None, CheckOptions())
        if profiler:
            profiler.disable()
        library = time.perf_counter() - start
        values = sum(len(s.results) for s in report.specs)
        assert report.exit_code == 0, [s.error or s.mismatches for s in report.specs if not s.ok]

        code, command, command_wall, _ = timed(["check", str(folder)])
        assert code == 0, code
        code, as_json, as_json_wall, _ = timed(["check", str(folder), "--format", "json"])
        assert code == 0, code

    print(f"{args.pairs} spec/key pairs, {values} values")
    print(f"  check_files (in process): {library:.2f} s  ({1000 * library / args.pairs:.1f} ms a pair)")
    print(f"  backprop check DIR (new process, start-up included): {command:.2f} s CPU, {command_wall:.2f} s wall")
    print(f"  backprop check DIR --format json: {as_json:.2f} s CPU, {as_json_wall:.2f} s wall (goal ≤ 1.5 s)")
    if profiler:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
    return 0 if command < 3.0 and as_json <= 1.5 else 1


if __name__ == "__main__":
    raise SystemExit(main())
