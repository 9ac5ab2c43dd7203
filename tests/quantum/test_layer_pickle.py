"""A QuantumLayer (and its VariationalCircuit) deep-copies, pickles and goes through torch.save / torch.load of the
whole module: the compiled C++ plan is left out of the state and rebuilt from the circuit, so the copy gives the
same outputs and gradients as the original and trains independently of it. A DQN target network made by
deep copy of a QuantumLayer Q-network works."""

from __future__ import annotations

import copy
import io
import pickle

import gymnasium as gym
import numpy as np
import pytest
import torch

from nextrl.agents import dqn
from nextrl.quantum import QuantumLayer
from nextrl.quantum.ansatz import hardware_efficient, skolik_reuploading

torch.set_num_threads(1)


def _torch_roundtrip(layer):
    buf = io.BytesIO()
    torch.save(layer, buf)
    buf.seek(0)
    return torch.load(buf, weights_only=False)


COPIES = {
    "deepcopy": copy.deepcopy,
    "pickle": lambda m: pickle.loads(pickle.dumps(m)),
    "torch.save": _torch_roundtrip,
}


def _outputs_and_grads(layer, x):
    x = x.clone().requires_grad_(True)
    out = layer(x)
    (out * torch.arange(1.0, out.shape[1] + 1, dtype=out.dtype)).sum().backward()
    grads = {n: p.grad.clone() for n, p in layer.named_parameters()}
    layer.zero_grad()
    return out.detach(), x.grad, grads


@pytest.mark.parametrize("how", list(COPIES))
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_copy_gives_identical_outputs_and_gradients(how, dtype):
    gen = torch.Generator().manual_seed(0)
    layer = QuantumLayer(skolik_reuploading(4, 2), output_scaling=True, dtype=dtype, generator=gen)
    with torch.no_grad():  # not the initial values, so that a copy of the state is what is compared
        layer.scales.uniform_(0.5, 1.5, generator=gen)
        layer.output_scale.uniform_(0.5, 1.5, generator=gen)
    x = torch.randn(5, 4, generator=gen, dtype=dtype)
    layer(x)  # fills the layer's caches before the copy
    other = COPIES[how](layer)
    assert other.circuit is not layer.circuit and other.circuit.plan is not layer.circuit.plan
    out_a, dx_a, g_a = _outputs_and_grads(layer, x)
    out_b, dx_b, g_b = _outputs_and_grads(other, x)
    torch.testing.assert_close(out_b, out_a, rtol=0, atol=0)
    torch.testing.assert_close(dx_b, dx_a, rtol=0, atol=0)
    assert g_a.keys() == g_b.keys() == {"weights", "scales", "output_scale"}
    for name in g_a:
        torch.testing.assert_close(g_b[name], g_a[name], rtol=0, atol=0)


@pytest.mark.parametrize("how", list(COPIES))
def test_copy_is_independent_of_the_original(how):
    layer = QuantumLayer(hardware_efficient(3, 2), dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    x = torch.rand(4, 3, dtype=torch.float64)
    before = layer(x).detach()
    other = COPIES[how](layer)
    with torch.no_grad():
        other.weights.add_(0.3)  # in place, as an optimizer step
    torch.testing.assert_close(layer(x), before, rtol=0, atol=0)
    assert not torch.allclose(other(x), before)
    with torch.no_grad():
        layer.weights.add_(0.3)
    torch.testing.assert_close(layer(x), other(x), rtol=0, atol=0)


def test_variational_circuit_pickles_with_its_plan_rebuilt():
    vc = skolik_reuploading(4, 3, observables=["ZZZZ", "IXYI"])
    vc.circuit.compile()  # a cached plan on the inner Circuit does not stop pickling
    other = pickle.loads(pickle.dumps(vc))
    rng = np.random.default_rng(2)
    x, w, s = rng.normal(size=(6, 4)), rng.normal(size=vc.num_weights), rng.normal(size=vc.num_scales)
    np.testing.assert_allclose(other.forward(x, w, s), vc.forward(x, w, s), rtol=0, atol=0)
    g = rng.normal(size=(6, 2))
    for a, b in zip(other.vjp(x, w, s, g), vc.vjp(x, w, s, g)):
        np.testing.assert_allclose(a, b, rtol=0, atol=0)
    assert other.num_outputs == vc.num_outputs and repr(other.observables[1]) == repr(vc.observables[1])


def test_probability_readout_pickles():
    c = hardware_efficient(3, 1)
    from nextrl.quantum.variational import VariationalCircuit

    vc = VariationalCircuit(c.circuit, c.sources, probabilities=[0, 2])
    layer = QuantumLayer(vc, dtype=torch.float64)
    x = torch.rand(3, 3, dtype=torch.float64)
    torch.testing.assert_close(copy.deepcopy(layer)(x), layer(x), rtol=0, atol=0)


def test_dqn_target_network_is_a_deep_copy_of_a_quantum_q_network():
    layer = QuantumLayer(skolik_reuploading(4, 2), output_scaling=True, generator=torch.Generator().manual_seed(3))
    initial = copy.deepcopy(layer.state_dict())
    cfg = dqn.DQNConfig(
        total_timesteps=200,
        learning_starts=50,
        batch_size=16,
        train_frequency=4,
        gradient_steps=2,
        target_network_frequency=6,
    )
    env = gym.make_vec("CartPole-v1", num_envs=2, vectorization_mode="sync")
    r = dqn.train(env, cfg, seed=0, q_network=layer)
    target = r.modules["target_network"]
    assert isinstance(target, QuantumLayer) and target is not layer
    assert all(not p.requires_grad for p in target.parameters())
    assert any(not torch.equal(initial[k], v) for k, v in layer.state_dict().items())  # the online net learned
    # the target was synced (target_network_frequency 6 < 12 gradient steps) and computes with its own plan
    assert any(not torch.equal(initial[k], v) for k, v in target.state_dict().items())
    x = torch.randn(7, 4)
    fresh = QuantumLayer(skolik_reuploading(4, 2), output_scaling=True)
    fresh.load_state_dict(target.state_dict())
    torch.testing.assert_close(target(x), fresh(x), rtol=0, atol=0)
