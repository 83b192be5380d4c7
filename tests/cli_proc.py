"""Run the real `backprop` command in separate processes — cold, or forked from a warm one.

`cold(args)` is `python -m backprop_cli ARGS` in a fresh interpreter: the command exactly
as a user (or CI) runs it. It costs ~0.5 s of imports, too slow for a corpus of hundreds
of runs on two cores, so `WarmCLI` keeps one helper process that has imported the package
once and forks a fresh child per command. The child runs `backprop_cli.cli.main()` — the
console-script entry point that `python -m backprop_cli` runs — with argv, working
directory, stdout and stderr of its own (real file descriptors, not captured streams),
and its own exit status; the helper enforces the time limit with SIGKILL and reports the
status, the wall time and the child's peak RSS (wait4). Nothing is shared between runs.

Both return a `Run`: code (negative = killed by that signal), stdout, stderr, seconds,
peak RSS in MB, timed_out. The peak RSS is only meaningful for `WarmCLI` runs: Linux
carries a process's RSS high-water mark across fork + exec, so a cold child's wait4
figure is the (large) pytest process's own — `cold` reports None. To measure a fresh
interpreter, read VmHWM from /proc/self/status inside it (tests/test_security.py).
"""
from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# One BLAS thread: the inputs are tiny, and forking a process with idle BLAS threads is
# asking for trouble.
ENV = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
       "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""), "COLUMNS": "200"}
MEMORY_CAP = 4 * 1024 ** 3  # RLIMIT_AS of every child: a runaway must not take the machine down


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str
    seconds: float
    maxrss_mb: float | None
    timed_out: bool = False

    def describe(self) -> str:
        peak = "?" if self.maxrss_mb is None else f"{self.maxrss_mb:.0f}"
        return (f"exit {self.code} in {self.seconds:.2f}s (peak {peak} MB)"
                f"{' TIMED OUT' if self.timed_out else ''}\n--- stdout ---\n{self.stdout[:2000]}"
                f"\n--- stderr ---\n{self.stderr[:2000]}")


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))


