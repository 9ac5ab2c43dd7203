import numpy as np
import pytest

from nextrl.causal import discover_transitions


def test_transition_graph_of_a_linear_system():
    rng = np.random.default_rng(0)
    n = 3000
    s = rng.standard_normal((n, 3))
    a = rng.uniform(-1, 1, (n, 1))
    nxt = np.c_[s[:, 0] + 0.5 * s[:, 1], s[:, 1] + a[:, 0], 0.9 * s[:, 2]] + 0.3 * rng.standard_normal((n, 3))
    g = discover_transitions(s, a, nxt, state_names=["pos", "vel", "force"], action_names=["thrust"]).graph
    parents = {v: set(g.parents(f"{v}[t+1]")) for v in ("pos", "vel", "force")}
    assert parents == {"pos": {"pos[t]", "vel[t]"}, "vel": {"vel[t]", "thrust[t]"}, "force": {"force[t]"}}
    assert not g.undirected_edges


def test_errors():
    with pytest.raises(ValueError, match="discover_transitions: obs, actions, next_obs must have shapes"):
        discover_transitions(np.zeros((5, 2)), np.zeros((5, 1)), np.zeros((5, 3)))
