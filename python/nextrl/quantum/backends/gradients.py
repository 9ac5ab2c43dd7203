"""Gradient rules of the Qiskit executor, as pure NumPy functions: the parameter-shifted rows of a
batch (nextrl.quantum.shift_rules), their contraction into d outputs / d angle, and the chain rule
from angle occurrences to d weights, d inputs and d scales through the affine factor of each angle."""

from __future__ import annotations

import numpy as np

from nextrl.quantum.shift_rules import equidistant_rule, gate_rule

__all__ = ["SHIFT_RULES", "chain_rule", "contract_rows", "shift_rule", "shifted_rows"]

# Number of terms -> (shift, coefficient) pairs: d f / d theta = sum coefficient * f(theta + shift).
SHIFT_RULES = {2: tuple(equidistant_rule((1.0,))), 4: tuple(equidistant_rule((0.5, 1.0)))}


def shift_rule(base: str, num_controls: int, param_index: int = 0) -> int:
    """Number of terms of the exact parameter-shift rule of angle `param_index` of gate `base`
    (a nextrl base gate name) with `num_controls` controls: 2 or 4."""
    from nextrl.quantum.gates import BASE_GATES

    gate = BASE_GATES.get(base)
    if gate is None or gate.num_params == 0 or base == "global_phase":
        raise ValueError(f"shift_rule: gate '{base}' has no parameter-shift rule")
    return len(gate_rule(base, num_controls, param_index))


def shifted_rows(theta: np.ndarray, rules, shift: np.ndarray | None):
    """Parameter rows of one job: theta [B, K] unshifted, then for every occurrence k with shift[k]
    and a non-empty rule, one row per term. Returns (rows [B, 1 + S, K], C [S, K]) with C[s, k] the
    coefficient of row 1 + s in d / d theta_k."""
    B, K = theta.shape
    ks, deltas, coeffs = [], [], []
    if shift is not None:
        for k in np.flatnonzero(shift):
            for delta, coeff in rules[k]:
                ks.append(k), deltas.append(delta), coeffs.append(coeff)
    S = len(ks)
    rows = np.repeat(theta[:, None, :], 1 + S, axis=1)
    if S:
        rows[:, 1 + np.arange(S), ks] += np.asarray(deltas)
    C = np.zeros((S, K))
    C[np.arange(S), ks] = coeffs
    return rows, C


def contract_rows(out_rows: np.ndarray, C: np.ndarray, with_gradient: bool):
    """(outputs [B, A], d outputs / d theta [B, K, A] or None) from the outputs of every row
    out_rows [B, 1 + S, A] and the coefficients C [S, K] of shifted_rows."""
    out = out_rows[:, 0]
    if not with_gradient:
        return out, None
    return out, np.einsum("bsa,sk->bka", out_rows[:, 1:], C)


def chain_rule(prog, x: np.ndarray, s: np.ndarray, num_weights: int, g_theta: np.ndarray):
    """d_weights [W] (summed over the batch), d_inputs [B, F], d_scales [S] from dL / d theta [B, K]:
    theta_k = occ_scale[k] * slot + occ_offset[k], slot = w[i], x[b, i] or s[j] * x[b, i]."""
    B = x.shape[0]
    d_slot = np.zeros((B, len(prog.slot_kind)))
    np.add.at(d_slot.T, prog.occ_slot, (g_theta * prog.occ_scale).T)
    dw = np.zeros(num_weights)
    dx = np.zeros_like(x)
    ds = np.zeros(len(s))
    for p, (kind, i, j) in enumerate(zip(prog.slot_kind, prog.slot_index, prog.slot_scale)):
        if kind == 0:
            dw[i] += d_slot[:, p].sum()
        elif kind == 1:
            dx[:, i] += d_slot[:, p]
        else:
            dx[:, i] += s[j] * d_slot[:, p]
            ds[j] += d_slot[:, p] @ x[:, i]
    return dw, dx, ds
