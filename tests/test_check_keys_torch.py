"""The shipped answer keys (configs/*.key.yaml) agree with PyTorch float64.

The keys were written from `torch_named(path, real_optim=True)` below — an independent
computation with torch.autograd and torch.optim that shares no code with backprop (it
even reads the spec with plain `yaml.safe_load`) — so a shipped key can never merely
echo the solver it is meant to check. This test recomputes every key value the same
way, with the optimizer step written out as PyTorch documents it (`_DocumentedOptim`):
constructing a torch.optim optimizer imports torch._dynamo, 4 s of a fast test suite.
"""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

torch = pytest.importorskip("torch")

CONFIGS = Path(__file__).resolve().parent.parent / "configs"


def _num(v) -> float:
    if isinstance(v, str) and "/" in v:
        p, q = v.split("/")
        return int(p) / int(q)
    return float(v)


def _rows(v) -> list[list[float]]:
    if not isinstance(v, list):
        v = [v]
    if not v or not isinstance(v[0], list):
        return [[_num(x) for x in v]]
    return [[_num(x) for x in row] for row in v]


class _DocumentedOptim:
    """torch.optim.SGD / Adam's update rules as their documentation states them (full
    batch, maximize=False, amsgrad=False), with the same `state` keys."""

    def __init__(self, params, name: str, lr: float, momentum=0.0, weight_decay=0.0, nesterov=False,
                 betas=(0.9, 0.999), eps=1e-8, alpha=0.99, centered=False, lr_decay=0.0,
                 initial_accumulator_value=0.0) -> None:
        self.params, self.name, self.lr = list(params), name, lr
        self.momentum, self.weight_decay, self.nesterov, self.betas, self.eps = momentum, weight_decay, nesterov, betas, eps
        self.alpha, self.centered, self.lr_decay, self.initial = alpha, centered, lr_decay, initial_accumulator_value
        self.state: dict = {}
        self.t = 0

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        self.t += 1
        for p in self.params:
            g = p.grad + self.weight_decay * p if self.weight_decay else p.grad.clone()
            state = self.state.setdefault(p, {})
            if self.name == "sgd":
                if self.momentum:
                    buf = state.get("momentum_buffer")
                    buf = g.clone() if buf is None else self.momentum * buf + g
                    state["momentum_buffer"] = buf
                    g = g + self.momentum * buf if self.nesterov else buf
                p -= self.lr * g
            elif self.name == "rmsprop":
                sq = self.alpha * state.get("square_avg", torch.zeros_like(p)) + (1 - self.alpha) * g * g
                state["square_avg"] = sq
                if self.centered:
                    gavg = self.alpha * state.get("grad_avg", torch.zeros_like(p)) + (1 - self.alpha) * g
                    state["grad_avg"] = gavg
                    avg = (sq - gavg * gavg).sqrt() + self.eps
                else:
                    avg = sq.sqrt() + self.eps
                if self.momentum:
                    buf = self.momentum * state.get("momentum_buffer", torch.zeros_like(p)) + g / avg
                    state["momentum_buffer"] = buf
                    p -= self.lr * buf
                else:
                    p -= self.lr * g / avg
            elif self.name == "adagrad":
                total = state.get("sum", torch.full_like(p, self.initial)) + g * g
                state["sum"] = total
                p -= self.lr / (1 + (self.t - 1) * self.lr_decay) * g / (total.sqrt() + self.eps)
            else:
                b1, b2 = self.betas
                m = b1 * state.get("exp_avg", torch.zeros_like(p)) + (1 - b1) * g
                v = b2 * state.get("exp_avg_sq", torch.zeros_like(p)) + (1 - b2) * g * g
                state["exp_avg"], state["exp_avg_sq"] = m, v
                m_hat, v_hat = m / (1 - b1 ** self.t), v / (1 - b2 ** self.t)
                p -= self.lr * m_hat / (v_hat.sqrt() + self.eps)


