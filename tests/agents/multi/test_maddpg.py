"""MADDPG: critic and actor losses against hand-computed values on a tiny batch (linear critics and actors, so
every term is written out), the straight-through Gumbel-softmax (one-hot forward, softmax gradient), the
per-agent ensemble against separate networks, discrete training that never crashes, learning, and errors.
Communicating actors (CommActor on a CommNet): agent i's logits move with agent j's observation only with
communication on, and agent 0's actor loss reaches agent 1's observation only through the messages; MADDPG trains
every parameter of the CommNet; with CommNet actors on the same predator-prey budget (10,000 env steps) greedy
predators capture 1.0 / 0.99 (seeds 0 / 1) against random 0.175 / 0.14 (200 episodes each).

Learning (predator-prey of test_predator_prey: 2 predators, capture needs both within distance 1; discrete
actions through the Gumbel-softmax): greedy MADDPG predators capture far more often than random ones after
10,000 env steps. Measured (200 episodes): seed 0 1.0 against random 0.175, seed 1 0.985 against 0.165.
Continuous (PointMassTeam cooperative: reach the origin together, 50 steps; 12,000 env steps): team return -72.9 /
-66.9 (seeds 0 / 1) against random -107.0 / -107.6 and zero actions -106.2 / -106.3.

simple_spread (3 agents, discrete, each agent's own reward; slow): team return (mean over agents, summed over the
25 steps, 200 episodes) after 25,000 env steps -18.8 / -19.8 (seeds 0 / 1) against no-op -23.2 / -23.4 and random
-26.5 / -25.7; after 60,000 steps -16.9 (seed 0). MAPPO needs far more samples there (test_mappo_learning)."""

from __future__ import annotations

import copy
import math

import gymnasium as gym
import numpy as np
import pytest
import torch

from nextrl.agents.multi import common, maddpg
from nextrl.agents.multi.commnet import CommNet
from nextrl.agents.multi.dial import DIAL
from nextrl.agents.multi.maddpg import AgentEnsemble, MADDPGConfig, MADDPGNetworks
from nextrl.agents.replay import ReplayBatch
from nextrl.marl import PointMassTeamVectorEnv, PredatorPreyVectorEnv, SimpleSpreadVectorEnv

BOX = gym.spaces.Box(-1.0, 1.0, (1,), np.float32)


def set_linear(ens: AgentEnsemble, weights, biases) -> None:
    """A hidden-less AgentEnsemble: out_i = x . weights[i] + biases[i] (one output)."""
    with torch.no_grad():
        ens.weights[0].copy_(torch.tensor(weights, dtype=torch.float32).unsqueeze(-1))
        ens.biases[0].copy_(torch.tensor(biases, dtype=torch.float32).view(-1, 1, 1))


def tiny_nets() -> MADDPGNetworks:
    """2 agents, obs_size 1, Box(1) actions; critic input x = [o1, o2, a1, a2].
    Online critics Q_0 = o1 + 2 a1 + a2, Q_1 = o2 + 3 a2 + 0.5; target critics Q'_0 = a1 + a2, Q'_1 = o1 - o2.
    Actors (online and target): pre_0 = 0.5 o1, pre_1 = -o2, actions tanh(pre)."""
    nets = MADDPGNetworks(1, BOX, 2, hidden=())
    set_linear(nets.critic, [[1, 0, 2, 1], [0, 1, 0, 3]], [0.0, 0.5])
    set_linear(nets.critic_target, [[0, 0, 1, 1], [1, -1, 0, 0]], [0.0, 0.0])
    for actor in (nets.actor, nets.actor_target):
        set_linear(actor, [[0.5], [-1.0]], [0.0, 0.0])
    return nets


def tiny_batch() -> ReplayBatch:
    """Two joint transitions; in the second, agent 1 is inactive (finished earlier). Rows [obs, active]."""
    return ReplayBatch(
        obs=torch.tensor([[[0.5, 1.0], [-1.0, 1.0]], [[0.0, 1.0], [1.0, 0.0]]]),
        actions=torch.tensor([[[0.2], [-0.4]], [[-0.5], [0.0]]]),
        rewards=torch.tensor([[1.0, 0.0], [-1.0, 0.0]]),
        next_obs=torch.tensor([[[1.0, 1.0], [2.0, 1.0]], [[0.0, 1.0], [0.0, 0.0]]]),
        terminations=torch.tensor([[0.0, 1.0], [0.0, 0.0]]),
        discounts=torch.tensor([0.9, 0.9]),
        weights=torch.ones(2),
        indices=np.arange(2),
    )


