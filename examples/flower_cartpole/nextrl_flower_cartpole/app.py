"""The task: client i (the SuperNode's partition-id) runs CartPole with initial states in +-0.05 (i + 1) and trains
PPO for PPO_STEPS env steps per round; the global model is a 64-64 actor-critic. `make_model` and `make_client` are
also what an in-process run (nextrl.federated.client.run) of the same experiment uses."""

from __future__ import annotations

import torch

from nextrl.agents import ppo
from nextrl.agents.networks import default_actor_critic
from nextrl.envs import CartPoleVectorEnv
from nextrl.federated import client as fc
from nextrl.federated import flower

PPO_STEPS = 512


def make_env(partition_id: int) -> CartPoleVectorEnv:
    s = partition_id + 1
    return CartPoleVectorEnv(4, init_low=-0.05 * s, init_high=0.05 * s)


def make_model() -> torch.nn.Module:
    env = make_env(0)
    return default_actor_critic(env.single_observation_space, env.single_action_space, (64, 64))


def make_client(partition_id: int) -> fc.Client:
    torch.set_num_threads(1)
    cfg = ppo.PPOConfig(total_timesteps=PPO_STEPS, num_steps=128, learning_rate=2.5e-3, anneal_lr=False)
    return fc.Client(make_env(partition_id), fc.agent_trainer(ppo.train, cfg))


server = flower.server_app(make_model, fc.FederatedConfig(rounds=2, eval_episodes=2))
client = flower.client_app(make_model, make_client)
