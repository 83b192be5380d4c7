"""The PyTorch reference for bench_layers.py: read the same YAML (C loader), do one
float64 SGD step of a conv → ReLU → max-pool → dense (softmax CE) network or an LSTM →
dense (MSE on every step) network, write JSON with the same arrays backprop writes
(every layer's output and upstream gradient, every parameter's gradient and new value).
Usage: python torch_layers.py SPEC OUT"""
import json
import sys

import torch
import torch.nn.functional as F
import yaml

torch.set_default_dtype(torch.float64)
spec = yaml.load(open(sys.argv[1]), Loader=yaml.CSafeLoader)
x = torch.tensor(spec["input"])
lr = spec["optimizer"]["lr"]
layers = spec["layers"]
params = [{k: torch.tensor(v, requires_grad=True) for k, v in layer.items() if k in ("weights", "bias", "W_ih", "W_hh", "b")}
          for layer in layers]
outs = []
if layers[0]["type"] == "conv2d":
    z1 = F.conv2d(x, params[0]["weights"], params[0]["bias"])
    a1 = torch.relu(z1)
    a2 = F.max_pool2d(a1, layers[1]["kernel"])
    a3 = a2.flatten(1)
    z4 = a3 @ params[3]["weights"].T + params[3]["bias"]
    a4 = torch.softmax(z4, dim=1)
    outs = [a1, a2, a3, a4]
    loss = F.cross_entropy(z4, torch.tensor(spec["target"]))
else:
    p = params[0]
    H = p["W_hh"].shape[1]
    lstm = torch.nn.LSTM(x.shape[2], H, batch_first=True)
    seq, _ = torch.func.functional_call(lstm, {"weight_ih_l0": p["W_ih"], "weight_hh_l0": p["W_hh"], "bias_ih_l0": p["b"],
                                              "bias_hh_l0": torch.zeros(4 * H)}, (x,))
    y = seq @ params[1]["weights"].T + params[1]["bias"]
    outs = [seq, y]
    loss = F.mse_loss(y, torch.tensor(spec["target"]))
for o in outs:
    o.retain_grad()
loss.backward()
with torch.no_grad():
    for p in params:
        for v in p.values():
            v -= lr * v.grad
doc = {"loss": loss.item(), "layers": [
    {"out": o.detach().tolist(), "grad_out": None if o.grad is None else o.grad.tolist(),
     "grads": {k: v.grad.tolist() for k, v in p.items()}, "new_params": {k: v.detach().tolist() for k, v in p.items()}}
    for o, p in zip(outs if len(outs) == len(params) else outs, params)]}
json.dump(doc, open(sys.argv[2], "w"))
