"""PPO training speed: nextrl's PPO against a CleanRL-style single-file PPO, same hyperparameters, same run.

    python bench/bench_train.py                              # 1e5 steps each, Gymnasium CartPole-v1 for both
    python bench/bench_train.py --env nextrl/CartPole-v0     # nextrl's vector env for nextrl's PPO
    python bench/bench_train.py --steps 20000 --repeats 3 --out train.jsonl

Both train with CleanRL's ppo.py defaults (4 envs, 128 steps, 4 epochs of 4 minibatches, lr 2.5e-4
annealed, GAE 0.95, clip 0.2, entropy 0.01, value 0.5, grad norm 0.5) on 1 torch thread. The peer is
CleanRL's ppo.py loop written out below (its Agent, buffers, Python GAE recursion), on Gymnasium's
SyncVectorEnv with SAME_STEP autoreset (the semantics that loop was written for); nextrl's PPO runs on
`--env` made by nextrl.experiments.train.make_env (nextrl's C++ vector env for nextrl/ ids, SyncVectorEnv
otherwise). Reported: wall time per 1e5 environment steps, the ratio (peer / nextrl, > 1: nextrl faster),
and where the time goes: env (stepping), inference (acting during rollouts), update (advantages and
gradient steps), other (storage, bookkeeping). The median over
`--repeats` alternated runs. Prints a table; with --out, appends one JSON line per case (the schema of
nextrl.experiments.benchmark; ours_s / peer_s are seconds per 1e5 environment steps).
"""

from __future__ import annotations

import argparse
import statistics
import time

import gymnasium as gym
import numpy as np
import torch
from torch import nn
from torch.distributions import Categorical

import nextrl
from nextrl.agents import ppo
from nextrl.experiments import benchmark


# ------------------------------------------------------------------------- CleanRL-style PPO (peer)
def layer_init(layer, std=np.sqrt(2), bias_const=0.0):  # noqa: B008 (CleanRL's code as written)
    torch.nn.init.orthogonal_(layer.weight, std)
    torch.nn.init.constant_(layer.bias, bias_const)
    return layer


class Agent(nn.Module):
    def __init__(self, envs):
        super().__init__()
        n_obs = int(np.array(envs.single_observation_space.shape).prod())
        self.critic = nn.Sequential(
            layer_init(nn.Linear(n_obs, 64)),
            nn.Tanh(),
            layer_init(nn.Linear(64, 64)),
            nn.Tanh(),
            layer_init(nn.Linear(64, 1), std=1.0),
        )
        self.actor = nn.Sequential(
            layer_init(nn.Linear(n_obs, 64)),
            nn.Tanh(),
            layer_init(nn.Linear(64, 64)),
            nn.Tanh(),
            layer_init(nn.Linear(64, envs.single_action_space.n), std=0.01),
        )

    def get_value(self, x):
        return self.critic(x)

    def get_action_and_value(self, x, action=None):
        logits = self.actor(x)
        probs = Categorical(logits=logits)
        if action is None:
            action = probs.sample()
        return action, probs.log_prob(action), probs.entropy(), self.critic(x)