def test_critic_loss_hand_computed():
    t = math.tanh
    # transition 1: a' = (tanh(0.5), tanh(-2)); Q'_0 = a'_0 + a'_1; y_0 = 1 + 0.9 Q'_0; agent 1 terminated: y_1 = 0
    y0 = 1.0 + 0.9 * (t(0.5) + t(-2.0))
    q0, q1 = 0.5 + 2 * 0.2 - 0.4, -1.0 + 3 * (-0.4) + 0.5
    # transition 2: a' = (0, 0), y_0 = -1 + 0.9 * 0; Q_0 = 0 - 1 + 0 = -1; agent 1 inactive: not counted
    expected = ((q0 - y0) ** 2 + (q1 - 0.0) ** 2 + (-1.0 - -1.0) ** 2) / 3
    loss, stats = maddpg.critic_loss(tiny_nets(), tiny_batch(), MADDPGConfig())
    assert float(loss.detach()) == pytest.approx(expected, abs=1e-6)
    assert stats["losses/critic"] == pytest.approx(expected, abs=1e-6)


def test_actor_loss_hand_computed():
    t = math.tanh
    cfg = MADDPGConfig(actor_reg=1e-3)
    nets = tiny_nets()
    # transition 1: agent 0's own action tanh(0.25), agent 1's from replay (-0.4); agent 1's own tanh(1)
    q0 = 0.5 + 2 * t(0.25) + (-0.4)
    q1 = -1.0 + 3 * t(1.0) + 0.5
    # transition 2: agent 0: 0 + 2 tanh(0) + 0 (agent 1's replayed action); agent 1 inactive
    pg = -(q0 + q1 + 0.0) / 3
    reg = 1e-3 * (0.25**2 + 1.0**2 + 0.0**2 + 1.0**2) / 4  # pre-activations 0.5 o1, -o2 of both transitions
    loss, stats = maddpg.actor_loss(nets, tiny_batch(), cfg)
    assert float(loss.detach()) == pytest.approx(pg + reg, abs=1e-6)
    assert stats["losses/actor"] == pytest.approx(pg, abs=1e-6)
    loss.backward()
    # d loss / d w_0 (pre_0 = w_0 o1): -(2 (1 - tanh(0.25)^2) 0.5 + 0) / 3, plus the reg term 2e-3 w_0 o1^2 / 4
    grad0 = -(2 * (1 - t(0.25) ** 2) * 0.5) / 3 + 1e-3 * 2 * 0.25 * 0.5 / 4
    assert float(nets.actor.weights[0].grad[0, 0, 0]) == pytest.approx(grad0, abs=1e-6)


def test_gumbel_softmax_straight_through():
    torch.manual_seed(0)
    logits = torch.randn(4, 5, dtype=torch.float64, requires_grad=True)
    noise = -torch.log(-torch.log(torch.rand(4, 5, dtype=torch.float64)))
    w = torch.randn(4, 5, dtype=torch.float64)
    for temperature in (1.0, 0.5):
        y = maddpg.gumbel_softmax(logits, temperature, noise)
        hard = torch.nn.functional.one_hot((logits + noise).argmax(-1), 5).double()
        np.testing.assert_array_equal(y.detach().numpy(), hard.numpy())  # forward: exactly one-hot
        (grad,) = torch.autograd.grad((w * y).sum(), logits)
        # backward: that of s = softmax((z + g) / T): d(w . s)/dz_k = s_k (w_k - w . s) / T
        s = torch.softmax((logits + noise) / temperature, -1).detach()
        expected = s * (w - (w * s).sum(-1, keepdim=True)) / temperature
        np.testing.assert_allclose(grad.numpy(), expected.numpy(), rtol=1e-10, atol=1e-12)
    masked = torch.tensor([[0.0, float("-inf"), 0.0]]).expand(1000, 3)
    assert maddpg.gumbel_softmax(masked).argmax(-1).ne(1).all()  # a -inf logit is never sampled


