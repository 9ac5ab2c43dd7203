"""Proof by learning on CartPole-v1 (fixed seeds, 2 each): PPO and TRPO reach a mean return >= 475, A2C and
REINFORCE >= 195. The score is the mean return of the final policy acting greedily (the mode of its
distribution) over 10 evaluation episodes (common.evaluate, separate env and seed); the training
episodes' mean is reported in the assertion message. Budgets and hyperparameters are tuned for speed:
many envs, large learning rates annealed to 0, ent_coef 0; PPO follows rl-zoo's CartPole settings (gamma 0.98,
GAE 0.8, 10 epochs) without value clipping (CartPole's unnormalized returns of up to ~50-100 make a
0.2-clipped value update very slow to follow them)."""

from __future__ import annotations

import gymnasium as gym
import pytest
import torch

from nextrl.agents import a2c, common, ppo, reinforce, trpo
from nextrl.agents.rollout import act_fn

PPO_STEPS = 100_000
CASES = {
    "ppo": (
        ppo,
        ppo.PPOConfig(
            total_timesteps=PPO_STEPS,
            num_envs=16,
            num_steps=32,
            num_minibatches=2,
            update_epochs=10,
            learning_rate=1e-3,
            ent_coef=0.0,
            clip_vloss=False,
            gamma=0.98,
            gae_lambda=0.8,
        ),
        475.0,
    ),
    "trpo": (
        trpo,
        trpo.TRPOConfig(
            total_timesteps=120_000,
            num_envs=8,
            num_steps=128,
            gae_lambda=0.98,
            max_kl=0.02,
            vf_epochs=10,
            vf_minibatches=2,
        ),
        475.0,
    ),
    "a2c": (
        a2c,
        a2c.A2CConfig(
            total_timesteps=100_000,
            num_envs=16,
            num_steps=16,
            optimizer="adam",
            learning_rate=1e-3,
            anneal_lr=True,
            gae_lambda=0.95,
            norm_adv=True,
        ),
        195.0,
    ),
    "reinforce": (reinforce, reinforce.ReinforceConfig(total_timesteps=80_000, num_envs=16, num_steps=32), 195.0),
}


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("name", list(CASES))
def test_learns_cartpole(name, seed):
    torch.set_num_threads(1)
    module, cfg, threshold = CASES[name]
    env = gym.make_vec("CartPole-v1", num_envs=cfg.num_envs, vectorization_mode="sync")
    res = module.train(env, cfg, seed=seed)
    eval_env = gym.make_vec("CartPole-v1", num_envs=10, vectorization_mode="sync")
    returns = common.evaluate(act_fn(res.modules["policy"], env.single_action_space), eval_env, 10, seed=10_000 + seed)
    print(
        f"\n{name} seed {seed}: greedy mean {returns.mean():.1f} (min {returns.min():.0f}), training mean of "
        f"the last 20 episodes {res.mean_return(20):.1f}, {res.global_steps} steps"
    )  # shown with pytest -s
    assert returns.mean() >= threshold, (
        f"{name} seed {seed}: greedy mean {returns.mean():.1f} over {returns}, "
        f"training mean of the last 20 episodes {res.mean_return(20):.1f}"
    )