def cleanrl_ppo(cfg: ppo.PPOConfig, num_envs: int, env_id: str, seed: int) -> dict:
    """CleanRL ppo.py's training loop (timers added); returns wall time, time breakdown, episode returns."""
    torch.manual_seed(seed)
    np.random.seed(seed)  # noqa: NPY002 (CleanRL's seeding, as written)
    envs = gym.vector.SyncVectorEnv(
        [lambda: gym.make(env_id) for _ in range(num_envs)], autoreset_mode=gym.vector.AutoresetMode.SAME_STEP
    )
    envs = gym.wrappers.vector.RecordEpisodeStatistics(envs)
    agent = Agent(envs)
    optimizer = torch.optim.Adam(agent.parameters(), lr=cfg.learning_rate, eps=1e-5)
    batch_size = num_envs * cfg.num_steps
    minibatch_size = batch_size // cfg.num_minibatches
    num_iterations = cfg.total_timesteps // batch_size
    obs = torch.zeros((cfg.num_steps, num_envs) + envs.single_observation_space.shape)
    actions = torch.zeros((cfg.num_steps, num_envs) + envs.single_action_space.shape)
    logprobs = torch.zeros((cfg.num_steps, num_envs))
    rewards = torch.zeros((cfg.num_steps, num_envs))
    dones = torch.zeros((cfg.num_steps, num_envs))
    values = torch.zeros((cfg.num_steps, num_envs))
    times = {"env": 0.0, "inference": 0.0, "update": 0.0}
    episode_returns = []
    start = time.perf_counter()
    next_obs, _ = envs.reset(seed=seed)
    next_obs = torch.Tensor(next_obs)
    next_done = torch.zeros(num_envs)
    for iteration in range(1, num_iterations + 1):
        if cfg.anneal_lr:
            optimizer.param_groups[0]["lr"] = (1.0 - (iteration - 1.0) / num_iterations) * cfg.learning_rate
        for step in range(cfg.num_steps):
            obs[step] = next_obs
            dones[step] = next_done
            t0 = time.perf_counter()
            with torch.no_grad():
                action, logprob, _, value = agent.get_action_and_value(next_obs)
                values[step] = value.flatten()
            t1 = time.perf_counter()
            actions[step] = action
            logprobs[step] = logprob
            next_obs, reward, terminations, truncations, infos = envs.step(action.cpu().numpy())
            t2 = time.perf_counter()
            times["inference"] += t1 - t0
            times["env"] += t2 - t1
            next_done = np.logical_or(terminations, truncations)
            rewards[step] = torch.tensor(reward).view(-1)
            next_obs, next_done = torch.Tensor(next_obs), torch.Tensor(next_done)
            if "episode" in infos:
                episode_returns += [float(r) for r, done in zip(infos["episode"]["r"], infos["_episode"]) if done]
        t0 = time.perf_counter()
        with torch.no_grad():
            next_value = agent.get_value(next_obs).reshape(1, -1)
            advantages = torch.zeros_like(rewards)
            lastgaelam = 0
            for t in reversed(range(cfg.num_steps)):
                if t == cfg.num_steps - 1:
                    nextnonterminal = 1.0 - next_done
                    nextvalues = next_value
                else:
                    nextnonterminal = 1.0 - dones[t + 1]
                    nextvalues = values[t + 1]
                delta = rewards[t] + cfg.gamma * nextvalues * nextnonterminal - values[t]
                advantages[t] = lastgaelam = delta + cfg.gamma * cfg.gae_lambda * nextnonterminal * lastgaelam
            returns = advantages + values
        b_obs = obs.reshape((-1,) + envs.single_observation_space.shape)
        b_logprobs = logprobs.reshape(-1)
        b_actions = actions.reshape((-1,) + envs.single_action_space.shape)
        b_advantages = advantages.reshape(-1)
        b_returns = returns.reshape(-1)
        b_values = values.reshape(-1)
        b_inds = np.arange(batch_size)
        for _epoch in range(cfg.update_epochs):
            np.random.shuffle(b_inds)  # noqa: NPY002 (CleanRL's shuffle, as written)
            for start_i in range(0, batch_size, minibatch_size):
                mb_inds = b_inds[start_i : start_i + minibatch_size]
                _, newlogprob, entropy, newvalue = agent.get_action_and_value(b_obs[mb_inds], b_actions.long()[mb_inds])
                logratio = newlogprob - b_logprobs[mb_inds]
                ratio = logratio.exp()
                with torch.no_grad():
                    approx_kl = ((ratio - 1) - logratio).mean()  # noqa: F841 (logged by CleanRL)
                mb_advantages = b_advantages[mb_inds]
                if cfg.norm_adv:
                    mb_advantages = (mb_advantages - mb_advantages.mean()) / (mb_advantages.std() + 1e-8)
                pg_loss1 = -mb_advantages * ratio
                pg_loss2 = -mb_advantages * torch.clamp(ratio, 1 - cfg.clip_coef, 1 + cfg.clip_coef)
                pg_loss = torch.max(pg_loss1, pg_loss2).mean()
                newvalue = newvalue.view(-1)
                if cfg.clip_vloss:
                    v_loss_unclipped = (newvalue - b_returns[mb_inds]) ** 2
                    v_clipped = b_values[mb_inds] + torch.clamp(
                        newvalue - b_values[mb_inds], -cfg.clip_coef, cfg.clip_coef
                    )
                    v_loss_clipped = (v_clipped - b_returns[mb_inds]) ** 2
                    v_loss = 0.5 * torch.max(v_loss_unclipped, v_loss_clipped).mean()
                else:
                    v_loss = 0.5 * ((newvalue - b_returns[mb_inds]) ** 2).mean()
                entropy_loss = entropy.mean()
                loss = pg_loss - cfg.ent_coef * entropy_loss + v_loss * cfg.vf_coef
                optimizer.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(agent.parameters(), cfg.max_grad_norm)
                optimizer.step()
        times["update"] += time.perf_counter() - t0
    wall = time.perf_counter() - start
    envs.close()
    return {"wall_s": wall, "times": times, "steps": num_iterations * batch_size, "returns": episode_returns}


