"""Shared fixtures: a seeded generator, the backend fixture with its `cuda` skip rule, and a
random-circuit builder over nextrl's whole gate set that also records each gate for the
dense reference (tests/reference/dense_simulator.py).

The suite runs with pytest-xdist (README: `pytest -q -n auto`), one process per core, so every process
computes on one thread: OpenMP (nextrl's kernels, qulacs, Aer), BLAS and torch. The variables are set
here, before anything loads an OpenMP or BLAS runtime; tests that change a thread count get it reset to
one afterwards (`_one_thread`). Tests that compare thread counts set them explicitly."""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

from dataclasses import dataclass, field  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from scipy.stats import unitary_group  # noqa: E402

import nextrl  # noqa: E402
from nextrl.quantum import Circuit, Parameter  # noqa: E402


def pytest_configure(config):
    torch.set_num_threads(1)
    nextrl.set_num_threads(1)


@pytest.fixture(autouse=True)
def _one_thread():
    """Puts nextrl and torch back on one thread after a test that changed either."""
    yield
    if nextrl.get_num_threads() != 1:
        nextrl.set_num_threads(1)
    if torch.get_num_threads() != 1:
        torch.set_num_threads(1)


# ------------------------------------------------------------------------------ backends
def _cuda_usable() -> bool:
    try:
        return bool(nextrl._core.has_cuda()) and bool(nextrl.build_info()["cuda_available"])
    except Exception:  # a build without the CUDA entry points
        return False


def pytest_collection_modifyitems(config, items):
    if _cuda_usable():
        return
    skip = pytest.mark.skip(reason="needs a CUDA build of nextrl and a visible GPU")
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(params=["cpu", pytest.param("cuda", marks=pytest.mark.cuda)])
def backend(request) -> str:
    return request.param


@pytest.fixture
def rng(request) -> np.random.Generator:
    """A generator seeded from the test's name, so every test draws its own fixed stream."""
    seed = sum(ord(c) * 31**i for i, c in enumerate(request.node.name)) % 2**32
    return np.random.default_rng(seed)


@pytest.fixture
def restore_threads():
    """Restores nextrl's thread count after a test that changes it."""
    before = nextrl.get_num_threads()
    yield before
    nextrl.set_num_threads(before)


# ------------------------------------------------------------------------- random circuits
ONE_QUBIT = ["id", "x", "y", "z", "h", "s", "sdg", "t", "tdg", "sx", "sxdg"]
ONE_QUBIT_ROT = ["rx", "ry", "rz", "p"]
TWO_QUBIT = ["cx", "cy", "cz", "ch", "swap", "iswap"]
TWO_QUBIT_ROT = ["crx", "cry", "crz", "cp", "rxx", "ryy", "rzz"]
THREE_QUBIT = ["ccx", "cswap"]
# Gate name -> (qubits, angles) for Circuit.append.
APPENDABLE = {
    **dict.fromkeys(ONE_QUBIT, (1, 0)),
    **dict.fromkeys(ONE_QUBIT_ROT, (1, 1)),
    "u": (1, 3),
    **dict.fromkeys(TWO_QUBIT, (2, 0)),
    **dict.fromkeys(TWO_QUBIT_ROT, (2, 1)),
    **dict.fromkeys(THREE_QUBIT, (3, 0)),
}
KINDS = ["1q", "1q_rot", "u", "2q", "2q_rot", "3q", "mcx", "unitary", "append", "controlled_unitary"]


@dataclass
class RandomCircuit:
    circuit: Circuit
    params: np.ndarray  # values in circuit.parameters order
    ops: list = field(default_factory=list)  # dense-reference ops with numeric angles
    global_phase: float = 0.0

    @property
    def values(self) -> dict:
        """Parameter name -> value."""
        return {p.name: float(v) for p, v in zip(self.circuit.parameters, self.params)}

    def qiskit(self):
        """The bound qiskit.QuantumCircuit of `circuit` (through Circuit.to_qiskit)."""
        qc = self.circuit.to_qiskit()
        values = self.values
        return qc.assign_parameters({qp: values[qp.name] for qp in qc.parameters})


class _Angles:
    """Draws angles as floats, Parameters or affine expressions and tracks their values."""

    def __init__(self, rng: np.random.Generator, symbolic: bool):
        self.rng, self.symbolic = rng, symbolic
        self.params: list[Parameter] = []
        self.values: dict[Parameter, float] = {}

    def _parameter(self) -> Parameter:
        if self.params and self.rng.random() < 0.4:
            return self.params[self.rng.integers(len(self.params))]
        p = Parameter(f"theta{len(self.params)}")
        self.params.append(p)
        self.values[p] = float(self.rng.uniform(-np.pi, np.pi))
        return p

    def draw(self):
        """(angle for the Circuit, its numeric value)."""
        kind = self.rng.integers(5) if self.symbolic else 0
        if kind <= 1:
            v = float(self.rng.uniform(-2 * np.pi, 2 * np.pi))
            return v, v
        p = self._parameter()
        x = self.values[p]
        a, b = float(self.rng.uniform(0.5, 2.0)), float(self.rng.uniform(-1, 1))
        if kind == 2:
            return p, x
        if kind == 3:
            return a * p + b, a * x + b
        return b - p / a, b - x / a


