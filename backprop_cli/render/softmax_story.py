"""Softmax with cross-entropy, the way a textbook writes it, beside what is computed.

The engine computes the loss in its stable form log Σ e^z − Σ t·z and δ = y − t
directly; a student expects L = −Σₖ tₖ log yₖ (= −log y_c for a one-hot target) and
wonders how ∂L/∂y becomes δ. These two rules bridge that, in the document's own
letters, for the terminal (Unicode) and for LaTeX/Markdown:

    L = −Σₖ tₖ log yₖ = −log y₁ = −log(0.4255) = 0.8546
    δₖ = Σᵢ ∂L/∂yᵢ × ∂yᵢ/∂zₖ = Σᵢ (−tᵢ/yᵢ) × yᵢ([i=k] − yₖ) = yₖ Σᵢ tᵢ − tₖ = yₖ − tₖ

The numbers come from the trace (the output's value and the loss's value, as printed
elsewhere); nothing is computed here. Only for one sample: with a batch the derivation
is in matrix form (or per sample, where the mean's 1/N joins in).
"""
from __future__ import annotations

from typing import Optional

from ..network.names import at
from .notation import Sym
from .common import Look


def applies(trace) -> bool:
    spec = trace.spec
    return (spec.loss == "cross_entropy" and spec.layers[-1].activation.name == "softmax"
            and spec.samples == 1)


def _letters(look: Look):
    n = look.notation
    last = max((v[0] for v in n.neurons.values()), default=None)
    y = n.activation_letter(last, True)
    return y, n.letters["t"], n.letters["z"], n.letters["delta"]


def _outputs(look: Look) -> list[int]:
    """Canonical neuron numbers of the output layer, in order."""
    return sorted(i for i, (_, _, is_out) in look.notation.neurons.items() if is_out)


def textbook_loss(look: Look, trace, record) -> Optional[list[str]]:
    """[L, −Σₖ tₖ log yₖ, (−log y_c,) numbers, value] for one sample, else None."""
    if not applies(trace):
        return None
    y, t, _, _ = _letters(look)
    latex = look.latex
    s = record.step
    values = {e.name: e for e in record.equations}
    outs = _outputs(look)
    targets = [float(trace.spec.target[0, k]) for k in range(len(outs))]
    loss_eq = values.get(at("loss", s))
    if loss_eq is None:
        return None
    yk, tk = look.sym(Sym(y, "k")), look.sym(Sym(t, "k"))
    log = r"\log " if latex else "log "
    general = (r"-\sum_k " + tk + " " + log + yk) if latex else f"−Σₖ {tk} {log}{yk}"
    parts = [look.symbol("loss"), general]
    hot = [k for k, v in enumerate(targets) if v == 1.0]
    if len(hot) == 1 and all(v == 0.0 for k, v in enumerate(targets) if k != hot[0]):
        c = hot[0]
        name = at(f"a{outs[c]}", s)
        yc = look.symbol(name)
        value = look.number(values[name].value, name) if name in values else None
        if value is None:
            return None
        if latex:
            parts += [r"-\log " + yc, r"-\log " + value]
        else:
            parts += [f"−log {yc}", f"−log({value})"]
    parts.append(look.value(loss_eq))
    return parts


def delta_rule(look: Look) -> list[str]:
    """δₖ from ∂L/∂y through the softmax Jacobian to y − t, in the document's letters:
    [δₖ, each right-hand side in turn]."""
    y, t, z, delta = _letters(look)
    L = look.notation.loss_symbol(look.style)
    if look.latex:
        def s(letter, sub):
            return look.sym(Sym(letter, sub))

        def d(top, bottom):
            return r"\frac{\partial " + top + r"}{\partial " + bottom + "}"

        return [s(delta, "k"),
                r"\sum_i " + d(L, s(y, "i")) + " " + d(s(y, "i"), s(z, "k")),
                r"\sum_i \left(-\frac{" + s(t, "i") + "}{" + s(y, "i") + r"}\right) " + s(y, "i")
                + r"\bigl([i{=}k] - " + s(y, "k") + r"\bigr)",
                s(y, "k") + r" \sum_i " + s(t, "i") + " - " + s(t, "k"),
                s(y, "k") + " - " + s(t, "k")]
    u = look.sym
    yi, yk, ti, tk = u(Sym(y, "i")), u(Sym(y, "k")), u(Sym(t, "i")), u(Sym(t, "k"))
    return [u(Sym(delta, "k")), f"Σᵢ ∂{L}/∂{yi} × ∂{yi}/∂{u(Sym(z, 'k'))}",
            f"Σᵢ (−{ti}/{yi}) × {yi}([i=k] − {yk})", f"{yk} Σᵢ {ti} − {tk}", f"{yk} − {tk}"]


__all__ = ["applies", "textbook_loss", "delta_rule"]
