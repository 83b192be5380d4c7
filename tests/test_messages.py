"""Errors in Korean under `solve --lang ko` (the common ones: file not found, invalid YAML,
unknown key, wrong shape), through the real command; English stays the default, and
the place (file:line:column) and field path are never translated."""
from __future__ import annotations

import pytest

from backprop_cli.errors import SpecError
from backprop_cli.messages import localized
from tests.cli_proc import cold

CASES = [
    ("missing.yaml", None, "파일이 없습니다", "no such file"),
    ("bad.yaml", "input: [1\n", "YAML 문법 오류", "invalid YAML"),
    ("unknown.yaml", "input: [1]\ntarget: [0]\nlayres: []\n", "알 수 없는 키", "unknown key"),
    ("shape.yaml", "input: [1, 2, 3]\ntarget: [1]\nlayers:\n  - weights: [[1, 2], [3, 4], [5, 6]]\n"
                   "  - weights: [[1, 2, 3]]\nloss: mse\nlr: 1\n", "모양(shape)이 맞지 않습니다", "shape mismatch"),
]


@pytest.mark.parametrize("name,text,korean,english", CASES, ids=[c[0] for c in CASES])
def test_common_errors_in_korean(tmp_path, name, text, korean, english):
    path = tmp_path / name
    if text is not None:
        path.write_text(text, encoding="utf-8")
    ko = cold(["solve", str(path), "--lang", "ko"])
    assert ko.code == 2 and ko.stdout == "", ko.describe()
    assert ko.stderr.startswith("오류: " + str(path)) and korean in ko.stderr
    assert english not in ko.stderr and "Traceback" not in ko.stderr
    en = cold(["solve", str(path)])
    assert en.code == 2 and en.stderr.startswith("error: " + str(path)) and english in en.stderr


def test_korean_keeps_place_path_and_hint():
    error = SpecError("unknown key", file="net.yaml", line=3, column=1, path="layres", hint="did you mean 'layers'?")
    text = localized(error, "ko")
    assert text == "오류: net.yaml:3:1: layres: 알 수 없는 키\n  힌트: 혹시 'layers'을(를) 뜻했나요?"
    assert localized(error, "en") == "error: " + str(error)


def test_uncatalogued_messages_fall_back_to_english():
    error = SpecError("something new", file="a.yaml", expected="x", found="y")
    assert localized(error, "ko") == "오류: a.yaml: something new (기대한 것: x, 실제: y)"


def test_transposed_hint_in_korean(tmp_path):
    path = tmp_path / "t.yaml"
    path.write_text(CASES[3][1], encoding="utf-8")
    run = cold(["solve", str(path), "--lang", "ko"])
    assert "전치된 것 같습니다" in run.stderr and "2×3" in run.stderr