def random_circuit(
    rng: np.random.Generator,
    num_qubits: int,
    num_gates: int,
    *,
    symbolic: bool = True,
    kinds=KINDS,
    max_unitary_qubits: int = 3,
) -> RandomCircuit:
    """A random circuit over every Circuit method, controlled gates through append with
    extra controls and random ctrl_state, dense unitaries (scipy's Haar unitaries) on 1 to
    `max_unitary_qubits` qubits, Parameters, affine expressions and a global phase."""
    n = num_qubits
    angles = _Angles(rng, symbolic)
    c = Circuit(n)
    ops: list = []

    def pick(k):
        return [int(q) for q in rng.permutation(n)[:k]]

    kinds = [k for k in kinds if _min_qubits(k) <= n]
    for _ in range(num_gates):
        kind = kinds[rng.integers(len(kinds))]
        if kind == "1q":
            name, (q,) = ONE_QUBIT[rng.integers(len(ONE_QUBIT))], pick(1)
            getattr(c, name)(q)
            ops.append((name, [q], (), (), None, None))
        elif kind == "1q_rot":
            name, (q,) = ONE_QUBIT_ROT[rng.integers(len(ONE_QUBIT_ROT))], pick(1)
            a, v = angles.draw()
            getattr(c, name)(a, q)
            ops.append((name, [q], (v,), (), None, None))
        elif kind == "u":
            (q,) = pick(1)
            drawn = [angles.draw() for _ in range(3)]
            c.u(*[a for a, _ in drawn], q)
            ops.append(("u", [q], tuple(v for _, v in drawn), (), None, None))
        elif kind == "2q":
            name, qs = TWO_QUBIT[rng.integers(len(TWO_QUBIT))], pick(2)
            getattr(c, name)(*qs)
            ops.append((name, qs, (), (), None, None))
        elif kind == "2q_rot":
            name, qs = TWO_QUBIT_ROT[rng.integers(len(TWO_QUBIT_ROT))], pick(2)
            a, v = angles.draw()
            getattr(c, name)(a, *qs)
            ops.append((name, qs, (v,), (), None, None))
        elif kind == "3q":
            name, qs = THREE_QUBIT[rng.integers(len(THREE_QUBIT))], pick(3)
            getattr(c, name)(*qs)
            ops.append((name, qs, (), (), None, None))
        elif kind == "mcx":
            k = int(rng.integers(1, min(n - 1, 4) + 1))
            qs = pick(k + 1)
            state = None if rng.random() < 0.3 else int(rng.integers(2**k))
            if state is not None and rng.random() < 0.5:
                state = format(state, f"0{k}b")  # bit-string form
            c.mcx(qs[:k], qs[k], ctrl_state=state)
            ops.append(("x", [qs[k]], (), qs[:k], state, None))
        elif kind == "unitary":
            k = int(rng.integers(1, min(n, max_unitary_qubits) + 1))
            qs, u = pick(k), unitary_group.rvs(2**k, random_state=rng)
            c.unitary(u, qs)
            ops.append(("unitary", qs, (), (), None, u))
        elif kind == "append":  # any gate with 1 or 2 extra controls and a random ctrl_state
            names = [g for g, (k, _) in APPENDABLE.items() if k + 1 <= n]
            name = names[rng.integers(len(names))]
            k, num_angles = APPENDABLE[name]
            builtin = {"ccx": 2}.get(
                name, 1 if name in ("cx", "cy", "cz", "ch", "crx", "cry", "crz", "cp", "cswap") else 0
            )
            extra = int(rng.integers(1, min(2, n - k) + 1))
            qs = pick(k + extra)
            drawn = [angles.draw() for _ in range(num_angles)]
            state = int(rng.integers(2 ** (extra + builtin)))
            c.append(name, qs[extra:], [a for a, _ in drawn], controls=qs[:extra], ctrl_state=state)
            ops.append((name, qs[extra:], tuple(v for _, v in drawn), qs[:extra], state, None))
        elif kind == "controlled_unitary":
            k = int(rng.integers(1, min(n - 1, 2) + 1))
            extra = int(rng.integers(1, min(2, n - k) + 1))
            qs, u = pick(k + extra), unitary_group.rvs(2**k, random_state=rng)
            state = int(rng.integers(2**extra))
            c.unitary(u, qs[extra:], controls=qs[:extra], ctrl_state=state)
            ops.append(("unitary", qs[extra:], (), qs[:extra], state, u))
        else:
            raise ValueError(kind)
    phase, phase_value = angles.draw()
    c.global_phase = phase
    params = np.array([angles.values[p] for p in c.parameters], dtype=np.float64)
    return RandomCircuit(c, params, ops, phase_value)


def _min_qubits(kind: str) -> int:
    return {"2q": 2, "2q_rot": 2, "3q": 3, "mcx": 2, "append": 2, "controlled_unitary": 2}.get(kind, 1)


def haar_state(rng: np.random.Generator, num_qubits: int) -> np.ndarray:
    """A Haar-random normalized state [2**num_qubits] complex128."""
    v = rng.normal(size=2**num_qubits) + 1j * rng.normal(size=2**num_qubits)
    return v / np.linalg.norm(v)


def random_pauli_terms(rng: np.random.Generator, num_qubits: int, num_terms: int, *, complex_coeffs: bool = False):
    """[(label, coeff), ...] with random labels over IXYZ (Qiskit order) and coefficients in [-1, 1]."""
    terms = []
    for _ in range(num_terms):
        label = "".join(rng.choice(list("IXYZ"), size=num_qubits))
        coeff = float(rng.uniform(-1, 1))
        if complex_coeffs:
            coeff = complex(coeff, float(rng.uniform(-1, 1)))
        terms.append((label, coeff))
    return terms
