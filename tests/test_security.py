"""Security (issue 7 §2, SPEC §8): untrusted files cannot execute code, exhaust memory,
crash the parser or hang the command.

Every CLI run here is a cold `python -m backprop_cli` in a fresh process (tests/cli_proc.py),
with its peak memory from wait4. Where a test must prove an *order* (size before reading,
depth before parsing), it runs in-process with the later stage replaced by a tripwire.
"""
from __future__ import annotations

import builtins
import json
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

from backprop_cli.errors import SpecError
from backprop_cli.load import load_spec, loads_spec
from backprop_cli.read.yamlsafe import MAX_DEPTH, MAX_SIZE, Source, check_depth, load_text

from .cli_proc import ENV, ROOT, WarmCLI, cold

BASE = (Path(__file__).parent / "bad_inputs" / "valid" / "base.yaml").read_text(encoding="utf-8")
MEMORY_LIMIT_MB = 300  # a python process with numpy is ~80 MB; an unbounded alias bomb is GBs
WORK_LIMIT_S = 2.0  # the refusal itself; a cold interpreter adds its own start-up on top


@pytest.fixture(scope="module")
def warm():
    cli = WarmCLI()
    yield cli
    cli.close()


def _cold_all(jobs, warm=None, cold_count=None):
    """Run [(args, cwd)] in processes of their own, two at a time: the first `cold_count`
    cold (`python -m backprop_cli`, a fresh interpreter), the rest forked from the warm
    helper (the same entry point in a fresh process, without the 0.5 s of imports)."""
    cold_count = len(jobs) if warm is None or cold_count is None else cold_count

    def one(i_job):
        i, (args, cwd) = i_job
        if i < cold_count:
            return cold(args, cwd=cwd, timeout=60)
        return warm.run(args, cwd=cwd, timeout=60)

    with ThreadPoolExecutor(2) as pool:
        return list(pool.map(one, enumerate(jobs)))


def _assert_refused(run, *words):
    assert run.code == 2, run.describe()
    assert run.stdout == "", run.describe()
    assert run.stderr.startswith("error: ") and "Traceback" not in run.stderr, run.describe()
    for word in words:
        assert word in run.stderr, run.describe()


# ----------------------------------------------------------------------------------------
# 1. YAML tags never construct anything


def _payloads(marker: Path) -> dict[str, str]:
    """Each would create `marker` if any loader constructed Python objects from tags."""
    m = str(marker)
    return {
        "os_system": f"!!python/object/apply:os.system ['touch {m}']\n",
        "os_system_in_field": BASE.replace("loss: bce", f"loss: !!python/object/apply:os.system ['touch {m}']"),
        "subprocess": f"input: !!python/object/apply:subprocess.check_call [['touch', '{m}']]\n" + BASE.split("\n", 1)[1],
        "object_new": f"!!python/object/new:subprocess.Popen [['touch', '{m}']]\n",
        "exec": f"name: !!python/object/apply:builtins.exec [\"open('{m}', 'w').write('x')\"]\n" + BASE,
        "eval_in_key": f"? !!python/object/apply:builtins.eval [\"open('{m}', 'w')\"]\n: 1\n" + BASE,
        "reduce_state": ("!!python/object/new:type\nargs: ['X', !!python/tuple [], {}]\n"
                         "state: {__init__: !!python/name:os.system }\n"),
        "verbatim_tag": BASE.replace("loss: bce", f"loss: !<tag:yaml.org,2002:python/object/apply:os.system> ['touch {m}']"),
        "tag_handle": f"%TAG !p! tag:yaml.org,2002:python/\n---\nloss: !p!object/apply:os.system ['touch {m}']\n",
        "graph_leaf": f"graph:\n  x: !!python/object/apply:os.system ['touch {m}']\n  y: x * 2\n",
    }


