"""The PyTorch reference for the tensor-graph benchmark: read the same YAML (C loader),
compute q = W @ x, f = sum(tanh(q) ** 2) and df/d(every node) in float64, write JSON with
the same numbers backprop writes (values, gradients, every element under its name).
Usage: python torch_tensor_graph.py SPEC OUT"""
import json
import sys

import torch
import yaml

torch.set_default_dtype(torch.float64)
graph = yaml.load(open(sys.argv[1]), Loader=yaml.CSafeLoader)["graph"]
W = torch.tensor(graph["W"], requires_grad=True)
x = torch.tensor(graph["x"], requires_grad=True)
q = W @ x
q.retain_grad()
f = torch.sum(torch.tanh(q) ** 2)
f.retain_grad()
f.backward()
values = {"W": W.detach(), "x": x.detach(), "q": q.detach(), "f": f.detach()}
grads = {"W": W.grad, "x": x.grad, "q": q.grad, "f": f.grad}


def named(name, t):
    t = t.numpy()
    if t.ndim == 0:
        return {name: float(t)}
    out = {}
    flat = t.reshape(-1).tolist()
    import numpy as np
    for k, index in enumerate(np.ndindex(t.shape)):
        out[f"{name}[{','.join(str(i + 1) for i in index)}]"] = flat[k]
    return out


doc = {"values": {k: v.tolist() for k, v in values.items()}, "gradients": {k: v.tolist() for k, v in grads.items()},
       "named": {}}
for k, v in values.items():
    doc["named"].update(named(k, v))
for k, v in grads.items():
    doc["named"].update(named(f"df/d{k}", v))
json.dump(doc, open(sys.argv[2], "w"))