def torch_named(spec_path: Path, real_optim: bool = False) -> dict[str, float]:
    """Every canonical name (SPEC §3) of a network spec, computed by torch (float64);
    `real_optim` steps with torch.optim itself (slow to import; used to write the keys)."""
    spec = yaml.safe_load(spec_path.read_text(encoding="utf-8"))
    dt = torch.float64
    x = torch.tensor(_rows(spec["input"]), dtype=dt)
    N = x.shape[0]
    layers = spec["layers"]
    K = len(layers[-1]["weights"])
    target = spec["target"]
    loss_name, reduction = spec["loss"], spec.get("reduction", "mean")
    if loss_name == "cross_entropy" and not isinstance(target, list):
        target = [target]
    if loss_name == "cross_entropy" and all(isinstance(t, int) for t in target):
        t = torch.zeros((N, K), dtype=dt)
        for n, cls in enumerate(target):
            t[n, cls] = 1.0
    else:
        t = torch.tensor(_rows(target), dtype=dt)
    opt_spec = spec.get("optimizer") or {"name": "sgd", "lr": spec["lr"]}
    steps = spec.get("steps", 1)

    Ws, bs, acts, freeze = [], [], [], []
    for layer in layers:
        rows = _rows(layer["weights"])
        if layer.get("layout") == "in_out":  # written (in, out): h = xW
            rows = [list(col) for col in zip(*rows)]
        Ws.append(torch.tensor(rows, dtype=dt, requires_grad=True))
        b = layer.get("bias")
        if b is None:
            bs.append(None)
        elif isinstance(b, list):
            bs.append(torch.tensor([_num(v) for v in b], dtype=dt, requires_grad=True))
        else:
            bs.append(torch.tensor(_num(b), dtype=dt, requires_grad=True))
        act = layer.get("activation", "identity")
        acts.append(act if isinstance(act, dict) else {"name": act})
        freeze.append(layer.get("freeze", []))

    # canonical numbering
    weight_names, bias_names, neuron_first = [], [], []
    w = b_count = m = 0
    for l, W in enumerate(Ws):
        out, fan_in = W.shape
        weight_names.append([[f"W{w + j * fan_in + i + 1}" for i in range(fan_in)] for j in range(out)])
        w += out * fan_in
        if bs[l] is None:
            bias_names.append(None)
        elif bs[l].dim() == 0:
            b_count += 1
            bias_names.append(f"b{b_count}")
        else:
            bias_names.append([f"b{b_count + j + 1}" for j in range(out)])
            b_count += out
        neuron_first.append(m)
        m += out

    def sample(name: str, n: int) -> str:
        return name if N == 1 else f"{name}#{n + 1}"

    def at(name: str, s: int) -> str:
        return name if s == 1 else f"{name}@{s}"

    params = []
    for l in range(len(Ws)):
        if "weights" not in freeze[l]:
            params.append(Ws[l])
        if bs[l] is not None and "bias" not in freeze[l]:
            params.append(bs[l])
    hp = {k: v for k, v in opt_spec.items() if k != "name"}
    if opt_spec["name"] == "sgd":
        options = dict(lr=_num(hp["lr"]), momentum=_num(hp.get("momentum", 0)),
                       weight_decay=_num(hp.get("weight_decay", 0)), nesterov=bool(hp.get("nesterov", False)))
        opt = torch.optim.SGD(params, **options) if real_optim else _DocumentedOptim(params, "sgd", **options)
    elif opt_spec["name"] == "rmsprop":
        options = dict(lr=_num(hp["lr"]), alpha=_num(hp.get("alpha", 0.99)), eps=_num(hp.get("eps", 1e-8)),
                       weight_decay=_num(hp.get("weight_decay", 0)), momentum=_num(hp.get("momentum", 0)),
                       centered=bool(hp.get("centered", False)))
        opt = torch.optim.RMSprop(params, **options) if real_optim else _DocumentedOptim(params, "rmsprop", **options)
    elif opt_spec["name"] == "adagrad":
        options = dict(lr=_num(hp["lr"]), lr_decay=_num(hp.get("lr_decay", 0)), eps=_num(hp.get("eps", 1e-10)),
                       weight_decay=_num(hp.get("weight_decay", 0)),
                       initial_accumulator_value=_num(hp.get("initial_accumulator_value", 0)))
        opt = torch.optim.Adagrad(params, **options) if real_optim else _DocumentedOptim(params, "adagrad", **options)
    else:
        options = dict(lr=_num(hp["lr"]), betas=tuple(_num(v) for v in hp.get("betas", [0.9, 0.999])),
                       eps=_num(hp.get("eps", 1e-8)), weight_decay=_num(hp.get("weight_decay", 0)))
        opt = torch.optim.Adam(params, **options) if real_optim else _DocumentedOptim(params, "adam", **options)

    def forward():
        zs, As = [], []
        a = x
        for l, W in enumerate(Ws):
            z = a @ W.T
            if bs[l] is not None:
                z = z + bs[l]
            name = acts[l]["name"]
            if name == "sigmoid":
                a = torch.sigmoid(z)
            elif name == "tanh":
                a = torch.tanh(z)
            elif name == "relu":
                a = torch.relu(z)
            elif name == "leaky_relu":
                a = torch.nn.functional.leaky_relu(z, _num(acts[l].get("slope", 0.01)))
            elif name == "softmax":
                a = torch.softmax(z, dim=1)
            else:
                a = z
            if z.requires_grad:
                z.retain_grad()
                a.retain_grad()
            zs.append(z)
            As.append(a)
        return zs, As

    def loss_of(zs, As):
        y = As[-1]
        if loss_name == "mse":
            return torch.nn.functional.mse_loss(y, t, reduction=reduction)
        if loss_name in ("sse", "half_sse"):
            per = ((y - t) ** 2).sum(dim=1) * (0.5 if loss_name == "half_sse" else 1.0)
            return per.mean() if reduction == "mean" else per.sum()
        if loss_name == "bce":
            return torch.nn.functional.binary_cross_entropy(y, t, reduction=reduction)
        return torch.nn.functional.cross_entropy(zs[-1], t, reduction=reduction)

    named: dict[str, float] = {}
    for s in range(1, steps + 1):
        opt.zero_grad()
        zs, As = forward()
        loss = loss_of(zs, As)
        loss.backward()
        named[at("loss", s)] = loss.item()
        for l, (z, a) in enumerate(zip(zs, As)):
            for n in range(N):
                for j in range(z.shape[1]):
                    M = neuron_first[l] + j + 1
                    named[at(sample(f"z{M}", n), s)] = z[n, j].item()
                    named[at(sample(f"a{M}", n), s)] = a[n, j].item()
                    named[at(sample(f"delta{M}", n), s)] = z.grad[n, j].item()
        # dL/da: of the reduced loss; for a softmax output SPEC §2 defines -t/ŷ (0 where t = 0)
        for l, a in enumerate(As):
            name = acts[l]["name"]
            if name == "softmax" and loss_name == "cross_entropy":
                scale = N if reduction == "mean" else 1
                grad = torch.where(t == 0, torch.zeros_like(t), -t / a.detach()) / scale
            else:
                grad = a.grad
            for n in range(N):
                for j in range(a.shape[1]):
                    M = neuron_first[l] + j + 1
                    named[at(sample(f"dL/da{M}", n), s)] = grad[n, j].item()
            if name != "softmax":  # da/dz, elementwise: d(sum a)/dz
                zz = zs[l].detach().clone().requires_grad_(True)
                fn = {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu,
                      "leaky_relu": lambda v: torch.nn.functional.leaky_relu(v, _num(acts[l].get("slope", 0.01))),
                      }.get(name, lambda v: v * 1.0)
                (d,) = torch.autograd.grad(fn(zz).sum(), zz)
                for n in range(N):
                    for j in range(d.shape[1]):
                        M = neuron_first[l] + j + 1
                        named[at(sample(f"da{M}/dz{M}", n), s)] = d[n, j].item()
        for l, W in enumerate(Ws):
            source = x if l == 0 else As[l - 1].detach()
            for j, row in enumerate(weight_names[l]):
                M = neuron_first[l] + j + 1
                for i, wn in enumerate(row):
                    named[at(wn, s)] = W[j, i].item()
                    named[at(f"dL/d{wn}", s)] = W.grad[j, i].item()
                    for n in range(N):  # the local factors of the chain: ∂z/∂W, ∂z/∂a
                        named[at(sample(f"dz{M}/d{wn}", n), s)] = source[n, i].item()
                    if l > 0:
                        named[at(f"dz{M}/da{neuron_first[l - 1] + i + 1}", s)] = W[j, i].item()
            if bs[l] is not None:
                names = bias_names[l] if isinstance(bias_names[l], list) else [bias_names[l]]
                flat = bs[l].reshape(-1)
                for j, bn in enumerate(names):
                    named[at(bn, s)] = flat[j].item()
                    named[at(f"dL/d{bn}", s)] = bs[l].grad.reshape(-1)[j].item()
        opt.step()
        for l, W in enumerate(Ws):
            pairs = [(wn, W, (j, i)) for j, row in enumerate(weight_names[l]) for i, wn in enumerate(row)]
            if bs[l] is not None:
                names = bias_names[l] if isinstance(bias_names[l], list) else [bias_names[l]]
                pairs += [(bn, bs[l], (j,) if bs[l].dim() else ()) for j, bn in enumerate(names)]
            for pn, p, idx in pairs:
                named[at(f"{pn}_new", s)] = p.detach()[idx].item()
                state = opt.state.get(p, {})
                for key, prefix in (("momentum_buffer", "buf"), ("exp_avg", "m"), ("exp_avg_sq", "v"),
                                    ("square_avg", "sq"), ("grad_avg", "gavg"), ("sum", "sum")):
                    if state.get(key) is not None:
                        named[at(f"{prefix}_{pn}", s)] = state[key][idx].item()
    with torch.no_grad():
        zs, As = forward()
        named["loss_after"] = loss_of(zs, As).item()
    return named


