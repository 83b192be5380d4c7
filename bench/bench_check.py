"""Benchmark: `backprop check` over 200 spec/key pairs in one process (goal: < 3 s).

Copies the shipped examples and their answer keys (configs/) round-robin into a temp
directory until there are 200 pairs, then times

* the library call `check_files` (load, solve, resolve, compare — in process), and
* the whole command, `backprop check DIR` in a fresh interpreter (start-up included).

Run: python bench/bench_check.py [--pairs 200] [--profile]
"""
from __future__ import annotations

import argparse
import cProfile
import pstats
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=200)
    parser.add_argument("--profile", action="store_true", help="print the 25 costliest functions")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
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

        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "backprop_cli", "check", str(folder)], capture_output=True, text=True)
        command = time.perf_counter() - start
        assert done.returncode == 0, done.stderr

    print(f"{args.pairs} spec/key pairs, {values} values")
    print(f"  check_files (in process): {library:.2f} s  ({1000 * library / args.pairs:.1f} ms a pair)")
    print(f"  backprop check DIR (new process, start-up included): {command:.2f} s")
    if profiler:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
    return 0 if command < 3.0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
