"""Replay buffers for off-policy agents: uniform, and prioritized on the C++ sum-tree.

Both store transitions from a vector env in preallocated circular NumPy arrays. `add` takes one step of
all `num_envs` envs at once ([num_envs, ...] arrays, the `valid` mask of `common.EpisodeTracker`) and,
with `n_step > 1`, keeps a per-env window of the last n steps so that every stored transition carries

    rewards   = sum_{k<m} gamma**k r_{t+k},   discounts = gamma**m,   next_obs = s_{t+m},

with m = n, or fewer when the episode ends first (the window is flushed at the end; never summed across
episodes). `terminations` is 1 only when the episode terminated inside those m steps, so the target

    y = rewards + discounts * (1 - terminations) * V(next_obs)

bootstraps from the real final observation at a truncation.

Multi-agent envs: with `num_agents=A`, a stored transition is the joint step of one env: obs and next_obs
[A, *obs_shape], actions [A, *action_shape], rewards and terminations [A] (per agent; an agent that finished
earlier has reward 0 and flag 0, as nextrl's multi-agent envs report), one discount (n_step must be 1).

`SequenceReplayBuffer` keeps each env's stream in time order instead and samples windows of L consecutive
steps with episode-start flags, for recurrent policies and world models. Prioritized replay follows Schaul et al.
2016 (arXiv:1511.05952): P(i) = p_i / sum_k p_k with p_i = (|delta_i| + eps)**alpha, new transitions at
the largest priority so far, and importance weights w_i = (N P(i))**-beta / max_k w_k = (p_i / p_min)**-beta.

Sizes are checked before anything is allocated: a capacity, or a batch, whose arrays cannot fit in the available
memory is refused with the MemoryError of nextrl._checks.check_allocation (the wording of the C++ envs').
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from nextrl._checks import check_allocation
from nextrl._core import SumTree
from nextrl.envs.core import as_int


def _count(fn: str, name: str, value, low: int = 1) -> int:
    """An int argument >= low (TypeError for a float or bool, which NumPy would truncate or refuse obscurely)."""
    value = as_int(fn, name, value)
    if value < low:
        raise ValueError(f"{fn}: {name} must be >= {low}, got {value}")
    return value


def _shape(fn: str, name: str, shape) -> tuple[int, ...]:
    if isinstance(shape, (str, bytes)) or not isinstance(shape, Iterable):
        raise TypeError(f"{fn}: {name} must be a sequence of ints, got {type(shape).__name__} {shape!r}")
    return tuple(_count(fn, f"{name}[{i}]", d, low=0) for i, d in enumerate(shape))


def _agents(fn: str, num_agents) -> tuple[int, ...]:
    """The agent axis: () without agents, (A,) with num_agents=A."""
    if num_agents is None:
        return ()
    value = as_int(fn, "num_agents", num_agents)
    if value < 1:
        raise ValueError(f"{fn}: num_agents must be >= 1 or None, got {value}")
    return (value,)


def _step_bytes(agent_shape, obs_shape, action_shape, action_dtype, num_obs: int, scalar_bytes: int) -> int:
    """Bytes of one stored step: per agent, `num_obs` float32 observations, an action and `scalar_bytes` of
    rewards and flags (an exact Python int: products of huge sizes cannot overflow)."""
    a, o, k = math.prod(agent_shape), math.prod(obs_shape), math.prod(action_shape)
    return a * (num_obs * o * 4 + k * np.dtype(action_dtype).itemsize + scalar_bytes)


@dataclass
class ReplayBatch:
    """A sampled minibatch, as CPU torch tensors."""

    obs: torch.Tensor
    """[B, (A,) *obs_shape] float32 (the agent axis A only with num_agents)"""
    actions: torch.Tensor
    """[B, (A,) *action_shape], int64 for discrete actions, float32 for continuous ones"""
    rewards: torch.Tensor
    """[B, (A)] float32: discounted sum of the m <= n_step rewards after obs"""
    next_obs: torch.Tensor
    """[B, (A,) *obs_shape] float32: the observation m steps later"""
    terminations: torch.Tensor
    """[B, (A)] float32: 1.0 when the episode (the agent's, with A) terminated within those m steps"""
    discounts: torch.Tensor
    """[B] float32: gamma**m, the factor in front of the bootstrap value"""
    weights: torch.Tensor
    """[B] float32: importance-sampling weights (all ones for uniform replay)"""
    indices: np.ndarray
    """[B] int64: buffer slots of the transitions (for PrioritizedReplayBuffer.update_priorities)"""


class ReplayBuffer:
    """Uniform circular replay buffer over `num_envs` parallel envs (and `num_agents` agents per env, when
    given); the oldest transitions are overwritten once `capacity` is reached."""

    def __init__(
        self,
        capacity: int,
        obs_shape: Sequence[int],
        action_shape: Sequence[int] = (),
        *,
        num_envs: int,
        action_dtype=np.float32,
        n_step: int = 1,
        gamma: float = 0.99,
        num_agents: int | None = None,
    ):
        fn = "ReplayBuffer"
        capacity = _count(fn, "capacity", capacity)
        num_envs = _count(fn, "num_envs", num_envs)
        n_step = _count(fn, "n_step", n_step)
        if not 0.0 <= gamma <= 1.0:
            raise ValueError(f"ReplayBuffer: gamma must be in [0, 1], got {gamma}")
        self.agent_shape = _agents(fn, num_agents)
        if num_agents is not None and n_step != 1:
            raise ValueError(
                f"ReplayBuffer: n_step must be 1 with num_agents (agents end their episodes at "
                f"different steps), got {n_step}"
            )
        self.capacity, self.num_envs, self.n_step, self.gamma = capacity, num_envs, n_step, gamma
        self.num_agents = None if num_agents is None else self.agent_shape[0]
        self.obs_shape, self.action_shape = _shape(fn, "obs_shape", obs_shape), _shape(fn, "action_shape", action_shape)
        a = self.agent_shape
        # a transition: obs, next_obs, action, float32 reward and termination per agent, one float32 discount;
        # a step of an n-step window: obs, action, float64 reward
        self._row_bytes = _step_bytes(a, self.obs_shape, self.action_shape, action_dtype, 2, 4 + 4) + 4
        window = _step_bytes((), self.obs_shape, self.action_shape, action_dtype, 1, 8)
        self.nbytes = (
            capacity * self._row_bytes + num_envs * (n_step * window + 8) + n_step * 8 + self._extra_bytes(capacity)
        )
        """bytes of the preallocated arrays (transitions, n-step windows; the sum-tree of a prioritized buffer)"""
        what = f"capacity {capacity} with num_envs {num_envs} and n_step {n_step}"
        check_allocation(type(self).__name__, what, self.nbytes)
        self.obs = np.zeros((capacity, *a, *self.obs_shape), dtype=np.float32)
        self.next_obs = np.zeros((capacity, *a, *self.obs_shape), dtype=np.float32)
        self.actions = np.zeros((capacity, *a, *self.action_shape), dtype=action_dtype)
        self.rewards = np.zeros((capacity, *a), dtype=np.float32)
        self.terminations = np.zeros((capacity, *a), dtype=np.float32)
        self.discounts = np.zeros(capacity, dtype=np.float32)
        self.pos = 0  # next slot to write
        self.size = 0  # slots filled
        # n-step windows: the last (at most n) unfinished steps of each env, oldest first
        self._win_obs = np.zeros((num_envs, n_step, *self.obs_shape), dtype=np.float32)
        self._win_actions = np.zeros((num_envs, n_step, *self.action_shape), dtype=action_dtype)
        self._win_rewards = np.zeros((num_envs, n_step), dtype=np.float64)
        self._win_len = np.zeros(num_envs, dtype=np.int64)
        self._powers = gamma ** np.arange(n_step, dtype=np.float64)

    def __len__(self) -> int:
        return self.size

    def _extra_bytes(self, capacity: int) -> int:
        """Bytes a subclass allocates besides the transition arrays."""
        return 0

    def _check_batch(self, fn: str, batch_size, overhead: int) -> int:
        """`batch_size` checked: an int >= 1 whose batch fits in memory (a batch of a transition and
        `overhead` bytes per row, with replacement, so it may exceed the stored size). The available memory
        is read only for batches larger than the buffer itself, which did fit when it was created."""
        batch_size = _count(fn, "batch_size", batch_size)
        need = batch_size * (self._row_bytes + overhead)
        if need > self.nbytes:
            check_allocation(fn, f"batch_size {batch_size}", need)
        return batch_size

    def add(self, obs, actions, rewards, next_obs, terminations, truncations, valid=None) -> None:
        """Adds one vector-env step: obs, next_obs [num_envs, (A,) *obs_shape], actions [num_envs, (A,)
        *action_shape], rewards, terminations, truncations [num_envs, (A)]; rows with valid [num_envs] False
        (the reset step of NEXT_STEP autoreset) are skipped."""
        e, ag = self.num_envs, self.agent_shape
        obs, next_obs = np.asarray(obs), np.asarray(next_obs)
        actions, rewards = np.asarray(actions), np.asarray(rewards, dtype=np.float64)
        terms, truncs = np.asarray(terminations, dtype=bool), np.asarray(truncations, dtype=bool)
        valid = np.ones(e, dtype=bool) if valid is None else np.asarray(valid, dtype=bool)
        for name, a, shape in [
            ("obs", obs, (e, *ag, *self.obs_shape)),
            ("next_obs", next_obs, (e, *ag, *self.obs_shape)),
            ("actions", actions, (e, *ag, *self.action_shape)),
            ("rewards", rewards, (e, *ag)),
            ("terminations", terms, (e, *ag)),
            ("truncations", truncs, (e, *ag)),
            ("valid", valid, (e,)),
        ]:
            if a.shape != shape:
                raise ValueError(f"ReplayBuffer.add: {name} must have shape {shape}, got {a.shape}")
        if self.n_step == 1:
            self._store(
                obs[valid],
                actions[valid],
                rewards[valid],
                next_obs[valid],
                terms[valid],
                np.full(int(valid.sum()), self.gamma),
            )
            return
        rows = np.flatnonzero(valid)
        slot = self._win_len[rows]
        self._win_obs[rows, slot] = obs[rows]
        self._win_actions[rows, slot] = actions[rows]
        self._win_rewards[rows, slot] = rewards[rows]
        self._win_len[rows] += 1
        done = valid & (terms | truncs)
        full = np.flatnonzero(valid & ~done & (self._win_len == self.n_step))
        if full.size:  # the oldest step of a full window gets its n-step return; the window slides by one
            self._store(
                self._win_obs[full, 0],
                self._win_actions[full, 0],
                self._win_rewards[full] @ self._powers,
                next_obs[full],
                np.zeros(full.size, dtype=bool),
                np.full(full.size, self.gamma**self.n_step),
            )
            self._win_obs[full, :-1] = self._win_obs[full, 1:]
            self._win_actions[full, :-1] = self._win_actions[full, 1:]
            self._win_rewards[full, :-1] = self._win_rewards[full, 1:]
            self._win_len[full] -= 1
        for i in np.flatnonzero(done):  # episode over: every pending step is stored with a shorter horizon
            m = int(self._win_len[i])
            returns = np.zeros(m)
            acc = 0.0
            for k in range(m - 1, -1, -1):
                acc = self._win_rewards[i, k] + self.gamma * acc
                returns[k] = acc
            self._store(
                self._win_obs[i, :m],
                self._win_actions[i, :m],
                returns,
                np.broadcast_to(next_obs[i], (m, *self.obs_shape)),
                np.full(m, terms[i]),
                self.gamma ** np.arange(m, 0, -1, dtype=np.float64),
            )
            self._win_len[i] = 0

    def _store(self, obs, actions, rewards, next_obs, terminations, discounts) -> np.ndarray:
        """Writes m transitions at the circular write position; returns their slots [m] int64."""
        m = len(rewards)
        if m > self.capacity:  # only the newest `capacity` survive
            obs, actions, rewards, next_obs = (
                obs[-self.capacity :],
                actions[-self.capacity :],
                rewards[-self.capacity :],
                next_obs[-self.capacity :],
            )
            terminations, discounts, m = terminations[-self.capacity :], discounts[-self.capacity :], self.capacity
        slots = (self.pos + np.arange(m)) % self.capacity
        self.obs[slots] = obs
        self.actions[slots] = actions
        self.rewards[slots] = rewards
        self.next_obs[slots] = next_obs
        self.terminations[slots] = terminations
        self.discounts[slots] = discounts
        self.pos = int((self.pos + m) % self.capacity)
        self.size = min(self.size + m, self.capacity)
        return slots

    def _batch(self, indices: np.ndarray, weights: np.ndarray | None = None) -> ReplayBatch:
        b = len(indices)
        return ReplayBatch(
            obs=torch.from_numpy(self.obs[indices]),
            actions=torch.from_numpy(self.actions[indices]),
            rewards=torch.from_numpy(self.rewards[indices]),
            next_obs=torch.from_numpy(self.next_obs[indices]),
            terminations=torch.from_numpy(self.terminations[indices]),
            discounts=torch.from_numpy(self.discounts[indices]),
            weights=torch.ones(b) if weights is None else torch.from_numpy(weights.astype(np.float32)),
            indices=indices,
        )

    def sample(self, batch_size: int, rng: np.random.Generator) -> ReplayBatch:
        """`batch_size` transitions drawn uniformly with replacement."""
        batch_size = self._check_batch("ReplayBuffer.sample", batch_size, 8 + 4)  # int64 indices, float32 weights
        if self.size == 0:
            raise ValueError("ReplayBuffer.sample: the buffer is empty; add transitions first")
        return self._batch(rng.integers(0, self.size, size=batch_size))


class PrioritizedReplayBuffer(ReplayBuffer):
    """Proportional prioritized replay (Schaul et al. 2016) on the C++ sum-tree, stratified sampling.
    Call `update_priorities(batch.indices, td_errors)` after each learning step."""

    def __init__(
        self,
        capacity: int,
        obs_shape: Sequence[int],
        action_shape: Sequence[int] = (),
        *,
        num_envs: int,
        action_dtype=np.float32,
        n_step: int = 1,
        gamma: float = 0.99,
        alpha: float = 0.6,
        eps: float = 1e-6,
    ):
        super().__init__(
            capacity, obs_shape, action_shape, num_envs=num_envs, action_dtype=action_dtype, n_step=n_step, gamma=gamma
        )
        if alpha < 0:
            raise ValueError(f"PrioritizedReplayBuffer: alpha must be >= 0, got {alpha}")
        if eps <= 0:
            raise ValueError(f"PrioritizedReplayBuffer: eps must be > 0, got {eps}")
        self.alpha, self.eps = alpha, eps
        self.tree = SumTree(self.capacity)  # its bytes were checked with the buffer's (_extra_bytes)
        self.max_priority = 1.0
        """largest p_i = (|delta| + eps)**alpha so far; new transitions get it"""

    def _extra_bytes(self, capacity: int) -> int:
        """The sum-tree: two trees of 2 * size doubles, size = capacity rounded up to a power of two."""
        return 2 * 2 * 8 * (1 << (capacity - 1).bit_length())

    def _store(self, obs, actions, rewards, next_obs, terminations, discounts) -> np.ndarray:
        slots = super()._store(obs, actions, rewards, next_obs, terminations, discounts)
        self.tree.update(slots, np.full(len(slots), self.max_priority))
        return slots

    def sample(self, batch_size: int, rng: np.random.Generator, beta: float = 0.4) -> ReplayBatch:
        """`batch_size` transitions, one per equal-mass segment, with weights (p_i / p_min)**-beta."""
        # float64 uniforms, int64 indices, float64 priorities and weights
        batch_size = self._check_batch("PrioritizedReplayBuffer.sample", batch_size, 4 * 8)
        if self.size == 0:
            raise ValueError("PrioritizedReplayBuffer.sample: the buffer is empty; add transitions first")
        if not 0.0 <= beta <= 1.0:
            raise ValueError(f"PrioritizedReplayBuffer.sample: beta must be in [0, 1], got {beta}")
        indices = self.tree.sample(rng.random(batch_size))
        weights = (self.tree.get(indices) / self.tree.min()) ** -beta
        return self._batch(indices, weights)

    def update_priorities(self, indices, td_errors) -> None:
        """Sets p_i = (|td_errors| + eps)**alpha at `indices` [B] (td_errors [B], numpy or torch)."""
        if isinstance(td_errors, torch.Tensor):
            td_errors = td_errors.detach().cpu().numpy()
        td = np.asarray(td_errors, dtype=np.float64)
        if td.shape != np.shape(indices):
            raise ValueError(
                f"PrioritizedReplayBuffer.update_priorities: td_errors must have shape "
                f"{np.shape(indices)} like indices, got {td.shape}"
            )
        if not np.all(np.isfinite(td)):
            raise ValueError(
                f"PrioritizedReplayBuffer.update_priorities: td_errors must be finite, got {td[~np.isfinite(td)][0]}"
            )
        priorities = (np.abs(td) + self.eps) ** self.alpha
        self.tree.update(np.asarray(indices), priorities)
        self.max_priority = max(self.max_priority, float(priorities.max(initial=0.0)))


@dataclass
class SequenceBatch:
    """Windows of L consecutive steps of one env each, as CPU torch tensors, batch first: [B, L, ...].

    Step k of a window holds an observation, the action taken from it, and what `env.step` returned for that
    action (reward, flags). `is_first` marks the first observation of an episode (a recurrent state must be
    reset there); `valid` is False where the observation is an episode's final one, stored from the reset
    step of NEXT_STEP autoreset: its action was ignored and its reward and flags are 0 (the transition into it
    is the step before, whose termination or truncation flag is set). Windows may cross episode boundaries."""

    obs: torch.Tensor
    """[B, L, (A,) *obs_shape] float32"""
    actions: torch.Tensor
    """[B, L, (A,) *action_shape]"""
    rewards: torch.Tensor
    """[B, L, (A)] float32"""
    terminations: torch.Tensor
    """[B, L, (A)] bool"""
    truncations: torch.Tensor
    """[B, L, (A)] bool"""
    is_first: torch.Tensor
    """[B, L] bool: obs[:, k] is the first observation of an episode"""
    valid: torch.Tensor
    """[B, L] bool: False where obs[:, k] is an episode's final observation (its action was not taken)"""
    env_ids: np.ndarray
    """[B] int64: the env each window comes from"""
    starts: np.ndarray
    """[B] int64: the stream position (steps since the buffer was created) of each window's first step"""


class SequenceReplayBuffer:
    """Per-env streams of steps in time order, for sequence models (recurrent policies, world models).

    Each env keeps its last `capacity // num_envs` steps (circular). `add` takes one vector-env step exactly
    as `Rollout.add` does (the observation the actions were taken from, then what `env.step` returned, and
    the `valid` mask of common.EpisodeTracker); the final observation of an episode is kept as the row of the
    reset step that follows it. `sample` draws windows of `seq_len` consecutive stored steps of one env,
    uniformly over all windows that lie inside the stored stream."""

    def __init__(
        self,
        capacity: int,
        obs_shape: Sequence[int],
        action_shape: Sequence[int] = (),
        *,
        num_envs: int,
        action_dtype=np.float32,
        num_agents: int | None = None,
    ):
        fn = "SequenceReplayBuffer"
        num_envs = _count(fn, "num_envs", num_envs)
        capacity = as_int(fn, "capacity", capacity)
        if capacity < num_envs:
            raise ValueError(f"SequenceReplayBuffer: capacity must be >= num_envs ({num_envs}), got {capacity}")
        a = _agents(fn, num_agents)
        self.num_envs, self.num_agents = num_envs, None if num_agents is None else a[0]
        self.steps_per_env = capacity // self.num_envs
        self.obs_shape, self.action_shape = _shape(fn, "obs_shape", obs_shape), _shape(fn, "action_shape", action_shape)
        self.agent_shape = a
        t, e = self.steps_per_env, self.num_envs
        # a step of one env: obs, action, float32 reward, bool termination and truncation per agent; is_first, valid
        self._row_bytes = _step_bytes(a, self.obs_shape, self.action_shape, action_dtype, 1, 4 + 1 + 1) + 2
        self.nbytes = t * e * self._row_bytes + 2 * e
        """bytes of the preallocated arrays"""
        check_allocation(fn, f"capacity {capacity} with num_envs {num_envs}", self.nbytes)
        self.obs = np.zeros((t, e, *a, *self.obs_shape), dtype=np.float32)
        self.actions = np.zeros((t, e, *a, *self.action_shape), dtype=action_dtype)
        self.rewards = np.zeros((t, e, *a), dtype=np.float32)
        self.terminations = np.zeros((t, e, *a), dtype=bool)
        self.truncations = np.zeros((t, e, *a), dtype=bool)
        self.is_first = np.zeros((t, e), dtype=bool)
        self.valid = np.zeros((t, e), dtype=bool)
        self.total = 0  # steps added per env since creation
        self._next_first = np.ones(e, dtype=bool)  # the next row starts an episode
        self._prev_done = np.zeros(e, dtype=bool)

    def __len__(self) -> int:
        """Steps stored, summed over envs."""
        return min(self.total, self.steps_per_env) * self.num_envs

    def add(self, obs, actions, rewards, terminations, truncations, valid=None) -> None:
        """Adds one vector-env step: obs [num_envs, (A,) *obs_shape] (what the actions were taken from),
        actions [num_envs, (A,) *action_shape], rewards, terminations, truncations [num_envs, (A)], and
        valid [num_envs] (False for the reset step of NEXT_STEP autoreset; default all True)."""
        e, ag = self.num_envs, self.agent_shape
        obs, actions = np.asarray(obs), np.asarray(actions)
        rewards = np.asarray(rewards, dtype=np.float32)
        terms, truncs = np.asarray(terminations, dtype=bool), np.asarray(truncations, dtype=bool)
        valid = np.ones(e, dtype=bool) if valid is None else np.asarray(valid, dtype=bool)
        for name, x, shape in [
            ("obs", obs, (e, *ag, *self.obs_shape)),
            ("actions", actions, (e, *ag, *self.action_shape)),
            ("rewards", rewards, (e, *ag)),
            ("terminations", terms, (e, *ag)),
            ("truncations", truncs, (e, *ag)),
            ("valid", valid, (e,)),
        ]:
            if x.shape != shape:
                raise ValueError(f"SequenceReplayBuffer.add: {name} must have shape {shape}, got {x.shape}")
        row = self.total % self.steps_per_env
        self.obs[row], self.actions[row] = obs, actions
        self.rewards[row] = np.where(_expand(valid, rewards.ndim), rewards, 0.0)
        self.terminations[row] = terms & _expand(valid, terms.ndim)
        self.truncations[row] = truncs & _expand(valid, truncs.ndim)
        self.is_first[row] = self._next_first & valid
        self.valid[row] = valid
        self._next_first = np.where(valid, False, True)  # after a reset step comes a first observation
        self.total += 1

    def sample(self, batch_size: int, seq_len: int, rng: np.random.Generator) -> SequenceBatch:
        """`batch_size` windows of `seq_len` steps, each from a uniformly drawn env and start (with replacement)."""
        fn = "SequenceReplayBuffer.sample"
        batch_size, seq_len = _count(fn, "batch_size", batch_size), _count(fn, "seq_len", seq_len)
        stored = min(self.total, self.steps_per_env)
        if seq_len > stored:
            raise ValueError(
                f"SequenceReplayBuffer.sample: seq_len must be <= the steps stored per env ({stored}), "
                f"got {seq_len}; add more steps first"
            )
        # windows of seq_len steps plus their int64 row indices, and the int64 starts and env ids (with replacement:
        # batch_size may exceed what is stored; the available memory is read only past the buffer's own size)
        need = batch_size * (seq_len * (self._row_bytes + 8) + 2 * 8)
        if need > self.nbytes:
            check_allocation(fn, f"batch_size {batch_size} x seq_len {seq_len}", need)
        oldest = self.total - stored
        starts = oldest + rng.integers(0, stored - seq_len + 1, size=batch_size)
        env_ids = rng.integers(0, self.num_envs, size=batch_size)
        rows = (starts[:, None] + np.arange(seq_len)) % self.steps_per_env  # [B, L]
        cols = env_ids[:, None]

        def take(x):
            return torch.from_numpy(np.ascontiguousarray(x[rows, cols]))

        return SequenceBatch(
            obs=take(self.obs),
            actions=take(self.actions),
            rewards=take(self.rewards),
            terminations=take(self.terminations),
            truncations=take(self.truncations),
            is_first=take(self.is_first),
            valid=take(self.valid),
            env_ids=env_ids,
            starts=starts.astype(np.int64),
        )


def _expand(mask: np.ndarray, ndim: int) -> np.ndarray:
    """[E] -> [E, 1, ...] with `ndim` dimensions, for broadcasting a per-env mask over agents."""
    return mask.reshape(mask.shape + (1,) * (ndim - 1))


__all__ = ["PrioritizedReplayBuffer", "ReplayBatch", "ReplayBuffer", "SequenceBatch", "SequenceReplayBuffer"]
