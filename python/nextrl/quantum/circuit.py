"""Circuit builder with Qiskit's gate names, argument order and qubit order.

A Circuit records gates; `compile()` turns it into a C++ plan (validated and fused
once, cached until the circuit changes) that `Statevector.apply` runs in one call.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from nextrl import _core
from nextrl.quantum.gates import GATES, KIND
from nextrl.quantum.parameters import Parameter, ParameterExpression

# Fusion limits, chosen with bench/bench_statevector.py --tune on a 2-core AVX2 machine:
# blocks of up to MAX_FUSED_QUBITS qubits, local buffers of 2**LOCAL_BITS amplitudes.
MAX_FUSED_QUBITS = 10
LOCAL_BITS = 12
MAX_UNITARY_QUBITS = 10


@dataclass(frozen=True)
class Instruction:
    name: str  # as added (e.g. "cx")
    base: str  # base gate kind (e.g. "x")
    targets: tuple[int, ...]
    controls: tuple[int, ...]
    ctrl_state: int  # bit i: required value of controls[i]
    params: tuple  # floats, Parameters or ParameterExpressions
    matrix: np.ndarray | None = None  # "unitary" only


def check_qubits(fn: str, qubits: Sequence[int], num_qubits: int) -> list[int]:
    """Distinct int qubits in [0, num_qubits), or the error a user should see (TypeError / IndexError / ValueError)."""
    out = []
    for q in qubits:
        if not isinstance(q, numbers.Integral) or isinstance(q, bool):
            raise TypeError(f"{fn}: qubit must be an int, got {type(q).__name__}")
        if not 0 <= q < num_qubits:
            raise IndexError(f"{fn}: qubit {q} out of range for {num_qubits} qubits")
        out.append(int(q))
    if len(set(out)) != len(out):
        raise ValueError(f"{fn}: qubits must be distinct, got {out}")
    return out


def _check_angle(fn: str, value):
    if isinstance(value, (Parameter, ParameterExpression)):
        return value
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        value = float(value)
        if not np.isfinite(value):
            raise ValueError(f"{fn}: angle must be finite, got {value}")
        return value
    raise TypeError(f"{fn}: angle must be a real number or a Parameter, got {type(value).__name__}")


class Circuit:
    """A quantum circuit on `num_qubits` qubits (qubit 0 is the least significant bit).

    Limits: one gate acts on at most 12 qubits counting controls (an mcx with 12 controls
    is refused when compiled); a dense `unitary` on at most 10 qubits.
    """

    def __init__(self, num_qubits: int, name: str | None = None):
        if not isinstance(num_qubits, numbers.Integral) or isinstance(num_qubits, bool):
            raise TypeError(f"Circuit: num_qubits must be an int, got {type(num_qubits).__name__}")
        if not 1 <= num_qubits <= 62:
            raise ValueError(f"Circuit: num_qubits must be in [1, 62], got {num_qubits}")
        self.num_qubits = int(num_qubits)
        self.name = name
        self._instructions: list[Instruction] = []
        self._global_phase: float | Parameter | ParameterExpression = 0.0
        self._parameters: dict[Parameter, None] = {}
        self._plans: dict[tuple, _core.Plan] = {}

    # ----------------------------------------------------------------- container
    def __len__(self) -> int:
        return len(self._instructions)

    def __iter__(self) -> Iterator[Instruction]:
        return iter(self._instructions)

    def __repr__(self) -> str:
        return f"Circuit(num_qubits={self.num_qubits}, gates={len(self)}, parameters={len(self._parameters)})"

    @property
    def instructions(self) -> tuple[Instruction, ...]:
        return tuple(self._instructions)

    @property
    def parameters(self) -> tuple[Parameter, ...]:
        """Free parameters in order of first use: the order of a params array."""
        return tuple(self._parameters)

    @property
    def num_parameters(self) -> int:
        return len(self._parameters)

    @property
    def global_phase(self):
        return self._global_phase

    @global_phase.setter
    def global_phase(self, value) -> None:
        self._global_phase = _check_angle("Circuit.global_phase", value)
        self._track(self._global_phase)
        self._plans.clear()

    def copy(self) -> Circuit:
        other = Circuit(self.num_qubits, self.name)
        other._instructions = list(self._instructions)
        other._global_phase = self._global_phase
        other._parameters = dict(self._parameters)
        return other

    # ------------------------------------------------------------------ building
    def _track(self, value) -> None:
        p = value.parameter if isinstance(value, ParameterExpression) else value
        if isinstance(p, Parameter):
            self._parameters.setdefault(p, None)

    def _check_qubits(self, fn: str, qubits: Sequence[int]) -> tuple[int, ...]:
        return tuple(check_qubits(fn, qubits, self.num_qubits))

    def append(
        self,
        name: str,
        qubits: Sequence[int],
        params: Sequence = (),
        *,
        controls: Sequence[int] = (),
        ctrl_state: int | str | None = None,
    ) -> Circuit:
        """Adds gate `name` (a key of nextrl.quantum.gates.GATES) on `qubits` (built-in
        controls first, as in Qiskit), with extra `controls` whose required values are
        `ctrl_state` (int or bit string over the controls, all ones by default)."""
        if name not in GATES:
            raise ValueError(f"Circuit.append: unknown gate '{name}'; known: {', '.join(sorted(GATES))}")
        spec = GATES[name]
        for what, value in (("qubits", qubits), ("params", params)):
            if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
                example = "[0]" if what == "qubits" else "[0.3]"
                raise TypeError(
                    f"Circuit.append: {what} must be a sequence (e.g. {example}), got {type(value).__name__} {value!r}"
                )
        qubits, params = tuple(qubits), tuple(params)
        if len(qubits) != spec.num_controls + spec.num_targets:
            raise ValueError(f"Circuit.{name}: needs {spec.num_controls + spec.num_targets} qubits, got {len(qubits)}")
        if len(params) != spec.num_params:
            raise ValueError(f"Circuit.{name}: needs {spec.num_params} angles, got {len(params)}")
        all_controls = tuple(controls) + qubits[: spec.num_controls]
        return self._add(name, spec.base, qubits[spec.num_controls :], all_controls, ctrl_state, tuple(params), None)

    def _add(self, name, base, targets, controls, ctrl_state, params, matrix) -> Circuit:
        fn = f"Circuit.{name}"
        checked = self._check_qubits(fn, tuple(controls) + tuple(targets))
        controls, targets = checked[: len(controls)], checked[len(controls) :]
        n_ctrl = len(controls)
        if ctrl_state is None:
            state = (1 << n_ctrl) - 1
        elif isinstance(ctrl_state, str):
            if len(ctrl_state) != n_ctrl or set(ctrl_state) - {"0", "1"}:
                raise ValueError(f"{fn}: ctrl_state must be a bit string of length {n_ctrl}, got '{ctrl_state}'")
            state = int(ctrl_state, 2)
        else:
            if isinstance(ctrl_state, bool) or not isinstance(ctrl_state, (int, np.integer)):
                raise TypeError(
                    f"{fn}: ctrl_state must be an int or a bit string, got {type(ctrl_state).__name__} {ctrl_state!r}"
                )
            state = int(ctrl_state)
            if not 0 <= state < (1 << n_ctrl):
                raise ValueError(f"{fn}: ctrl_state must be in [0, {1 << n_ctrl}), got {state}")
        params = tuple(_check_angle(fn, p) for p in params)
        for p in params:
            self._track(p)
        self._instructions.append(Instruction(name, base, targets, controls, state, params, matrix))
        self._plans.clear()
        return self

    def unitary(
        self,
        matrix,
        qubits: Sequence[int],
        *,
        controls: Sequence[int] = (),
        ctrl_state: int | str | None = None,
        atol: float = 1e-10,
    ) -> Circuit:
        """A dense unitary on `qubits` (bit j of a matrix index <-> qubits[j])."""
        mat = np.asarray(matrix)
        if not np.issubdtype(mat.dtype, np.number):
            raise TypeError(f"Circuit.unitary: matrix must be numeric, got dtype {mat.dtype}")
        mat = mat.astype(np.complex128)
        qubits = tuple(qubits)
        k = len(qubits)
        if not 1 <= k <= MAX_UNITARY_QUBITS:
            raise ValueError(f"Circuit.unitary: must act on 1 to {MAX_UNITARY_QUBITS} qubits, got {k}")
        if mat.shape != (1 << k, 1 << k):
            raise ValueError(
                f"Circuit.unitary: matrix must have shape {(1 << k, 1 << k)} for {k} qubits, got {mat.shape}"
            )
        if not np.all(np.isfinite(mat)):
            raise ValueError("Circuit.unitary: matrix must be finite")
        err = np.abs(mat.conj().T @ mat - np.eye(1 << k)).max()
        if err > atol:
            raise ValueError(f"Circuit.unitary: matrix must be unitary, got max |U^dag U - I| = {err:.3g}")
        mat.setflags(write=False)
        return self._add("unitary", "unitary", qubits, controls, ctrl_state, (), mat)

    # Gates with Qiskit's signatures.
    def id(self, q):
        return self.append("id", [q])

    def x(self, q):
        return self.append("x", [q])

    def y(self, q):
        return self.append("y", [q])

    def z(self, q):
        return self.append("z", [q])

    def h(self, q):
        return self.append("h", [q])

    def s(self, q):
        return self.append("s", [q])

    def sdg(self, q):
        return self.append("sdg", [q])

    def t(self, q):
        return self.append("t", [q])

    def tdg(self, q):
        return self.append("tdg", [q])

    def sx(self, q):
        return self.append("sx", [q])

    def sxdg(self, q):
        return self.append("sxdg", [q])

    def rx(self, theta, q):
        return self.append("rx", [q], [theta])

    def ry(self, theta, q):
        return self.append("ry", [q], [theta])

    def rz(self, theta, q):
        return self.append("rz", [q], [theta])

    def p(self, lam, q):
        return self.append("p", [q], [lam])

    def u(self, theta, phi, lam, q):
        return self.append("u", [q], [theta, phi, lam])

    def cx(self, c, t):
        return self.append("cx", [c, t])

    def cy(self, c, t):
        return self.append("cy", [c, t])

    def cz(self, c, t):
        return self.append("cz", [c, t])

    def ch(self, c, t):
        return self.append("ch", [c, t])

    def crx(self, theta, c, t):
        return self.append("crx", [c, t], [theta])

    def cry(self, theta, c, t):
        return self.append("cry", [c, t], [theta])

    def crz(self, theta, c, t):
        return self.append("crz", [c, t], [theta])

    def cp(self, lam, c, t):
        return self.append("cp", [c, t], [lam])

    def swap(self, q0, q1):
        return self.append("swap", [q0, q1])

    def iswap(self, q0, q1):
        return self.append("iswap", [q0, q1])

    def rxx(self, theta, q0, q1):
        return self.append("rxx", [q0, q1], [theta])

    def ryy(self, theta, q0, q1):
        return self.append("ryy", [q0, q1], [theta])

    def rzz(self, theta, q0, q1):
        return self.append("rzz", [q0, q1], [theta])

    def ccx(self, c0, c1, t):
        return self.append("ccx", [c0, c1, t])

    def cswap(self, c, t0, t1):
        return self.append("cswap", [c, t0, t1])

    def mcx(self, controls, t, ctrl_state=None):
        return self.append("x", [t], controls=controls, ctrl_state=ctrl_state)

    # ----------------------------------------------------------------- execution
    def bind(self, params=None) -> np.ndarray:
        """Parameter values as a float64 array in `self.parameters` order.
        params: None (no free parameters), a sequence of floats, or a dict keyed by
        Parameter or parameter name."""
        names = {p.name: p for p in self._parameters}
        if params is None:
            params = {}
        if isinstance(params, Mapping):
            values = {}
            for key, value in params.items():
                p = names.get(key) if isinstance(key, str) else key
                if p is None or p not in self._parameters:
                    label = key if isinstance(key, str) else getattr(key, "name", key)
                    raise ValueError(f"Circuit.bind: unknown parameter '{label}'; circuit has {list(names)}")
                values[p] = value
            missing = [p.name for p in self._parameters if p not in values]
            if missing:
                raise ValueError(f"Circuit.bind: unbound parameters {missing}")
            arr = np.array([values[p] for p in self._parameters], dtype=np.float64)
        else:
            arr = np.asarray(params)
            if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
                raise TypeError(f"Circuit.bind: params must be real numbers, got dtype {arr.dtype}")
            arr = arr.astype(np.float64, copy=False).reshape(-1) if arr.ndim <= 1 else arr
            if arr.shape != (self.num_parameters,):
                raise ValueError(f"Circuit.bind: params must have shape ({self.num_parameters},), got {arr.shape}")
        if not np.all(np.isfinite(arr)):
            raise ValueError("Circuit.bind: params must be finite")
        return np.ascontiguousarray(arr, dtype=np.float64)

    @staticmethod
    def _angle_ref(value, index: dict) -> tuple[int, float, float]:
        if isinstance(value, Parameter):
            return (index[value], 1.0, 0.0)
        if isinstance(value, ParameterExpression):
            return (index[value.parameter], value.scale, value.offset)
        return (-1, 1.0, float(value))

    def compile(self, fusion: bool | int = True) -> _core.Plan:
        """The C++ plan of this circuit, cached until the circuit changes.
        fusion: True (automatic block size), False (one pass per gate) or the largest
        number of qubits per fused block."""
        if isinstance(fusion, bool):
            max_fused = (self.num_qubits if self.num_qubits <= LOCAL_BITS else MAX_FUSED_QUBITS) if fusion else 0
        elif isinstance(fusion, numbers.Integral) and 0 <= fusion <= 12:
            max_fused = int(fusion)
        else:
            raise ValueError(f"Circuit.compile: fusion must be a bool or an int in [0, 12], got {fusion!r}")
        key = (max_fused,)
        plan = self._plans.get(key)
        if plan is None:
            plan = _core.Plan(self.num_qubits, self.lower(), self.num_parameters, max_fused, LOCAL_BITS)
            self._plans[key] = plan
        return plan

    def lower(self) -> list[tuple]:
        """The circuit as the C++ plans take it: one (kind, targets, controls, ctrl_state, angles, matrix)
        tuple per gate, the global phase first when it is not 0. kind is a GateKind integer of the C++ gate
        table; an angle is (parameter index in `parameters` order or -1, scale, offset)."""
        index = {p: i for i, p in enumerate(self._parameters)}
        ops = []
        if not (isinstance(self._global_phase, float) and self._global_phase == 0.0):
            ops.append((KIND["global_phase"], [], [], 0, [self._angle_ref(self._global_phase, index)], None))
        for ins in self._instructions:
            ops.append(
                (
                    KIND[ins.base],
                    list(ins.targets),
                    list(ins.controls),
                    ins.ctrl_state,
                    [self._angle_ref(p, index) for p in ins.params],
                    ins.matrix,
                )
            )
        return ops

    def to_qiskit(self):
        """This circuit as a qiskit.QuantumCircuit (parameters become qiskit Parameters)."""
        from nextrl.quantum.qiskit_bridge import circuit_to_qiskit

        return circuit_to_qiskit(self)
