"""I2A: imagination-augmented agents (Weber et al. 2017, arXiv:1707.06203), on A2C.

Pieces (all in `I2APolicy`, for Discrete actions and vector observations):
  environment model  (o_t, a_t) -> (o_{t+1}, r_t): an MLP predicting the change of the observation and the
                     reward, trained by squared error on the real transitions of every rollout (its own Adam
                     optimizer; no gradient of the policy loss reaches it).
  rollout policy     pi_hat(a | o): a small MLP distilled from the agent's policy pi by the cross-entropy
                     -sum_a sg(pi(a | o)) log pi_hat(a | o) (`distill_loss`), added to the A2C loss with
                     weight `distill_coef` (the paper's auxiliary loss).
  imagination        for every action a of the n actions, one rollout of length L from the real observation:
                     the first step takes a, the next L - 1 take the rollout policy's most likely action in the
                     imagined observation (Weber et al. sample it; the mode makes the imagination, and so the
                     greedy policy, deterministic). Imagined observations and rewards are constants for the
                     policy: the model and the rollout policy learn only from their own losses.
  rollout encoder    an LSTM over the L imagined steps (each step embedded by an MLP of [o, r]), read in
                     reverse order, last to first as in the paper; its final hidden state is the rollout's code.
                     It is trained by the A2C loss (its gradient flows through the aggregator).
  aggregator         the n codes concatenated, next to the model-free path (an MLP of the observation); one
                     hidden layer on both gives the policy logits. The value is A2C's critic MLP.
A2C on top: rollouts, advantages and the loss are agents.a2c's (a2c_loss under the nested A2CConfig), collected
by agents.rollout.collect; one RMSprop (or Adam) step per rollout on policy + value + distillation.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import gymnasium as gym
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from nextrl.agents import returns
from nextrl.agents.a2c import A2CConfig, a2c_loss
from nextrl.agents.common import LogFn, TrainResult, seeded
from nextrl.agents.networks import CategoricalHead, mlp
from nextrl.agents.rollout import Collector, Rollout, check_env, collect


@dataclass(frozen=True)
class I2AConfig:
    a2c: A2CConfig = field(default_factory=lambda: A2CConfig(num_envs=16, ent_coef=0.01))
    """the A2C settings (total_timesteps, num_steps, learning_rate, optimizer, gamma, gae_lambda, ent_coef,
    vf_coef, max_grad_norm, hidden for the model-free path); network and param_lrs are not used"""
    rollout_length: int = 3
    """L: imagined steps per action (Weber et al. 5 on Sokoban)"""
    model_hidden: tuple[int, ...] = (128, 128)
    """hidden layers of the environment model"""
    model_lr: float = 1e-3
    """Adam step size of the environment model"""
    model_epochs: int = 1
    """environment-model gradient steps per rollout (each on the whole rollout)"""
    rollout_policy_hidden: tuple[int, ...] = (32,)
    """hidden layers of the rollout policy"""
    distill_coef: float = 1.0
    """weight of the distillation cross-entropy in the loss"""
    step_embed: int = 32
    """width of the MLP embedding of one imagined step [o, r] before the LSTM"""
    encoder_hidden: int = 32
    """LSTM hidden size of the rollout encoder (one code per action)"""
    head_hidden: int = 64
    """hidden layer on [codes, model-free features] before the policy and value outputs"""

    def __post_init__(self):
        if not isinstance(self.a2c, A2CConfig):
            raise TypeError(f"I2AConfig: a2c must be an A2CConfig, got {type(self.a2c).__name__}")
        for name in ("rollout_length", "model_epochs", "step_embed", "encoder_hidden", "head_hidden"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"I2AConfig: {name} must be an int >= 1, got {v!r}")
        if not self.model_lr > 0:
            raise ValueError(f"I2AConfig: model_lr must be > 0, got {self.model_lr}")
        if not self.distill_coef >= 0:
            raise ValueError(f"I2AConfig: distill_coef must be >= 0, got {self.distill_coef}")


class EnvModel(nn.Module):
    """(obs [B, D], actions [B] int64) -> (next obs [B, D], reward [B]): o + f(o, a)[:D] and f(o, a)[D]."""

    def __init__(self, obs_dim: int, num_actions: int, hidden: tuple[int, ...]):
        super().__init__()
        self.obs_dim, self.num_actions = obs_dim, num_actions
        self.net = mlp(obs_dim + num_actions, obs_dim + 1, hidden, nn.ReLU)

    def forward(self, obs: Tensor, actions: Tensor) -> tuple[Tensor, Tensor]:
        out = self.net(torch.cat([obs, F.one_hot(actions, self.num_actions).to(obs.dtype)], -1))
        return obs + out[:, : self.obs_dim], out[:, self.obs_dim]


def env_model_loss(model: EnvModel, obs: Tensor, actions: Tensor, next_obs: Tensor, rewards: Tensor) -> Tensor:
    """mean over the batch of ||o' - o'_hat||^2 + (r - r_hat)^2 (obs, next_obs [B, D], actions, rewards [B])."""
    pred_obs, pred_r = model(obs, actions)
    return ((pred_obs - next_obs) ** 2).sum(-1).mean() + ((pred_r - rewards) ** 2).mean()


def distill_loss(policy_logits: Tensor, rollout_logits: Tensor) -> Tensor:
    """Cross-entropy of the rollout policy against the agent's (a constant target), mean over the batch:
    -mean_b sum_a softmax(policy_logits)_a log softmax(rollout_logits)_a. Both [B, n]."""
    target = torch.softmax(policy_logits.detach(), -1)
    return -(target * torch.log_softmax(rollout_logits, -1)).sum(-1).mean()


class I2APolicy(nn.Module):
    """The I2A network (see the module docstring) with the ActorCritic interface that agents.rollout.collect and
    evaluation use: logits / dist of obs [B, D] from the imagination-augmented actor, value [B] from `critic`,
    A2C's model-free critic MLP. Weber et al. read the value off the same aggregator; a separate critic keeps the
    comparison with A2C to the actor alone and learned faster here (pit gridworld of tests/agents/model_based/
    test_i2a.py, 15,000 steps, seeds 0 / 1: mean of the last 100 training episodes 0.899 / 0.902 against 0.786 /
    0.843 with the shared trunk)."""

    def __init__(self, obs_dim: int, num_actions: int, cfg: I2AConfig):
        super().__init__()
        self.obs_dim, self.num_actions, self.rollout_length = obs_dim, num_actions, cfg.rollout_length
        n, H = num_actions, cfg.encoder_hidden
        self.env_model = EnvModel(obs_dim, n, cfg.model_hidden)
        self.rollout_policy = mlp(obs_dim, n, cfg.rollout_policy_hidden, nn.ReLU)
        self.step_encoder = nn.Sequential(nn.Linear(obs_dim + 1, cfg.step_embed), nn.ReLU())
        self.encoder = nn.LSTM(cfg.step_embed, H, batch_first=True)
        mf = cfg.a2c.hidden[-1] if cfg.a2c.hidden else obs_dim
        self.model_free = nn.Sequential(mlp(obs_dim, mf, cfg.a2c.hidden[:-1], nn.Tanh), nn.Tanh())
        self.actor = nn.Sequential(nn.Linear(n * H + mf, cfg.head_hidden), nn.ReLU(), nn.Linear(cfg.head_hidden, n))
        self.critic = mlp(obs_dim, 1, cfg.a2c.hidden, nn.Tanh)
        """the value function: A2C's model-free critic MLP of the observation"""
        self.head = CategoricalHead(n)

    @torch.no_grad()
    def imagine(self, obs: Tensor) -> tuple[Tensor, Tensor]:
        """One rollout per action: imagined observations [B, n, L, D] and rewards [B, n, L]; step 0 takes action
        a, the others the rollout policy's mode."""
        B, n, D = obs.shape[0], self.num_actions, self.obs_dim
        o = obs.repeat_interleave(n, 0)  # [B * n, D], row b * n + a
        a = torch.arange(n).repeat(B)
        xs, rs = [], []
        for _ in range(self.rollout_length):
            o, r = self.env_model(o, a)
            xs.append(o)
            rs.append(r)
            a = self.rollout_policy(o).argmax(-1)
        return torch.stack(xs, 1).reshape(B, n, -1, D), torch.stack(rs, 1).reshape(B, n, -1)

    def encode(self, imagined_obs: Tensor, imagined_rewards: Tensor) -> Tensor:
        """Rollout codes of imagine()'s output, concatenated over actions: [B, n * encoder_hidden]."""
        B, n, L, D = imagined_obs.shape
        steps = torch.cat([imagined_obs, imagined_rewards[..., None]], -1).reshape(B * n, L, D + 1)
        x = self.step_encoder(steps.flip(1))  # last imagined step first (Weber et al.)
        _, (h, _) = self.encoder(x)
        return h[-1].reshape(B, -1)

    def logits(self, obs: Tensor) -> Tensor:
        """Policy logits [B, n] of obs [B, D]."""
        if obs.ndim != 2 or obs.shape[1] != self.obs_dim:
            raise ValueError(f"I2APolicy: obs must have shape [B, {self.obs_dim}], got {list(obs.shape)}")
        codes = self.encode(*self.imagine(obs))
        return self.actor(torch.cat([codes, self.model_free(obs)], -1))

    def dist(self, obs: Tensor):
        return self.head(self.logits(obs))

    def value(self, obs: Tensor) -> Tensor:
        return self.critic(obs)[:, 0]

    def act(self, obs: Tensor, deterministic: bool = False) -> Tensor:
        d = self.dist(obs)
        return d.mode if deterministic else d.sample()


