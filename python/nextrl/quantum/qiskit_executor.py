"""The Qiskit executor's old home: its parts now live in nextrl.quantum.backends (executor,
qiskit_program, qiskit_run, gradients, torch_function). These names stay importable from here."""

from nextrl.quantum.backends.executor import QiskitExecutor
from nextrl.quantum.backends.gradients import SHIFT_RULES, shift_rule
from nextrl.quantum.backends.qiskit_program import Program as _Program
from nextrl.quantum.backends.qiskit_program import decompose_parameterized_controls as _decompose_parameterized_controls
from nextrl.quantum.backends.qiskit_run import probabilities as _probabilities

__all__ = ["QiskitExecutor", "SHIFT_RULES", "shift_rule"]