def test_python_tags_are_refused_and_nothing_runs(tmp_path, warm):
    marker = tmp_path / "pwned"
    jobs, names = [], []
    for name, text in _payloads(marker).items():
        spec = tmp_path / f"{name}.yaml"
        spec.write_text(text, encoding="utf-8")
        jobs.append((["solve", spec, "--format", "json"], tmp_path))
        names.append(name)
    key = tmp_path / "keyed.key.yaml"
    key.write_text(f"loss: !!python/object/apply:os.system ['touch {marker}']\n", encoding="utf-8")
    (tmp_path / "keyed.yaml").write_text(BASE, encoding="utf-8")
    jobs.append((["check", tmp_path / "keyed.yaml", "--key", key], tmp_path))
    names.append("answer_key")
    jobs.insert(1, jobs.pop())  # the answer key among the cold ones
    names.insert(1, names.pop())
    for name, run in zip(names, _cold_all(jobs, warm, cold_count=3)):
        assert run.code == 2, (name, run.describe())
        assert "tag not allowed" in run.stderr, (name, run.describe())
        assert "Traceback" not in run.stderr + run.stdout
    assert not marker.exists(), "a YAML tag executed code"


def test_the_loader_never_constructs(monkeypatch):
    """Even a tag that got past the check could not run: nothing calls a constructor."""
    def tripwire(*args, **kwargs):
        raise AssertionError("a YAML constructor was called")

    for name in ("construct_document", "construct_object", "construct_python_object_apply"):
        for loader in (yaml.constructor.BaseConstructor, yaml.constructor.FullConstructor,
                       yaml.constructor.UnsafeConstructor):
            if hasattr(loader, name):
                monkeypatch.setattr(loader, name, tripwire)
    spec = loads_spec(BASE, "base.yaml")
    assert spec.loss == "bce"
    with pytest.raises(SpecError, match="tag not allowed"):
        loads_spec("!!python/object/apply:os.system ['true']\n", "p.yaml")


def test_graph_expressions_cannot_inject(tmp_path, monkeypatch, warm):
    """Expressions are parsed by a whitelist: no eval/exec/compile/sympify on user text."""
    marker = tmp_path / "pwned"
    m = str(marker)
    attacks = [
        f"__import__('os').system('touch {m}')",
        f"eval(\"open('{m}', 'w')\")",
        f"exec(\"open('{m}', 'w')\")",
        f"open('{m}', 'w')",
        "x.__class__.__bases__[0].__subclasses__()",
        "(lambda: x)()",
        "globals()",
        f"x if open('{m}', 'w') else x",
        "[c for c in ().__class__.__base__.__subclasses__()]",
        f"sympify(\"open('{m}','w')\")",
        "x; import os",
        "x\n  import os",
        "__builtins__",
        "x @ x",
        "x ** x ** x ** x ** x ** x ** 99",
    ]
    texts = ["graph:\n  x: 2\n  y: " + json.dumps(a) + "\n" for a in attacks]
    # in-process, with every evaluating builtin replaced by a tripwire (imports first:
    # importing compiles source)
    import sympy

    from backprop_cli.graph.solve import solve_graph

    loads_spec(texts[0].replace(json.dumps(attacks[0]), "x * 2"), "warm.yaml")

    def tripwire(*args, **kwargs):
        raise AssertionError("user text reached an evaluator")

    for name in ("eval", "exec", "compile"):
        monkeypatch.setattr(builtins, name, tripwire)
    monkeypatch.setattr(sympy, "sympify", tripwire)
    monkeypatch.setattr(sympy, "parse_expr", tripwire, raising=False)

    for text in texts:
        try:
            solve_graph(loads_spec(text, "g.yaml"))
        except SpecError as err:
            assert "g.yaml" in str(err)
        except Exception as err:  # ComputeError: a clean, named error is fine too
            assert type(err).__name__ == "ComputeError", (text, err)
    monkeypatch.undo()
    # and through the real command, cold
    jobs = []
    for i, text in enumerate(texts):
        path = tmp_path / f"g{i}.yaml"
        path.write_text(text, encoding="utf-8")
        jobs.append((["solve", path, "--format", "json"], tmp_path))
    for text, run in zip(texts, _cold_all(jobs[:6], warm, cold_count=2)):
        _assert_refused(run, "graph.y")
    assert not marker.exists()