def _check_spaces(fn: str, env: gym.vector.VectorEnv) -> tuple[int, int]:
    if not isinstance(env.single_action_space, gym.spaces.Discrete):
        raise TypeError(f"{fn}: the action space must be Discrete, got {env.single_action_space}")
    shape = env.single_observation_space.shape
    if shape is None or len(shape) != 1:
        raise ValueError(f"{fn}: observations must be vectors [obs_dim], got shape {shape}")
    return int(shape[0]), int(env.single_action_space.n)


def update(
    policy: I2APolicy, opt: torch.optim.Optimizer, model_opt: torch.optim.Optimizer, batch: dict, cfg: I2AConfig
) -> dict[str, float]:
    """One I2A update on a flat batch of valid transitions (obs, actions, advantages, returns, next_obs, rewards):
    the A2C loss plus distill_coef times the distillation loss for the agent, then `model_epochs` steps of
    env_model_loss for the environment model."""
    logits, values = policy.logits(batch["obs"]), policy.value(batch["obs"])
    dist = policy.head(logits)
    loss, stats = a2c_loss(
        dist.log_prob(batch["actions"]), batch["advantages"], values, batch["returns"], dist.entropy(), cfg.a2c
    )
    d_loss = distill_loss(logits, policy.rollout_policy(batch["obs"]))
    opt.zero_grad()
    (loss + cfg.distill_coef * d_loss).backward()
    agent_params = [p for g in opt.param_groups for p in g["params"]]
    nn.utils.clip_grad_norm_(agent_params, cfg.a2c.max_grad_norm)
    opt.step()
    for _ in range(cfg.model_epochs):
        m_loss = env_model_loss(policy.env_model, batch["obs"], batch["actions"], batch["next_obs"], batch["rewards"])
        model_opt.zero_grad()
        m_loss.backward()
        model_opt.step()
    return {**stats, "losses/distill": float(d_loss.detach()), "losses/env_model": float(m_loss.detach())}


