"""Statevector quantum simulation: circuits, states, observables and the Qiskit bridge."""

from nextrl.quantum.circuit import Circuit, Instruction
from nextrl.quantum.observables import PauliSum
from nextrl.quantum.parameters import Parameter, ParameterExpression
from nextrl.quantum.qiskit_bridge import from_qiskit
from nextrl.quantum.statevector import Statevector

__all__ = ["Circuit", "Instruction", "Parameter", "ParameterExpression", "PauliSum", "Statevector", "from_qiskit"]
