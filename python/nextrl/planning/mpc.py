"""Model-predictive control over a whole nextrl vector env: every `replan_every` steps, one plan for all envs at
once (one problem per env), then the plan's first actions are executed one step at a time (receding horizon).

Warm start: the next plan starts from the last plan's mean shifted by the steps executed since, padded with the
box's middle (PlaNet / mbrl-lib's `keep_last_solution`); the std restarts at the planner's init_std. iCEM also
carries its elites, shifted the same way, into the next plan. An env whose episode ended gets a fresh warm start.

The model is `ExactModel(env)` by default (the exact dynamics: every plan starts from `env.get_state()`), or a
torch objective `objective(obs, actions) -> returns` over the current observations obs [num_envs, ...] (tensor)
and candidates [num_envs * population, horizon, action_dim] (problem-major), with the action box given.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from nextrl._checks import check_seed
from nextrl.planning.models import ExactModel, to_env_actions
from nextrl.planning.optimizers import CEM, ICEM, MPPI


@dataclass
class MPCRun:
    """What `MPC.run` returns: the episodes that ended during the run and every step's rewards."""

    episode_returns: list[float] = field(default_factory=list)
    episode_lengths: list[int] = field(default_factory=list)
    rewards: np.ndarray | None = None
    """[num_steps, num_envs] float32"""


class MPC:
    """Receding-horizon control of `env` (a nextrl vector env) with `planner` (CEM, ICEM or MPPI)."""

    def __init__(
        self,
        env,
        planner: CEM | ICEM | MPPI,
        *,
        objective=None,
        low=None,
        high=None,
        replan_every: int = 1,
        seed: int = 0,
    ):
        if not isinstance(planner, (CEM, ICEM, MPPI)):
            raise TypeError(f"MPC: planner must be a CEM, ICEM or MPPI, got {type(planner).__name__}")
        if isinstance(replan_every, bool) or not isinstance(replan_every, (int, np.integer)):
            raise TypeError(f"MPC: replan_every must be an int, got {type(replan_every).__name__}")
        if not 1 <= replan_every <= planner.horizon:
            raise ValueError(f"MPC: replan_every must be in [1, horizon] = [1, {planner.horizon}], got {replan_every}")
        self.env, self.planner, self.replan_every = env, planner, int(replan_every)
        self.seed = check_seed("MPC", seed)
        self.num_envs = int(env.num_envs)
        if objective is None:
            self.model = ExactModel(env)
            self.low, self.high = self.model.low, self.model.high
        else:
            if not callable(objective):
                raise TypeError(
                    f"MPC: objective must be callable (obs, actions) -> returns, got {type(objective).__name__}"
                )
            if low is None or high is None:
                raise ValueError("MPC: low and high (the action box) are required with an objective")
            self.model = None
            self.low, self.high = np.asarray(low, dtype=np.float64), np.asarray(high, dtype=np.float64)
        self._objective = objective
        self.action_dim = int(self.low.shape[0])
        self._mid = (self.low + self.high) / 2
        self.rounds = 0
        self.reset()

    def reset(self, mask: np.ndarray | None = None) -> None:
        """Fresh warm starts (all envs, or those where mask [num_envs] bool is set); the next `act` replans."""
        if mask is None:
            mask = np.ones(self.num_envs, dtype=bool)
            self._mean = np.broadcast_to(self._mid, (self.num_envs, self.planner.horizon, self.action_dim)).copy()
            self._elites = None
            self._plan = None
        else:
            self._mean[mask] = self._mid
            if self._elites is not None:
                self._elites = None  # an env's kept elites belong to its old episode: drop them for all
        self._offset = self.replan_every  # replan at the next act

    def act(self) -> np.ndarray:
        """The actions of the envs' next step (the env's action dtype and shape), replanning when due."""
        if self._plan is None or self._offset >= self.replan_every:
            self._replan()
        a = self._plan[:, self._offset]
        self._offset += 1
        return to_env_actions(self.env, a)

    def step(self):
        """act() then env.step(actions); fresh warm starts for envs whose episode ended. Returns env.step's tuple."""
        out = self.env.step(self.act())
        done = np.asarray(out[2]) | np.asarray(out[3])
        if done.any():
            self._mean[done] = self._mid
            if self._elites is not None:
                self._elites = None
        return out

    def run(self, num_steps: int) -> MPCRun:
        """`num_steps` steps of every env (reset the env first); returns the finished episodes and the rewards."""
        run = MPCRun(rewards=np.zeros((num_steps, self.num_envs), dtype=np.float32))
        for t in range(num_steps):
            _, r, term, trunc, info = self.step()
            run.rewards[t] = r
            if "episode" in info:
                ep = info["episode"]
                for i in np.flatnonzero(info["_episode"]):
                    run.episode_returns.append(float(ep["r"][i]))
                    run.episode_lengths.append(int(ep["l"][i]))
        return run

    # ---------------------------------------------------------------------------------------------- helpers
    def _replan(self) -> None:
        kw = dict(mean=self._mean, seed=self.seed, round=self.rounds)
        if self.model is not None:
            self.model.sync()
            model = self.model
        else:
            obs = torch.as_tensor(self.env.observations)
            model = lambda actions: self._objective(obs, actions)
            kw.update(low=self.low, high=self.high)
        if isinstance(self.planner, ICEM):
            kw["prev_elites"] = self._elites
        result = self.planner.plan(model, **kw)
        self.rounds += 1
        to_np = lambda x: x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
        self._plan = to_np(result.actions)
        self._offset = 0
        k = self.replan_every
        self._mean = self._shift(to_np(result.mean), k)
        if isinstance(self.planner, ICEM) and self.planner.num_keep > 0:
            self._elites = self._shift(to_np(result.elites), k)

    def _shift(self, seq: np.ndarray, k: int) -> np.ndarray:
        """seq [..., horizon, action_dim] advanced by k steps, the last k filled with the box's middle."""
        out = np.empty_like(seq)
        out[..., : seq.shape[-2] - k, :] = seq[..., k:, :]
        out[..., seq.shape[-2] - k :, :] = self._mid
        return out


__all__ = ["MPC", "MPCRun"]
