"""The network picture: label boxes read back from the emitted TikZ coordinates, checked
with geometry written here (not the layout module's): no two labels intersect, none
contains a point where two edges cross, none covers another edge or a node; every weight
is named on its edge or in the table under the picture. The Markdown diagram (Mermaid)
names every node and weight; a graph's Markdown draws its nodes and wires."""
from __future__ import annotations

import random
import re
from itertools import combinations

import pytest

from backprop_cli import render, solve
from backprop_cli.network.names import NetworkNames
from backprop_cli.load import loads_spec

SHAPES = [(2, 2, 1), (3, 2, 1), (2, 3, 1), (3, 3, 2), (2, 2, 2, 1), (3, 4, 2), (4, 4, 4), (2, 4, 4, 1), (4, 5, 3)]
NUM = r"(-?[\d.]+)"
NODE = re.compile(r"\\node\[(?:input|neuron)\] \((n\d+-\d+)\) at \(" + NUM + "," + NUM + r"\)")
EDGE = re.compile(r"\\draw\[->\] \((n\d+-\d+)\) -- \((n\d+-\d+)\);")
LABEL = re.compile(r"\\node\[wlabel, minimum width=" + NUM + "cm, minimum height=" + NUM + r"cm\] at \("
                   + NUM + "," + NUM + r"\) \{\$(.*)\$\};")
RADIUS = {"input": 0.40, "neuron": 0.45}


def spec_text(shape, seed=0) -> str:
    rng = random.Random(seed)

    def r():
        return f"{rng.uniform(-1, 1):.4f}"

    lines = [f"input: [{', '.join(r() for _ in range(shape[0]))}]",
             f"target: [{', '.join('0.5' for _ in range(shape[-1]))}]", "layers:"]
    for a, b in zip(shape, shape[1:]):
        lines.append("  - weights: [" + ", ".join("[" + ", ".join(r() for _ in range(a)) + "]" for _ in range(b)) + "]")
        lines.append("    bias: [" + ", ".join(r() for _ in range(b)) + "]")
        lines.append("    activation: sigmoid")
    lines += ["loss: mse", "lr: 0.5"]
    return "\n".join(lines) + "\n"


def standalone(text: str) -> str:
    return render(solve(loads_spec(text)), "latex", standalone=True)


def parse(tex: str):
    picture = tex[tex.index(r"\begin{tikzpicture}"):tex.index(r"\end{tikzpicture}")]
    nodes = {m[1]: (float(m[2]), float(m[3])) for m in NODE.finditer(picture)}
    edges = [(nodes[m[1]], nodes[m[2]]) for m in EDGE.finditer(picture)]
    labels = [(float(m[3]), float(m[4]), float(m[1]), float(m[2]), m[5]) for m in LABEL.finditer(picture)]
    return nodes, edges, labels


def boxes_meet(a, b) -> bool:
    return abs(a[0] - b[0]) < (a[2] + b[2]) / 2 and abs(a[1] - b[1]) < (a[3] + b[3]) / 2


def cross_point(p, q):
    (x1, y1), (x2, y2) = p
    (x3, y3), (x4, y4) = q
    d = (x1 - x2) * (y3 - y4) - (y1 - y2) * (x3 - x4)
    if d == 0 or {p[0], p[1]} & {q[0], q[1]}:
        return None
    t = ((x1 - x3) * (y3 - y4) - (y1 - y3) * (x3 - x4)) / d
    u = -((x1 - x2) * (y1 - y3) - (y1 - y2) * (x1 - x3)) / d
    return (x1 + t * (x2 - x1), y1 + t * (y2 - y1)) if 0 < t < 1 and 0 < u < 1 else None


def segment_meets_box(p, q, box, samples=400) -> bool:
    """Sampled along the segment: a plain check, independent of the layout's clipping."""
    x, y, w, h = box[:4]
    for k in range(samples + 1):
        t = k / samples
        px, py = p[0] + t * (q[0] - p[0]), p[1] + t * (q[1] - p[1])
        if abs(px - x) < w / 2 and abs(py - y) < h / 2:
            return True
    return False


def label_under(edge, box) -> bool:
    """The label's centre lies on its edge (within 1e-3 cm)."""
    (x0, y0), (x1, y1) = edge
    x, y = box[0], box[1]
    return abs((x1 - x0) * (y - y0) - (y1 - y0) * (x - x0)) / ((x1 - x0) ** 2 + (y1 - y0) ** 2) ** 0.5 < 2e-3


