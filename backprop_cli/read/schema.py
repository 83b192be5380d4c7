"""JSON Schema of the spec files (SPEC §1, §4), for editors' YAML language servers.

Point a `# yaml-language-server: $schema=backprop.schema.json` comment at the output of
`backprop schema > backprop.schema.json` to get completion and inline errors. The schema
is a convenience; `backprop validate` remains the authority (it checks shapes too).
"""
from __future__ import annotations

from ..calc.expr import GRAPH_FUNCTIONS
from ..network.spec import ACTIVATIONS, LAYOUTS, LOSSES, NOTATION_PRESETS, OPTIMIZERS, REDUCTIONS

NUMBER = {
    "description": "A number: integer, decimal, scientific (1e-3) or a fraction string \"p/q\".",
    "anyOf": [
        {"type": "number"},
        {"type": "string", "pattern": r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$"},
        {"type": "string", "pattern": r"^[+-]?\d+/[+-]?\d+$"},
    ],
}


def spec_schema() -> dict:
    vector = {"type": "array", "items": {"$ref": "#/definitions/number"}, "minItems": 1}
    matrix = {"type": "array", "items": vector, "minItems": 1}
    activation = {
        "anyOf": [
            {"enum": list(ACTIVATIONS)},
            {
                "type": "object",
                "properties": {"name": {"enum": list(ACTIVATIONS)}, "slope": {"$ref": "#/definitions/number"}},
                "required": ["name"],
                "additionalProperties": False,
            },
        ]
    }
    layer = {
        "type": "object",
        "description": "A dense layer (type: dense, the default).",
        "properties": {
            "weights": {**matrix, "description": "Shape (out, in): row j holds the weights into neuron j."},
            "bias": {"anyOf": [vector, {"$ref": "#/definitions/number"}],
                     "description": "One per neuron, one shared number, or omitted (no bias)."},
            "activation": activation,
            "freeze": {"type": "array", "items": {"enum": ["weights", "bias"]}},
            "type": {"const": "dense"},
            "layout": {"enum": list(LAYOUTS),
                       "description": "out_in (default, nn.Linear: z = Wx + b) or in_out (h = xW + b: row i = weights out of input i)."},
        },
        "required": ["weights"],
        "additionalProperties": False,
    }
    sgd = {
        "type": "object",
        "properties": {
            "name": {"const": "sgd"}, "lr": {"$ref": "#/definitions/number"},
            "momentum": {"$ref": "#/definitions/number"}, "weight_decay": {"$ref": "#/definitions/number"},
            "nesterov": {"type": "boolean"},
        },
        "required": ["name", "lr"],
        "additionalProperties": False,
    }
    adam = {
        "type": "object",
        "properties": {
            "name": {"const": "adam"}, "lr": {"$ref": "#/definitions/number"},
            "betas": {"type": "array", "items": {"$ref": "#/definitions/number"}, "minItems": 2, "maxItems": 2},
            "eps": {"$ref": "#/definitions/number"}, "weight_decay": {"$ref": "#/definitions/number"},
        },
        "required": ["name", "lr"],
        "additionalProperties": False,
    }
    rmsprop = {
        "type": "object",
        "properties": {
            "name": {"const": "rmsprop"}, "lr": {"$ref": "#/definitions/number"},
            "alpha": {"$ref": "#/definitions/number"}, "eps": {"$ref": "#/definitions/number"},
            "weight_decay": {"$ref": "#/definitions/number"}, "momentum": {"$ref": "#/definitions/number"},
            "centered": {"type": "boolean"},
        },
        "required": ["name", "lr"],
        "additionalProperties": False,
    }
    adagrad = {
        "type": "object",
        "properties": {
            "name": {"const": "adagrad"}, "lr": {"$ref": "#/definitions/number"},
            "lr_decay": {"$ref": "#/definitions/number"}, "weight_decay": {"$ref": "#/definitions/number"},
            "initial_accumulator_value": {"$ref": "#/definitions/number"}, "eps": {"$ref": "#/definitions/number"},
        },
        "required": ["name", "lr"],
        "additionalProperties": False,
    }
    network = {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "description": {"type": "string"},
            "input": {"anyOf": [vector, matrix], "description": "1-D: one sample; 2-D: a batch."},
            "target": {"anyOf": [vector, matrix, {"type": "integer"}, {"type": "array", "items": {"type": "integer"}}]},
            "layers": {"type": "array", "items": {"anyOf": [layer, typed_layer()]}, "minItems": 1},
            "loss": {"enum": list(LOSSES)},
            "reduction": {"enum": list(REDUCTIONS)},
            "optimizer": {"oneOf": [sgd, adam, rmsprop, adagrad]},
            "lr": {"$ref": "#/definitions/number", "description": "Shorthand for plain SGD."},
            "steps": {"type": "integer", "minimum": 1, "maximum": 100000},
            "notation": {"anyOf": [{"enum": list(NOTATION_PRESETS)}, {"type": "object"}]},
        },
        "required": ["input", "target", "layers", "loss"],
        "additionalProperties": False,
    }
    graph = {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "description": {"type": "string"},
            "graph": {
                "type": "object",
                "additionalProperties": {"anyOf": [{"$ref": "#/definitions/number"}, {"type": "string"},
                                                   {"$ref": "#/definitions/tensor"}]},
                "description": "Nodes in order: a number, a vector or matrix (a leaf) or an expression "
                               "over earlier names with + - * / ** @ and the functions "
                               + ", ".join(GRAPH_FUNCTIONS) + " (conv2d(x, W, stride, padding), "
                               "maxpool2d(x, kernel, stride), sum(x, axis): integer constants).",
            },
            "output": {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}, "minItems": 1}],
                       "description": "The output node, or several: [w, z, y] (a persistent tape)."},
            "grad_output": {
                "type": "object",
                "additionalProperties": {"anyOf": [{"$ref": "#/definitions/number"}, {"$ref": "#/definitions/tensor"}]},
                "description": "Upstream gradient of a non-scalar output (PyTorch's backward(gradient=…)).",
            },
            "wrt": {"type": "array", "items": {"type": "string"}},
            "order": {"enum": [1, 2]},
            "minimize": {"type": "string", "description": "Gradient descent: the node to lower; the wrt leaves are updated."},
            "optimizer": {"oneOf": [sgd, adam, rmsprop, adagrad]},
            "lr": {"$ref": "#/definitions/number", "description": "Shorthand for plain SGD (with minimize)."},
            "steps": {"type": "integer", "minimum": 1, "maximum": 1000},
        },
        "required": ["graph"],
        "additionalProperties": False,
    }
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "$id": "https://backprop.invalid/schema/spec.json",
        "title": "backprop spec",
        "description": "A network spec (layers) or a computational-graph spec (graph).",
        "definitions": {"number": NUMBER, "network": network, "graph": graph,
                        "tensor": {"type": "array", "minItems": 1, "description": "a (nested) list of numbers",
                                   "items": {"anyOf": [{"$ref": "#/definitions/number"},
                                                       {"$ref": "#/definitions/tensor"}]}},
                        "optimizers": {"enum": list(OPTIMIZERS)}},
        "oneOf": [{"$ref": "#/definitions/network"}, {"$ref": "#/definitions/graph"}],
    }


def typed_layer() -> dict:
    """conv2d, conv1d, pooling, flatten, batch/layer norm, dropout, rnn, lstm (network/typed_spec.py
    checks their shapes; the schema names their fields)."""
    from ..network.typed_spec import TYPE_KEYS

    return {
        "type": "object",
        "description": "A typed layer with PyTorch's parameter names and shapes (docs/layers.md).",
        "properties": {"type": {"enum": [t for t in TYPE_KEYS if t != "dense"]},
                       **{k: {} for keys in TYPE_KEYS.values() for k in keys if k != "type"}},
        "required": ["type"],
        "additionalProperties": False,
    }