def _key_files():
    """Keys of the dense network examples (graph keys are worked by hand; see their
    comments; typed-layer keys are checked in tests/test_layers.py)."""
    out = []
    for p in CONFIGS.glob("*.key.yaml"):
        if ".published." in p.name:
            continue
        spec = yaml.safe_load(p.with_name(p.name.replace(".key.yaml", ".yaml")).read_text(encoding="utf-8"))
        if "layers" in spec and all(
                layer.get("type", "dense") == "dense" for layer in spec["layers"]):
            out.append(p)
    return sorted(out)


def _flatten_structured(key: dict, named: dict[str, float], spec_path: Path) -> list[tuple[str, float, float]]:
    """(label, expected, torch value) for the structured parts the shipped keys use."""
    spec = yaml.safe_load(spec_path.read_text(encoding="utf-8"))
    steps = spec.get("steps", 1)
    out = []
    if "losses" in key:
        values = [named[f"loss@{s}" if s > 1 else "loss"] for s in range(1, steps + 1)] + [named["loss_after"]]
        out += [(f"losses[{i}]", _num(e), c) for i, (e, c) in enumerate(zip(key["losses"], values))]
    layer_weights, layer_biases = [], []
    w = b = 0
    for layer in spec["layers"]:
        rows = _rows(layer["weights"])
        if layer.get("layout") == "in_out":  # written [i][j] is the weight from input i into neuron j
            fan_in = len(rows)
            layer_weights.append([[f"W{w + j * fan_in + i + 1}" for j in range(len(r))] for i, r in enumerate(rows)])
        else:
            layer_weights.append([[f"W{w + j * len(r) + i + 1}" for i in range(len(r))] for j, r in enumerate(rows)])
        w += len(rows) * len(rows[0])
        bias = layer.get("bias")
        count = 0 if bias is None else len(bias) if isinstance(bias, list) else 1
        layer_biases.append([f"b{b + j + 1}" for j in range(count)])
        b += count
    for record in key.get("steps", []):
        s = record["step"]
        suffix = "" if s == 1 else f"@{s}"
        for lrec in record.get("layers", []):
            l = lrec["layer"] - 1
            pairs = []
            if "weights" in lrec:
                pairs += [(layer_weights[l][j][i], e) for j, row in enumerate(_rows(lrec["weights"])) for i, e in enumerate(row)]
            if "bias" in lrec:
                values = lrec["bias"] if isinstance(lrec["bias"], list) else [lrec["bias"]]
                pairs += list(zip(layer_biases[l], values))
            for name, e in pairs:
                out.append((f"{name}_new{suffix}", _num(e), named[f"{name}_new{suffix}"]))
    return out