def visible_chars(label: str) -> int:
    text = re.sub(r"\\[A-Za-z]+", "", label).replace("{", "").replace("}", "").replace("_", "").replace(" ", "")
    return len(text)


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "-".join(map(str, s)))
def test_labels_never_overlap_or_sit_on_a_crossing(shape):
    text = spec_text(shape)
    tex = standalone(text)
    nodes, edges, labels = parse(tex)
    spec = loads_spec(text)
    assert len(edges) == sum(a * b for a, b in zip(shape, shape[1:]))
    for a, b in combinations(labels, 2):
        assert not boxes_meet(a, b), (a, b)
    crossings = [p for e, f in combinations(edges, 2) if (p := cross_point(e, f)) is not None]
    for box in labels:
        x, y, w, h = box[:4]
        assert w >= 0.12 * visible_chars(box[4]), box  # a \tiny digit is 0.105 cm; measured 0.16 per character
        for p in crossings:
            assert not (abs(p[0] - x) <= w / 2 and abs(p[1] - y) <= h / 2), (box, p)
        for name, (cx, cy) in nodes.items():
            r = RADIUS["input" if name.startswith("n0-") else "neuron"]
            nx, ny = min(max(cx, x - w / 2), x + w / 2), min(max(cy, y - h / 2), y + h / 2)
            assert (nx - cx) ** 2 + (ny - cy) ** 2 >= r * r, (box, name)
    weight_labels = [b for b in labels if b[4].startswith("W_")]
    names = NetworkNames.of(spec)
    all_weights = [names.weight(l, j, i) for l, layer in enumerate(spec.layers)
                   for j in range(layer.units) for i in range(layer.fan_in)]
    if weight_labels:  # on the edges: one per edge, on its own edge, covering no other edge
        assert len(weight_labels) == len(edges)
        for box in weight_labels:
            own = [e for e in edges if label_under(e, box)]
            assert own, box
            for e in edges:
                if e not in own:
                    assert not segment_meets_box(e[0], e[1], box), (box, e)
    else:  # in the table under the picture, every weight by name and value
        table = tex[tex.index(r"\end{tikzpicture}"):tex.index(r"\end{center}", tex.index(r"\end{tikzpicture}"))]
        for w in all_weights:
            assert re.search(r"W_\{" + w[1:] + r"\} = -?[\d.]+", table), w


def test_small_networks_keep_values_on_their_edges():
    for shape in [(2, 2, 1), (3, 2, 1), (2, 3, 1)]:
        _, _, labels = parse(standalone(spec_text(shape)))
        assert all(" = " in b[4] for b in labels if b[4].startswith("W_")), shape


@pytest.mark.parametrize("shape", [(2, 2, 1), (3, 2, 1), (4, 5, 3)], ids=lambda s: "-".join(map(str, s)))
def test_markdown_draws_the_network_in_mermaid(shape):
    spec = loads_spec(spec_text(shape))
    md = render(solve(spec), "markdown")
    block = md[md.index("```mermaid"):md.index("```", md.index("```mermaid") + 3)]
    names = NetworkNames.of(spec)
    arrows = [line for line in block.splitlines() if "-->" in line]
    n_weights = sum(a * b for a, b in zip(shape, shape[1:]))
    assert len(arrows) == n_weights + shape[-1]  # every weight, and each output into the loss
    for l, layer in enumerate(spec.layers):
        for j in range(layer.units):
            for i in range(layer.fan_in):
                w = names.weight(l, j, i)
                assert any(_sub(w) in a for a in arrows), w


def _sub(name: str) -> str:
    return name[0] + name[1:].translate(str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉"))


def test_graph_markdown_draws_its_computational_graph():
    text = "graph:\n  x: -2\n  y: 5\n  z: -4\n  q: x + y\n  f: q * z\n"
    md = render(solve(loads_spec(text)), "markdown")
    section = md[md.index("## Computational graph"):md.index("## Forward pass")]
    assert "```mermaid" in section
    arrows = [line for line in section.splitlines() if "-->" in line]
    assert len(arrows) == 4  # x→q, y→q, q→f, z→f
    assert '"f = −12<' in section and '"q = 3<' in section and '(("x = −2' in section
    assert '∂f/∂q = −4"| g_q' not in section and '"local ∂f/∂q = −4"| g_f' in section
