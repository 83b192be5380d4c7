"""Independent oracles for typed-layer networks: PyTorch float64 modules built from the
spec, and central finite differences of a loss written here from scratch in NumPy
(plain loops, no code shared with backprop_cli/network/layers.py)."""
from __future__ import annotations

import itertools

import numpy as np


# ---------------------------------------------------------------------------------------
# a from-scratch NumPy forward (loops, the textbook definitions) for finite differences


def _act(name, z, slope=0.01):
    if name == "sigmoid":
        return 1 / (1 + np.exp(-z))
    if name == "tanh":
        return np.tanh(z)
    if name == "relu":
        return np.maximum(z, 0)
    if name == "leaky_relu":
        return np.where(z > 0, z, slope * z)
    if name == "softmax":
        e = np.exp(z - z.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)
    return z


def naive_forward(layer, p, x):
    t = layer.type
    if t == "dense":
        z = np.einsum("...i,ji->...j", x, p["weights"]) + (p["bias"] if "bias" in p else 0)
        return _act(layer.activation.name, z, layer.activation.slope), z
    if t in ("conv2d", "conv1d"):
        W = p["weights"] if t == "conv2d" else p["weights"][:, :, None, :]
        xx = x if t == "conv2d" else x[:, :, None, :]
        (sh, sw), (ph, pw) = (layer.stride, layer.padding) if t == "conv2d" else ((1, layer.stride[1]), (0, layer.padding[1]))
        xp = np.pad(xx, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
        N, C, H, Wd = xp.shape
        O, _, kh, kw = W.shape
        Ho, Wo = (H - kh) // sh + 1, (Wd - kw) // sw + 1
        z = np.zeros((N, O, Ho, Wo))
        for n, o, i, j in itertools.product(range(N), range(O), range(Ho), range(Wo)):
            z[n, o, i, j] = np.sum(xp[n, :, i * sh:i * sh + kh, j * sw:j * sw + kw] * W[o]) + (p["bias"][o] if "bias" in p else 0)
        if t == "conv1d":
            z = z[:, :, 0, :]
        return _act(layer.activation.name, z, layer.activation.slope), z
    if t in ("maxpool2d", "avgpool2d"):
        (kh, kw), (sh, sw) = layer.kernel, layer.stride
        N, C, H, W = x.shape
        Ho, Wo = (H - kh) // sh + 1, (W - kw) // sw + 1
        y = np.zeros((N, C, Ho, Wo))
        for n, c, i, j in itertools.product(range(N), range(C), range(Ho), range(Wo)):
            win = x[n, c, i * sh:i * sh + kh, j * sw:j * sw + kw]
            y[n, c, i, j] = win.max() if t == "maxpool2d" else win.mean()
        return y, None
    if t == "flatten":
        return x.reshape(x.shape[0], -1), None
    if t in ("relu", "sigmoid", "tanh", "leaky_relu"):
        return _act(t, x, layer.activation.slope), None
    if t in ("batchnorm", "layernorm"):
        axes = tuple(a for a in range(x.ndim) if a != 1) if t == "batchnorm" else tuple(range(1, x.ndim))
        mu = x.mean(axis=axes, keepdims=True)
        var = ((x - mu) ** 2).mean(axis=axes, keepdims=True)
        shape = (1, -1) + (1,) * (x.ndim - 2) if t == "batchnorm" else (1,) + x.shape[1:]
        return p["gamma"].reshape(shape) * (x - mu) / np.sqrt(var + layer.eps) + p["beta"].reshape(shape), None
    if t == "dropout":
        return x * np.broadcast_to(layer.mask, x.shape) / (1 - layer.p), None
    if t == "rnn":
        N, T, _ = x.shape
        h = np.tile(layer.h0, (N, 1))
        hs = []
        for s in range(T):
            h = np.tanh(x[:, s] @ p["W_xh"].T + h @ p["W_hh"].T + (p["b"] if "b" in p else 0))
            hs.append(h)
        return (np.stack(hs, axis=1) if layer.output == "all" else h), None
    if t == "lstm":
        N, T, _ = x.shape
        Hn = p["W_hh"].shape[1]
        h, c = np.tile(layer.h0, (N, 1)), np.tile(layer.c0, (N, 1))
        hs = []
        sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
        for s in range(T):
            z = x[:, s] @ p["W_ih"].T + h @ p["W_hh"].T + (p["b"] if "b" in p else 0)
            i, f, g, o = sig(z[:, :Hn]), sig(z[:, Hn:2 * Hn]), np.tanh(z[:, 2 * Hn:3 * Hn]), sig(z[:, 3 * Hn:])
            c = f * c + i * g
            h = o * np.tanh(c)
            hs.append(h)
        return (np.stack(hs, axis=1) if layer.output == "all" else h), None
    raise ValueError(t)


def naive_loss(spec, params, x=None):
    x = spec.input if x is None else x
    z = None
    for layer, p in zip(spec.layers, params):
        x, z = naive_forward(layer, p, x)
    N = x.shape[0]
    a, t = x.reshape(N, -1), spec.target.reshape(N, -1)
    mean = spec.reduction == "mean"
    if spec.loss == "mse":
        return np.sum((a - t) ** 2) / (a.size if mean else 1)
    if spec.loss in ("sse", "half_sse"):
        return np.sum((a - t) ** 2) * (0.5 if spec.loss == "half_sse" else 1) / (N if mean else 1)
    if spec.loss == "bce":
        return -np.sum(t * np.log(a) + (1 - t) * np.log(1 - a)) / (a.size if mean else 1)
    K = z.shape[-1]  # one row per sample, or per sample and time step after `output: all`
    zz, t = z.reshape(-1, K), spec.target.reshape(-1, K)
    m = zz.max(axis=1, keepdims=True)
    lse = m[:, 0] + np.log(np.exp(zz - m).sum(axis=1))
    return np.sum(lse * t.sum(axis=1) - (t * zz).sum(axis=1)) / (len(zz) if mean else 1)


def finite_differences(spec, h=1e-6):
    """∂L/∂(every parameter element) and ∂L/∂input by central differences."""
    params = [{k: np.array(v, dtype=float) for k, v in layer.params.items()} for layer in spec.layers]
    out = []
    for l, p in enumerate(params):
        grads = {}
        for name, arr in p.items():
            g = np.zeros_like(arr)
            for index in np.ndindex(arr.shape):
                old = arr[index]
                arr[index] = old + h
                up = naive_loss(spec, params)
                arr[index] = old - h
                down = naive_loss(spec, params)
                arr[index] = old
                g[index] = (up - down) / (2 * h)
            grads[name] = g
        out.append(grads)
    return out


# ---------------------------------------------------------------------------------------
# PyTorch


def torch_run(spec, steps):
    """Per step: loss, each layer's output and output gradient, parameter grads and values
    after torch.optim's step, batch-norm running statistics."""
    import torch
    import torch.nn.functional as Fn

    dt = torch.float64
    tensors = [{k: torch.tensor(np.asarray(v), dtype=dt, requires_grad=True) for k, v in layer.params.items()}
               for layer in spec.layers]
    trainable = [t for layer, ts in zip(spec.layers, tensors) for k, t in ts.items() if k not in layer.freeze]
    opt = spec.optimizer
    o = {"sgd": lambda: torch.optim.SGD(trainable, lr=opt.lr.value, momentum=opt.momentum.value,
                                        weight_decay=opt.weight_decay.value, nesterov=opt.nesterov),
         "adam": lambda: torch.optim.Adam(trainable, lr=opt.lr.value, betas=(opt.beta1.value, opt.beta2.value),
                                          eps=opt.eps.value, weight_decay=opt.weight_decay.value),
         "rmsprop": lambda: torch.optim.RMSprop(trainable, lr=opt.lr.value, alpha=opt.alpha.value, eps=opt.eps.value,
                                                weight_decay=opt.weight_decay.value, momentum=opt.momentum.value,
                                                centered=opt.centered),
         "adagrad": lambda: torch.optim.Adagrad(trainable, lr=opt.lr.value, lr_decay=opt.lr_decay.value,
                                                weight_decay=opt.weight_decay.value, eps=opt.eps.value,
                                                initial_accumulator_value=opt.initial_accumulator_value.value),
         }[opt.name]()
    running = [(None if layer.running_mean is None else torch.tensor(layer.running_mean, dtype=dt),
                None if layer.running_var is None else torch.tensor(layer.running_var, dtype=dt))
               for layer in spec.layers]
    x0 = torch.tensor(spec.input, dtype=dt)
    t = torch.tensor(spec.target, dtype=dt)
    records = []

    def act(a, v):
        return {"identity": lambda u: u, "sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu,
                "leaky_relu": lambda u: Fn.leaky_relu(u, a.slope), "softmax": lambda u: torch.softmax(u, dim=-1)}[a.name](v)

    for _ in range(steps + 1):
        opt_ = o
        opt_.zero_grad()
        x, outs, z_last = x0, [], None
        for layer, p, (rm, rv) in zip(spec.layers, tensors, running):
            ty = layer.type
            if ty == "dense":
                z_last = Fn.linear(x, p["weights"], p.get("bias"))
                x = act(layer.activation, z_last)
            elif ty == "conv2d":
                z_last = Fn.conv2d(x, p["weights"], p.get("bias"), stride=layer.stride, padding=layer.padding)
                x = act(layer.activation, z_last)
            elif ty == "conv1d":
                z_last = Fn.conv1d(x, p["weights"], p.get("bias"), stride=layer.stride[1], padding=layer.padding[1])
                x = act(layer.activation, z_last)
            elif ty == "maxpool2d":
                x = Fn.max_pool2d(x, layer.kernel, layer.stride)
            elif ty == "avgpool2d":
                x = Fn.avg_pool2d(x, layer.kernel, layer.stride)
            elif ty == "flatten":
                x = torch.flatten(x, 1)
            elif ty in ("relu", "sigmoid", "tanh", "leaky_relu"):
                x = act(layer.activation, x)
            elif ty == "batchnorm":
                x = Fn.batch_norm(x, rm, rv, p["gamma"], p["beta"], training=True, momentum=layer.momentum, eps=layer.eps)
            elif ty == "layernorm":
                x = Fn.layer_norm(x, tuple(x.shape[1:]), p["gamma"], p["beta"], eps=layer.eps)
            elif ty == "dropout":
                x = x * torch.tensor(np.broadcast_to(layer.mask, tuple(x.shape)).copy(), dtype=dt) / (1 - layer.p)
            elif ty in ("rnn", "lstm"):
                F_in = x.shape[2]
                Hn = p["W_hh"].shape[1]
                if ty == "rnn":
                    m = torch.nn.RNN(F_in, Hn, batch_first=True, bias="b" in p).double()
                    ih, h0 = "W_xh", torch.tensor(np.tile(layer.h0, (1, x.shape[0], 1)), dtype=dt)
                else:
                    m = torch.nn.LSTM(F_in, Hn, batch_first=True, bias="b" in p).double()
                    ih = "W_ih"
                    h0 = (torch.tensor(np.tile(layer.h0, (1, x.shape[0], 1)), dtype=dt),
                          torch.tensor(np.tile(layer.c0, (1, x.shape[0], 1)), dtype=dt))
                weights = {"weight_ih_l0": p[ih], "weight_hh_l0": p["W_hh"]}
                if "b" in p:  # one bias b = b_ih + b_hh: ours in b_ih, zeros in b_hh
                    weights.update(bias_ih_l0=p["b"], bias_hh_l0=torch.zeros_like(p["b"]))
                seq, _ = torch.func.functional_call(m, weights, (x, h0))
                x = seq if layer.output == "all" else seq[:, -1]
            if x.requires_grad:  # a parameter-free first layer (max-pool on the input) has no gradient
                x.retain_grad()
            outs.append(x)
        N = x.shape[0]
        a, tt = x.reshape(N, -1), t.reshape(N, -1)
        if spec.loss == "mse":
            loss = Fn.mse_loss(a, tt, reduction=spec.reduction)
        elif spec.loss in ("sse", "half_sse"):
            loss = ((a - tt) ** 2).sum() * (0.5 if spec.loss == "half_sse" else 1) / (N if spec.reduction == "mean" else 1)
        elif spec.loss == "bce":
            loss = Fn.binary_cross_entropy(a, tt, reduction=spec.reduction)
        else:
            K = z_last.shape[-1]  # the N·T rows of a per-time-step loss
            loss = Fn.cross_entropy(z_last.reshape(-1, K), t.reshape(-1, K), reduction=spec.reduction)
        loss.backward()
        rec = {"loss": loss.item(), "out": [v.detach().numpy().copy() for v in outs],
               "grad_out": [None if v.grad is None else v.grad.numpy().copy() for v in outs],  # None: off the loss path
               "grads": [{k: (v.grad.numpy().copy() if v.grad is not None else np.zeros(tuple(v.shape)))
                          for k, v in ts.items()} for ts in tensors],
               "running": [(None if rm is None else rm.numpy().copy(), None if rv is None else rv.numpy().copy())
                           for rm, rv in running]}
        opt_.step()
        rec["new"] = [{k: v.detach().numpy().copy() for k, v in ts.items()} for ts in tensors]
        records.append(rec)
    return records


def _element(name, index):
    return name if not index else f"{name}[{','.join(str(i + 1) for i in index)}]"


def torch_named(spec) -> dict[str, float]:
    """Canonical names (docs/layers.md) of a typed-layer spec, computed by PyTorch: the
    independent source of the shipped answer keys (configs/*.key.yaml)."""
    records = torch_run(spec, spec.steps)
    named: dict[str, float] = {}

    def put(name, arr, s, sample_first=False):
        arr = np.asarray(arr, dtype=float)
        if sample_first and not spec.batched:
            arr = arr[0]
        for index in np.ndindex(arr.shape):
            key = _element(name, index)
            named[key if s == 1 else f"{key}@{s}"] = float(arr[index])

    for s, r in enumerate(records[:-1], 1):
        named["loss" if s == 1 else f"loss@{s}"] = r["loss"]
        for l, layer in enumerate(spec.layers):
            P = f"L{l + 1}"
            put(f"{P}.out", r["out"][l], s, True)
            if r["grad_out"][l] is not None:
                put(f"dL/d{P}.out", r["grad_out"][l], s, True)
            for name in layer.params:  # canonical indices are PyTorch's (out, in), whatever the layout
                put(f"dL/d{P}.{name}", r["grads"][l][name], s)
                put(f"{P}.{name}_new", r["new"][l][name], s)
            if layer.type == "batchnorm":
                put(f"{P}.running_mean_new", r["running"][l][0], s)
                put(f"{P}.running_var_new", r["running"][l][1], s)
    named["loss_after"] = records[-1]["loss"]
    return named