def test_agent_ensemble_equals_separate_networks():
    torch.manual_seed(1)
    ens = AgentEnsemble(3, 2, 4, hidden=(5,))
    x = torch.randn(6, 4, 3)
    out = ens(x)
    shared_ens = AgentEnsemble(3, 2, 4, hidden=(5,), shared_input=True)
    shared_ens.load_state_dict(ens.state_dict())
    shared = shared_ens(x[:, 0])  # one input for every agent
    for i in range(4):
        h = torch.relu(x[:, i] @ ens.weights[0][i] + ens.biases[0][i])
        np.testing.assert_allclose(
            out[:, i].detach().numpy(), (h @ ens.weights[1][i] + ens.biases[1][i]).detach().numpy(), atol=1e-6
        )
        h = torch.relu(x[:, 0] @ ens.weights[0][i] + ens.biases[0][i])
        np.testing.assert_allclose(
            shared[:, i].detach().numpy(), (h @ ens.weights[1][i] + ens.biases[1][i]).detach().numpy(), atol=1e-6
        )
    assert ens(torch.randn(2, 7, 4, 3)).shape == (2, 7, 4, 2)
    assert shared_ens(torch.randn(4, 3)).shape == (4, 4, 2)  # a batch of num_agents rows is still a batch
    with pytest.raises(ValueError, match=r"AgentEnsemble: input must end in \(4, 3\)"):
        ens(torch.randn(6, 4, 2))
    with pytest.raises(ValueError, match="AgentEnsemble: input must end in 3"):
        shared_ens(torch.randn(6, 2))


def test_discrete_training_runs_and_gradients_flow_through_the_relaxation():
    env = SimpleSpreadVectorEnv(2)
    cfg = MADDPGConfig(total_timesteps=2 * 40, learning_starts=20, batch_size=8, hidden=(8,))
    result = maddpg.train(env, cfg, seed=0)
    nets = result.modules["networks"]
    assert nets.discrete and nets.action_dim == 5
    assert not torch.equal(nets.actor_target.weights[0], nets.actor.weights[0])  # trained, targets lag behind
    returns = common.evaluate_team(maddpg.act_fn(nets, env), SimpleSpreadVectorEnv(2), 2, seed=0)
    assert returns.shape == (2,)
    batch = ReplayBatch(
        obs=torch.randn(4, 3, 19),
        actions=torch.nn.functional.one_hot(torch.randint(0, 5, (4, 3)), 5).float(),
        rewards=torch.zeros(4, 3),
        next_obs=torch.randn(4, 3, 19),
        terminations=torch.zeros(4, 3),
        discounts=torch.full((4,), 0.95),
        weights=torch.ones(4),
        indices=np.arange(4),
    )
    batch.obs[..., -1] = 1.0
    nets.actor.zero_grad()
    maddpg.actor_loss(nets, batch, MADDPGConfig(actor_reg=0.0))[0].backward()
    assert float(nets.actor.weights[0].grad.abs().sum()) > 0  # through the straight-through estimator


def test_same_seed_same_run():
    cfg = MADDPGConfig(total_timesteps=2 * 30, learning_starts=20, batch_size=8, hidden=(8,))
    a = maddpg.train(SimpleSpreadVectorEnv(2, continuous_actions=True), cfg, seed=3).modules["networks"].state_dict()
    b = maddpg.train(SimpleSpreadVectorEnv(2, continuous_actions=True), cfg, seed=3).modules["networks"].state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


ENV = dict(grid_size=6, max_steps=20, capture_radius=1, capture_min_predators=2)


def capture_rate(act, seed: int) -> float:
    returns = common.evaluate_team(act, PredatorPreyVectorEnv(20, **ENV), 200, seed=seed)
    return float(np.mean(returns > 0))


@pytest.mark.parametrize("seed", [0, 1])
def test_discrete_maddpg_predators_capture_more_often_than_random(seed):
    result = maddpg.train(PredatorPreyVectorEnv(16, **ENV), MADDPGConfig(total_timesteps=10_000), seed=seed)
    rng = np.random.default_rng(seed)
    random_rate = capture_rate(lambda obs, mask: rng.integers(0, 5, size=obs.shape[:2]), seed=100 + seed)
    trained_rate = capture_rate(maddpg.act_fn(result.modules["networks"]), seed=100 + seed)
    assert random_rate < 0.3
    assert trained_rate >= 0.7 and trained_rate >= random_rate + 0.4, (trained_rate, random_rate)


