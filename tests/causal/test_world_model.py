"""Causal world models: the exact CausalThrust SCM against the env step for step, do() on state and action
variables propagated through rollouts (against closed forms and the env's own do(force)), fitted models that
use only their parents, transition-graph discovery on CausalThrust data (deterministic mechanisms, SHD 0), and
the errors users can reach."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

from nextrl.causal import CPDAG, DAG, discover_transitions, shd
from nextrl.causal.counterfactual import collect_episodes
from nextrl.causal.world_model import (
    THRUST_ACTIONS,
    THRUST_STATES,
    TransitionModel,
    adjacency_graph,
    causal_thrust_model,
    fit_world_model,
    transition_parents,
)
from nextrl.envs import CausalThrustVectorEnv

ENV = "nextrl/CausalThrust-v0"


def random_policy(seed: int, low: float = -1.0):
    rng = np.random.default_rng(seed)
    return lambda obs: rng.uniform(low, 1, (len(obs), 1)).astype(np.float32)


def true_graph() -> nx.DiGraph:
    names, adj = CausalThrustVectorEnv.causal_graph(temporal=True)
    return adjacency_graph(names, adj)


def transitions(ep):
    """(states, actions, next states) of the valid steps of logged episodes (exact float64 states)."""
    mask = np.arange(ep.actions.shape[1])[None, :] < ep.lengths[:, None]
    return ep.states[:, :-1][mask], ep.actions[mask], ep.states[:, 1:][mask]


def test_exact_model_reproduces_the_env_step_for_step():
    ep = collect_episodes(ENV, random_policy(0, -0.5), 16, seed=3, env_kwargs={"max_steps": 80})
    assert ep.terminated.any()  # steps up to a termination are covered
    s, a, s2 = transitions(ep)
    model = causal_thrust_model()
    u = model.abduct(s, a, s2)
    np.testing.assert_allclose(u[:, :2], 0.0, atol=1e-12)  # pos and vel have no noise
    assert 0.04 < u[:, 2].std() < 0.06  # force: N(0, 0.05^2) increments
    np.testing.assert_allclose(model.predict(s, a, u), s2, rtol=0, atol=1e-12)
    # a whole episode replayed from its initial state with its actions and abducted noise
    e = int(np.argmax(ep.lengths))
    n = int(ep.lengths[e])
    noise = model.abduct(ep.states[e, :n], ep.actions[e, :n], ep.states[e, 1 : n + 1])
    states, _ = model.rollout(ep.states[e, :1], n, actions=ep.actions[e : e + 1, :n], noise=noise[None])
    np.testing.assert_allclose(states[0], ep.states[e, : n + 1], atol=1e-10)


def test_do_propagates_through_time():
    model = causal_thrust_model()
    s0 = np.array([[0.5, 0.2, -0.3]])
    h = 12
    states, acts = model.rollout(s0, h, actions=np.zeros((1, h, 1)), interventions={"force": 0.5})
    vel = 0.2 + 0.05 * 0.5 * np.arange(h + 1)  # vel += 0.05 * force each step
    np.testing.assert_allclose(states[0, :, 2], 0.5)
    np.testing.assert_allclose(states[0, :, 1], vel, atol=1e-12)
    np.testing.assert_allclose(states[0, :, 0], 0.5 + 0.1 * np.concatenate([[0], np.cumsum(vel[1:])]), atol=1e-12)
    # do(action = 0.3) overrides the policy at every step; force stays at its value without noise
    states, acts = model.rollout(s0, h, policy=lambda s: np.ones((len(s), 1)), interventions={"action": 0.3})
    np.testing.assert_allclose(acts[0, :, 0], 0.3)
    np.testing.assert_allclose(states[0, :, 1], 0.2 + (0.03 - 0.015) * np.arange(h + 1), atol=1e-12)
    # predict: the intervened state variable is held; its children follow it
    nxt = model.predict(s0, np.zeros((1, 1)), interventions={"vel": 1.0})
    np.testing.assert_allclose(nxt, [[0.6, 1.0, -0.3]], atol=1e-12)


def test_do_force_matches_the_env_intervention():
    ep = collect_episodes(ENV, random_policy(1), 6, seed=5, env_kwargs={"max_steps": 50}, reset_options={"force": -0.7})
    assert np.all(ep.states[:, :, 2] == -0.7)
    model = causal_thrust_model()  # the observational model, intervened in the rollout
    for e in range(6):
        n = int(ep.lengths[e])
        states, _ = model.rollout(
            ep.states[e, :1], n, actions=ep.actions[e : e + 1, :n], seed=0, interventions={"force": -0.7}
        )
        np.testing.assert_allclose(states[0], ep.states[e, : n + 1], atol=1e-10)


def test_fitted_models_use_only_their_parents():
    ep = collect_episodes(ENV, random_policy(2), 30, seed=0, env_kwargs={"max_steps": 60})
    s, a, s2 = transitions(ep)
    causal = fit_world_model(
        s, a, s2, true_graph(), state_names=THRUST_STATES, action_names=THRUST_ACTIONS, mechanism="linear"
    )
    assert causal.parents == {
        "pos[t+1]": ["pos[t]", "vel[t+1]"],
        "vel[t+1]": ["vel[t]", "force[t]", "action[t]"],
        "force[t+1]": ["force[t]"],
    }
    # the linear mechanisms are the env's coefficients (the clip at |vel| = 2 is never reached here)
    np.testing.assert_allclose(causal.mechanisms["vel[t+1]"].weights, [1.0, 0.05, 0.1], atol=1e-6)
    np.testing.assert_allclose(causal.mechanisms["pos[t+1]"].weights, [1.0, 0.1], atol=1e-6)
    np.testing.assert_allclose(causal.noise_std, [0.0, 0.0, 0.05], atol=0.005)
    x = np.array([[0.1, 0.2, 0.3], [0.1, 0.2, 0.3]])
    moved = x.copy()
    moved[1, 0] = 3.0  # pos is no parent of vel[t+1] or force[t+1]
    p = causal.predict(moved, np.zeros((2, 1)))
    np.testing.assert_allclose(p[0, 1:], p[1, 1:], atol=1e-12)
    full = fit_world_model(s, a, s2, "full", state_names=THRUST_STATES, action_names=THRUST_ACTIONS, mechanism="linear")
    assert all(pa == ["pos[t]", "vel[t]", "force[t]", "action[t]"] for pa in full.parents.values())
    assert full.graph().number_of_edges() == 12  # every (s_t, a_t) input into every next-state variable


def test_transition_graph_discovery_from_random_policy_data():
    # vel[t+1] and pos[t+1] are deterministic functions of their parents (no process noise; vel clipped at
    # |vel| = 2, so vel[t+1] is only near-deterministic), which breaks faithfulness. Plain Fisher-z PC
    # keeps 2 of the 6 edges (SHD 4); lagged.py's treatment of deterministic relations recovers the graph.
    names, adj = CausalThrustVectorEnv.causal_graph(temporal=True)
    ep = collect_episodes(ENV, random_policy(3), 40, seed=1, env_kwargs={"max_steps": 100})
    s, a, s2 = transitions(ep)
    kw = {"state_names": THRUST_STATES, "action_names": THRUST_ACTIONS, "contemporaneous": True}
    # the tiers and the deterministic parents orient every edge: the truth is the DAG itself, not its CPDAG
    truth = CPDAG(list(names), DAG.from_adjacency(adj, names).marks)
    est = discover_transitions(s, a, s2, **kw).graph
    assert shd(est, truth) == 0, est.edge_strings()
    assert shd(discover_transitions(s, a, s2, deterministic_tol=None, **kw).graph, truth) == 4


def test_errors():
    model = causal_thrust_model()
    s, a = np.zeros((2, 3)), np.zeros((2, 1))
    with pytest.raises(
        ValueError,
        match="TransitionModel.predict: intervention targets must be variables of the "
        r"model \(pos, vel, force, action\), got 'wind'",
    ):
        model.predict(s, a, interventions={"wind": 0.0})
    with pytest.raises(ValueError, match="TransitionModel.rollout: the value of 'force' must be a finite number"):
        model.rollout(s, 3, actions=np.zeros((2, 3, 1)), interventions={"force": np.nan})
    with pytest.raises(ValueError, match=r"TransitionModel.predict: state must have shape \(batch, 3\), got \(2, 2\)"):
        model.predict(np.zeros((2, 2)), a)
    with pytest.raises(ValueError, match="TransitionModel.predict: action must be finite"):
        model.predict(s, np.full((2, 1), np.nan))
    with pytest.raises(TypeError, match="TransitionModel.predict: state must be numeric"):
        model.predict(np.array([["a", "b", "c"]]), a[:1])
    with pytest.raises(ValueError, match="TransitionModel.rollout: give exactly one of policy and actions"):
        model.rollout(s, 3)
    with pytest.raises(ValueError, match="fit_world_model: obs must be finite"):
        fit_world_model(
            np.full((5, 3), np.nan),
            np.zeros((5, 1)),
            np.zeros((5, 3)),
            "full",
            state_names=THRUST_STATES,
            action_names=THRUST_ACTIONS,
        )
    with pytest.raises(ValueError, match="transition_parents: graph nodes must be variables .*got 'wind\\[t\\]'"):
        transition_parents(nx.DiGraph([("wind[t]", "vel[t+1]")]), THRUST_STATES, THRUST_ACTIONS)
    with pytest.raises(ValueError, match="transition_parents: graph must be acyclic"):
        transition_parents(
            nx.DiGraph([("vel[t+1]", "pos[t+1]"), ("pos[t+1]", "vel[t+1]")]), THRUST_STATES, THRUST_ACTIONS
        )
    with pytest.raises(ValueError, match="transition_parents: graph must be a DAG, a networkx.DiGraph or 'full'"):
        transition_parents("dense", THRUST_STATES, THRUST_ACTIONS)
    cyclic = {"a[t+1]": ["b[t+1]"], "b[t+1]": ["a[t+1]"]}
    with pytest.raises(ValueError, match="TransitionModel: graph must be acyclic"):
        TransitionModel(["a", "b"], ["u"], cyclic, {k: (lambda pa: pa[:, 0]) for k in cyclic})
