"""ShotSimulator: a QuantumLayer backend that measures with a finite number of shots on nextrl's simulator.

What a Qiskit Estimator or Sampler on a noiseless device returns, at the speed of the C++ simulator, so that
training through shots (parameter shift on sampled read-outs) can be studied on real RL budgets:

- Per batch it builds the rows the QiskitExecutor would submit (gradients.shifted_rows: the unshifted angles
  of every sample and, when a gradient is wanted, every parameter-shifted set, with the exact shift rule of
  each angle occurrence's gate) and runs them all in ONE C++ call of an occurrence circuit (one input
  feature per angle occurrence).
- Each row's read-out is then MEASURED: an expectation value read-out sum_t c_t <P_t> gets, per Pauli string
  P_t, an estimate 2 k / shots - 1 with k ~ Binomial(shots, (1 + <P_t>) / 2) (P_t measured in its eigenbasis,
  `shots` shots per string, as an Estimator measures each term); a probability read-out gets counts ~
  Multinomial(shots, p) / shots (a Sampler). Every row is drawn independently, so the parameter-shift
  gradient is an unbiased estimate of the exact one, with variance sum_rows coeff^2 Var[row] (O(1 / shots)).
- Gradients (gradients.contract_rows, gradients.chain_rule) and the autograd Function
  (torch_function.QiskitLayerFunction) are the Qiskit executor's: only the job is replaced.

Randomness: one NumPy generator seeded with `seed`; a batch draws its shots in a fixed order, so a run is
reproducible from the seed.
"""

from __future__ import annotations

import numbers
import weakref

import numpy as np

from nextrl._checks import check_seed
from nextrl.quantum.backends.executor import _as_array
from nextrl.quantum.backends.gradients import contract_rows, shifted_rows
from nextrl.quantum.backends.qiskit_program import Program, occurrence_angles
from nextrl.quantum.circuit import Circuit
from nextrl.quantum.parameters import Parameter
from nextrl.quantum.shift_rules import gate_rule
from nextrl.quantum.variational import Feature, VariationalCircuit, Weight

__all__ = ["ShotSimulator"]


def _compile(vc: VariationalCircuit):
    """(Program with the occurrence structure of `vc`, occurrence circuit, read-out matrix [1 + T, A] or None):
    the occurrence circuit takes one feature per angle occurrence and reads out the T distinct non-identity
    Pauli strings of vc's observables (or vc's probabilities); outputs = [1, strings] @ matrix."""
    slots = {p: i for i, p in enumerate(vc.circuit.parameters)}
    occ_slot, occ_scale, occ_offset, occ_rules, sources = [], [], [], [], {}

    def occurrence(angle, rule):
        if isinstance(angle, Parameter):
            slot, a, b = slots[angle], 1.0, 0.0
        else:
            slot, a, b = slots[angle.parameter], angle.scale, angle.offset
        p = Parameter(f"theta{len(occ_slot)}")
        sources[p] = Feature(len(occ_slot))
        occ_slot.append(slot)
        occ_scale.append(a)
        occ_offset.append(b)
        occ_rules.append(rule)
        return p

    c = Circuit(vc.num_qubits, name=vc.circuit.name)
    gp = vc.circuit.global_phase
    c.global_phase = gp if isinstance(gp, float) else 0.0  # a symbolic phase changes no output
    for ins in vc.circuit:
        if ins.base == "unitary":
            c.unitary(ins.matrix, ins.targets, controls=ins.controls, ctrl_state=ins.ctrl_state, atol=1e-8)
            continue
        params = [
            v if isinstance(v, float) else occurrence(v, gate_rule(ins.base, len(ins.controls), i))
            for i, v in enumerate(ins.params)
        ]
        c.append(ins.base, ins.targets, params, controls=ins.controls, ctrl_state=ins.ctrl_state)
    K = len(occ_slot)
    if vc.observables is not None:
        identity = "I" * vc.num_qubits
        strings: list[str] = []
        terms = []
        for a, o in enumerate(vc.observables):
            op = o.to_sparse_pauli_op().simplify(atol=0.0)
            for label, coeff in zip(op.paulis.to_labels(), op.coeffs):
                if abs(coeff.imag) > 1e-12:
                    raise ValueError(f"ShotSimulator: observable {a} must be Hermitian, got coefficient {coeff}")
                if label != identity and label not in strings:
                    strings.append(label)
                terms.append((a, label, float(coeff.real)))
        matrix = np.zeros((1 + len(strings), vc.num_outputs))
        for a, label, coeff in terms:
            matrix[0 if label == identity else 1 + strings.index(label), a] += coeff
        occ = VariationalCircuit(c, sources, observables=strings or [identity], num_features=K)
        if not strings:
            matrix = np.vstack([matrix, np.zeros((1, vc.num_outputs))])
    else:
        matrix = None
        occ = VariationalCircuit(c, sources, probabilities=vc.probability_qubits, num_features=K)
    kinds, idx, sc = [], [], []
    for p in vc.circuit.parameters:
        src = vc.sources[p]
        if isinstance(src, Weight):
            kinds.append(0), idx.append(src.index), sc.append(-1)
        elif src.scale is None:
            kinds.append(1), idx.append(src.index), sc.append(-1)
        else:
            kinds.append(2), idx.append(src.index), sc.append(src.scale)
    prog = Program(
        kind="shots",
        isa_circuit=None,
        observables=None,
        readout=matrix,
        columns=np.arange(K, dtype=np.int64),
        occ_slot=np.array(occ_slot, dtype=np.int64),
        occ_scale=np.array(occ_scale, dtype=np.float64),
        occ_offset=np.array(occ_offset, dtype=np.float64),
        occ_rules=tuple(occ_rules),
        slot_kind=np.array(kinds, dtype=np.int64),
        slot_index=np.array(idx, dtype=np.int64),
        slot_scale=np.array(sc, dtype=np.int64),
        clbits=None,
        num_outputs=vc.num_outputs,
    )
    return prog, occ


