"""QuantumStatePrep (csrc/envs/quantum_prep.h): prepare a target state of `num_qubits` qubits from |0...0>
with discrete gates on any qubit.

Actions index `gate_list()`: H, X, S, T, RY(pi/4), RZ(pi/4) on each qubit (a = g * num_qubits + q), then
CX(c, t) for every ordered pair. Observation: real and imaginary parts of the amplitudes (Qiskit order),
followed by the target's with `observe_target`. Reward: the fidelity gain |<target|psi'>|^2 - |<target|psi>|^2;
an episode terminates when the fidelity reaches `threshold` (info["fidelity"]).

Targets are reachable by construction: "plus" (|+>^n, H on every qubit), "ghz" ((|0..0> + |1..1>)/sqrt 2,
H then a CX chain), a gate sequence (action indices or (name, qubits) pairs of `gate_list()`), or "random":
`target_depth` random actions from |0...0> drawn at every reset (then observed by default).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode

from nextrl import _core
from nextrl.envs import render
from nextrl.envs.control import make_config
from nextrl.envs.core import Env, VectorEnv, as_int, unknown_name_error

_TARGETS = ("plus", "ghz", "random")


def _gate_list(num_qubits: int) -> list[tuple[str, tuple[int, ...]]]:
    c = _core._QuantumStatePrepConfig()
    c.num_qubits = num_qubits
    c.target_actions = [0]  # any valid target: only the gate list is wanted
    return _core._QuantumStatePrep.gate_list(c)


def target_actions(num_qubits: int, target) -> list[int]:
    """The action sequence that prepares a named target ("plus", "ghz") or a given sequence of actions /
    (name, qubits) pairs, from |0...0>."""
    if not isinstance(num_qubits, (int, np.integer)) or isinstance(num_qubits, bool) or not 1 <= num_qubits <= 10:
        raise ValueError(f"QuantumStatePrep: num_qubits must be an int in [1, 10], got {num_qubits!r}")
    gates = _gate_list(int(num_qubits))
    index = {(name, tuple(qs)): a for a, (name, qs) in enumerate(gates)}
    if isinstance(target, str):
        if target == "plus":
            return [index[("h", (q,))] for q in range(num_qubits)]
        if target == "ghz":
            return [index[("h", (0,))]] + [index[("cx", (q - 1, q))] for q in range(1, num_qubits)]
        raise unknown_name_error("QuantumStatePrep", "target", target, _TARGETS)
    if not isinstance(target, Sequence) or len(target) == 0:
        raise ValueError(
            "QuantumStatePrep: target must be 'plus', 'ghz', 'random' or a non-empty sequence of "
            f"actions, got {target!r}"
        )
    out = []
    for item in target:
        if isinstance(item, (int, np.integer)) and not isinstance(item, bool):
            if not 0 <= item < len(gates):
                raise ValueError(f"QuantumStatePrep: target action {item} must be in [0, {len(gates)})")
            out.append(int(item))
        elif isinstance(item, (tuple, list)) and len(item) == 2 and (item[0], tuple(item[1])) in index:
            out.append(index[(item[0], tuple(item[1]))])
        else:
            raise ValueError(
                f"QuantumStatePrep: target entry {item!r} must be an action index or a (name, qubits) "
                f"pair of gate_list(), e.g. ('h', (0,)) or ('cx', (0, 1))"
            )
    return out


class QuantumStatePrepVectorEnv(VectorEnv):
    """`num_envs` state-preparation tasks stepped in one C++ call.

    target: "plus" (default), "ghz", "random" (a new target of `target_depth` random gates at each reset)
    or a gate sequence; observe_target: append the target's amplitudes to the observation (default: only
    for "random"); threshold: fidelity that ends an episode (0.99); max_steps: truncation (30).

    Frames show one bar per basis state: the probability |psi_k|^2 as its height, the phase arg psi_k as
    its hue (red 0, green 2 pi / 3, blue 4 pi / 3), the target's probability as a black tick.
    """

    metadata = render.metadata(render.RENDER_MODES_IMAGE, 4)

    def __init__(
        self,
        num_envs: int = 1,
        *,
        num_qubits: int = 2,
        target="plus",
        target_depth: int = 4,
        observe_target: bool | None = None,
        threshold: float = 0.99,
        max_steps: int = 30,
        autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
        copy: bool = True,
        render_mode: str | None = None,
    ):
        random = isinstance(target, str) and target == "random"
        actions = [] if random else target_actions(num_qubits, target)
        if random and (not isinstance(target_depth, (int, np.integer)) or target_depth < 1):
            raise ValueError(
                f"QuantumStatePrep: target_depth must be an int >= 1 for target='random', got {target_depth!r}"
            )
        self.config = make_config(
            "QuantumStatePrep",
            _core._QuantumStatePrepConfig,
            {
                "num_qubits": as_int("QuantumStatePrep", "num_qubits", num_qubits),
                "target_actions": actions,
                "target_depth": as_int("QuantumStatePrep", "target_depth", target_depth) if random else 0,
                "observe_target": bool(random if observe_target is None else observe_target),
                "threshold": threshold,
                "max_steps": max_steps,
            },
        )
        core = _core._QuantumStatePrep(self._num_envs_arg(num_envs), self.config, self._mode_code(autoreset_mode))
        self.num_qubits = int(num_qubits)
        obs_space = spaces.Box(-1.0, 1.0, tuple(core.obs_shape), np.float32)
        num_actions = len(_gate_list(self.num_qubits))
        self._setup(core, obs_space, spaces.Discrete(num_actions), autoreset_mode, copy, render_mode)

    def gate_list(self) -> list[tuple[str, tuple[int, ...]]]:
        """(name, qubits) of every action; "ry" and "rz" have the angle pi/4."""
        return _gate_list(self.num_qubits)

    def states(self) -> np.ndarray:
        """Current states: [num_envs, 2**num_qubits] complex128 (a copy)."""
        return self._core.states()

    def targets(self) -> np.ndarray:
        """Current targets: [num_envs, 2**num_qubits] complex128 (a copy)."""
        return self._core.targets()

    def _render_frame(self, index: int) -> np.ndarray:
        amps, target = self._core.states()[index], self._core.targets()[index]
        dim = amps.shape[0]
        width, height, margin = max(512, 2 * dim), 320, 16
        img = render.blank(height, width)
        bar = (width - 2 * margin) / dim
        base, top = height - margin, margin
        for k in range(dim):
            x0 = margin + k * bar
            p = abs(amps[k]) ** 2
            if p > 1e-12:
                color = render.phase_color(float(np.angle(amps[k])))
                render.fill_rect(img, x0 + 0.1 * bar, base - p * (base - top), x0 + 0.9 * bar, base, color)
            y = base - abs(target[k]) ** 2 * (base - top)
            render.fill_rect(img, x0, y - 1.5, x0 + bar, y + 1.5, render.BLACK)
        render.fill_rect(img, margin, base, width - margin, base + 1, render.GRAY)
        return img


class QuantumStatePrepEnv(Env):
    vector_cls = QuantumStatePrepVectorEnv


__all__ = ["QuantumStatePrepEnv", "QuantumStatePrepVectorEnv", "target_actions"]
