"""Suggestions ("did you mean …?") for a misspelled key or name: close spellings and the synonyms
people bring from other tools (learning_rate → lr, epochs → steps).

Shared by every reader (specs, graphs, answer keys), so it sits with them at the bottom.
"""
from __future__ import annotations

import difflib
from typing import Optional

_SYNONYMS = {
    "learning_rate": "lr", "learningrate": "lr", "eta": "lr", "epochs": "steps", "iterations": "steps",
    "iters": "steps", "inputs": "input", "x": "input", "targets": "target", "y": "target", "labels": "target",
    "label": "target", "weight": "weights", "w": "weights", "biases": "bias", "b": "bias",
    "activations": "activation", "act": "activation", "criterion": "loss", "loss_fn": "loss",
    "optim": "optimizer", "opt": "optimizer", "title": "name",
}


def suggest(word: str, choices) -> Optional[str]:
    choices = list(choices)
    synonym = _SYNONYMS.get(word.lower(), word.lower())
    if synonym in choices and synonym != word:
        return f"did you mean {synonym!r}?"
    match = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f"did you mean {match[0]!r}?" if match else None
