"""Causal world models: a transition SCM with one mechanism per next-state variable.

    s_{t+1,i} = clip_i(f_i(pa_i) + u_i),   pa_i among (s_t, a_t) and the other components of s_{t+1}

Variables are named as the envs' temporal graphs name them (`CausalThrustVectorEnv.causal_graph(temporal=True)`):
"pos[t]", "action[t]", "pos[t+1]". A causal model takes the parents of each "x[t+1]" from a graph (the true
one, or one discovered from transitions); the non-causal baseline (`graph="full"`) gives every next-state
variable all of (s_t, a_t). Mechanisms are fitted by least squares or small MLPs (scm.fit_mechanism) on
transitions from nextrl's vector envs, and each noise u_i is Gaussian with the residuals' standard deviation.

do() on a state variable holds it at the value at every step (the current state is set, its mechanism is
cut), do() on an action variable replaces the policy's action; both propagate through time in `rollout`.
`abduct` recovers the noise of observed transitions (exact for additive noise away from the clip bounds), the
basis of counterfactual policy evaluation (causal.counterfactual).

`causal_thrust_model` is the exact SCM of the CausalThrust env (csrc/envs/point_mass.h).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import networkx as nx
import numpy as np

from nextrl.causal.scm import Mechanism, as_digraph, check_names, fit_mechanism

Policy = Callable[[np.ndarray], np.ndarray]
"""policy(states [B, S]) -> actions [B, A]"""


def now(name: str) -> str:
    return f"{name}[t]"


def nxt(name: str) -> str:
    return f"{name}[t+1]"


def _as_batch(func: str, name: str, x, width: int) -> np.ndarray:
    a = np.asarray(x)
    if a.dtype.kind not in "fiub":
        raise TypeError(f"{func}: {name} must be numeric, got dtype {a.dtype}")
    a = a.astype(np.float64)
    if a.ndim != 2 or a.shape[1] != width:
        raise ValueError(f"{func}: {name} must have shape (batch, {width}), got {a.shape}")
    if not np.isfinite(a).all():
        raise ValueError(f"{func}: {name} must be finite, got NaN or inf")
    return a


class TransitionModel:
    """An additive-noise transition SCM over state variables `state_names` and action variables
    `action_names`.

    parents: "x[t+1]" -> its parents among "y[t]" (states and actions) and "z[t+1]" (other states), in the
      column order its mechanism takes; the same-step edges must be acyclic.
    mechanisms: "x[t+1]" -> f(parent values [n, k]) -> [n].
    noise_std: "x[t+1]" -> standard deviation of its Gaussian noise (missing: 0).
    clip: "x[t+1]" -> (low, high) applied after the noise (the env's bounds), optional.
    """

    def __init__(
        self,
        state_names: Sequence[str],
        action_names: Sequence[str],
        parents: Mapping[str, Sequence[str]],
        mechanisms: Mapping[str, Mechanism],
        noise_std: Mapping[str, float] | None = None,
        clip: Mapping[str, tuple[float, float]] | None = None,
    ):
        self.state_names, self.action_names = list(state_names), list(action_names)
        self.targets = [nxt(v) for v in self.state_names]
        inputs = [now(v) for v in self.state_names + self.action_names]
        valid = inputs + self.targets
        check_names("TransitionModel", "parents keys", parents, self.targets)
        check_names("TransitionModel", "mechanisms keys", mechanisms, self.targets)
        missing = [t for t in self.targets if t not in mechanisms or t not in parents]
        if missing:
            raise ValueError(
                f"TransitionModel: every next-state variable needs parents and a mechanism, got none for {missing}"
            )
        g = nx.DiGraph()
        g.add_nodes_from(self.targets)
        for t, pa in parents.items():
            check_names("TransitionModel", f"parents of {t}", pa, valid)
            g.add_edges_from((p, t) for p in pa if p in self.targets)
        as_digraph("TransitionModel", g)  # same-step edges must be acyclic
        self.parents = {t: list(parents[t]) for t in self.targets}
        self.mechanisms = dict(mechanisms)
        self.noise_std = np.array([float((noise_std or {}).get(t, 0.0)) for t in self.targets])
        self.clip = dict(clip or {})
        check_names("TransitionModel", "clip keys", self.clip, self.targets)
        self.order = [self.targets.index(t) for t in nx.lexicographical_topological_sort(g, key=self.targets.index)]
        self._col = {n: i for i, n in enumerate(valid)}

    @property
    def num_states(self) -> int:
        return len(self.state_names)

    @property
    def num_actions(self) -> int:
        return len(self.action_names)

    def graph(self) -> nx.DiGraph:
        """The transition graph over "x[t]" and "x[t+1]" nodes."""
        g = nx.DiGraph()
        g.add_nodes_from([now(v) for v in self.state_names + self.action_names] + self.targets)
        g.add_edges_from((p, t) for t, pa in self.parents.items() for p in pa)
        return g

    def _check_interventions(self, func: str, interventions) -> tuple[dict[int, float], dict[int, float]]:
        if interventions is None:
            return {}, {}
        if not isinstance(interventions, Mapping):
            raise TypeError(
                f"{func}: interventions must be a mapping variable -> value, got {type(interventions).__name__}"
            )
        check_names(func, "intervention targets", interventions, self.state_names + self.action_names)
        states, actions = {}, {}
        for v, value in interventions.items():
            x = np.asarray(value, dtype=np.float64)
            if x.ndim != 0 or not np.isfinite(x):
                raise ValueError(f"{func}: the value of {v!r} must be a finite number, got {value!r}")
            if v in self.state_names:
                states[self.state_names.index(v)] = float(x)
            else:
                actions[self.action_names.index(v)] = float(x)
        return states, actions

    def _step(
        self,
        state: np.ndarray,
        action: np.ndarray,
        noise: np.ndarray | None,
        do_states: dict[int, float],
        observed_next: np.ndarray | None = None,
    ) -> np.ndarray:
        """Next states [B, S]; with `observed_next`, returns the abducted noise instead."""
        n = len(state)
        cols = np.zeros((n, len(self._col)))
        cols[:, : self.num_states] = state
        cols[:, self.num_states : self.num_states + self.num_actions] = action
        base = self.num_states + self.num_actions
        out = np.zeros((n, self.num_states))
        for i in self.order:
            t = self.targets[i]
            if i in do_states:
                value = np.full(n, do_states[i])
            else:
                pa = cols[:, [self._col[p] for p in self.parents[t]]]
                mean = np.asarray(self.mechanisms[t](pa), dtype=np.float64).reshape(-1)
                if observed_next is not None:
                    out[:, i] = observed_next[:, i] - mean
                    cols[:, base + i] = observed_next[:, i]
                    continue
                value = mean if noise is None else mean + noise[:, i]
                if t in self.clip:
                    value = np.clip(value, *self.clip[t])
            out[:, i] = value
            cols[:, base + i] = value
        return out

    def predict(self, state, action, noise=None, *, interventions: Mapping[str, float] | None = None) -> np.ndarray:
        """Next states [B, S] of states [B, S] and actions [B, A]; noise [B, S] (None: the mean, u = 0)."""
        do_s, do_a = self._check_interventions("TransitionModel.predict", interventions)
        s = _as_batch("TransitionModel.predict", "state", state, self.num_states).copy()
        a = _as_batch("TransitionModel.predict", "action", action, self.num_actions).copy()
        for i, v in do_s.items():
            s[:, i] = v
        for i, v in do_a.items():
            a[:, i] = v
        u = None if noise is None else _as_batch("TransitionModel.predict", "noise", noise, self.num_states)
        return self._step(s, a, u, do_s)

    def abduct(self, state, action, next_state) -> np.ndarray:
        """The noise [B, S] of observed transitions: u_i = s'_i - f_i(pa_i). At a clip bound it is the smallest
        noise that reproduces the observation (the noise beyond a bound is not identifiable)."""
        s = _as_batch("TransitionModel.abduct", "state", state, self.num_states)
        a = _as_batch("TransitionModel.abduct", "action", action, self.num_actions)
        s2 = _as_batch("TransitionModel.abduct", "next_state", next_state, self.num_states)
        if not len(s) == len(a) == len(s2):
            raise ValueError(
                f"TransitionModel.abduct: state, action and next_state must have the same batch size, "
                f"got {len(s)}, {len(a)} and {len(s2)}"
            )
        return self._step(s, a, None, {}, observed_next=s2)

    def rollout(
        self,
        state,
        horizon: int,
        policy: Policy | None = None,
        *,
        actions=None,
        noise=None,
        seed: int | None = None,
        interventions: Mapping[str, float] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Trajectories (states [B, horizon + 1, S], actions [B, horizon, A]) from states [B, S], acting with
        `policy` or the given `actions` [B, horizon, A]. Noise: the given [B, horizon, S], or sampled from
        `seed`, or none (the mean model). do(interventions) holds at every step, the initial state included."""
        do_s, do_a = self._check_interventions("TransitionModel.rollout", interventions)
        s = _as_batch("TransitionModel.rollout", "state", state, self.num_states).copy()
        if isinstance(horizon, bool) or not isinstance(horizon, (int, np.integer)) or horizon < 0:
            raise ValueError(f"TransitionModel.rollout: horizon must be an integer >= 0, got {horizon!r}")
        if (policy is None) == (actions is None):
            raise ValueError("TransitionModel.rollout: give exactly one of policy and actions")
        b = len(s)
        if actions is not None:
            actions = np.asarray(actions, dtype=np.float64)
            if actions.shape != (b, horizon, self.num_actions):
                raise ValueError(
                    f"TransitionModel.rollout: actions must have shape ({b}, {horizon}, "
                    f"{self.num_actions}), got {actions.shape}"
                )
        if noise is None and seed is not None:
            noise = np.random.default_rng(seed).standard_normal((b, horizon, self.num_states)) * self.noise_std
        if noise is not None:
            noise = np.asarray(noise, dtype=np.float64)
            if noise.shape != (b, horizon, self.num_states):
                raise ValueError(
                    f"TransitionModel.rollout: noise must have shape ({b}, {horizon}, "
                    f"{self.num_states}), got {noise.shape}"
                )
        for i, v in do_s.items():
            s[:, i] = v
        states = np.zeros((b, horizon + 1, self.num_states))
        acts = np.zeros((b, horizon, self.num_actions))
        states[:, 0] = s
        for h in range(horizon):
            a = (
                np.asarray(policy(s), dtype=np.float64).reshape(b, self.num_actions)
                if actions is None
                else actions[:, h].copy()
            )
            for i, v in do_a.items():
                a[:, i] = v
            s = self._step(s, a, None if noise is None else noise[:, h], do_s)
            states[:, h + 1], acts[:, h] = s, a
        return states, acts


def transition_parents(graph, state_names: Sequence[str], action_names: Sequence[str]) -> dict[str, list[str]]:
    """The parents of every "x[t+1]" in a transition graph (a DAG or networkx DiGraph over "x[t]" / "x[t+1]"
    names, as the envs' `causal_graph(temporal=True)`), or in the fully connected graph if `graph == "full"`."""
    inputs = [now(v) for v in list(state_names) + list(action_names)]
    targets = [nxt(v) for v in state_names]
    if isinstance(graph, str):
        if graph != "full":
            raise ValueError(f"transition_parents: graph must be a DAG, a networkx.DiGraph or 'full', got {graph!r}")
        return {t: list(inputs) for t in targets}
    g = as_digraph("transition_parents", graph)
    check_names("transition_parents", "graph nodes", g.nodes, inputs + targets)
    order = {n: i for i, n in enumerate(inputs + targets)}
    return {t: sorted(g.predecessors(t), key=order.__getitem__) if t in g else [] for t in targets}


def adjacency_graph(names: Sequence[str], adjacency: np.ndarray) -> nx.DiGraph:
    """A networkx DiGraph from node names and a boolean adjacency [V, V] (adjacency[i, j]: i -> j)."""
    g = nx.DiGraph()
    g.add_nodes_from(names)
    g.add_edges_from((names[i], names[j]) for i, j in zip(*np.nonzero(np.asarray(adjacency))))
    return g


def fit_world_model(
    obs,
    actions,
    next_obs,
    graph,
    *,
    state_names: Sequence[str],
    action_names: Sequence[str],
    mechanism: str = "mlp",
    seed: int = 0,
    **fit_kwargs,
) -> TransitionModel:
    """A TransitionModel fitted on transitions obs [N, S], actions [N, A], next_obs [N, S]: one regression per
    next-state variable on its parents in `graph` ("full": all of (s_t, a_t), the non-causal baseline);
    `mechanism` "linear" or "mlp" and `fit_kwargs` as in scm.fit_mechanism."""
    s = _as_batch("fit_world_model", "obs", obs, len(state_names))
    a = _as_batch("fit_world_model", "actions", np.asarray(actions).reshape(len(s), -1), len(action_names))
    s2 = _as_batch("fit_world_model", "next_obs", next_obs, len(state_names))
    if not len(s) == len(a) == len(s2) or len(s) < 2:
        raise ValueError(
            f"fit_world_model: obs, actions and next_obs must have the same length >= 2, got {len(s)}, "
            f"{len(a)} and {len(s2)}"
        )
    parents = transition_parents(graph, state_names, action_names)
    cols = dict(zip([now(v) for v in list(state_names) + list(action_names)], np.hstack([s, a]).T))
    cols.update({nxt(v): s2[:, i] for i, v in enumerate(state_names)})
    mechanisms, noise = {}, {}
    for k, v in enumerate(state_names):
        t = nxt(v)
        x = np.stack([cols[p] for p in parents[t]], axis=1) if parents[t] else np.zeros((len(s), 0))
        mechanisms[t], resid = fit_mechanism(x, s2[:, k], mechanism, seed=seed + k, **fit_kwargs)
        noise[t] = float(resid.std())
    return TransitionModel(state_names, action_names, parents, mechanisms, noise)


# ---------------------------------------------------------------------------------------------- CausalThrust
THRUST_STATES, THRUST_ACTIONS = ("pos", "vel", "force"), ("action",)


def causal_thrust_model(
    *, force_walk_std: float = 0.05, max_speed: float = 2.0, max_force: float = 1.0, force: float | None = None
) -> TransitionModel:
    """The exact transition SCM of CausalThrust (csrc/envs/point_mass.h), a = clip(action, -1, 1):
        vel[t+1] = clip(vel[t] + 0.1 a + 0.05 force[t], -max_speed, max_speed)
        pos[t+1] = pos[t] + 0.1 vel[t+1]
        force[t+1] = clip(force[t] + u, -max_force, max_force),  u ~ N(0, force_walk_std^2)
    `force`: the env under do(force = v) (force[t+1] = v)."""

    def vel(pa):  # pa: vel[t], force[t], action[t]
        return np.clip(pa[:, 0] + 0.1 * np.clip(pa[:, 2], -1.0, 1.0) + 0.05 * pa[:, 1], -max_speed, max_speed)

    parents = {
        "pos[t+1]": ["pos[t]", "vel[t+1]"],
        "vel[t+1]": ["vel[t]", "force[t]", "action[t]"],
        "force[t+1]": ["force[t]"],
    }
    mechanisms = {
        "pos[t+1]": lambda pa: pa[:, 0] + 0.1 * pa[:, 1],
        "vel[t+1]": vel,
        "force[t+1]": lambda pa: pa[:, 0].copy(),
    }
    noise = {"force[t+1]": force_walk_std}
    if force is not None:
        parents["force[t+1]"] = []
        mechanisms["force[t+1]"] = lambda pa: np.full(len(pa), float(force))
        noise = {}
    return TransitionModel(
        THRUST_STATES, THRUST_ACTIONS, parents, mechanisms, noise, clip={"force[t+1]": (-max_force, max_force)}
    )


def causal_thrust_reward(
    state: np.ndarray, action: np.ndarray, next_state: np.ndarray, *, action_cost: float = 0.01
) -> np.ndarray:
    """CausalThrust's reward [B]: -|pos[t+1]| - action_cost |clip(a, -1, 1)|."""
    return -np.abs(next_state[:, 0]) - action_cost * np.abs(np.clip(action[:, 0], -1.0, 1.0))


def causal_thrust_terminated(next_state: np.ndarray, *, max_position: float = 5.0) -> np.ndarray:
    """CausalThrust's termination [B] bool: |pos[t+1]| > max_position."""
    return np.abs(next_state[:, 0]) > max_position


__all__ = [
    "THRUST_ACTIONS",
    "THRUST_STATES",
    "TransitionModel",
    "adjacency_graph",
    "causal_thrust_model",
    "causal_thrust_reward",
    "causal_thrust_terminated",
    "fit_world_model",
    "now",
    "nxt",
    "transition_parents",
]
