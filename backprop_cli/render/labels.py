"""Every word a renderer prints, in English and Korean (`--lang ko`).

Headings and prose follow the seeds' own vocabulary (순전파, 역전파, 가중치 갱신, 오차
계산, 연쇄 법칙, 가중치와 편향 갱신 비교). Prose sentences may hold `{…}` fields that
renderers fill with symbols; they never hold math of their own, so one sentence serves
the terminal, LaTeX and Markdown.
"""
from __future__ import annotations

LABELS = {
    "en": {
        "network": "Network",
        "given": "Given values",
        "inputs": "Inputs",
        "targets": "Targets",
        "parameters": "Parameters",
        "hyperparameters": "Hyperparameters",
        "forward": "Forward pass",
        "loss": "Loss",
        "backward": "Backward pass",
        "update": "Updating the parameters",
        "after": "Loss after the step",
        "after_steps": "Loss after {n} steps",
        "summary": "Before and after",
        "step": "Step",
        "layer": "Layer",
        "input_layer": "input layer",
        "output_layer": "output layer",
        "hidden_layer": "hidden layer",
        "parameter": "Parameter",
        "before": "Before",
        "gradient": "Gradient",
        "after_col": "After",
        "initial": "Initial",
        "final": "After {n} steps",
        "value": "Value",
        "name": "Name",
        "losses": "Loss per step",
        "symbolic": "Gradients as formulas",
        "p_symbolic": "Each gradient of the first step with its chain rule multiplied out and simplified, "
                      "as a formula in the forward quantities, then with numbers:",
        "after_last": "after step {n}",
        "frozen": "frozen: not updated",
        "frozen_short": "frozen",
        "architecture": "Architecture",
        "loss_fn": "Loss function",
        "optimizer": "Optimizer",
        "steps": "Steps",
        "reduction": "reduction",
        "rounded": "hand-rounded to {d} decimals",
        "matrix_note": "Batch or large layer: shown in matrix form (rows are samples).",
        "showing": "showing {shown} of {total}",
        "graph": "Computational graph",
        "values": "Values",
        "local": "Local gradients",
        "upstream": "Upstream (global) gradients",
        "second": "Second derivatives",
        "node": "Node",
        "expression": "Expression",
        "input": "Input",
        "chain_rule": "chain rule",
        "title": "Backpropagation, step by step",
        "sum_over": "sum over the next layer",
        "units": "units",
        "units_col": "Units",
        "activation": "Activation",
        "weights": "weights",
        "bias": "Bias",
        "bias_word": "bias",
        "shared_bias": "one, shared",
        "bias_vector": "one per neuron",
        "no_bias": "no bias",
        "samples": "samples",
        "omitted_steps": "Steps {a}–{b} are not written out; the loss table below covers every step.",
        "omitted_step": "Step {a} is not written out; the loss table below covers every step.",
        "plot_x": "step",
        "after_note": "the loss of the updated parameters",
        # prose
        "p_given": "The network's input, target and starting parameters, as given.",
        "p_forward": "Each neuron takes the weighted sum of its inputs plus its bias, then applies its "
                     "activation function f:",
        "p_loss": "The prediction of the output layer is compared with the target.",
        "p_backward": "Backpropagation runs through the layers in reverse order, output layer first. "
                      "Each gradient is written with the chain rule as a product of named factors, "
                      "then with numbers, then as its result.",
        "p_hidden": "A hidden neuron feeds every neuron of the next layer, so its gradient sums the "
                    "chain over them:",
        "p_update": "Every parameter moves against its gradient; the gradients are those of the "
                    "parameters before the step:",
        "p_update_t": "{old} is a parameter's value before the step, {new} its value after it.",
        "p_summary": "All parameters before and after the step, layer by layer.",
        "p_after": "The forward pass again, with the updated parameters:",
        "p_matrix": "With a batch (or a large layer) the derivation is written with matrices: a row per sample.",
        "p_losses": "Row s: the loss of step s's forward pass, before its update; the last row: the "
                    "loss after the last step.",
        "p_rounded": "Hand-calculation mode: every computed number is rounded to {d} decimals and the "
                     "rounded numbers are used from then on, so each line can be re-done by hand.",
        "p_fragment": "needs amsmath and amssymb",
        "ko_note": "",
        "summary_graph": "Result",
        "off_path": "not on a path to the output",
        "p_graph": "A computational graph evaluated node by node; the output is {f}. Each node's "
                   "gradient is its upstream gradient times its local gradient, summed over every "
                   "node it feeds (the chain rule).",
        "p_graph_local": "The derivative of each node with respect to each of its own inputs, "
                         "at the values of the forward pass.",
        "p_graph_backward": "From the output back to the leaves: {f} at the output, then upstream "
                            "gradient times local gradient, summed over fan-out.",
        "p_graph_second": "Second derivatives, by carrying first and second derivatives forward "
                          "along each leaf.",
        "loss_names": {
            "bce": "binary cross-entropy", "mse": "mean squared error", "sse": "sum of squared errors",
            "half_sse": "half the sum of squared errors", "cross_entropy": "cross-entropy (softmax)",
        },
        "reductions": {"mean": "mean over the batch", "sum": "summed over the batch"},
        "activations": {
            "sigmoid": "sigmoid", "tanh": "tanh", "relu": "ReLU", "leaky_relu": "leaky ReLU",
            "identity": "identity", "softmax": "softmax",
        },
    },
    "ko": {
        "network": "신경망 구조",
        "given": "주어진 값",
        "inputs": "입력값",
        "targets": "실젯값",
        "parameters": "가중치와 편향",
        "hyperparameters": "하이퍼파라미터",
        "forward": "순전파(Forward Propagation)",
        "loss": "오차(Cost) 계산",
        "backward": "역전파(Back Propagation)",
        "update": "가중치 갱신",
        "after": "갱신 후 오차",
        "after_steps": "{n}회 학습 후 오차",
        "summary": "가중치와 편향 갱신 비교",
        "step": "단계",
        "layer": "계층",
        "input_layer": "입력층",
        "output_layer": "출력층",
        "hidden_layer": "은닉층",
        "parameter": "매개변수",
        "before": "갱신 전",
        "gradient": "기울기",
        "after_col": "갱신 후",
        "initial": "초깃값",
        "final": "{n}회 학습 후",
        "value": "값",
        "name": "이름",
        "losses": "단계별 오차",
        "symbolic": "기울기 공식",
        "p_symbolic": "첫 단계의 각 기울기를 연쇄 법칙을 전개하고 정리하여 순전파 값들의 식으로 쓴 다음, 숫자를 "
                      "대입합니다.",
        "after_last": "{n}단계 후",
        "frozen": "고정: 갱신하지 않음",
        "frozen_short": "고정",
        "architecture": "구조",
        "loss_fn": "손실 함수",
        "optimizer": "최적화 함수",
        "steps": "학습 횟수",
        "reduction": "축소 방식",
        "rounded": "소수점 {d}자리 반올림 풀이",
        "matrix_note": "배치 크기가 1보다 크거나 계층이 커서 행렬로 풀이합니다 (행 = 샘플).",
        "showing": "{total}개 중 {shown}개 표시",
        "graph": "계산 그래프",
        "values": "노드 값",
        "local": "국소 기울기(Local Gradient)",
        "upstream": "전역 기울기(Global Gradient)",
        "second": "2차 미분",
        "node": "노드",
        "expression": "수식",
        "input": "입력",
        "chain_rule": "연쇄 법칙",
        "title": "역전파 단계별 풀이",
        "sum_over": "다음 계층에 대한 합",
        "units": "뉴런",
        "units_col": "뉴런 수",
        "activation": "활성화 함수",
        "weights": "가중치",
        "bias": "편향",
        "bias_word": "편향",
        "shared_bias": "공유 편향 하나",
        "bias_vector": "뉴런마다 하나",
        "no_bias": "편향 없음",
        "samples": "샘플",
        "omitted_steps": "{a}–{b}단계의 풀이는 생략합니다. 아래 오차 표에 모든 단계가 있습니다.",
        "omitted_step": "{a}단계의 풀이는 생략합니다. 아래 오차 표에 모든 단계가 있습니다.",
        "plot_x": "학습 횟수",
        "after_note": "갱신된 가중치로 계산한 오차",
        # prose (the seeds' own sentences where they exist)
        "p_given": "입력값, 실젯값과 가중치·편향의 초깃값은 다음과 같습니다.",
        "p_forward": "각 뉴런은 입력값과 가중치의 곱을 모두 더한 값에 편향을 더한 가중합을 계산한 다음, "
                     "활성화 함수 f를 적용합니다.",
        "p_loss": "최종으로 계산된 출력값을 예측값으로 하여 오차를 계산합니다.",
        "p_backward": "역전파 과정에서는 계층의 역순으로, 출력층부터 기울기를 계산합니다. "
                      "각 기울기는 연쇄 법칙(Chain Rule)으로 이름 붙은 항들의 곱으로 쓰고, "
                      "숫자를 대입한 다음 결괏값을 구합니다.",
        "p_hidden": "은닉층의 뉴런은 다음 계층의 모든 뉴런에 연결되어 있으므로, 기울기는 다음 계층에 "
                    "대한 합으로 계산합니다.",
        "p_update": "모든 가중치와 편향은 기울기의 반대 방향으로 갱신되며, 기울기는 갱신 전 가중치로 "
                    "계산한 값입니다.",
        "p_update_t": "{old}는 갱신 전의 값, {new}는 갱신 후의 값입니다.",
        "p_summary": "계층(Layer)별로 갱신 전후의 값을 비교하면 다음과 같습니다.",
        "p_after": "갱신된 가중치와 편향으로 순전파를 다시 계산합니다.",
        "p_matrix": "배치 크기가 1보다 크거나 계층이 크면 행렬로 풀이를 진행합니다. 각 행이 하나의 샘플입니다.",
        "p_losses": "s행: s단계 순전파의 오차(갱신 전), 마지막 행: 마지막 갱신 후의 오차입니다.",
        "p_rounded": "손계산 모드: 계산된 모든 값을 소수점 {d}자리로 반올림하고 이후 계산에 반올림된 값을 "
                     "사용하므로, 모든 줄을 손으로 다시 계산할 수 있습니다.",
        "p_fragment": "amsmath, amssymb, kotex 패키지가 필요합니다",
        "summary_graph": "결과",
        "off_path": "출력으로 가는 경로에 없음",
        "p_graph": "계산 그래프를 노드 순서대로 계산합니다. 출력은 {f}입니다. 각 노드의 기울기는 "
                   "상류(전역) 기울기와 국소 기울기의 곱이며, 여러 노드로 갈라지는 경우 모두 더합니다 "
                   "(연쇄 법칙).",
        "p_graph_local": "각 노드를 자신의 입력으로 편미분한 값(국소 기울기)을 순전파의 값에서 계산합니다.",
        "p_graph_backward": "출력에서 입력 방향으로 진행합니다: 출력에서 {f}이고, 이후 상류 기울기 × "
                            "국소 기울기를 갈라진 경로마다 더합니다.",
        "p_graph_second": "각 입력 방향으로 1차, 2차 미분을 순방향으로 전달하여 2차 미분을 계산합니다.",
        "loss_names": {
            "bce": "이진 교차 엔트로피(Binary Cross Entropy)", "mse": "평균 제곱 오차(MSE)",
            "sse": "제곱 오차 합(SSE)", "half_sse": "제곱 오차 합의 절반", "cross_entropy": "교차 엔트로피(소프트맥스)",
        },
        "reductions": {"mean": "배치 평균", "sum": "배치 합"},
        "activations": {
            "sigmoid": "시그모이드", "tanh": "tanh", "relu": "ReLU",
            "leaky_relu": "Leaky ReLU", "identity": "항등 함수", "softmax": "소프트맥스",
        },
    },
}


def labels(lang: str) -> dict:
    return LABELS[lang]