@pytest.mark.parametrize("seed", [0, 1])
def test_continuous_maddpg_beats_random_and_zero_actions(seed):
    make = lambda n: PointMassTeamVectorEnv(n, max_steps=50)
    result = maddpg.train(make(16), MADDPGConfig(total_timesteps=12_000), seed=seed)
    rng = np.random.default_rng(seed)
    team = lambda act: common.evaluate_team(act, make(20), 200, seed=100 + seed).mean()
    random_return = team(lambda obs, mask: rng.uniform(-1, 1, size=(*obs.shape[:2], 2)).astype(np.float32))
    zero_return = team(lambda obs, mask: np.zeros((*obs.shape[:2], 2), np.float32))
    trained_return = team(maddpg.act_fn(result.modules["networks"]))
    assert trained_return >= max(random_return, zero_return) + 20.0, (trained_return, random_return, zero_return)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1])
def test_simple_spread_beats_random_and_no_op(seed):
    result = maddpg.train(SimpleSpreadVectorEnv(16), MADDPGConfig(total_timesteps=25_000), seed=seed)
    rng = np.random.default_rng(seed)
    team = lambda act: common.evaluate_team(act, SimpleSpreadVectorEnv(20), 200, seed=100 + seed).mean()
    random_return = team(lambda obs, mask: rng.integers(0, 5, size=obs.shape[:2]))
    no_op_return = team(lambda obs, mask: np.zeros(obs.shape[:2], np.int64))
    trained_return = team(maddpg.act_fn(result.modules["networks"]))
    assert no_op_return > random_return
    assert trained_return >= no_op_return + 2.0, (trained_return, no_op_return, random_return)


def test_errors():
    fn = "maddpg.train"
    cfg = MADDPGConfig(total_timesteps=8)
    with pytest.raises(TypeError, match=f"{fn}: env must be a nextrl.marl.MarlVectorEnv"):
        maddpg.train(gym.make_vec("CartPole-v1", num_envs=1), cfg, seed=0)
    nets3 = MADDPGNetworks(18, gym.spaces.Discrete(5), 3)
    with pytest.raises(ValueError, match=f"{fn}: env must have 3 agents \\(the networks'\\), got 2"):
        maddpg.train(SimpleSpreadVectorEnv(2, N=2), cfg, seed=0, nets=nets3)
    with pytest.raises(TypeError, match=f"{fn}: env's action space must be the networks' Discrete\\(5\\)"):
        maddpg.train(SimpleSpreadVectorEnv(2, continuous_actions=True), cfg, seed=0, nets=nets3)
    box3 = MADDPGNetworks(18, gym.spaces.Box(0.0, 1.0, (5,), np.float32), 3)
    with pytest.raises(TypeError, match=f"{fn}: env's action space must be the networks' Box"):
        maddpg.train(SimpleSpreadVectorEnv(2), cfg, seed=0, nets=box3)
    with pytest.raises(ValueError, match=f"{fn}: env must have obs_size 18"):
        maddpg.train(PredatorPreyVectorEnv(2, num_predators=3), cfg, seed=0, nets=nets3)
    with pytest.raises(TypeError, match=f"{fn}: nets must be MADDPGNetworks"):
        maddpg.train(SimpleSpreadVectorEnv(2), cfg, seed=0, nets=torch.nn.Linear(2, 2))
    with pytest.raises(ValueError, match=f"{fn}: env must use NEXT_STEP autoreset"):
        maddpg.train(SimpleSpreadVectorEnv(2, autoreset_mode="SameStep"), cfg, seed=0)
    with pytest.raises(ValueError, match="maddpg.act_fn: env must have 3 agents"):
        maddpg.act_fn(nets3, SimpleSpreadVectorEnv(2, N=2))
    with pytest.raises(ValueError, match='MADDPGConfig: reward_reduction must be "none", "mean" or "sum"'):
        MADDPGConfig(reward_reduction="max")
    with pytest.raises(ValueError, match=r"MADDPGConfig: tau must be in \(0, 1\]"):
        MADDPGConfig(tau=0.0)
    with pytest.raises(ValueError, match="MADDPGConfig: gumbel_temperature must be > 0"):
        MADDPGConfig(gumbel_temperature=0.0)
    with pytest.raises(ValueError, match="MADDPGConfig: batch_size must be >= 1"):
        MADDPGConfig(batch_size=0)


