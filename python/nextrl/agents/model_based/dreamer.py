"""Dreamer-style behaviour learning (Hafner et al. 2020, arXiv:1912.01603; DreamerV3 2023, arXiv:2301.04104): an
RSSM world model learned from replay, and an actor and a critic trained only on trajectories imagined by it.

Every training step: one world-model update (nextrl.models.rssm) on `batch_size` windows of `seq_len` steps; from
each posterior state of that batch (detached) the actor imagines `imag_horizon` steps in the prior,

    s_0 = posterior,  a_t ~ pi(a | s_t),  s_{t+1} = prior(s_t, a_t),  r_{t+1}, c_{t+1} = heads(s_{t+1}),

and the lambda-returns (`lambda_returns`) R_t = r_{t+1} + gamma c_{t+1} ((1 - lambda) v_{t+1} + lambda R_{t+1}),
R_H = v_H, use the slow critic's values (DreamerV2's target critic; an EMA of the critic). Returns are normalized
by S = EMA of their 95th minus 5th percentile, divided by max(1, S) (DreamerV3). Actor: "dynamics" (DreamerV1,
gradients through the model; continuous actions) maximizes the normalized returns, "reinforce" (DreamerV3) weights
log pi(a_t | s_t) by the normalized advantage (R_t - v_t); both subtract entropy_coef * H[pi] and weight step t
by the product of the predicted discounts before it. Critic: squared error to sg(R_t), plus the same to the slow
critic's value (DreamerV3's regularizer).

Actions: over a Box, tanh-squashed Gaussians scaled to the Box; over a Discrete(n), a categorical with a 1% uniform
mixture (DreamerV3 `unimix`), whose samples enter the RSSM (and the replay) as one-hot vectors [n] and whose
gradient is REINFORCE (DreamerV3's choice for discrete actions; "dynamics" needs a Box). Observations are vectors
[obs_dim] (MLP encoder / decoder) or channels-first images (C, H, W) (the RSSM's conv pair, models.conv).
`evaluate` runs the trained agent with the actor's mode (argmax, or tanh of the Gaussian mean).
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass, field, replace

import gymnasium as gym
import numpy as np
import torch
from torch import Tensor, nn

from nextrl.agents.common import EpisodeTracker, LogFn, TrainResult, emit, episode_quotas, seeded
from nextrl.agents.offpolicy import box_bounds
from nextrl.agents.replay import SequenceReplayBuffer
from nextrl.agents.rollout import check_env
from nextrl.models.conv import observation_input
from nextrl.models.rssm import RSSM, RSSMConfig, mlp, model_batch


@dataclass(frozen=True)
class DreamerConfig:
    total_timesteps: int = 100_000
    """environment steps summed over all envs"""
    seed_steps: int = 5_000
    """initial steps (summed over envs) with uniform random actions"""
    pretrain_steps: int = 100
    """training steps once the seed phase ends (DreamerV1 `pretrain` 100)"""
    train_every: int = 5
    """env steps per env between training steps"""
    train_steps: int = 1
    """training steps (world model + actor + critic) each time"""
    batch_size: int = 16
    seq_len: int = 64
    """steps per replay window (DreamerV3 64)"""
    buffer_size: int = 1_000_000
    model: RSSMConfig = field(default_factory=lambda: RSSMConfig(latent="categorical", symlog=True))
    """the world model (DreamerV3: categorical latent, KL balancing, symlog)"""
    model_lr: float = 1e-3
    actor_lr: float = 3e-4
    critic_lr: float = 3e-4
    grad_clip: float = 100.0
    """gradient-norm clip of every optimizer (DreamerV3 1000 for the model, 100 for actor and critic)"""
    hidden: int = 256
    """actor and critic MLP width (2 hidden layers)"""
    imag_horizon: int = 15
    """imagined steps (Dreamer 15)"""
    gamma: float = 0.99
    lam: float = 0.95
    """lambda of the lambda-returns"""
    entropy_coef: float = 3e-4
    """weight of the policy entropy (DreamerV3 3e-4 on normalized returns)"""
    actor_grad: str = "auto"
    """"dynamics" (backpropagate returns through the model, DreamerV1; Box actions only), "reinforce" (DreamerV3),
    or "auto": dynamics for a Box, reinforce for a Discrete action space"""
    actor_unimix: float = 0.01
    """Discrete actions: weight of the uniform mixture in the policy's probabilities (DreamerV3 0.01), in [0, 1)"""
    slow_critic_rate: float = 0.02
    """slow critic <- (1 - rate) slow + rate critic after every critic step (DreamerV3 0.02)"""
    return_norm_decay: float = 0.99
    """EMA decay of the 5-95 percentile range of the returns"""
    min_std: float = 0.1
    """actor: lower bound of the pre-tanh std"""

    def __post_init__(self):
        for name in ("total_timesteps", "train_every", "train_steps", "batch_size", "seq_len", "buffer_size"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"DreamerConfig: {name} must be an int >= 1, got {v!r}")
        for name in ("seed_steps", "pretrain_steps"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise ValueError(f"DreamerConfig: {name} must be an int >= 0, got {v!r}")
        if self.actor_grad not in ("auto", "dynamics", "reinforce"):
            raise ValueError(
                f"DreamerConfig: actor_grad must be 'auto', 'dynamics' or 'reinforce', got {self.actor_grad!r}"
            )
        if not 0.0 <= self.actor_unimix < 1.0:
            raise ValueError(f"DreamerConfig: actor_unimix must be in [0, 1), got {self.actor_unimix}")
        if not (0.0 <= self.gamma <= 1.0 and 0.0 <= self.lam <= 1.0):
            raise ValueError(f"DreamerConfig: gamma and lam must be in [0, 1], got {self.gamma} and {self.lam}")
        if not 0.0 < self.slow_critic_rate <= 1.0:
            raise ValueError(f"DreamerConfig: slow_critic_rate must be in (0, 1], got {self.slow_critic_rate}")


def lambda_returns(rewards: Tensor, values: Tensor, discounts: Tensor, lam: float) -> Tensor:
    """TD(lambda) returns of imagined trajectories: rewards [B, H] (rewards[t] = r_{t+1}), values [B, H + 1]
    (v_0 .. v_H), discounts [B, H] (gamma * c_{t+1}). R_t = r_{t+1} + d_t ((1 - lam) v_{t+1} + lam R_{t+1}),
    R_H = v_H. Returns [B, H]."""
    H = rewards.shape[1]
    if values.shape[1] != H + 1 or discounts.shape != rewards.shape:
        raise ValueError(
            f"lambda_returns: values must have H + 1 = {H + 1} steps and discounts {tuple(rewards.shape)}, got "
            f"{tuple(values.shape)} and {tuple(discounts.shape)}"
        )
    out, last = [], values[:, H]
    for t in range(H - 1, -1, -1):
        last = rewards[:, t] + discounts[:, t] * ((1.0 - lam) * values[:, t + 1] + lam * last)
        out.append(last)
    return torch.stack(out[::-1], 1)


class Actor(nn.Module):
    """tanh-squashed Gaussian policy over a Box: features [N, F] -> actions [N, A] in [low, high]."""

    def __init__(self, feat: int, action_dim: int, hidden: int, low, high, min_std: float):
        super().__init__()
        self.net = mlp(feat, 2 * action_dim, hidden, 2)
        self.register_buffer("scale", torch.as_tensor((high - low) / 2, dtype=torch.float32))
        self.register_buffer("bias", torch.as_tensor((high + low) / 2, dtype=torch.float32))
        self.min_std = min_std

    def forward(self, feat: Tensor, generator=None, deterministic: bool = False) -> tuple[Tensor, Tensor]:
        """(action [N, A], log-probability [N]) of a reparameterized sample (the mode if deterministic)."""
        mean, std = self.net(feat).chunk(2, -1)
        std = nn.functional.softplus(std) + self.min_std
        eps = torch.zeros_like(mean) if deterministic else torch.randn(mean.shape, generator=generator)
        u = mean + std * eps
        a = torch.tanh(u)
        logp = (-0.5 * eps**2 - torch.log(std) - 0.5 * math.log(2 * math.pi)).sum(-1)
        logp = logp - (2 * (math.log(2.0) - u - nn.functional.softplus(-2 * u))).sum(-1)  # tanh Jacobian
        return a * self.scale + self.bias, logp - torch.log(self.scale).sum()

    def log_prob(self, feat: Tensor, action: Tensor, entropy: bool = False):
        """log pi(action | feat) [N] (and, with entropy=True, the pre-tanh Gaussian's entropy [N])."""
        mean, std = self.net(feat).chunk(2, -1)
        std = nn.functional.softplus(std) + self.min_std
        a = ((action - self.bias) / self.scale).clamp(-0.999999, 0.999999)
        u = torch.atanh(a)
        logp = torch.distributions.Normal(mean, std).log_prob(u).sum(-1)
        logp = logp - (2 * (math.log(2.0) - u - nn.functional.softplus(-2 * u))).sum(-1) - torch.log(self.scale).sum()
        if entropy:
            return logp, (torch.log(std) + 0.5 * math.log(2 * math.pi * math.e)).sum(-1)
        return logp


class CategoricalActor(nn.Module):
    """Categorical policy over Discrete(n) (DreamerV3): probabilities (1 - unimix) softmax(logits) + unimix / n;
    features [N, F] -> one-hot actions [N, n]."""

    def __init__(self, feat: int, num_actions: int, hidden: int, unimix: float):
        super().__init__()
        self.net = mlp(feat, num_actions, hidden, 2)
        self.num_actions, self.unimix = num_actions, unimix

    def log_probs(self, feat: Tensor) -> Tensor:
        """log-probabilities of every action [N, n]."""
        logits = self.net(feat)
        if self.unimix == 0.0:  # log of an underflowed softmax is -inf, and -inf * 0 (a one-hot's zeros) is NaN
            return torch.log_softmax(logits, -1)
        probs = (1.0 - self.unimix) * torch.softmax(logits, -1) + self.unimix / self.num_actions
        return torch.log(probs)

    def forward(self, feat: Tensor, generator=None, deterministic: bool = False) -> tuple[Tensor, Tensor]:
        """(one-hot action [N, n], its log-probability [N]) of a sample (the most probable action if
        deterministic). No gradient flows through the action: train it by REINFORCE."""
        logp = self.log_probs(feat)
        if deterministic:
            idx = logp.argmax(-1)
        else:
            idx = torch.multinomial(logp.detach().exp(), 1, generator=generator).squeeze(-1)
        onehot = nn.functional.one_hot(idx, self.num_actions).to(logp.dtype)
        return onehot, (logp * onehot).sum(-1)

    def log_prob(self, feat: Tensor, action: Tensor, entropy: bool = False):
        """log pi(action | feat) [N] of one-hot actions [N, n] (and, with entropy=True, the entropy [N])."""
        logp = self.log_probs(feat)
        out = (logp * action).sum(-1)
        if entropy:
            return out, -(logp.exp() * logp).sum(-1)
        return out


def imagine(
    model: RSSM,
    actor: Actor | CategoricalActor,
    start: dict[str, Tensor],
    horizon: int,
    generator,
    *,
    reinforce: bool = False,
) -> dict[str, Tensor]:
    """Imagined trajectories from start states [N, ...]: features [N, H + 1, F], actions [N, H, A], log-probs
    and entropy estimates [N, H], rewards and continue probabilities [N, H] (of the state after each action).
    reinforce: actions are detached and log-probs are score-function ones (log pi(sg(a) | sg(s))), the entropy
    the actor's (the pre-tanh Gaussian's, or the categorical's); otherwise the reparameterized sample carries the
    gradient and the entropy estimate is -log pi(a)."""
    state = {k: start[k] for k in ("deter", "stoch")}
    feats, actions, logps, ents = [model.features(state)], [], [], []
    for _ in range(horizon):
        f = feats[-1]
        a, logp = actor(f.detach() if reinforce else f, generator)
        if reinforce:
            a = a.detach()
            logp, ent = actor.log_prob(f.detach(), a, entropy=True)
        else:
            ent = -logp
        state = model.img_step(state, a, generator=generator)
        feats.append(model.features(state))
        actions.append(a)
        logps.append(logp)
        ents.append(ent)
    f = torch.stack(feats, 1)
    return {
        "feat": f,
        "actions": torch.stack(actions, 1),
        "logp": torch.stack(logps, 1),
        "entropy": torch.stack(ents, 1),
        "rewards": model.reward(f[:, 1:]),
        "conts": model.cont(f[:, 1:]),
    }


def behaviour_losses(traj, critic, slow_critic, cfg: DreamerConfig, scale: float) -> tuple[Tensor, Tensor, dict]:
    """Actor and critic losses on an imagined trajectory (see the module docstring); `scale` = max(1, S)."""
    feat = traj["feat"]
    discounts = cfg.gamma * traj["conts"]
    with torch.no_grad():
        slow_v = slow_critic(feat).squeeze(-1)  # [N, H + 1]
        weights = torch.cumprod(torch.cat([torch.ones_like(discounts[:, :1]), discounts[:, :-1]], 1), 1)
    if cfg.actor_grad == "dynamics":
        returns = lambda_returns(traj["rewards"], critic_values(critic, feat), discounts.detach(), cfg.lam)
        actor_obj = returns / scale
    else:
        returns = lambda_returns(traj["rewards"].detach(), slow_v, discounts.detach(), cfg.lam)
        adv = (returns - slow_v[:, :-1]) / scale
        actor_obj = traj["logp"] * adv.detach()
    entropy = traj["entropy"]
    actor_loss = -(weights * (actor_obj + cfg.entropy_coef * entropy)).mean()
    targets = lambda_returns(traj["rewards"], slow_v, discounts, cfg.lam).detach()
    v = critic(feat[:, :-1].detach()).squeeze(-1)
    critic_loss = (weights * (0.5 * (v - targets) ** 2 + 0.5 * (v - slow_v[:, :-1]) ** 2)).mean()
    info = {"actor_loss": actor_loss.item(), "critic_loss": critic_loss.item(), "imag_return": targets.mean().item()}
    return actor_loss, critic_loss, info


def critic_values(critic: nn.Module, feat: Tensor) -> Tensor:
    """Critic values [N, H + 1] whose gradient reaches the features (through the model) but not the critic."""
    params = [p.requires_grad for p in critic.parameters()]
    for p in critic.parameters():
        p.requires_grad_(False)
    v = critic(feat).squeeze(-1)
    for p, r in zip(critic.parameters(), params):
        p.requires_grad_(r)
    return v


def return_scale(returns: Tensor, ema: float | None, decay: float) -> tuple[float, float]:
    """(new EMA of the 5-95 percentile range, max(1, EMA)) (DreamerV3 return normalization)."""
    q = torch.quantile(returns.detach().flatten().float(), torch.tensor([0.05, 0.95]))
    s = float(q[1] - q[0])
    ema = s if ema is None else decay * ema + (1 - decay) * s
    return ema, max(1.0, ema)


def _spaces(fn: str, env, cfg: DreamerConfig):
    """(obs model input: obs_dim or (C, H, W), action space, discrete, action_dim, resolved actor_grad)."""
    space = env.single_action_space
    discrete = isinstance(space, gym.spaces.Discrete)
    if not discrete:
        if not isinstance(space, gym.spaces.Box):
            raise TypeError(f"{fn}: env must have a Box or Discrete action space, got {space}")
        space = box_bounds(fn, env)
    obs_in = observation_input(fn, env.single_observation_space)
    act_dim = int(space.n) if discrete else int(np.prod(space.shape))
    grad = cfg.actor_grad if cfg.actor_grad != "auto" else ("reinforce" if discrete else "dynamics")
    if discrete and grad == "dynamics":
        raise ValueError(
            f"{fn}: actor_grad 'dynamics' backpropagates through the action and needs a Box action space, got "
            f"{space}; use 'reinforce' or 'auto'"
        )
    return obs_in, space, discrete, act_dim, grad


def _env_actions(action: Tensor, space, discrete: bool, num_envs: int) -> np.ndarray:
    """The model's actions [E, A] (one-hot for Discrete) -> what env.step takes."""
    if discrete:
        return action.argmax(-1).numpy().astype(np.int64) + int(space.start)
    return action.numpy().reshape(num_envs, *space.shape)


def train(env: gym.vector.VectorEnv, cfg: DreamerConfig = DreamerConfig(), *, seed: int, log: LogFn | None = None):
    """Trains the Dreamer-style agent on a vector env with Box or Discrete actions and vector or image observations.
    Modules: "model", "actor", "critic", "slow_critic"; `result.config` holds the resolved actor_grad."""
    env = check_env("dreamer.train", env)
    obs_in, space, discrete, act_dim, grad = _spaces("dreamer.train", env, cfg)
    cfg = replace(cfg, actor_grad=grad)
    obs_space = env.single_observation_space
    E = env.num_envs
    if cfg.seq_len + 1 > max(1, cfg.buffer_size // E):
        raise ValueError(
            f"dreamer.train: seq_len + 1 ({cfg.seq_len + 1}) must be <= the steps stored per env "
            f"(buffer_size // num_envs = {cfg.buffer_size // E})"
        )
    with seeded(seed, "dreamer.train") as generator:
        rng = np.random.default_rng(seed)
        model = RSSM(obs_in, act_dim, cfg.model)
        feat = cfg.model.deter + cfg.model.stoch_size
        if discrete:
            actor = CategoricalActor(feat, act_dim, cfg.hidden, cfg.actor_unimix)
        else:
            low, high = space.low.reshape(-1).astype(np.float64), space.high.reshape(-1).astype(np.float64)
            actor = Actor(feat, act_dim, cfg.hidden, low, high, cfg.min_std)
        critic = mlp(feat, 1, cfg.hidden, 2)
    slow_critic = copy.deepcopy(critic).requires_grad_(False)
    opts = {
        "model": torch.optim.Adam(model.parameters(), lr=cfg.model_lr, eps=1e-8),
        "actor": torch.optim.Adam(actor.parameters(), lr=cfg.actor_lr, eps=1e-5),
        "critic": torch.optim.Adam(critic.parameters(), lr=cfg.critic_lr, eps=1e-5),
    }
    buffer = SequenceReplayBuffer(cfg.buffer_size, obs_space.shape, (act_dim,), num_envs=E)
    result = TrainResult(
        config=cfg, modules={"model": model, "actor": actor, "critic": critic, "slow_critic": slow_critic}
    )
    tracker = EpisodeTracker(E)
    times = {"env": 0.0, "inference": 0.0, "update": 0.0}
    start_time = time.perf_counter()
    ret_ema = None

    def step_opt(name: str, loss: Tensor, params) -> float:
        opts[name].zero_grad()
        loss.backward()
        norm = float(torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip))
        opts[name].step()
        return norm

    def train_step() -> dict[str, float]:
        nonlocal ret_ema
        batch = model_batch(buffer.sample(cfg.batch_size, cfg.seq_len + 1, rng), act_dim)
        loss, info, post = model.loss(batch, generator=generator)
        step_opt("model", loss, model.parameters())
        start = {k: v.reshape(-1, v.shape[-1]) for k, v in post.items() if k in ("deter", "stoch")}
        model.requires_grad_(False)
        traj = imagine(model, actor, start, cfg.imag_horizon, generator, reinforce=cfg.actor_grad == "reinforce")
        with torch.no_grad():
            slow_v = slow_critic(traj["feat"]).squeeze(-1)
            ret = lambda_returns(traj["rewards"], slow_v, cfg.gamma * traj["conts"], cfg.lam)
        ret_ema, scale = return_scale(ret, ret_ema, cfg.return_norm_decay)
        actor_loss, critic_loss, binfo = behaviour_losses(traj, critic, slow_critic, cfg, scale)
        step_opt("actor", actor_loss, actor.parameters())
        step_opt("critic", critic_loss, critic.parameters())
        model.requires_grad_(True)
        with torch.no_grad():
            for p, q in zip(slow_critic.parameters(), critic.parameters()):
                p.lerp_(q, cfg.slow_critic_rate)
        info.update(binfo, return_scale=scale)
        return info

    obs, _ = env.reset(seed=seed)
    state = model.initial(E)
    prev_action = torch.zeros(E, act_dim)
    is_first = torch.ones(E, dtype=torch.bool)
    prev_done = np.zeros(E, dtype=bool)
    global_step, step, pretrained = 0, 0, False
    while global_step < cfg.total_timesteps:
        t0 = time.perf_counter()
        with torch.no_grad():
            embed = model.encode(torch.as_tensor(obs, dtype=torch.float32))
            state, _ = model.obs_step(state, prev_action, embed, is_first, generator=generator)
            if global_step >= cfg.seed_steps:
                action = actor(model.features(state), generator)[0]
            elif discrete:
                action = nn.functional.one_hot(torch.as_tensor(rng.integers(0, act_dim, E)), act_dim).float()
            else:
                action = torch.as_tensor(rng.uniform(low, high, size=(E, act_dim)), dtype=torch.float32)
        t1 = time.perf_counter()
        next_obs, rewards, terms, truncs, _ = env.step(_env_actions(action, space, discrete, E))
        times["inference"] += t1 - t0
        times["env"] += time.perf_counter() - t1
        valid = tracker.step(rewards, terms, truncs, global_step)
        buffer.add(obs, action.numpy(), rewards, terms, truncs, valid)
        is_first = torch.as_tensor(prev_done)
        prev_done = (np.asarray(terms) | np.asarray(truncs)) & valid
        prev_action = action
        obs = next_obs
        global_step += E
        step += 1
        ready = global_step >= cfg.seed_steps and len(buffer) // E > cfg.seq_len
        n = (cfg.pretrain_steps if not pretrained else 0) + (cfg.train_steps if step % cfg.train_every == 0 else 0)
        if ready and n:
            pretrained = True
            t3 = time.perf_counter()
            for _ in range(n):
                info = train_step()
            times["update"] += time.perf_counter() - t3
            metrics = {f"losses/{k}": v for k, v in info.items()}
            metrics["global_step"] = global_step
            result.metrics.append(metrics)
            emit(log, global_step, metrics, result)
    return tracker.fill(result, global_step, time.perf_counter() - start_time, times)


def act(model: RSSM, actor, state, prev_action: Tensor, obs, is_first: Tensor, generator, deterministic=False):
    """One acting step of E envs: filters obs [E, ...] into the posterior state (after a_{t-1} = prev_action
    [E, A]; is_first [E] bool resets) and returns (state, action [E, A]) from the actor (its mode if
    deterministic; one-hot for a Discrete space)."""
    embed = model.encode(torch.as_tensor(np.asarray(obs), dtype=torch.float32))
    state, _ = model.obs_step(state, prev_action, embed, is_first, generator=generator)
    return state, actor(model.features(state), generator, deterministic)[0]


def evaluate(result: TrainResult, env, num_episodes: int, *, seed: int, deterministic: bool = True) -> np.ndarray:
    """Returns [num_episodes] of the agent of `train`'s result on a vector env of the same spaces: the RSSM filters
    every env's observations (posterior samples, as in training) and the actor acts, with its mode when
    deterministic. Each env contributes a fixed quota of episodes (common.episode_quotas, as common.evaluate)."""
    if isinstance(num_episodes, bool) or not isinstance(num_episodes, (int, np.integer)) or num_episodes < 1:
        raise ValueError(f"dreamer.evaluate: num_episodes must be an integer >= 1, got {num_episodes!r}")
    env = check_env("dreamer.evaluate", env)
    model, actor = result.modules["model"], result.modules["actor"]
    space, discrete, act_dim = _spaces("dreamer.evaluate", env, result.config)[1:4]
    if discrete != isinstance(actor, CategoricalActor):
        want = "a Discrete" if isinstance(actor, CategoricalActor) else "a Box"
        raise ValueError(f"dreamer.evaluate: env must have {want} action space (the trained actor's), got {space}")
    if (tuple(env.single_observation_space.shape), act_dim) != (model.obs_shape, model.action_dim):
        raise ValueError(
            f"dreamer.evaluate: env must have the trained model's observation shape {model.obs_shape} and "
            f"{model.action_dim} action dims, got {env.single_observation_space.shape} and {act_dim}"
        )
    E = env.num_envs
    quotas, counted, returns = episode_quotas(int(num_episodes), E), np.zeros(E, dtype=np.int64), []
    tracker = EpisodeTracker(E)
    generator = torch.Generator().manual_seed(seed)
    obs, _ = env.reset(seed=seed)
    state, prev_action = model.initial(E), torch.zeros(E, act_dim)
    is_first = torch.ones(E, dtype=torch.bool)
    prev_done = np.zeros(E, dtype=bool)
    with torch.no_grad():
        while not np.all(counted >= quotas):
            state, prev_action = act(model, actor, state, prev_action, obs, is_first, generator, deterministic)
            obs, rewards, terms, truncs, _ = env.step(_env_actions(prev_action, space, discrete, E))
            before = len(tracker.finished_returns)
            valid = tracker.step(rewards, terms, truncs)
            for ret, i in zip(tracker.finished_returns[before:], tracker.finished_envs[before:]):
                if counted[i] < quotas[i]:
                    counted[i] += 1
                    returns.append(ret)
            is_first = torch.as_tensor(prev_done)
            prev_done = (np.asarray(terms) | np.asarray(truncs)) & valid
    return np.asarray(returns)


__all__ = [
    "Actor",
    "CategoricalActor",
    "DreamerConfig",
    "act",
    "behaviour_losses",
    "evaluate",
    "imagine",
    "lambda_returns",
    "return_scale",
    "train",
]
