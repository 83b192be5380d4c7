"""The PyTorch reference for bench_tensor_minimize.py: read the same YAML (C loader), run
the same SGD steps on f = sum((X @ w - y) ** 2) / n in float64 and write JSON with the
numbers backprop writes (each step's values and gradients of every node, the updated w,
every element under its step-qualified name, the losses).
Usage: python torch_tensor_minimize.py SPEC OUT"""
import json
import sys

import numpy as np
import torch
import yaml

torch.set_default_dtype(torch.float64)
doc_in = yaml.load(open(sys.argv[1]), Loader=yaml.CSafeLoader)
graph, steps, lr = doc_in["graph"], doc_in["steps"], doc_in["optimizer"]["lr"]
X, y = torch.tensor(graph["X"]), torch.tensor(graph["y"])
X.requires_grad_(True)
y.requires_grad_(True)
w = torch.tensor(graph["w"], requires_grad=True)
n = X.shape[0]
opt = torch.optim.SGD([w], lr=lr)


def at(name, s):
    return name if s == 1 else f"{name}@{s}"


def named(name, t, s, out):
    t = t.detach().numpy()
    if t.ndim == 0:
        out[at(name, s)] = float(t)
        return
    flat = t.reshape(-1).tolist()
    for k, index in enumerate(np.ndindex(t.shape)):
        out[at(f"{name}[{','.join(str(i + 1) for i in index)}]", s)] = flat[k]


doc = {"steps": [], "losses": [], "named": {}}
for s in range(1, steps + 1):
    opt.zero_grad()
    X.grad = y.grad = None
    r = X @ w - y
    r.retain_grad()
    f = (r ** 2).sum() / n
    f.retain_grad()
    f.backward()
    values = {"X": X, "y": y, "w": w, "r": r, "f": f}
    grads = {"X": X.grad, "y": y.grad, "w": w.grad, "r": r.grad, "f": f.grad}
    for k, v in values.items():
        named(k, v, s, doc["named"])
    for k, v in grads.items():
        named(f"df/d{k}", v, s, doc["named"])
    opt.step()
    named("w_new", w, s, doc["named"])
    doc["losses"].append(f.item())
    doc["steps"].append({"step": s, "values": {k: v.tolist() for k, v in values.items()},
                         "gradients": {k: v.tolist() for k, v in grads.items()}, "updates": {"w": w.tolist()}})
with torch.no_grad():
    doc["loss_after"] = (((X @ w - y) ** 2).sum() / n).item()
doc["losses"].append(doc["loss_after"])
json.dump(doc, open(sys.argv[2], "w"))
