"""Parameter-shift rules as pure functions of a gate's generator.

An angle theta that enters a circuit as V exp(-i theta G) W makes every expectation value a
trigonometric polynomial in theta whose frequencies are the positive differences of G's
eigenvalues (a control adds the eigenvalue 0: the gate acts as the identity when the controls
are off). For equidistant frequencies {Om, 2 Om, ..., R Om} the derivative is exact from 2R
shifted evaluations (Wierichs, Izaac, Wang and Lin 2022, arXiv:2107.12390, eq. 23):

    f'(theta) = sum_mu c_mu f(theta + x_mu),  x_mu = (2 mu - 1) pi / (2 R Om),
    c_mu = Om (-1)^(mu - 1) / (4 R sin^2((2 mu - 1) pi / (4 R))),   mu = 1 .. 2R,

with shifts taken modulo the period 2 pi / Om into (-pi / Om, pi / Om]. R = 1, Om = 1 (Pauli
rotations, phases) is the two-term rule (+-pi/2, +-1/2); a controlled Pauli rotation has
frequencies {1/2, 1} and gets the four-term rule of Anselmetti et al. 2021 (shifts +-pi/2 with
+-c1, +-3pi/2 with -+c2, c1,2 = (sqrt(2) +- 1) / (4 sqrt(2))).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["ShiftRule", "equidistant_rule", "frequencies", "gate_rule", "rule_for_generator", "shift_derivative"]


@dataclass(frozen=True)
class ShiftRule:
    """d f / d theta = sum_i coeffs[i] * f(theta + shifts[i]); empty when f does not depend on theta."""

    shifts: tuple[float, ...]
    coeffs: tuple[float, ...]

    def __len__(self) -> int:
        return len(self.shifts)

    def __iter__(self) -> Iterator[tuple[float, float]]:
        """(shift, coefficient) pairs."""
        return iter(zip(self.shifts, self.coeffs))


def frequencies(eigenvalues: Sequence[float], *, atol: float = 1e-9) -> tuple[float, ...]:
    """Distinct positive differences of `eigenvalues` (a generator's spectrum), ascending;
    differences within `atol` of each other (or of 0) count once."""
    ev = np.asarray(eigenvalues)
    if ev.ndim != 1 or ev.size == 0:
        raise ValueError(f"frequencies: eigenvalues must be a non-empty 1-D sequence, got shape {ev.shape}")
    if np.iscomplexobj(ev):
        if np.abs(ev.imag).max() > atol:
            raise ValueError("frequencies: eigenvalues must be real (a Hermitian generator's), got complex values")
        ev = ev.real
    ev = ev.astype(np.float64)
    if not np.all(np.isfinite(ev)):
        raise ValueError("frequencies: eigenvalues must be finite")
    diffs = np.sort(np.abs(ev[:, None] - ev[None, :]).ravel())
    out: list[float] = []
    for d in diffs:
        if d > atol and (not out or d - out[-1] > atol):
            out.append(float(d))
    return tuple(out)


def equidistant_rule(freqs: Sequence[float], *, rtol: float = 1e-9) -> ShiftRule:
    """The 2R-term rule for frequencies {Om, 2 Om, ..., R Om} (module docstring); () gives the
    empty rule (derivative 0)."""
    freqs = tuple(float(f) for f in freqs)
    if not freqs:
        return ShiftRule((), ())
    om, R = freqs[0], len(freqs)
    if not (om > 0 and math.isfinite(om)):
        raise ValueError(f"equidistant_rule: frequencies must be positive and finite, got {freqs}")
    want = om * np.arange(1, R + 1)
    if not np.allclose(freqs, want, rtol=rtol, atol=0):
        raise ValueError(f"equidistant_rule: frequencies must be Om, 2 Om, ..., R Om, got {freqs}")
    period = 2 * math.pi / om
    pairs = []
    for mu in range(1, 2 * R + 1):
        x = (2 * mu - 1) * math.pi / (2 * R * om)
        c = om * (-1) ** (mu - 1) / (4 * R * math.sin((2 * mu - 1) * math.pi / (4 * R)) ** 2)
        if x > period / 2:
            x -= period
        pairs.append((x, c))
    pairs.sort(key=lambda p: (abs(p[0]), -p[0]))  # +pi/2, -pi/2, +3pi/2, -3pi/2, ...
    return ShiftRule(tuple(p[0] for p in pairs), tuple(p[1] for p in pairs))


def rule_for_generator(generator, num_controls: int = 0) -> ShiftRule:
    """The exact rule of an angle with Hermitian `generator` G (gate V exp(-i theta G) W) under
    `num_controls` controls."""
    g = np.asarray(generator, dtype=np.complex128)
    if g.ndim != 2 or g.shape[0] != g.shape[1]:
        raise ValueError(f"rule_for_generator: generator must be a square matrix, got shape {g.shape}")
    if not np.allclose(g, g.conj().T, atol=1e-12):
        raise ValueError("rule_for_generator: generator must be Hermitian")
    if not isinstance(num_controls, numbers.Integral) or isinstance(num_controls, bool) or num_controls < 0:
        raise ValueError(f"rule_for_generator: num_controls must be a non-negative int, got {num_controls!r}")
    ev = list(np.linalg.eigvalsh(g))
    if num_controls:
        ev.append(0.0)
    return equidistant_rule(frequencies(ev))


def gate_rule(base: str, num_controls: int = 0, which: int = 0) -> ShiftRule:
    """The exact rule of angle `which` of base gate `base` (a name of the C++ gate table) with
    `num_controls` controls, from the gate's generator."""
    from nextrl.quantum.gates import gate_generator

    return rule_for_generator(gate_generator(base, which), num_controls)


def shift_derivative(f: Callable[[float], np.ndarray], theta: float, rule: ShiftRule) -> np.ndarray:
    """sum_i coeffs[i] f(theta + shifts[i]): the rule applied to a function of one angle."""
    total = 0.0
    for shift, coeff in rule:
        total = total + coeff * np.asarray(f(theta + shift))
    return np.asarray(total, dtype=np.float64)
