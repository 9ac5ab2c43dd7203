"""Statevector quantum simulation: circuits, states, observables and the Qiskit bridge."""

from nextrl.quantum.circuit import Circuit, Instruction
from nextrl.quantum.observables import PauliSum
from nextrl.quantum.parameters import Parameter, ParameterExpression
from nextrl.quantum.qiskit_bridge import from_qiskit
from nextrl.quantum.statevector import Statevector
from nextrl.quantum.variational import Feature, VariationalCircuit, Weight

__all__ = [
    "Circuit",
    "Feature",
    "Instruction",
    "Parameter",
    "ParameterExpression",
    "PauliSum",
    "QuantumLayer",
    "Statevector",
    "VariationalCircuit",
    "Weight",
    "from_qiskit",
]


def __getattr__(name):  # torch is imported only when the layer is used
    if name == "QuantumLayer":
        from nextrl.quantum.torch_layer import QuantumLayer

        return QuantumLayer
    if name == "QiskitExecutor":  # qiskit-ibm-runtime stays optional: imported only by callers
        from nextrl.quantum.qiskit_executor import QiskitExecutor

        return QiskitExecutor
    raise AttributeError(f"module 'nextrl.quantum' has no attribute {name!r}")