class ShotSimulator:
    """A QuantumLayer backend (`QuantumLayer(vc, backend=ShotSimulator(shots=100, seed=0))`): outputs and
    parameter-shift gradients measured with `shots` shots per circuit evaluation on nextrl's simulator.

    Args:
        shots: shots per Pauli string (expectation read-outs) or per circuit (probability read-outs), >= 1.
        seed: seeds the shot sampling (an int in [0, 2**64) or None for fresh entropy).

    Attributes:
        num_jobs: batches run so far (one per forward pass, gradients included).
        num_circuits: circuit evaluations so far (rows: samples times 1 + the shifted sets).
    """

    def __init__(self, shots: int = 1000, *, seed: int | None = None):
        fn = "ShotSimulator"
        if isinstance(shots, bool) or not isinstance(shots, numbers.Integral) or shots < 1:
            raise ValueError(f"{fn}: shots must be an int >= 1, got {shots!r}")
        self.shots = int(shots)
        self.seed = check_seed(fn, seed, or_none=True)
        self.rng = np.random.default_rng(self.seed)
        self.num_jobs = 0
        self.num_circuits = 0
        self._programs: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def __repr__(self) -> str:
        return f"ShotSimulator(shots={self.shots}, seed={self.seed}, jobs={self.num_jobs})"

    def __getstate__(self) -> dict:
        """Copies and pickles keep shots, seed, counters and the generator's state, not the compiled cache."""
        state = self.__dict__.copy()
        state["_programs"] = None
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._programs = weakref.WeakKeyDictionary()

    def _compiled(self, vc: VariationalCircuit):
        if not isinstance(vc, VariationalCircuit):
            raise TypeError(f"ShotSimulator: expected a VariationalCircuit, got {type(vc).__name__}")
        hit = self._programs.get(vc)
        if hit is None:
            hit = _compile(vc)
            self._programs[vc] = hit
        return hit

    def program(self, vc: VariationalCircuit) -> Program:
        """The occurrence structure of `vc` (angle occurrences, shift rules, slots), built once and cached."""
        return self._compiled(vc)[0]

    def _arrays(self, fn: str, vc: VariationalCircuit, inputs, weights, scales):
        x = _as_array(fn, "inputs", inputs, 2, (None, vc.num_features))
        w = _as_array(fn, "weights", weights, 1, (vc.num_weights,))
        s = _as_array(fn, "scales", scales, 1, (vc.num_scales,))
        return x, w, s

    def measure(self, exact: np.ndarray, probabilities: bool) -> np.ndarray:
        """Shot estimates of exact read-outs [R, T]: Pauli strings (+-1 outcomes) or probabilities (rows)."""
        n = self.shots
        if probabilities:
            p = np.clip(exact, 0.0, None)
            p /= p.sum(axis=1, keepdims=True)
            return self.rng.multinomial(n, p) / n
        return 2.0 * self.rng.binomial(n, np.clip((1.0 + exact) / 2.0, 0.0, 1.0)) / n - 1.0

    def run_batch(self, vc: VariationalCircuit, x, w, s, shift: np.ndarray | None):
        """One batch: outputs [B, A] and, for the occurrences where `shift` [K] is True, d outputs / d theta_k
        [B, K, A] (None when nothing is shifted), all from shot estimates."""
        prog, occ = self._compiled(vc)
        B = x.shape[0]
        rows, C = shifted_rows(occurrence_angles(prog, x, w, s), prog.occ_rules, shift)
        flat = np.ascontiguousarray(rows.reshape(B * rows.shape[1], rows.shape[2]))
        exact = occ.plan.forward(flat, np.zeros(0), np.zeros(0), "float64")
        measured = self.measure(exact, prog.readout is None)
        self.num_jobs += 1
        self.num_circuits += flat.shape[0]
        out = measured if prog.readout is None else measured @ prog.readout[1:] + prog.readout[0]
        return contract_rows(out.reshape(B, rows.shape[1], -1), C, shift is not None)

    def layer_outputs(self, layer, x, fn: str = "QuantumLayer.forward"):
        """The backend protocol: outputs [B, A] of `layer` for inputs x [B, F], autograd by parameter shift on
        the same shots (forward and backward of a batch are one batch of rows); output_scale in torch."""
        import torch

        from nextrl.quantum.backends.torch_function import QiskitLayerFunction

        grad = torch.is_grad_enabled()
        needs = tuple(grad and t.requires_grad for t in (x, layer.weights, layer.scales))
        out = QiskitLayerFunction.apply(
            x.to(layer.weights.dtype), layer.weights, layer.scales, self, layer.circuit, needs, fn
        )
        if layer.output_scale is not None:
            out = out * layer.output_scale
        return out
