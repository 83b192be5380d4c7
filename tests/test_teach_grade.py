"""`backprop grade` on a planted class: every mistake made by hand from the oracle.

Students' numbers are built from tests/teach_oracle.py (textbook formulas, not the
solver): correct answers, a sign flip, σ′ left out, a wrong update direction, missing
answers, and errors carried forward (a1 computed correctly from a wrong z1, dL/dW5 from
a wrong δ3). Scores are summed here from the template's points."""
from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest
import yaml

from tests.cli_proc import ROOT, cold
from tests.teach_oracle import oracle_221, sigma_prime_left_out

TEMPLATE = ROOT / "configs" / "templates" / "sigmoid_2_2_1.yaml"
POINTS = {"loss": 2, "W1_new": 2, "W5_new": 2}
ASKED = ["z1", "z2", "a1", "a2", "z3", "a3", "loss", "delta3", "dL/dW5", "dL/dW6", "dL/db3", "delta1", "delta2",
         "dL/dW1", "dL/dW2", "dL/dW3", "dL/dW4", "W1_new", "W5_new"]


@pytest.fixture(scope="module")
def exam(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("exam")
    run = cold(["generate", TEMPLATE, "--count", 3, "--seed", 21, "--out", out / "v"])
    assert run.code == 0, run.describe()
    return out


def spec_of(exam: Path, vid: str) -> dict:
    return yaml.safe_load((exam / "v" / f"{vid}.yaml").read_text())


def r4(x: float) -> str:
    return f"{x:.4f}"


def planted(exam: Path) -> tuple[list[dict], dict]:
    """Rows of the class CSV and, per student, {name: expected status}."""
    spec = spec_of(exam, "v01")
    truth = oracle_221(spec)
    rows, expect = [], {}

    def student(name, changes=None, drop=(), vid="v01", true=truth):
        row = {"student": name, "variant": vid}
        row.update({n: r4(true[n]) for n in ASKED if n not in drop})
        row.update(changes or {})
        rows.append(row)

    student("alice")
    expect["alice"] = {}
    z1 = truth["z1"] + 0.1
    a1 = 1 / (1 + math.exp(-z1))
    z3 = spec["layers"][1]["weights"][0][0] * a1 + spec["layers"][1]["weights"][0][1] * truth["a2"] + \
        spec["layers"][1]["bias"][0]
    student("bob", {"z1": r4(z1), "a1": r4(a1), "z3": r4(z3)})
    expect["bob"] = {"z1": "wrong", "a1": "carried", "z3": "carried"}
    left_out = sigma_prime_left_out(spec, 0)
    student("carol", {"dL/dW1": r4(left_out["dL/dW1"]), "dL/dW5": r4(-truth["dL/dW5"])})
    expect["carol"] = {"dL/dW1": "wrong:activation derivative", "dL/dW5": "wrong:sign"}
    student("dave", drop=("loss", "W5_new"))
    expect["dave"] = {"loss": "missing", "W5_new": "missing"}
    d3 = 2 * truth["delta3"]
    student("erin", {"delta3": r4(d3), "dL/dW5": r4(d3 * truth["a1"])})
    expect["erin"] = {"delta3": "wrong", "dL/dW5": "carried"}
    # δ carried down: a wrong δ3, then δ1 = δ3·W5·σ′(z1), dL/dW1 = δ1·x1, dL/dW5 = δ3·a1
    w5 = spec["layers"][1]["weights"][0][0]
    d3 = truth["delta3"] + 0.2
    d1 = d3 * w5 * truth["a1"] * (1 - truth["a1"])
    student("henry", {"delta3": r4(d3), "delta1": r4(d1), "dL/dW1": r4(d1 * spec["input"][0]),
                      "dL/dW5": r4(d3 * truth["a1"])})
    expect["henry"] = {"delta3": "wrong", "delta1": "carried", "dL/dW1": "carried", "dL/dW5": "carried"}
    # a whole forward chain carried from a wrong z1
    a3 = 1 / (1 + math.exp(-z3))
    t = spec["target"][0]
    loss = -(t * math.log(a3) + (1 - t) * math.log(1 - a3))
    student("ivan", {"z1": r4(z1), "a1": r4(a1), "z3": r4(z3), "a3": r4(a3), "loss": r4(loss)})
    expect["ivan"] = {"z1": "wrong", "a1": "carried", "z3": "carried", "a3": "carried", "loss": "carried"}
    truth2 = oracle_221(spec_of(exam, "v02"))
    student("frank", {"loss": "n/a"}, vid="v02", true=truth2)
    expect["frank"] = {"loss": "wrong:not a number"}
    return rows, expect


def write_csv(path: Path, rows: list[dict]) -> None:
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, ["student", "variant", *ASKED])
        writer.writeheader()
        writer.writerows(rows)


