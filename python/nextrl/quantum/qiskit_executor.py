"""The Qiskit executor's old home: its parts now live in nextrl.quantum.backends (executor,
qiskit_program, qiskit_run, gradients, torch_function). These names stay importable from here."""

from nextrl.quantum.backends.executor import QiskitExecutor
from nextrl.quantum.backends.gradients import SHIFT_RULES, shift_rule

__all__ = ["SHIFT_RULES", "QiskitExecutor", "shift_rule"]
