"""Run and estimate: which primitive a target is, the primitives built on a BackendV2, and the
submission of one PUB per batch with its raw results (expectation values or probabilities)."""

from __future__ import annotations

import inspect
import math

import numpy as np

__all__ = ["ACCEPTED", "backend_primitive", "primitive_backend", "primitive_kind", "probabilities", "submit"]

ACCEPTED = (
    "a qiskit BackendV2 (hardware, fake IBM backends, GenericBackendV2, AerSimulator), "
    "an EstimatorV2 or a SamplerV2 primitive (BackendEstimatorV2 / BackendSamplerV2, "
    "qiskit_aer.primitives EstimatorV2 / SamplerV2, qiskit_ibm_runtime EstimatorV2 / SamplerV2, "
    "StatevectorEstimator / StatevectorSampler, or any object whose run(pubs) takes "
    "`precision` (estimator) or `shots` (sampler))"
)


def primitive_kind(obj) -> str | None:
    """ "estimator", "sampler" or None (not a V2 primitive)."""
    from qiskit.primitives import BaseEstimatorV2, BaseSamplerV2

    if isinstance(obj, BaseEstimatorV2):
        return "estimator"
    if isinstance(obj, BaseSamplerV2):
        return "sampler"
    run = getattr(obj, "run", None)
    if not callable(run):
        return None
    try:
        params = inspect.signature(run).parameters
    except (TypeError, ValueError):
        return None
    if "precision" in params:
        return "estimator"
    if "shots" in params:
        return "sampler"
    return None


def primitive_backend(primitive):
    """The BackendV2 a primitive runs on, when it exposes one (BackendEstimatorV2.backend,
    IBM Runtime's backend(), Aer's internal simulator), else None."""
    from qiskit.providers import BackendV2

    for name in ("backend", "_backend"):
        b = getattr(primitive, name, None)
        if b is not None and not isinstance(b, BackendV2) and callable(b):
            try:
                b = b()
            except Exception:  # a backend() that needs a service or arguments: not usable here
                b = None
        if isinstance(b, BackendV2):
            return b
    return None


def backend_primitive(kind: str, backend, seed: int | None):
    """A BackendEstimatorV2 or BackendSamplerV2 on `backend`, its simulator seeded with `seed`."""
    if kind == "estimator":
        from qiskit.primitives import BackendEstimatorV2

        return BackendEstimatorV2(backend=backend, options={"seed_simulator": seed})
    from qiskit.primitives import BackendSamplerV2

    return BackendSamplerV2(backend=backend, options={"seed_simulator": seed})


def submit(primitive, prog, values: np.ndarray, shots: int | None):
    """Submits ONE PUB with parameter values [R, P] to `primitive`; returns (raw results [R, A_raw], job).
    An Estimator gets precision 1 / sqrt(shots); a Sampler `shots` shots (None: the primitive's default)."""
    R = values.shape[0]
    if prog.kind == "estimator":
        obs = list(prog.observables)
        if prog.isa_circuit.num_parameters == 0:
            pub = (prog.isa_circuit, obs)  # identical rows: run once, broadcast
        else:
            pub = (prog.isa_circuit, obs, values[:, None, :])  # [R, 1] x [A] -> [R, A]
        if shots is not None:
            pub = pub + ((None,) if len(pub) == 2 else ()) + (1.0 / math.sqrt(shots),)
        job = primitive.run([pub])
        evs = np.asarray(job.result()[0].data.evs, dtype=np.float64)
        return np.broadcast_to(evs.reshape(-1, len(obs)), (R, len(obs))), job
    pub = (prog.isa_circuit,) if prog.isa_circuit.num_parameters == 0 else (prog.isa_circuit, values)
    if shots is not None:
        pub = pub + ((None,) if len(pub) == 1 else ()) + (shots,)
    job = primitive.run([pub])
    bits = getattr(job.result()[0].data, prog.clbits)
    probs = probabilities(bits)
    return np.broadcast_to(probs.reshape(-1, probs.shape[-1]), (R, probs.shape[-1])), job


def probabilities(bits) -> np.ndarray:
    """BitArray of shape [R] -> probabilities [R, 2**num_bits] (bit j of a column is clbit j)."""
    arr = np.asarray(bits.array)  # [R, shots, bytes], big-endian bytes
    num_bytes = arr.shape[-1]
    ints = np.zeros(arr.shape[:-1], dtype=np.int64)
    for i in range(num_bytes):
        ints = (ints << 8) | arr[..., i].astype(np.int64)
    R, shots = ints.reshape(-1, ints.shape[-1]).shape
    size = 1 << bits.num_bits
    flat = (np.arange(R)[:, None] * size + ints.reshape(R, shots)).ravel()
    return np.bincount(flat, minlength=R * size).reshape(R, size) / shots
