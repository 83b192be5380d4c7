"""A spec file → a network `Spec` or a graph spec: the one place that decides which.

The network reader (network/spec.py) and the graph reader (graph/solve.py) sit below this
module and know nothing of each other; a file with `graph:` is a graph, any other mapping
a network, and a file with both is refused here.
"""
from __future__ import annotations

import os
from typing import Any, Optional

import yaml

from .errors import SpecError
from .graph.minimize import check_names
from .graph.solve import read_graph_spec
from .network.spec import Reader, Spec, read_minimize_optimizer, read_network
from .read.numbers import describe
from .read.yamlsafe import MAX_SIZE, load_nodes, load_text, where


def load_spec(path: str | os.PathLike, *, max_size: int = MAX_SIZE, max_nodes: Optional[int] = None) -> "Spec | Any":
    """Read, validate and return a network `Spec` (or a graph spec for `graph:` files).

    `max_nodes`: refuse, before reading any number, a document with more values than
    this after alias expansion (the CLI's work budget, budget.py)."""
    source, root = load_nodes(path, max_size)
    if max_nodes is not None:
        from .budget import check_document, expanded_nodes

        count = expanded_nodes(root)
        if count > max_nodes:
            check_document(count, source.file)
    return read_spec(root, source.file)


def loads_spec(text: str, file: str = "<string>") -> "Spec | Any":
    """`load_spec` for text in memory (tests, notebooks)."""
    return read_spec(load_text(text, file), file)


def read_spec(root: yaml.Node, file: str) -> "Spec | Any":
    if not isinstance(root, yaml.MappingNode):
        raise SpecError(file=file, path="", **where(root),
                        expected="a mapping of spec fields (name, input, layers, …)", found=describe(root))
    keys = {k.value for k, _ in root.value if isinstance(k, yaml.ScalarNode)}
    if "graph" in keys:
        if "layers" in keys:
            node = next(k for k, _ in root.value if getattr(k, "value", None) == "layers")
            raise SpecError("a file is either a network (layers) or a graph (graph), not both",
                            file=file, path="layers", **where(node))
        graph = read_graph_spec(root, file)
        if graph.minimize:  # gradient descent on the graph: the network's optimizer field
            graph = read_minimize_optimizer(root, graph)
            check_names(graph)
        return graph
    if has_typed_layers(root):  # conv, pooling, norm, dropout, rnn, lstm: NumPy, imported only for them
        from .network.typed_spec import read_layered

        return read_layered(Reader(file), root)
    return read_network(root, file)


def has_typed_layers(root: yaml.MappingNode) -> bool:
    """Does a layer say `type:` other than dense?
    Dense-only specs keep network/spec.py and its numpy-free scalar derivation."""
    layers = next((v for k, v in root.value if isinstance(k, yaml.ScalarNode) and k.value == "layers"), None)
    if not isinstance(layers, yaml.SequenceNode):
        return False
    for layer in layers.value:
        if isinstance(layer, yaml.MappingNode):
            for k, v in layer.value:
                if getattr(k, "value", None) == "type" and not (isinstance(v, yaml.ScalarNode) and v.value == "dense"):
                    return True
    return False