def cold(args, *, cwd=None, timeout: float = 60.0, python_flags=()) -> Run:
    """`python [flags] -m backprop_cli ARGS` in a fresh process (peak RSS: None, see above)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.monotonic()
        proc = subprocess.Popen(
            [sys.executable, *python_flags, "-m", "backprop_cli", *map(str, args)],
            cwd=cwd, env=ENV, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
            preexec_fn=_limit_memory,
        )
        timed_out = False
        timer = threading.Timer(timeout, lambda: proc.kill())
        timer.start()
        try:
            _, status, _usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        seconds = time.monotonic() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode == -signal.SIGKILL and seconds >= timeout:
            timed_out = True
        out.seek(0)
        err.seek(0)
        return Run(proc.returncode, out.read().decode("utf-8", "replace"), err.read().decode("utf-8", "replace"),
                   seconds, None, timed_out)


# The helper: reads one JSON request a line, forks, answers one JSON line.
_ZYGOTE = r'''
import json, os, resource, sys, time, traceback
import backprop_cli.cli as cli
import backprop_cli.network.spec, backprop_cli.network.solve, backprop_cli.render, backprop_cli.network.engine  # warm imports
for optional in ("backprop_cli.graph.solve", "backprop_cli.check.compare", "backprop_cli.check.keys"):
    try:
        __import__(optional)
    except Exception:
        pass
# One run of each command in-process first: typer, click and rich import and build
# a good deal lazily on the first call, and every forked child should start past that.
from typer.testing import CliRunner
_example = os.path.join(os.getcwd(), "configs", "bce_2_2_1.yaml")
for warm in (["validate", _example], ["solve", _example, "--format", "json"], ["solve", _example],
             ["solve", os.path.join(os.getcwd(), "configs", "graph_circuit.yaml"), "--format", "json"]):
    try:
        CliRunner().invoke(cli.app, warm)
    except Exception:
        pass
import gc
gc.collect()
gc.freeze()  # children inherit a frozen heap: no copy-on-write storm from the collector
requests, answers = sys.stdin, os.fdopen(os.dup(1), "w")
devnull = os.open(os.devnull, os.O_RDONLY)
for line in requests:
    req = json.loads(line)
    sys.stdout.flush(); sys.stderr.flush(); answers.flush()
    start = time.monotonic()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            resource.setrlimit(resource.RLIMIT_AS, (req["memory"], req["memory"]))
            os.chdir(req["cwd"])
            for fd, path in ((1, req["out"]), (2, req["err"])):
                f = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
                os.dup2(f, fd)
                os.close(f)
            os.dup2(devnull, 0)
            sys.argv = ["backprop", *req["args"]]
            if req.get("werror"):  # as `python -W error`: any warning is an exception
                import warnings
                warnings.simplefilter("error")
            try:
                cli.main()
                code = 0
            except SystemExit as exc:
                if exc.code is None:
                    code = 0
                elif isinstance(exc.code, int):
                    code = exc.code
                else:
                    print(exc.code, file=sys.stderr)
                    code = 1
            except BaseException:
                traceback.print_exc()
                code = 1
        finally:
            try:
                sys.stdout.flush()
                sys.stderr.flush()
            finally:
                os._exit(code)
    deadline = start + req["timeout"]
    timed_out = False
    while True:
        got, status, usage = os.wait4(pid, os.WNOHANG)
        if got:
            break
        if time.monotonic() > deadline:
            os.kill(pid, 9)
            _, status, usage = os.wait4(pid, 0)
            timed_out = True
            break
        time.sleep(0.001)
    answers.write(json.dumps({"code": os.waitstatus_to_exitcode(status), "seconds": time.monotonic() - start,
                              "maxrss_kb": usage.ru_maxrss, "timed_out": timed_out}) + "\n")
    answers.flush()
'''


class WarmCLI:
    """One warm helper process; `run` is thread-safe (one command at a time)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._dir = tempfile.mkdtemp(prefix="backprop-warm-")
        self._proc = subprocess.Popen(
            [sys.executable, "-c", _ZYGOTE], cwd=str(ROOT), env=ENV, stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, bufsize=1,
        )
        self._n = 0

    def run(self, args, *, cwd=None, timeout: float = 20.0, werror: bool = False) -> Run:
        with self._lock:
            self._n += 1
            out = os.path.join(self._dir, f"{self._n}.out")
            err = os.path.join(self._dir, f"{self._n}.err")
            request = {"args": [str(a) for a in args], "cwd": str(cwd or ROOT), "out": out, "err": err,
                       "timeout": timeout, "memory": MEMORY_CAP, "werror": werror}
            self._proc.stdin.write(json.dumps(request) + "\n")
            self._proc.stdin.flush()
            line = self._proc.stdout.readline()
            if not line:
                raise RuntimeError("the warm CLI helper died")
            answer = json.loads(line)
            texts = []
            for path in (out, err):
                with open(path, "rb") as fh:
                    texts.append(fh.read().decode("utf-8", "replace"))
                os.unlink(path)
        return Run(answer["code"], texts[0], texts[1], answer["seconds"], answer["maxrss_kb"] / 1024,
                   answer["timed_out"])

    def close(self) -> None:
        try:
            self._proc.stdin.close()
            self._proc.wait(timeout=10)
        except Exception:
            self._proc.kill()
        try:
            os.rmdir(self._dir)
        except OSError:
            pass


def solve_json(cli, path, *args) -> dict:
    """`backprop solve PATH --format json ARGS` through a warm CLI, parsed; it must succeed."""
    run = cli.run(["solve", str(path), "--format", "json", *args])
    assert run.code == 0, run.stderr
    return json.loads(run.stdout)
