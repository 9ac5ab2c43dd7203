"""Network blocks: shapes, the GRU core's episode resets against a step-by-step GRUCell, policy heads'
log_prob / entropy against closed forms, ActorCritic with user modules, and every error."""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest
import torch
from torch import nn

from nextrl.agents import networks as nw


def test_grid_cnn_shapes_and_errors():
    torch.manual_seed(0)
    net = nw.GridCNN(3, 8, 8, 5)
    assert net(torch.zeros(4, 3, 8, 8)).shape == (4, 5)
    with pytest.raises(ValueError, match=r"GridCNN: input must have shape \[B, 3, 8, 8\], got \[4, 3, 8, 7\]"):
        net(torch.zeros(4, 3, 8, 7))
    with pytest.raises(ValueError, match="GridCNN: in_channels, height, width and out_dim must be >= 1"):
        nw.GridCNN(0, 8, 8, 5)


def test_gru_core_resets_hidden_state_at_episode_starts():
    torch.manual_seed(0)
    core = nw.GRUCore(3, 4)
    x = torch.randn(5, 2, 3)
    starts = torch.zeros(5, 2, dtype=torch.bool)
    starts[2, 0] = True  # env 0 begins a new episode at t = 2
    h0 = torch.randn(2, 4)
    out, h = core(x, h0, starts)
    assert out.shape == (5, 2, 4) and torch.equal(h, out[-1])
    # reference: env 0 runs t = 0, 1 from h0, then t = 2.. from zeros; env 1 straight through
    ref0 = h0[0:1]
    for t in range(5):
        ref0 = core.cell(x[t, 0:1], torch.zeros(1, 4) if t == 2 else ref0)
        np.testing.assert_allclose(out[t, 0].detach().numpy(), ref0[0].detach().numpy(), rtol=1e-6, atol=1e-6)
    ref1 = h0[1:2]
    for t in range(5):
        ref1 = core.cell(x[t, 1:2], ref1)
    np.testing.assert_allclose(out[-1, 1].detach().numpy(), ref1[0].detach().numpy(), rtol=1e-6, atol=1e-6)
    assert core.initial_state(3).shape == (3, 4)
    with pytest.raises(ValueError, match=r"GRUCore: inputs must be \[T, B, in_dim\]"):
        core(x[0], h0)
    with pytest.raises(ValueError, match=r"GRUCore: hidden must have shape \[2, 4\], got \[2, 3\]"):
        core(x, torch.zeros(2, 3))
    with pytest.raises(ValueError, match=r"GRUCore: starts must have shape \[5, 2\], got \[5\]"):
        core(x, h0, starts[:, 0])
    with pytest.raises(ValueError, match="GRUCore: in_dim and hidden_dim must be >= 1"):
        nw.GRUCore(0, 4)


def test_categorical_head_closed_form():
    logits = torch.tensor([[0.0, math.log(3.0)]])  # p = [0.25, 0.75]
    d = nw.CategoricalHead(2)(logits)
    np.testing.assert_allclose(d.log_prob(torch.tensor([1])).numpy(), [math.log(0.75)], rtol=1e-6)
    np.testing.assert_allclose(d.entropy().numpy(), [-(0.25 * math.log(0.25) + 0.75 * math.log(0.75))], rtol=1e-6)
    assert int(d.mode) == 1
    with pytest.raises(ValueError, match=r"CategoricalHead: actor output must have 3 logits.*got shape \[1, 2\]"):
        nw.CategoricalHead(3)(logits)


def test_diag_gaussian_head_closed_form():
    head = nw.DiagGaussianHead(2, log_std_init=math.log(2.0))
    mean = torch.tensor([[0.0, 1.0]])
    d = head(mean)
    a = torch.tensor([[1.0, 1.0]])
    # sum over dims of log N(a; mu, 2^2) = -0.5 * (1/4 + 0) - 2 log 2 - log(2 pi)
    np.testing.assert_allclose(
        d.log_prob(a).detach().numpy(), [-0.125 - 2 * math.log(2) - math.log(2 * math.pi)], rtol=1e-6
    )
    # entropy of a d-dim diagonal Gaussian: sum(0.5 log(2 pi e) + log sigma)
    np.testing.assert_allclose(
        d.entropy().detach().numpy(), [2 * (0.5 * math.log(2 * math.pi * math.e) + math.log(2))], rtol=1e-6
    )
    np.testing.assert_array_equal(d.mode.numpy(), mean.numpy())
    d.log_prob(a).sum().backward()
    assert head.log_std.grad is not None  # the log-std is learned
    with pytest.raises(ValueError, match="DiagGaussianHead: actor output must have 2 means"):
        head(torch.zeros(1, 3))


def test_head_for_and_default_actor_critic():
    box_obs = gym.spaces.Box(-1, 1, (4,))
    assert isinstance(nw.head_for(gym.spaces.Discrete(3)), nw.CategoricalHead)
    assert isinstance(nw.head_for(gym.spaces.Box(-1, 1, (2,))), nw.DiagGaussianHead)
    with pytest.raises(TypeError, match="head_for: action space must be Discrete or a 1-D Box"):
        nw.head_for(gym.spaces.MultiBinary(3))
    torch.manual_seed(0)
    ac = nw.default_actor_critic(box_obs, gym.spaces.Discrete(3))
    obs = torch.randn(5, 4)
    assert ac.value(obs).shape == (5,) and ac.act(obs).shape == (5,)
    img = nw.default_actor_critic(gym.spaces.Box(0, 1, (2, 6, 6)), gym.spaces.Box(-1, 1, (2,)))
    assert isinstance(img.actor, nw.GridCNN) and img.act(torch.zeros(3, 2, 6, 6)).shape == (3, 2)
    # any nn.Module serves as the actor or critic
    actor, critic = nn.Linear(4, 3), nn.Linear(4, 1)
    user = nw.default_actor_critic(box_obs, gym.spaces.Discrete(3), actor=actor, critic=critic)
    assert user.actor is actor and user.critic is critic
    assert nw.default_actor_critic(box_obs, gym.spaces.Discrete(3), with_critic=False).critic is None
    with pytest.raises(TypeError, match="default_actor_critic: actor must be a torch.nn.Module, got function"):
        nw.default_actor_critic(box_obs, gym.spaces.Discrete(3), actor=lambda x: x)
    with pytest.raises(TypeError, match="default_actor_critic: observation space must be a Box"):
        nw.default_actor_critic(gym.spaces.Discrete(3), gym.spaces.Discrete(3))
    with pytest.raises(TypeError, match="ActorCritic: critic must be a torch.nn.Module, got int"):
        nw.ActorCritic(actor, 3, nw.CategoricalHead(3))
