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
from .graph.solve import read_graph_spec
from .network.spec import Spec, read_network
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
        return read_graph_spec(root, file)
    return read_network(root, file)
