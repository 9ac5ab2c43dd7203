"""Where a QuantumLayer runs.

A backend is any object with

    layer_outputs(layer, inputs) -> outputs

taking a QuantumLayer and inputs [batch, num_features] (a floating-point torch tensor, already
checked by the layer) and returning outputs [batch, num_outputs] with autograd to the inputs and
to the layer's weights, scales and output_scale. Three exist:

    simulator.SimulatorBackend   the C++ BatchPlan: one call per batch, adjoint gradients (default)
    executor.QiskitExecutor      any Qiskit BackendV2 or V2 primitive: one job per batch, parameter shift
    shots.ShotSimulator          the C++ simulator measured with finite shots (binomial / multinomial draws of
                                 every parameter-shifted row): training through shots at simulator speed

The Qiskit executor is split along its jobs: qiskit_program (circuit rewriting, transpilation,
read-out matrices), qiskit_run (primitives and job submission), gradients (shifted parameter rows
and the chain rule, from nextrl.quantum.shift_rules), torch_function (the autograd Function).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    import torch

__all__ = ["LayerBackend", "QiskitExecutor", "ShotSimulator", "SimulatorBackend", "resolve_backend"]


@runtime_checkable
class LayerBackend(Protocol):
    """What QuantumLayer.forward calls: outputs [B, A] with autograd for inputs [B, F]."""

    def layer_outputs(self, layer, inputs: torch.Tensor) -> torch.Tensor: ...


def resolve_backend(fn: str, backend) -> LayerBackend:
    """The backend object for QuantumLayer(backend=...): None or "simulator" -> the C++ simulator; an
    object with layer_outputs (a QiskitExecutor, ...) -> itself; a Qiskit BackendV2 or V2 primitive ->
    QiskitExecutor(backend) with its defaults (pass a QiskitExecutor to choose shots, seed, ...)."""
    if backend is None or (isinstance(backend, str) and backend == "simulator"):
        from nextrl.quantum.backends.simulator import SIMULATOR

        return SIMULATOR
    accepted = (
        "None, 'simulator', an object with layer_outputs(layer, inputs) (a QiskitExecutor), "
        "a qiskit BackendV2 or a V2 primitive"
    )
    if isinstance(backend, str):
        raise ValueError(f"{fn}: backend must be {accepted}, got '{backend}'")
    if callable(getattr(backend, "layer_outputs", None)):
        return backend
    from nextrl.quantum.backends.executor import QiskitExecutor, is_qiskit_target

    if not is_qiskit_target(backend):
        raise TypeError(
            f"{fn}: backend must be {accepted}, got {type(backend).__module__}.{type(backend).__qualname__}"
        )
    return QiskitExecutor(backend)


def __getattr__(name):  # torch and qiskit are imported when used
    if name == "SimulatorBackend":
        from nextrl.quantum.backends.simulator import SimulatorBackend

        return SimulatorBackend
    if name == "QiskitExecutor":
        from nextrl.quantum.backends.executor import QiskitExecutor

        return QiskitExecutor
    if name == "ShotSimulator":
        from nextrl.quantum.backends.shots import ShotSimulator

        return ShotSimulator
    raise AttributeError(f"module 'nextrl.quantum.backends' has no attribute {name!r}")
