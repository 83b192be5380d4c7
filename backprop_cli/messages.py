"""Error messages in the user's language (`solve --lang ko`): a catalogue, English fallback.

A `SpecError` keeps its parts apart (place, field path, message, expected, found, hint),
so a message is translated part by part: the fixed words (expected, found, hint, "did
you mean"), the common messages word for word (file not found, invalid YAML, unknown
key, wrong shape, …) and, for a message that begins with a catalogued one ("invalid YAML:
while parsing …"), the catalogued part. Anything not in the catalogue stays in English,
so no message is ever lost; file names, paths and the user's own text are never
translated.
"""
from __future__ import annotations

import re

from .errors import BackpropError, SpecError, printable

KO = {
    "no such file": "파일이 없습니다",
    "is a directory, not a spec file": "폴더입니다 (스펙 파일이 아님)",
    "permission denied": "읽기 권한이 없습니다",
    "cannot read the file": "파일을 읽을 수 없습니다",
    "file too large": "파일이 너무 큽니다",
    "invalid YAML": "YAML 문법 오류",
    "nesting too deep": "중첩이 너무 깊습니다",
    "empty": "내용이 비어 있습니다",
    "unknown key": "알 수 없는 키",
    "unknown notation key": "알 수 없는 표기(notation) 키",
    "shape mismatch": "모양(shape)이 맞지 않습니다",
    "ragged rows": "행의 길이가 서로 다릅니다",
    "a mix of rows and numbers": "행과 숫자가 섞여 있습니다",
    "missing required field": "필수 항목이 없습니다",
    "duplicate key": "키가 중복되었습니다",
    "class index out of range": "클래스 번호가 범위를 벗어났습니다",
    "bce targets are probabilities": "bce의 목표값은 확률입니다",
    "softmax is allowed on the last layer only": "softmax는 마지막 층에만 쓸 수 있습니다",
}
WORDS = {
    "ko": {"error": "오류", "expected": "기대한 것", "found": "실제", "hint": "힌트",
           "did_you_mean": "혹시 {name}을(를) 뜻했나요?"},
}
_DID_YOU_MEAN = re.compile(r"^did you mean (?P<name>'[^']*')\?$")
# hints with numbers in them (spec.py's slips), by pattern
HINTS_KO = (
    (re.compile(r"^the weights look transposed \(written in × out\): write them as (?P<out>\d+)×(?P<inn>\d+), "
                r"one row of \d+ numbers? per neuron"),
     "가중치가 전치된 것 같습니다(입력 × 출력 순서로 씀): {out}×{inn}로, 뉴런마다 숫자 {inn}개인 행 하나씩 "
     "쓰세요 (모양은 출력 × 입력, PyTorch의 nn.Linear와 같음)"),
    (re.compile(r"^the input (?P<column>\[\[.*\]\]) is a batch of (?P<n>\d+) samples of one value each; "
                r"one sample of \d+ values is written (?P<row>\[.*\])$"),
     "입력 {column}은(는) 값이 하나씩인 샘플 {n}개의 배치로 읽힙니다. 값 {n}개인 샘플 하나는 {row}로 씁니다"),
)


def _catalogue(text: str, table: dict) -> str:
    """The catalogued translation of a message, or of its leading catalogued part."""
    if text in table:
        return table[text]
    for english in sorted(table, key=len, reverse=True):
        for sep in (": ", " ("):
            if text.startswith(english + sep):
                return table[english] + sep + text[len(english) + len(sep):]
        if text.startswith(english + " ") and english == "missing required field":
            return table[english] + ": " + text[len(english) + 1:]
    return text


def _hint(hint: str, words: dict) -> str:
    match = _DID_YOU_MEAN.match(hint)
    if match:
        return words["did_you_mean"].format(name=match["name"])
    for pattern, template in HINTS_KO:
        match = pattern.match(hint)
        if match:
            return template.format(**match.groupdict())
    return hint


def localized(error: BackpropError, lang: str = "en") -> str:
    """`error: …` as the CLI prints it, in `lang` where the catalogue has the words."""
    if lang == "en" or lang not in WORDS:
        return f"error: {error}"
    words = WORDS[lang]
    if not isinstance(error, SpecError):
        return f"{words['error']}: {_catalogue(str(error), KO)}"
    place = error.file or "<input>"
    if error.line is not None:
        place += f":{error.line}"
        if error.column is not None:
            place += f":{error.column}"
    parts = [place] + ([error.path] if error.path else [])
    body = _catalogue(error.message, KO)
    said = []
    if error.expected is not None:
        said.append(f"{words['expected']}: {error.expected}")
    if error.found is not None:
        said.append(f"{words['found']}: {error.found}")
    if said:
        body = f"{body} ({', '.join(said)})" if body else ", ".join(said)
    text = ": ".join(parts) + ": " + body
    if error.hint:
        hint = _hint(error.hint, words)
        text += f"\n  {words['hint']}: {hint}"
    return f"{words['error']}: {printable(text)}"