# ----------------------------------------------------------------------------------------
# 2. alias bombs: refused fast, with bounded memory

_MEASURE = textwrap.dedent("""
    import json, sys, time, tracemalloc
    from backprop_cli.errors import BackpropError
    from backprop_cli.load import load_spec
    tracemalloc.start()
    start = time.perf_counter()
    try:
        load_spec(sys.argv[1])
        outcome = "loaded"
    except BackpropError as err:
        outcome = str(err)
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    # VmHWM: this interpreter's own peak RSS (ru_maxrss would include the parent's,
    # which Linux carries across fork + exec)
    hwm = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
    print(json.dumps({"seconds": seconds, "traced_peak_mb": peak / 2**20, "maxrss_mb": hwm / 1024,
                      "outcome": outcome}))
""")


def _measure_load(path: Path) -> dict:
    """load_spec in a fresh process: its own time, traced peak and the process's peak RSS."""
    out = subprocess.run([sys.executable, "-c", _MEASURE, str(path)], env=ENV, cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def _bomb(levels: int, width: int, leaf: str = "lol") -> str:
    lines = [f"l0: &a0 [{', '.join([leaf] * width)}]"]
    lines += [f"l{i}: &a{i} [{', '.join([f'*a{i - 1}'] * width)}]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


BOMBS = {
    "billion_laughs": _bomb(10, 10),             # 10^10 leaves
    "binary_chain_64": _bomb(64, 2),              # 2^64
    "mapping_bomb": "a0: &a0 {k: v}\n" + "".join(
        f"a{i}: &a{i} {{{', '.join(f'k{j}: *a{i - 1}' for j in range(9))}}}\n" for i in range(1, 12)),
    "inside_a_spec": BASE + "notation: &n0 {" + ", ".join(f"k{j}: x" for j in range(10)) + "}\n" + "".join(
        f"description{i}: &n{i} [{', '.join([f'*n{i - 1}'] * 10)}]\n" for i in range(1, 9)),
}


@pytest.mark.parametrize("name", sorted(BOMBS))
def test_alias_bomb_is_refused_fast_with_bounded_memory(name, tmp_path):
    path = tmp_path / f"{name}.yaml"
    path.write_text(BOMBS[name], encoding="utf-8")
    measured = _measure_load(path)
    assert "alias bomb" in measured["outcome"], measured
    assert measured["seconds"] < WORK_LIMIT_S, measured
    assert measured["traced_peak_mb"] < MEMORY_LIMIT_MB, measured
    assert measured["maxrss_mb"] < MEMORY_LIMIT_MB, measured


def test_alias_bomb_through_the_cli(tmp_path, warm):
    path = tmp_path / "bomb.yaml"
    path.write_text(BOMBS["billion_laughs"], encoding="utf-8")
    (tmp_path / "spec.yaml").write_text(BASE, encoding="utf-8")
    key = tmp_path / "bomb.key.yaml"
    key.write_text(_bomb(10, 10, leaf="0.5"), encoding="utf-8")
    runs = _cold_all([(["solve", path, "--format", "json"], tmp_path), (["validate", path], tmp_path),
                      (["check", tmp_path / "spec.yaml", "--key", key], tmp_path)], warm, cold_count=1)
    for run in runs[:2]:
        _assert_refused(run, "bomb.yaml", "alias bomb")
    assert runs[2].code == 2 and "bomb.key.yaml" in runs[2].stderr and "alias bomb" in runs[2].stderr
    for run in runs:
        assert run.seconds < 10, run.describe()
        assert run.maxrss_mb is None or run.maxrss_mb < MEMORY_LIMIT_MB, run.describe()  # warm runs


def test_sensible_anchors_are_fine():
    """The bound is on the expanded size, not on aliases as such."""
    text = BASE.replace("[[0.4352, 0.3545], [0.1951, 0.4835]]", "[&row [0.5, 0.5], *row]")
    spec = loads_spec(text, "anchors.yaml")
    assert spec.layers[0].weights.tolist() == [[0.5, 0.5], [0.5, 0.5]]


def test_recursive_alias_is_an_error_not_a_hang():
    for text in ("a: &x [1, *x]\n", "a: &x {b: *x}\n", "&x [[[*x]]]\n"):
        with pytest.raises(SpecError, match="cycle"):
            load_text(text, "r.yaml")


# ----------------------------------------------------------------------------------------
# 3. size: 10 MB by default, checked before reading, --max-size overrides


def _filler(path: Path, size: int) -> Path:
    line = b"# " + b"x" * 97 + b"\n"
    data = (line * (size // len(line) + 1))[:size]
    path.write_bytes(data)
    return path


def test_default_limit_is_10_mb():
    assert MAX_SIZE == 10 * 1024 * 1024


def test_size_is_checked_before_the_file_is_read(tmp_path, monkeypatch):
    big = _filler(tmp_path / "big.yaml", MAX_SIZE + 1)

    def tripwire(*args, **kwargs):
        raise AssertionError("the file was opened")

    monkeypatch.setattr(builtins, "open", tripwire)
    with pytest.raises(SpecError, match="file too large") as info:
        load_spec(big)
    assert "big.yaml" in str(info.value) and "--max-size" in str(info.value)


def test_a_file_at_the_limit_is_read(tmp_path):
    at_limit = _filler(tmp_path / "at_limit.yaml", MAX_SIZE)
    with pytest.raises(SpecError, match="empty"):  # read and parsed: only comments
        load_spec(at_limit)


def test_50_mb_file_is_refused_quickly(tmp_path, warm):
    big = _filler(tmp_path / "fifty.yaml", 50 * 1024 * 1024)
    runs = _cold_all([(["solve", big, "--format", "json"], tmp_path), (["validate", big], tmp_path),
                      (["check", big, "--key", big], tmp_path)], warm, cold_count=1)
    for run in runs:
        assert run.code == 2 and "fifty.yaml" in run.stderr and "file too large" in run.stderr, run.describe()
        assert "Traceback" not in run.stderr
        assert run.seconds < 10, run.describe()
        assert run.maxrss_mb is None or run.maxrss_mb < MEMORY_LIMIT_MB, run.describe()  # warm runs


def test_max_size_overrides_both_ways(tmp_path, warm):
    spec = tmp_path / "spec.yaml"
    spec.write_text(BASE, encoding="utf-8")
    size = spec.stat().st_size
    key = tmp_path / "spec.key.yaml"
    key.write_text("loss: 0.5369\n", encoding="utf-8")
    runs = _cold_all([
        (["solve", spec, "--max-size", size - 1], tmp_path),
        (["validate", spec, "--max-size", size - 1], tmp_path),
        (["solve", spec, "--format", "json", "--max-size", size], tmp_path),
        (["check", spec, "--max-size", size - 1], tmp_path),
    ], warm, cold_count=1)
    for run in (runs[0], runs[1]):
        _assert_refused(run, "spec.yaml", "file too large", f"at most {size - 1:,} bytes")
    assert runs[2].code == 0, runs[2].describe()
    assert runs[3].code == 2 and "file too large" in runs[3].stderr, runs[3].describe()


# ----------------------------------------------------------------------------------------
# 4. nesting: a linear pre-scan before any parser; the parser never recurses deeply

DEEP = {
    "flow_seq": "[" * 100_000 + "]" * 100_000,
    "flow_map": "{a: " * 100_000 + "1" + "}" * 100_000,
    "unclosed": "[" * 100_000,
    "dashes": "- " * 100_000 + "x\n",
    "block_mappings": "".join(" " * i + "a:\n" for i in range(4000)),      # 8 MB, 4000 deep
    "block_sequences": "".join(" " * i + "-\n" for i in range(4000)) + " " * 4000 + "x\n",
    "mixed": "a:\n" + "".join(" " * (2 * i + 2) + "- [\n" for i in range(2000)),
}


@pytest.mark.parametrize("name", sorted(DEEP))
def test_depth_is_refused_before_any_parser_runs(name, monkeypatch):
    def tripwire(*args, **kwargs):
        raise AssertionError("a YAML parser ran before the depth pre-scan")

    for fn in ("compose", "parse", "scan", "load", "safe_load"):
        monkeypatch.setattr(yaml, fn, tripwire)
    with pytest.raises(SpecError, match="nesting too deep") as info:
        load_text(DEEP[name], f"{name}.yaml")
    assert f"{name}.yaml" in str(info.value) and f"at most {MAX_DEPTH}" in str(info.value)


def test_depth_limit_is_100():
    ok = "a: " + "[" * 99 + "1" + "]" * 99 + "\n"   # the mapping + 99 lists = 100
    check_depth(Source("ok.yaml", ok))
    load_text(ok, "ok.yaml")
    with pytest.raises(SpecError, match="101 levels"):
        check_depth(Source("deep.yaml", "a: " + "[" * 100 + "1" + "]" * 100 + "\n"))


def test_what_quotes_hide_from_the_pre_scan_the_event_check_finds(monkeypatch):
    """A quote the pre-scan takes for a string (`x "` is a plain scalar to YAML) hides the
    nesting after it from the text scan; the event pass still refuses it, and libyaml's
    recursive composer — which crashes at this depth — never runs."""
    text = 'name: x "\ninput: ' + "[" * 100_000 + "1" + "]" * 100_000 + '\nnote: ""\n'
    check_depth(Source("hidden.yaml", text))  # fooled, by design of the heuristic

    def tripwire(*args, **kwargs):
        raise AssertionError("the composer ran")

    monkeypatch.setattr(yaml, "compose", tripwire)
    with pytest.raises(SpecError, match="nesting too deep"):
        load_text(text, "hidden.yaml")


def test_deep_files_through_the_cli(tmp_path, warm):
    jobs = []
    for name in ("flow_seq", "flow_map", "dashes", "block_mappings"):
        path = tmp_path / f"{name}.yaml"
        path.write_text(DEEP[name], encoding="utf-8")
        jobs.append((["solve", path, "--format", "json"], tmp_path))
    hidden = tmp_path / "hidden.yaml"
    hidden.write_text('name: x "\ninput: ' + "[" * 100_000 + "1" + "]" * 100_000 + '\nnote: ""\n', encoding="utf-8")
    jobs.append((["validate", hidden], tmp_path))
    (tmp_path / "spec.yaml").write_text(BASE, encoding="utf-8")
    jobs.append((["check", tmp_path / "spec.yaml", "--key", tmp_path / "flow_seq.yaml"], tmp_path))
    for (args, _), run in zip(jobs, _cold_all(jobs, warm, cold_count=2)):
        if args[0] == "check":  # the key is the deep file; the report may summarise on stdout
            assert run.code == 2 and "flow_seq.yaml" in run.stderr and "nesting too deep" in run.stderr, run.describe()
            continue
        _assert_refused(run, Path(args[1]).name, "nesting too deep")  # not a segfault (-11)
        assert run.seconds < 10, run.describe()
        assert run.maxrss_mb is None or run.maxrss_mb < MEMORY_LIMIT_MB, run.describe()  # warm runs


def test_pre_scan_is_linear():
    """Twice the input, about twice the time: no quadratic corner."""
    import time

    def cost(n):
        text = ("- [" + "1, " * 50 + "1]\n") * n
        start = time.perf_counter()
        check_depth(Source("x.yaml", text))
        return time.perf_counter() - start

    cost(1000)
    small, large = min(cost(4_000) for _ in range(3)), min(cost(16_000) for _ in range(3))
    assert large < small * 8, (small, large)  # 4× the input; linear would be ~4×


def test_stat_and_read_errors_are_clean(tmp_path, warm):
    runs = _cold_all([(["solve", tmp_path / "missing.yaml"], tmp_path), (["solve", tmp_path], tmp_path)], warm, 0)
    _assert_refused(runs[0], "missing.yaml", "no such file")
    _assert_refused(runs[1], "is a directory")
