"""The PyTorch reference for the big benchmark: read the same YAML (C loader), do one
float64 SGD step, write JSON with the same arrays. Usage: python torch_step.py SPEC OUT"""
import json
import sys

import torch
import yaml

torch.set_default_dtype(torch.float64)
spec = yaml.load(open(sys.argv[1]), Loader=yaml.CSafeLoader)
x = torch.tensor(spec["input"])
t = torch.tensor(spec["target"])
params = []
for layer in spec["layers"]:
    params.append((torch.tensor(layer["weights"], requires_grad=True), torch.tensor(layer["bias"], requires_grad=True)))
acts = {"relu": torch.relu, "softmax": lambda v: torch.softmax(v, dim=1), "sigmoid": torch.sigmoid}
a, zs, as_ = x, [], []
for layer, (W, b) in zip(spec["layers"], params):
    z = a @ W.T + b
    z.retain_grad()
    a = acts[layer["activation"]](z)
    a.retain_grad()
    zs.append(z)
    as_.append(a)
loss = torch.nn.CrossEntropyLoss()(zs[-1], t)
loss.backward()
opt = torch.optim.SGD([p for pair in params for p in pair], lr=spec["optimizer"]["lr"])
opt.step()
with torch.no_grad():
    a = x
    for layer, (W, b) in zip(spec["layers"], params):
        a = acts[layer["activation"]](a @ W.T + b)
        z_last = a @ W.T + b if False else None
doc = {"steps": [{"loss": loss.item(), "layers": [
    {"z": z.detach().tolist(), "a": a_.detach().tolist(), "delta": z.grad.tolist(),
     "grad_weights": W.grad.tolist(), "grad_bias": b.grad.tolist(),
     "weights": W.detach().tolist(), "bias": b.detach().tolist()}
    for z, a_, (W, b) in zip(zs, as_, params)]}]}
json.dump(doc, open(sys.argv[2], "w"))
