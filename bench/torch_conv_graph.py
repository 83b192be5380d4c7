"""The PyTorch reference for the conv-graph benchmark: read the same YAML (C loader),
compute z = conv2d(x, K) + b, a = relu(z), y = max_pool2d(a, 2), f = sum(y ** 2) and
df/d(every node) in float64, write JSON with the same numbers backprop writes (values,
gradients, every element under its 1-based name).
Usage: python torch_conv_graph.py SPEC OUT"""
import json
import sys

import numpy as np
import torch
import torch.nn.functional as F
import yaml

torch.set_default_dtype(torch.float64)
graph = yaml.load(open(sys.argv[1]), Loader=yaml.CSafeLoader)["graph"]
leaves = {k: torch.tensor(graph[k], requires_grad=True) for k in ("x", "K", "b")}
z = F.conv2d(leaves["x"], leaves["K"]) + leaves["b"]
a = torch.relu(z)
y = F.max_pool2d(a, 2)
f = torch.sum(y ** 2)
nodes = {"z": z, "a": a, "y": y, "f": f}
for t in nodes.values():
    t.retain_grad()
f.backward()
values = {**{k: v.detach() for k, v in leaves.items()}, **{k: v.detach() for k, v in nodes.items()}}
grads = {**{k: v.grad for k, v in leaves.items()}, **{k: v.grad for k, v in nodes.items()}}


def named(name, t):
    t = t.numpy()
    if t.ndim == 0:
        return {name: float(t)}
    flat = t.reshape(-1).tolist()
    return {f"{name}[{','.join(str(i + 1) for i in index)}]": flat[k] for k, index in enumerate(np.ndindex(t.shape))}


doc = {"values": {k: v.tolist() for k, v in values.items()}, "gradients": {k: v.tolist() for k, v in grads.items()},
       "named": {}}
for k, v in values.items():
    doc["named"].update(named(k, v))
for k, v in grads.items():
    doc["named"].update(named(f"df/d{k}", v))
json.dump(doc, open(sys.argv[2], "w"))
