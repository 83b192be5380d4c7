"""Typed layers: `backprop solve --format json` of a CNN step and an LSTM step against a
plain PyTorch script doing the same float64 step and writing the same arrays
(torch_layers.py). Ratios come from one run (machines are noisy). Usage:
python bench/bench_layers.py"""
from __future__ import annotations

import random
import sys
from importlib.util import find_spec
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench_solve import OUT, backprop_cmd, ratio_line, timed  # noqa: E402


def _array(rng, shape, scale=1.0) -> str:
    if not shape:
        return f"{rng.uniform(-scale, scale):.4f}"
    return "[" + ", ".join(_array(rng, shape[1:], scale) for _ in range(shape[0])) + "]"


def cnn_spec(path: Path, N=8, C=3, S=16, O=8, K=10, seed=0) -> None:
    rng = random.Random(seed)
    feat = O * ((S - 2) // 2) ** 2
    path.write_text("\n".join([
        f"name: CNN {N}x{C}x{S}x{S}, {O} filters 3x3, max-pool 2, dense {K}",
        f"input: {_array(rng, (N, C, S, S))}",
        "target: [" + ", ".join(str(rng.randrange(K)) for _ in range(N)) + "]",
        "layers:",
        f"  - type: conv2d\n    weights: {_array(rng, (O, C, 3, 3), 0.3)}\n    bias: {_array(rng, (O,), 0.1)}\n    activation: relu",
        "  - type: maxpool2d\n    kernel: 2",
        "  - type: flatten",
        f"  - weights: {_array(rng, (K, feat), 0.05)}\n    bias: {_array(rng, (K,), 0.1)}\n    activation: softmax",
        "loss: cross_entropy", "optimizer: {name: sgd, lr: 0.1}"]) + "\n")


def lstm_spec(path: Path, N=4, T=20, Fin=8, H=16, seed=1) -> None:
    rng = random.Random(seed)
    path.write_text("\n".join([
        f"name: LSTM batch {N}, {T} steps, {Fin} features, hidden {H}",
        f"input: {_array(rng, (N, T, Fin))}",
        f"target: {_array(rng, (N, T, 1))}",
        "layers:",
        f"  - type: lstm\n    W_ih: {_array(rng, (4 * H, Fin), 0.3)}\n    W_hh: {_array(rng, (4 * H, H), 0.3)}\n"
        f"    b: {_array(rng, (4 * H,), 0.1)}\n    output: all",
        f"  - weights: {_array(rng, (1, H), 0.3)}\n    bias: [0.0]",
        "loss: mse", "optimizer: {name: sgd, lr: 0.1}"]) + "\n")


def main() -> None:
    OUT.mkdir(exist_ok=True)
    bp = backprop_cmd()
    for name, make in (("cnn", cnn_spec), ("lstm", lstm_spec)):
        spec = OUT / f"layers_{name}.yaml"
        make(spec)
        commands = {"ours": bp + ["solve", str(spec), "--format", "json", "-o", str(OUT / f"{name}.ours.json")]}
        if find_spec("torch") is None:
            ours = timed(commands, repeat=3)["ours"]
            print(f"{name}: backprop CPU {ours[0]:.3f}s, wall {ours[1]:.3f}s (torch not installed: no ratio)")
            continue
        commands["torch"] = [sys.executable, str(HERE / "torch_layers.py"), str(spec), str(OUT / f"{name}.torch.json")]
        t = timed(commands, repeat=3)
        print(ratio_line(f"{spec.read_text().splitlines()[0][6:]}: step json vs PyTorch script", t["ours"], t["torch"],
                         "for reference"))


if __name__ == "__main__":
    main()
