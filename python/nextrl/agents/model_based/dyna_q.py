"""Tabular Dyna-Q and Dyna-Q+ (Sutton & Barto 2018, section 8.2 and 8.3; the box "Tabular Dyna-Q").

Each real step: (d) one-step Q-learning on the real transition, (e) the model records it, (f) `planning_steps`
simulated Q-learning updates on transitions drawn from the model, each from a random previously observed state
and a random action previously taken there. The model is learned (the last outcome seen of each pair, as the
book's deterministic model) or, with `model="table"`, the env's exact transition table (its `transition_table()`,
outcomes sampled by their probabilities), which isolates the effect of planning from that of model learning.

Dyna-Q+ (`kappa > 0`): planning rewards get the bonus kappa * sqrt(tau), tau the real steps since the pair was last
tried, and planning may pick any action of an observed state, an untried one leading back to the same state with
reward 0 (the book's footnote to 8.3).

`dyna_maze()` builds the book's Dyna Maze (Figure 8.2: 6 x 9, start S, goal G, 0 reward per step and 1 at the goal,
gamma 0.95) on nextrl's GridWorld; its shortest path takes 14 steps. The env is any tabular nextrl vector env
with num_envs = 1 (its `state_ids()` are the table's states).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from gymnasium.vector import AutoresetMode

from nextrl._checks import check_seed

# Figure 8.2's maze, top row first (GridWorld layout: # wall, S start, G goal).
DYNA_MAZE = (
    ".......#G",
    "..#....#.",
    "S.#....#.",
    "..#......",
    ".....#...",
    ".........",
)


def dyna_maze(num_envs: int = 1, *, max_steps: int = 0):
    """The Dyna Maze as a GridWorld vector env (reward 1 on reaching G, else 0; max_steps 0: no time limit)."""
    from nextrl.envs.gridworld import GridWorldVectorEnv

    return GridWorldVectorEnv(
        num_envs,
        layout=DYNA_MAZE,
        goal_reward=1.0,
        step_penalty=0.0,
        max_steps=max_steps,
        autoreset_mode=AutoresetMode.DISABLED,
    )


@dataclass(frozen=True)
class DynaQConfig:
    num_episodes: int = 50
    planning_steps: int = 50
    """n: simulated updates per real step (0: plain one-step Q-learning)"""
    alpha: float = 0.1
    """step size"""
    gamma: float = 0.95
    epsilon: float = 0.1
    """epsilon-greedy exploration (ties of the greedy action broken at random)"""
    kappa: float = 0.0
    """Dyna-Q+ exploration bonus kappa * sqrt(tau) in planning (0: Dyna-Q)"""
    model: str = "learned"
    """"learned" (the last outcome of each tried pair) or "table" (the env's exact transition table)"""
    max_episode_steps: int = 100_000
    """an episode still running after this many steps is cut (a safeguard; the book's maze needs no limit)"""


@dataclass
class DynaQResult:
    config: DynaQConfig
    q: np.ndarray
    """[S, A] the learned action values"""
    episode_lengths: list[int] = field(default_factory=list)
    episode_returns: list[float] = field(default_factory=list)
    greedy_lengths: list[int | None] = field(default_factory=list)
    """after each episode: the steps the greedy policy (lowest action among ties) takes from the start to a
    termination in the exact model, None if it never gets there"""


def _check_config(cfg: DynaQConfig) -> None:
    fn = "dyna_q"
    for name in ("num_episodes", "planning_steps", "max_episode_steps"):
        value = getattr(cfg, name)
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise TypeError(f"{fn}: {name} must be an int, got {type(value).__name__}")
    if cfg.num_episodes < 1 or cfg.max_episode_steps < 1:
        raise ValueError(
            f"{fn}: num_episodes and max_episode_steps must be >= 1, got {cfg.num_episodes}, {cfg.max_episode_steps}"
        )
    if cfg.planning_steps < 0:
        raise ValueError(f"{fn}: planning_steps must be >= 0, got {cfg.planning_steps}")
    if not 0 < cfg.alpha <= 1 or not 0 <= cfg.gamma <= 1 or not 0 <= cfg.epsilon <= 1 or not cfg.kappa >= 0:
        raise ValueError(
            f"{fn}: need 0 < alpha <= 1, 0 <= gamma <= 1, 0 <= epsilon <= 1 and kappa >= 0, got "
            f"alpha={cfg.alpha}, gamma={cfg.gamma}, epsilon={cfg.epsilon}, kappa={cfg.kappa}"
        )
    if cfg.model not in ("learned", "table"):
        raise ValueError(f"{fn}: model must be 'learned' or 'table', got {cfg.model!r}")


def greedy_length(table, start: int, q: np.ndarray, max_steps: int | None = None) -> int | None:
    """Steps the greedy policy argmax_a q[s, a] (lowest index among ties) takes from `start` to a termination in a
    deterministic transition table (p, next, reward, terminal) ([S, A, K]; the most likely outcome is taken);
    None when it loops or exceeds max_steps (default: the number of states)."""
    p, nxt, _, term = table
    s, steps = int(start), 0
    limit = q.shape[0] if max_steps is None else max_steps
    while steps < limit:
        a = int(np.argmax(q[s]))
        k = int(np.argmax(p[s, a]))
        steps += 1
        if term[s, a, k]:
            return steps
        s = int(nxt[s, a, k])
    return None


def train(env, cfg: DynaQConfig = DynaQConfig(), *, seed: int) -> DynaQResult:
    """Dyna-Q on `env` (a tabular nextrl vector env with num_envs = 1) for cfg.num_episodes episodes."""
    _check_config(cfg)
    seed = check_seed("dyna_q", seed)
    if not getattr(env, "is_tabular", False):
        raise TypeError(f"dyna_q: env must be a tabular nextrl vector env (a grid env), got {type(env).__name__}")
    if env.num_envs != 1:
        raise ValueError(f"dyna_q: env must have num_envs = 1, got {env.num_envs}")
    rng = np.random.default_rng(seed)
    table = env.transition_table()
    p_tab, next_tab, reward_tab, term_tab = table
    S, A = p_tab.shape[:2]
    # Python lists in the inner loops (a NumPy scalar access costs more than the arithmetic of an update)
    q = [[0.0] * A for _ in range(S)]
    model: dict[tuple[int, int], tuple[float, int, bool]] = {}  # the learned model: (s, a) -> (r, s', terminal)
    tried: list[list[int]] = [[] for _ in range(S)]  # actions tried in each state, in order
    last_tried: dict[tuple[int, int], int] = {}  # (s, a) -> real step of its last try
    observed: list[int] = []  # states seen, in order of first visit
    outcomes = [[(p_tab[s, a] > 0).nonzero()[0] for a in range(A)] for s in range(S)] if cfg.model == "table" else None
    result = DynaQResult(config=cfg, q=np.zeros((S, A)))
    alpha, gamma, kappa = cfg.alpha, cfg.gamma, cfg.kappa
    step = 0

    def greedy(s: int) -> int:
        row = q[s]
        top = max(row)
        ties = [a for a in range(A) if row[a] == top]
        return ties[int(rng.integers(len(ties)))] if len(ties) > 1 else ties[0]

    def update(s: int, a: int, r: float, s2: int, terminal: bool) -> None:
        target = r if terminal else r + gamma * max(q[s2])
        q[s][a] += alpha * (target - q[s][a])

    env.reset(seed=seed)
    start = int(env.state_ids()[0])
    action = np.zeros(1, dtype=np.int64)
    for episode in range(cfg.num_episodes):
        if episode > 0:
            env.reset()
        s = int(env.state_ids()[0])
        ret, length = 0.0, 0
        while length < cfg.max_episode_steps:
            a = int(rng.integers(A)) if rng.random() < cfg.epsilon else greedy(s)
            action[0] = a
            _, r, term, trunc, _ = env.step(action)
            s2, r, terminal = int(env.state_ids()[0]), float(r[0]), bool(term[0])
            step += 1
            length += 1
            ret += r
            update(s, a, r, s2, terminal)  # (d) direct RL
            if not tried[s]:
                observed.append(s)
            if (s, a) not in model:
                tried[s].append(a)
            model[s, a] = (r, s2, terminal)  # (e) model learning
            last_tried[s, a] = step
            draws = rng.random((cfg.planning_steps, 3))
            for u_state, u_action, u_outcome in draws:  # (f) planning
                ps = observed[int(u_state * len(observed))]
                if kappa > 0:
                    pa = int(u_action * A)
                else:
                    pa = tried[ps][int(u_action * len(tried[ps]))]
                if outcomes is not None:
                    ks = outcomes[ps][pa]
                    k = int(
                        ks[
                            min(
                                int(np.searchsorted(np.cumsum(p_tab[ps, pa, ks]), u_outcome, side="right")), len(ks) - 1
                            )
                        ]
                    )
                    pr, ps2, pterm = float(reward_tab[ps, pa, k]), int(next_tab[ps, pa, k]), bool(term_tab[ps, pa, k])
                elif (ps, pa) in model:
                    pr, ps2, pterm = model[ps, pa]
                else:  # Dyna-Q+: an untried action leads back to the same state with reward 0
                    pr, ps2, pterm = 0.0, ps, False
                if kappa > 0:
                    pr += kappa * (step - last_tried.get((ps, pa), 0)) ** 0.5
                update(ps, pa, pr, ps2, pterm)
            s = s2
            if terminal or trunc[0]:
                break
        result.episode_lengths.append(length)
        result.episode_returns.append(ret)
        result.q = np.array(q)
        result.greedy_lengths.append(greedy_length(table, start, result.q))
    return result


__all__ = ["DYNA_MAZE", "DynaQConfig", "DynaQResult", "dyna_maze", "greedy_length", "train"]