def train(env: gym.vector.VectorEnv, cfg: I2AConfig = I2AConfig(), *, seed: int, log: LogFn | None = None):
    """Trains I2A on a Discrete-action vector env with vector observations (NEXT_STEP autoreset). The network is
    result.modules["policy"] (an I2APolicy)."""
    env = check_env("i2a.train", env)
    obs_dim, n = _check_spaces("i2a.train", env)
    a = cfg.a2c
    with seeded(seed, "i2a.train"):
        policy = I2APolicy(obs_dim, n, cfg)
        agent_params = [p for name, p in policy.named_parameters() if not name.startswith("env_model.")]
        if a.optimizer == "rmsprop":
            opt = torch.optim.RMSprop(agent_params, lr=a.learning_rate, alpha=0.99, eps=1e-5)
        else:
            opt = torch.optim.Adam(agent_params, lr=a.learning_rate, eps=1e-5)
        model_opt = torch.optim.Adam(policy.env_model.parameters(), lr=cfg.model_lr)
        rollout = Rollout(a.num_steps, env.num_envs, env.single_observation_space, env.single_action_space)
        c = Collector.start(env, seed)
        result = TrainResult(cfg, {"policy": policy})
        num_iterations = max(1, a.total_timesteps // (a.num_steps * env.num_envs))
        for it in range(num_iterations):
            frac = 1.0 - it / num_iterations if a.anneal_lr else 1.0
            for g in opt.param_groups:
                g["lr"] = a.learning_rate * frac
            collect(policy, rollout, c)
            t0 = time.perf_counter()
            adv, ret = returns.gae(
                rollout.rewards,
                rollout.values,
                rollout.next_values(),
                rollout.terminations,
                rollout.truncations,
                gamma=a.gamma,
                lam=a.gae_lambda,
            )
            next_obs = torch.cat([rollout.obs[1:], c.next_obs[None]], 0)  # what step t returned (NEXT_STEP)
            keys = ("obs", "actions", "advantages", "returns", "next_obs", "rewards")
            tensors = rollout.flat(rollout.obs, rollout.actions, adv, ret, next_obs, rollout.rewards)
            stats = update(policy, opt, model_opt, dict(zip(keys, tensors)), cfg)
            c.times["update"] += time.perf_counter() - t0
            c.record(result, {**stats, "charts/learning_rate": a.learning_rate * frac}, log)
    return c.finish(result)


__all__ = ["EnvModel", "I2AConfig", "I2APolicy", "distill_loss", "env_model_loss", "train", "update"]
