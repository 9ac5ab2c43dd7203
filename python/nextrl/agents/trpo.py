"""TRPO, Schulman et al. 2015, arXiv:1502.05477 (with GAE advantages, Schulman et al. 2016).

Config, pure pieces (surrogate, conjugate gradient, Fisher-vector product, backtracking line search) and
the training loop. Each update maximizes the importance-weighted surrogate L(theta) = mean(ratio A) under
mean KL(pi_old || pi_theta) <= max_kl: the natural-gradient direction x = F^-1 g comes from conjugate
gradient on Fisher-vector products (Hessian-vector products of the mean KL, plus damping), the step is
scaled to the trust region's edge, sqrt(2 max_kl / x^T F x) x, and a backtracking line search shrinks it
until the KL constraint holds and the surrogate improves. The value function is fitted by Adam.

The Fisher-vector product differentiates the actor twice: a custom actor must support double backward
(a QuantumLayer, whose adjoint backward is not differentiable, does not; use it with PPO or A2C).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import gymnasium as gym
import torch
from torch import Tensor, nn
from torch.distributions import kl_divergence
from torch.nn.utils import parameters_to_vector, vector_to_parameters

from nextrl.agents import returns
from nextrl.agents.common import LogFn, TrainResult, seeded
from nextrl.agents.networks import default_actor_critic, param_groups, parse_param_lrs
from nextrl.agents.rollout import Collector, Rollout, check_env, collect


@dataclass(frozen=True)
class TRPOConfig:
    total_timesteps: int = 500_000
    """environment steps summed over all envs (reset steps of NEXT_STEP autoreset included)"""
    num_envs: int = 8
    """parallel envs the `nextrl train` runner builds; train() uses the env it is given"""
    num_steps: int = 256
    """rollout length per env; batch = num_steps * num_envs (minus masked reset steps)"""
    gamma: float = 0.99
    """discount factor, in [0, 1]"""
    gae_lambda: float = 0.95
    """GAE lambda, in [0, 1]"""
    max_kl: float = 0.01
    """trust-region radius: bound on the mean KL(pi_old || pi_new) of one update"""
    cg_iters: int = 10
    """conjugate-gradient iterations"""
    cg_damping: float = 0.1
    """damping lambda added to the Fisher matrix: (F + lambda I) x = g"""
    line_search_steps: int = 10
    """backtracking steps (step fractions 1, backtrack, backtrack^2, ...)"""
    backtrack: float = 0.5
    """step shrink factor of the line search, in (0, 1)"""
    accept_ratio: float = 0.1
    """minimum ratio of actual to linearly predicted surrogate improvement to accept a step"""
    norm_adv: bool = True
    """normalize advantages over each rollout (mean 0, std 1)"""
    vf_learning_rate: float = 1e-3
    """Adam step size of the value function"""
    vf_epochs: int = 5
    """passes of value regression over each rollout"""
    vf_minibatches: int = 4
    """minibatches per value epoch"""
    hidden: tuple[int, ...] = (64, 64)
    """hidden layer sizes of the default MLPs"""
    log_std_init: float = 0.0
    """initial log standard deviation of the Gaussian head (Box actions)"""
    param_lrs: tuple[str, ...] = ()
    """per-parameter-group learning rates of the value function's optimizer, "pattern=lr" entries over its
    parameter names ("critic.0.weight", "critic.4.bias"; networks.ParamLRs), the rest at vf_learning_rate (the
    policy takes natural-gradient steps, no learning rate)"""

    def __post_init__(self):
        parse_param_lrs("TRPOConfig", self.param_lrs)
        if self.max_kl <= 0 or self.cg_iters < 1 or self.line_search_steps < 1:
            raise ValueError(
                f"TRPOConfig: max_kl must be > 0 and cg_iters, line_search_steps >= 1, got "
                f"{self.max_kl}, {self.cg_iters}, {self.line_search_steps}"
            )
        if not 0 < self.backtrack < 1:
            raise ValueError(f"TRPOConfig: backtrack must be in (0, 1), got {self.backtrack}")


def surrogate(log_probs: Tensor, old_log_probs: Tensor, advantages: Tensor) -> Tensor:
    """Importance-sampled surrogate objective mean(exp(log_probs - old_log_probs) A) (to maximize)."""
    return ((log_probs - old_log_probs).exp() * advantages).mean()


def conjugate_gradient(fvp: Callable[[Tensor], Tensor], b: Tensor, iters: int, residual_tol: float = 1e-10) -> Tensor:
    """Approximately solves F x = b for a symmetric positive-definite F given only x -> F x
    (Hestenes & Stiefel 1952; `iters` iterations, or until the squared residual < residual_tol)."""
    x = torch.zeros_like(b)
    r = b.clone()
    p = b.clone()
    rr = r @ r
    for _ in range(iters):
        if rr < residual_tol:
            break
        fp = fvp(p)
        alpha = rr / (p @ fp)
        x += alpha * p
        r -= alpha * fp
        rr_new = r @ r
        p = r + (rr_new / rr) * p
        rr = rr_new
    return x


def fisher_vector_product(
    kl: Callable[[], Tensor], params: list[nn.Parameter], damping: float
) -> Callable[[Tensor], Tensor]:
    """v -> (H + damping I) v, H the Hessian of the mean KL `kl()` (zero-valued, at its minimum) in the
    flattened `params`: at the old policy this Hessian is the Fisher information matrix."""
    grads = torch.autograd.grad(kl(), params, create_graph=True)
    flat = torch.cat([g.reshape(-1) for g in grads])

    def fvp(v: Tensor) -> Tensor:
        hv = torch.autograd.grad(flat @ v, params, retain_graph=True)
        return torch.cat([h.reshape(-1) for h in hv]) + damping * v

    return fvp


def line_search(
    evaluate: Callable[[float], tuple[float, float]],
    expected_improve: float,
    max_kl: float,
    *,
    backtrack: float,
    max_steps: int,
    accept_ratio: float,
) -> float:
    """Backtracking line search on the KL constraint. evaluate(fraction) -> (surrogate improvement, mean KL)
    of the step scaled by `fraction`; `expected_improve` is the linear prediction for fraction 1. Returns
    the first fraction in 1, backtrack, backtrack^2, ... whose KL <= max_kl and whose improvement is > 0
    and >= accept_ratio * fraction * expected_improve, or 0.0 when none of `max_steps` is accepted."""
    frac = 1.0
    for _ in range(max_steps):
        improve, kl = evaluate(frac)
        if math.isfinite(kl) and kl <= max_kl and improve > 0 and improve >= accept_ratio * frac * expected_improve:
            return frac
        frac *= backtrack
    return 0.0


def value_loss(values: Tensor, returns_: Tensor) -> Tensor:
    """0.5 mean((V - R)^2)"""
    return 0.5 * ((values - returns_) ** 2).mean()


def train(
    env: gym.vector.VectorEnv,
    cfg: TRPOConfig,
    *,
    seed: int,
    log: LogFn | None = None,
    actor: nn.Module | None = None,
    critic: nn.Module | None = None,
    head: nn.Module | None = None,
) -> TrainResult:
    """Trains TRPO on a Gymnasium vector env (NEXT_STEP autoreset). `actor` (obs -> logits or means; must be
    twice differentiable) and `critic` (obs -> [B, 1]) replace the default MLPs when given; `head`
    (networks.head_for's kind for the action space) replaces the new one, its log_std trained in place."""
    env = check_env("trpo.train", env)
    with seeded(seed, "trpo.train") as gen:
        policy = default_actor_critic(
            env.single_observation_space,
            env.single_action_space,
            cfg.hidden,
            cfg.log_std_init,
            actor=actor,
            critic=critic,
            head=head,
        )
        params = policy.policy_parameters()
        vf_groups = param_groups("trpo.train", {"critic": policy.critic}, cfg.vf_learning_rate, cfg.param_lrs)
        vf_opt = torch.optim.Adam(vf_groups, eps=1e-5)
        rollout = Rollout(cfg.num_steps, env.num_envs, env.single_observation_space, env.single_action_space)
        c = Collector.start(env, seed)
        result = TrainResult(cfg, {"policy": policy})
        for _ in range(max(1, cfg.total_timesteps // (cfg.num_steps * env.num_envs))):
            collect(policy, rollout, c)
            t0 = time.perf_counter()
            adv, ret = returns.gae(
                rollout.rewards,
                rollout.values,
                rollout.next_values(),
                rollout.terminations,
                rollout.truncations,
                gamma=cfg.gamma,
                lam=cfg.gae_lambda,
            )
            b_obs, b_actions, b_logp, b_adv, b_ret = rollout.flat(
                rollout.obs, rollout.actions, rollout.log_probs, adv, ret
            )
            if cfg.norm_adv and b_adv.numel() > 1:
                b_adv = (b_adv - b_adv.mean()) / (b_adv.std() + 1e-8)
            # policy: natural-gradient step inside the KL trust region
            with torch.no_grad():
                old_dist = policy.dist(b_obs)

            def mean_kl() -> Tensor:
                return kl_divergence(old_dist, policy.dist(b_obs)).mean()

            surr = surrogate(policy.dist(b_obs).log_prob(b_actions), b_logp, b_adv)
            g = torch.cat([x.reshape(-1) for x in torch.autograd.grad(surr, params)])
            fvp = fisher_vector_product(mean_kl, params, cfg.cg_damping)
            x = conjugate_gradient(fvp, g, cfg.cg_iters)
            shs = 0.5 * float(x @ fvp(x))
            full_step = x * math.sqrt(cfg.max_kl / max(shs, 1e-12))
            old_params = parameters_to_vector(params).detach().clone()
            surr_old = float(surr.detach())

            def evaluate(frac: float) -> tuple[float, float]:
                vector_to_parameters(old_params + frac * full_step, params)
                with torch.no_grad():
                    new = surrogate(policy.dist(b_obs).log_prob(b_actions), b_logp, b_adv)
                    return float(new) - surr_old, float(mean_kl())

            frac = line_search(
                evaluate,
                float(g @ full_step),
                cfg.max_kl,
                backtrack=cfg.backtrack,
                max_steps=cfg.line_search_steps,
                accept_ratio=cfg.accept_ratio,
            )
            vector_to_parameters(old_params + frac * full_step, params)
            with torch.no_grad():
                kl_after = float(mean_kl())
            # value function: minibatch regression on the GAE returns
            batch = b_obs.shape[0]
            mb_size = max(1, math.ceil(batch / cfg.vf_minibatches))
            for _ in range(cfg.vf_epochs):
                perm = torch.randperm(batch, generator=gen)
                for i in range(0, batch, mb_size):
                    mb = perm[i : i + mb_size]
                    loss_v = value_loss(policy.value(b_obs[mb]), b_ret[mb])
                    vf_opt.zero_grad()
                    loss_v.backward()
                    vf_opt.step()
            c.times["update"] += time.perf_counter() - t0
            c.record(
                result,
                {
                    "losses/surrogate": surr_old,
                    "losses/value": float(loss_v.detach()),
                    "losses/kl": kl_after,
                    "losses/step_fraction": frac,
                },
                log,
            )
    return c.finish(result)


__all__ = [
    "TRPOConfig",
    "conjugate_gradient",
    "fisher_vector_product",
    "line_search",
    "surrogate",
    "train",
    "value_loss",
]