def test_comm_actor_messages_carry_the_other_agents_observations_and_the_actor_gradient():
    torch.manual_seed(0)
    obs = torch.randn(4, 3, 18)
    moved = obs.clone()
    moved[:, 1] += 1.0  # agent 1 sees something else
    for communicate in (True, False):
        net = CommNet(18, 5, 3, hidden=8, communicate=communicate)
        actor = maddpg.CommActor(net)
        with torch.no_grad():
            assert torch.equal(actor(obs.view(2, 2, 3, 18)).view(4, 3, 5), net(obs)[0])
            changed = (actor(moved) - actor(obs)).abs().amax(dim=(0, 2))  # per agent
        assert changed[1] > 0
        assert (changed[0] > 0) == communicate and (changed[2] > 0) == communicate
        # the actor loss of agent 0 (its own action from the actor, the others' from replay, the critic's input
        # observations fixed) reaches agent 1's observation only through the messages agent 0 receives
        nets = MADDPGNetworks(18, gym.spaces.Discrete(5), 3, hidden=(8,), actor=actor)
        sender_obs = obs.clone().requires_grad_(True)
        own = maddpg.gumbel_softmax(nets.actor(sender_obs), noise=torch.zeros(4, 3, 5))
        replay = torch.nn.functional.one_hot(torch.randint(0, 5, (4, 3)), 5).float()
        joint = torch.cat([own[:, :1], replay[:, 1:]], dim=1)
        nets.q(obs, joint)[:, 0].sum().backward()
        assert (float(sender_obs.grad[:, 1].abs().sum()) > 0) == communicate


def test_maddpg_trains_comm_actors():
    env = SimpleSpreadVectorEnv(2)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        nets = MADDPGNetworks(18, env.single_action_space, 3, hidden=(8,), actor=maddpg.CommActor(CommNet(18, 5, 3, 8)))
    before = copy.deepcopy(nets.actor.state_dict())
    cfg = MADDPGConfig(total_timesteps=2 * 40, learning_starts=20, batch_size=8, hidden=(8,))
    trained = maddpg.train(env, cfg, seed=0, nets=nets).modules["networks"]
    after = trained.actor.state_dict()
    assert all(not torch.equal(before[k], after[k]) for k in before)  # every parameter, the messages' included
    assert not torch.equal(trained.actor_target.state_dict()["net.encoder.weight"], after["net.encoder.weight"])
    returns = common.evaluate_team(maddpg.act_fn(trained, env), SimpleSpreadVectorEnv(2), 2, seed=0)
    assert returns.shape == (2,) and np.all(np.isfinite(returns))


def test_comm_actor_errors():
    with pytest.raises(TypeError, match="CommActor: net must be a CommNetwork"):
        maddpg.CommActor(torch.nn.Linear(2, 2))
    with pytest.raises(ValueError, match="CommActor: net must need no channel noise, DIAL needs 2"):
        maddpg.CommActor(DIAL(18, 5, 3))
    actor = maddpg.CommActor(CommNet(18, 5, 3, hidden=8))
    with pytest.raises(ValueError, match=r"CommActor: input must end in \(3, 18\) \(num_agents, obs_size\)"):
        actor(torch.zeros(4, 2, 18))
    with pytest.raises(ValueError, match=r"MADDPGNetworks: actor must have obs_size, num_agents and out_size 18, 3 "):
        MADDPGNetworks(18, gym.spaces.Discrete(4), 3, actor=actor)


@pytest.mark.parametrize("seed", [0, 1])
def test_maddpg_with_commnet_actors_predators_capture_more_often_than_random(seed):
    env = PredatorPreyVectorEnv(16, **ENV)
    n = int(env.single_action_space.n)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        actor = maddpg.CommActor(CommNet(env.obs_size, n, env.num_agents))
        nets = MADDPGNetworks(env.obs_size, env.single_action_space, env.num_agents, actor=actor)
    result = maddpg.train(env, MADDPGConfig(total_timesteps=10_000), seed=seed, nets=nets)
    rng = np.random.default_rng(seed)
    random_rate = capture_rate(lambda obs, mask: rng.integers(0, 5, size=obs.shape[:2]), seed=100 + seed)
    trained_rate = capture_rate(maddpg.act_fn(result.modules["networks"]), seed=100 + seed)
    assert random_rate < 0.3
    assert trained_rate >= 0.7 and trained_rate >= random_rate + 0.4, (trained_rate, random_rate)
