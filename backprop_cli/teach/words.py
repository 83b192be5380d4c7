"""Every word the teaching documents print, in English and Korean (`--lang ko`).

Korean follows the seeds' vocabulary (순전파, 역전파, 가중치 갱신, 오차).
"""
from __future__ import annotations

WORDS = {
    "en": {
        "variant": "Variant",
        "seed": "seed",
        "points_total": "{points} points",
        "given": "Given",
        "task": "Task",
        "answers": "Answers",
        "quantity": "Quantity",
        "name": "Name",
        "answer": "Answer",
        "points": "Points",
        "value": "Value",
        "structure": "Structure (the formulas, without numbers)",
        "network": "Network {arch}; activations: {acts}; loss: {loss} ({reduction}); optimizer: {opt}.",
        "graph": "Computational graph with output {output}.",
        "task_network": "Do one training step by hand: the forward pass, the loss, backpropagation with the "
                        "chain rule, and the parameter update. Fill in every blank below, rounded to "
                        "{decimals} decimals.",
        "task_graph": "Evaluate the graph forward, then backpropagate: local gradient × upstream gradient. "
                      "Fill in every blank below, rounded to {decimals} decimals.",
        "solution": "Solution",
        "exam": "Exam",
        "student": "Student",
        "score": "Score",
        "correct": "correct",
        "wrong": "wrong",
        "missing": "missing",
        "carried": "correct from your own earlier value (error carried forward)",
        "expected": "expected",
        "yours": "your answer",
        "cause": "likely cause",
        "feedback_title": "Feedback for {student} (variant {variant})",
        "summary": "Score: {score} of {total} points.",
        "ecf_note": "{n} answer(s) earned credit by error carried forward: computed correctly from a value "
                    "you had wrong earlier.",
        "no_cause": "no simple explanation — recheck the arithmetic",
        "hand_rounded": "correct (hand-rounded)",
    },
    "ko": {
        "variant": "변형",
        "seed": "시드",
        "points_total": "{points}점",
        "given": "주어진 값",
        "task": "문제",
        "answers": "답안",
        "quantity": "기호",
        "name": "이름",
        "answer": "답",
        "points": "배점",
        "value": "값",
        "structure": "구조 (숫자 없이 식만)",
        "network": "신경망 {arch}; 활성화 함수: {acts}; 손실 함수: {loss} ({reduction}); 옵티마이저: {opt}.",
        "graph": "출력이 {output}인 계산 그래프.",
        "task_network": "손으로 한 번의 학습 단계를 계산하세요: 순전파, 오차 계산, 연쇄 법칙을 이용한 역전파, "
                        "가중치 갱신. 아래의 빈칸을 소수점 {decimals}자리까지 반올림하여 채우세요.",
        "task_graph": "그래프를 순전파로 계산한 뒤 역전파하세요: 국소 기울기 × 상류 기울기. "
                      "아래의 빈칸을 소수점 {decimals}자리까지 반올림하여 채우세요.",
        "solution": "풀이",
        "exam": "시험",
        "student": "학생",
        "score": "점수",
        "correct": "정답",
        "wrong": "오답",
        "missing": "미제출",
        "carried": "앞에서 틀린 본인의 값으로는 올바르게 계산함 (오류 전파 인정)",
        "expected": "정답",
        "yours": "제출한 답",
        "cause": "예상 원인",
        "feedback_title": "{student} 학생 피드백 (변형 {variant})",
        "summary": "점수: {total}점 만점에 {score}점.",
        "ecf_note": "{n}개의 답은 앞에서 틀린 본인의 값으로 올바르게 계산하여 점수를 받았습니다 (오류 전파 인정).",
        "no_cause": "단순한 원인을 찾지 못했습니다 — 계산을 다시 확인하세요",
        "hand_rounded": "정답 (손계산 반올림)",
    },
}

# check's causes (diagnose.py) in a student's words, keyed by how the cause text starts
CAUSE_FEEDBACK = {
    "en": {
        "sign flipped": "the sign is flipped",
        "update in the wrong direction": "the update went in the wrong direction (+ instead of −)",
        "lr left out": "you left out the learning rate",
        "lr applied twice": "you applied the learning rate twice",
        "activation derivative left out": "you left out the activation derivative",
        "updated weights used": "you used the updated weights in backpropagation (use the old ones)",
        "loss factor": "a constant factor of the loss is off",
        "batch": "the batch was summed instead of averaged (or the reverse)",
        "hand rounding": "rounding: carry more decimals",
        "indices swapped": "the indices are swapped",
    },
    "ko": {
        "sign flipped": "부호가 반대입니다",
        "update in the wrong direction": "갱신 방향이 반대입니다 (− 대신 +)",
        "lr left out": "학습률을 빠뜨렸습니다",
        "lr applied twice": "학습률을 두 번 곱했습니다",
        "activation derivative left out": "활성화 함수의 미분을 빠뜨렸습니다",
        "updated weights used": "역전파에 갱신된 가중치를 사용했습니다 (이전 가중치를 사용하세요)",
        "loss factor": "손실 함수의 상수 배가 맞지 않습니다",
        "batch": "배치를 평균 대신 합했습니다 (또는 반대)",
        "hand rounding": "반올림 오차: 중간값의 자릿수를 더 유지하세요",
        "indices swapped": "첨자가 뒤바뀌었습니다",
    },
}


def words(lang: str) -> dict:
    return WORDS["ko" if lang == "ko" else "en"]


def cause_feedback(cause: str, lang: str) -> str:
    """check's cause text (`activation derivative left out in layer 1?`) as feedback."""
    table = CAUSE_FEEDBACK["ko" if lang == "ko" else "en"]
    lowered = cause.lower()
    for start, text in table.items():
        if start in lowered:
            detail = cause.split(": ", 1)[0] if cause.lower().startswith("matches ") else ""
            return f"{text} ({detail})" if detail else text
    return cause
