"""Benchmark: the teaching commands, as a user runs them (fresh interpreter, start-up included).

* `backprop generate` — 100 variants of configs/templates/sigmoid_2_2_1.yaml (2-2-1)
  with keys, question sheets and solutions, Markdown, no PDF (goal ≤ 10 s);
* the same with `--format latex`, and with the three LMS exports (reported only);
* `backprop grade` — a 300-row class CSV (goal ≤ 5 s): answers made from the keys,
  every tenth student with a sign flipped, every seventh with z1 off by 0.1.

Run: python bench/bench_teach.py [--count 100] [--students 300]
"""
from __future__ import annotations

import argparse
import csv
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "configs" / "templates" / "sigmoid_2_2_1.yaml"


def timed(args: list[str]) -> str:
    """Wall time and CPU time (user + system) of one fresh `backprop` process: on a
    shared machine the wall time grows with the load, the CPU time much less."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "backprop_cli", *args], capture_output=True, text=True)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode:
        raise SystemExit(f"failed: {' '.join(args)}\n{done.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return f"{seconds:6.2f} s wall, {cpu:5.2f} s CPU"


def class_csv(folder: Path, path: Path, students: int) -> None:
    rows = list(csv.DictReader((folder / "variants.csv").open()))
    keys = {r["id"]: yaml.safe_load((folder / r["key"]).read_text())["named"] for r in rows}
    names = list(next(iter(keys.values())))
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["student", "variant", *names])
        for s in range(students):
            vid = rows[s % len(rows)]["id"]
            values = dict(keys[vid])
            if s % 10 == 0:
                values["dL/dW5"] = -float(values["dL/dW5"])
            if s % 7 == 0:
                values["z1"] = float(values["z1"]) + 0.1
            writer.writerow([f"student{s:03d}", vid, *(values[n] for n in names)])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--students", type=int, default=300)
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        md = timed(["generate", str(TEMPLATE), "--count", str(args.count), "--seed", "1", "--out", str(out / "md")])
        print(f"generate {args.count} variants (Markdown):           {md}   (goal ≤ 10 s)")
        tex = timed(["generate", str(TEMPLATE), "--count", str(args.count), "--seed", "1", "--out", str(out / "tex"),
                     "--format", "latex"])
        print(f"generate {args.count} variants (LaTeX, no PDF):      {tex}")
        lms = timed(["generate", str(TEMPLATE), "--count", str(args.count), "--seed", "1", "--out", str(out / "lms"),
                     "--moodle", str(out / "q.xml"), "--gift", str(out / "q.gift"), "--qti", str(out / "q.zip")])
        print(f"generate {args.count} variants + Moodle, GIFT, QTI:  {lms}")
        class_csv(out / "md", out / "class.csv", args.students)
        grade = timed(["grade", str(TEMPLATE), str(out / "class.csv"), "--variants", str(out / "md"),
                       "--out", str(out / "grades")])
        print(f"grade {args.students} students (CSV):                  {grade}   (goal ≤ 5 s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