@pytest.fixture(scope="module")
def references():
    cache = {}

    def get(spec_path: Path):
        if spec_path not in cache:
            cache[spec_path] = torch_named(spec_path)
        return cache[spec_path]

    return get


@pytest.mark.parametrize("key_path", _key_files(), ids=lambda p: p.name)
def test_shipped_key_agrees_with_torch(key_path: Path, references) -> None:
    spec_path = key_path.with_name(key_path.name.replace(".key.yaml", ".yaml"))
    named = references(spec_path)
    key = yaml.safe_load(key_path.read_text(encoding="utf-8"))
    checked = 0
    for name, expected in key.get("named", {}).items():
        assert name in named, f"{key_path.name}: torch reference has no {name}"
        text = str(expected)
        decimals = len(text.split(".")[1]) if "." in text and "e" not in text.lower() else None
        tol = 1.5 * 10 ** -decimals if decimals is not None else abs(_num(expected)) * 1e-3 + 1e-12
        assert abs(named[name] - _num(expected)) <= tol, (key_path.name, name, expected, named[name])
        checked += 1
    for label, expected, computed in _flatten_structured(key, named, spec_path):
        assert abs(computed - expected) <= 1.5e-6, (key_path.name, label, expected, computed)
        checked += 1
    assert checked >= 10


def test_every_example_has_a_key() -> None:
    specs = [p for p in CONFIGS.glob("*.yaml") if ".key." not in p.name]
    missing = [p.name for p in specs if not p.with_name(p.stem + ".key.yaml").exists()]
    assert not missing, f"examples without an answer key: {missing}"