def test_planted_class(exam: Path, tmp_path: Path):
    rows, expect = planted(exam)
    answers = tmp_path / "answers.csv"
    write_csv(answers, rows)
    # one student hands in a YAML key file instead: the update added, not subtracted
    spec3 = spec_of(exam, "v03")
    truth3 = oracle_221(spec3)
    wrong_w5 = spec3["layers"][1]["weights"][0][0] + spec3["optimizer"]["lr"] * truth3["dL/dW5"]
    grace = tmp_path / "grace.yaml"
    grace.write_text("student: grace\nvariant: v03\nnamed:\n" + "".join(
        f"  {n}: {r4(wrong_w5) if n == 'W5_new' else r4(truth3[n])}\n" for n in ASKED))
    expect["grace"] = {"W5_new": "wrong:wrong direction"}
    run = cold(["grade", TEMPLATE, answers, grace, "--variants", exam / "v", "--out", tmp_path / "g"])
    assert run.code == 0, run.describe()
    assert "10 answers credited by error carried forward" in run.stdout
    book = {r["student"]: r for r in csv.DictReader((tmp_path / "g" / "gradebook.csv").open())}
    assert list(book) == ["alice", "bob", "carol", "dave", "erin", "henry", "ivan", "frank", "grace"]
    total = sum(POINTS.get(n, 1) for n in ASKED)
    for name, statuses in expect.items():
        lost = sum(POINTS.get(n, 1) for n, s in statuses.items() if s != "carried")
        assert float(book[name]["score"]) == total - lost, (name, book[name])
        assert float(book[name]["max"]) == total
        assert int(book[name]["carried_forward"]) == sum(1 for s in statuses.values() if s == "carried")
        assert int(book[name]["missing"]) == sum(1 for s in statuses.values() if s == "missing")
        feedback = (tmp_path / "g" / "feedback" / f"{name}.md").read_text()
        for n, status in statuses.items():
            line = next(l for l in feedback.splitlines() if l.startswith(f"| `{n}` |"))
            if status == "carried":
                assert "error carried forward" in line, line
            elif status == "missing":
                assert "missing" in line
            else:
                kind, _, cause = status.partition(":")
                assert "wrong" in line and cause in line, line
        if any(s == "carried" for s in statuses.values()):
            assert "earned credit by error carried forward" in feedback
    assert "activation derivative" in (tmp_path / "g" / "feedback" / "carol.md").read_text()
    assert "z1" in next(l for l in (tmp_path / "g" / "feedback" / "bob.md").read_text().splitlines() if "`a1`" in l)


def test_korean_feedback(exam: Path, tmp_path: Path):
    rows, _ = planted(exam)
    answers = tmp_path / "answers.csv"
    write_csv(answers, rows)
    run = cold(["grade", TEMPLATE, answers, "--variants", exam / "v", "--out", tmp_path / "g", "--lang", "ko"])
    assert run.code == 0, run.describe()
    assert "오류 전파" in (tmp_path / "g" / "feedback" / "bob.md").read_text()
    assert "활성화 함수의 미분을 빠뜨렸습니다" in (tmp_path / "g" / "feedback" / "carol.md").read_text()


@pytest.mark.parametrize("header, row, words", [
    ("student,variant,z1,a99", "x,v01,1,2", ":1:"),
    ("student,variant,z1", "x,v99,1", "unknown variant 'v99'"),
    ("who,z1", "x,1", "missing column"),
])
def test_bad_answer_files_exit_2(exam: Path, tmp_path: Path, header, row, words):
    answers = tmp_path / "a.csv"
    answers.write_text(f"{header}\n{row}\n")
    run = cold(["grade", TEMPLATE, answers, "--variants", exam / "v", "--out", tmp_path / "g"])
    assert run.code == 2 and words in run.stderr and "Traceback" not in run.stderr, run.describe()


def test_a_key_file_per_student_with_the_variant_in_its_name(exam: Path, tmp_path: Path):
    truth = oracle_221(spec_of(exam, "v02"))
    answers = tmp_path / "judy.v02.key.yaml"
    answers.write_text("tolerance: {abs: 1e-3}\nnamed:\n" + "".join(
        f"  {n}: {r4(-truth[n]) if n == 'loss' else r4(truth[n])}\n" for n in ASKED))
    run = cold(["grade", TEMPLATE, answers, "--variants", exam / "v", "--out", tmp_path / "g"])
    assert run.code == 0, run.describe()
    row = next(csv.DictReader((tmp_path / "g" / "gradebook.csv").open()))
    assert (row["student"], row["variant"], row["loss"], row["wrong"]) == ("judy", "v02", "0", "1")
    assert "the sign is flipped" in (tmp_path / "g" / "feedback" / "judy.md").read_text()