# ------------------------------------------------------------------------------------ nextrl
def nextrl_ppo(cfg: ppo.PPOConfig, num_envs: int, env_id: str, seed: int) -> dict:
    from nextrl.experiments.train import make_env

    env = make_env(env_id, num_envs)  # nextrl/ ids: the C++ vector env; others: SyncVectorEnv
    start = time.perf_counter()
    res = ppo.train(env, cfg, seed=seed)
    wall = time.perf_counter() - start
    env.close()
    return {"wall_s": wall, "times": res.time_breakdown_s, "steps": res.global_steps, "returns": res.episode_returns}


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--env", default="CartPole-v1", help="env id for nextrl's PPO (default CartPole-v1)")
    p.add_argument("--peer-env", default="CartPole-v1", help="Gymnasium env id for the CleanRL-style PPO")
    p.add_argument("--steps", type=int, default=100_000, help="environment steps per run (default 1e5)")
    p.add_argument("--num-envs", type=int, default=4, help="parallel envs (default 4, CleanRL's)")
    p.add_argument("--repeats", type=int, default=1, help="alternated runs of each; medians reported")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--out", help="append one JSON line per case to this file (default: runs/<bench>-<time>.jsonl)")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(1)
    nextrl.set_num_threads(1)
    torch.optim.Adam([torch.zeros(1, requires_grad=True)])  # the first optimizer imports torch._dynamo (seconds)
    cfg = ppo.PPOConfig(total_timesteps=args.steps, num_envs=args.num_envs, num_steps=128)
    runs = {"nextrl": [], "cleanrl": []}
    for r in range(args.repeats):
        runs["nextrl"].append(nextrl_ppo(cfg, args.num_envs, args.env, args.seed + r))
        runs["cleanrl"].append(cleanrl_ppo(cfg, args.num_envs, args.peer_env, args.seed + r))
    per = 1e5

    def summary(rs):
        scale = per / rs[0]["steps"]
        out = {"total": statistics.median(x["wall_s"] for x in rs) * scale}
        for k in ("env", "inference", "update"):
            out[k] = statistics.median(x["times"][k] for x in rs) * scale
        out["other"] = out["total"] - out["env"] - out["inference"] - out["update"]
        out["final_return"] = statistics.median(
            float(np.mean(x["returns"][-20:])) if x["returns"] else float("nan") for x in rs
        )
        return out

    ours, peer = summary(runs["nextrl"]), summary(runs["cleanrl"])
    info = benchmark.machine_info()
    print(
        f"machine: {info['cpu']}, {info['cores']} cores, load {info['loadavg_1m']:.1f}; torch {torch.__version__}, "
        f"1 thread; {args.steps} steps x {args.repeats} run(s), {args.num_envs} envs"
    )
    print(f"nextrl: {args.env}; peer (CleanRL-style ppo.py): Gymnasium SyncVectorEnv {args.peer_env}")
    print(f"{'seconds per 1e5 env steps':28s} {'nextrl':>10s} {'cleanrl':>10s} {'ratio':>8s}")
    lines = []
    for k in ("total", "env", "inference", "update", "other"):
        ratio = peer[k] / ours[k] if ours[k] > 0 else float("nan")
        print(f"{k:28s} {ours[k]:10.2f} {peer[k]:10.2f} {ratio:8.2f}")
        # a component can be ~0 (or, for "other", slightly negative): no validation, ratio NaN there
        lines.append(
            benchmark.BenchResult(
                "train_ppo",
                f"{k} {args.env} envs={args.num_envs}",
                ours[k],
                f"cleanrl-ppo {args.peer_env}",
                peer[k],
                info,
                {
                    "component": k,
                    "env": args.env,
                    "peer_env": args.peer_env,
                    "num_envs": args.num_envs,
                    "steps": args.steps,
                    "repeats": args.repeats,
                    "stat": "median",
                    "unit": "seconds per 1e5 env steps",
                    "torch": torch.__version__,
                    "final_return": ours["final_return"],
                    "peer_final_return": peer["final_return"],
                },
            )
        )
    print(f"{'mean return, last 20 eps':28s} {ours['final_return']:10.1f} {peer['final_return']:10.1f}")
    print("results saved to", benchmark.save_results(args.out, "train", lines, **benchmark.stamp()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
