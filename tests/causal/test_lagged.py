import numpy as np
import pytest

from nextrl.causal import discover_transitions
from nextrl.causal.lagged import DeterminismGuardedFisherZ, deterministic_parents, unexplained_fraction


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


def _thrust_like(n=4000, seed=0):
    """vel' = vel + 0.05 force + 0.1 thrust and pos' = pos + 0.1 vel' exactly; force' = force + noise."""
    rng = np.random.default_rng(seed)
    s = rng.standard_normal((n, 3)) * [2.0, 0.5, 0.3]
    a = rng.uniform(-1, 1, (n, 1))
    vel = s[:, 1] + 0.05 * s[:, 2] + 0.1 * a[:, 0]
    nxt = np.c_[s[:, 0] + 0.1 * vel, vel, s[:, 2] + 0.05 * rng.standard_normal(n)]
    return s, a, nxt


def test_deterministic_parents_are_the_smallest_determining_sets():
    s, a, nxt = _thrust_like()
    corr = np.corrcoef(np.hstack([s, a, nxt]).T)
    # lagged only: pos' needs all of (pos, vel, force, thrust), although (pos, vel) leave < 1e-3 unexplained
    assert deterministic_parents(corr, 4) == {4: (0, 1, 2, 3), 5: (1, 2, 3)}
    # contemporaneous: vel' first (3 lagged parents), then pos' from (pos, vel')
    assert deterministic_parents(corr, 4, contemporaneous=True) == {5: (1, 2, 3), 4: (0, 5)}
    assert unexplained_fraction(corr, 6, [0, 1, 2, 3]) == pytest.approx(0.05**2 / (0.3**2 + 0.05**2), rel=0.1)


def test_guard_answers_degenerate_tests_as_dependent():
    s, a, nxt = _thrust_like()
    test = DeterminismGuardedFisherZ(np.hstack([s, a, nxt]))
    # pos' given (pos, vel') is determined: the spurious independence of pos' and vel is not reported
    np.testing.assert_array_equal(test.degenerate([4, 6], [1, 0], [[0, 5], [2, 3]]), [True, False])
    assert test.pvalues([4], [1], [[0, 5]])[0] == 0.0 and test.num_degenerate == 1
    assert test.pvalues([6], [0], [[2, 3]])[0] > 0.01  # force' independent of pos given force: unaffected


@pytest.mark.parametrize("contemporaneous", [False, True])
def test_deterministic_transitions_are_recovered(contemporaneous):
    s, a, nxt = _thrust_like()
    kw = {"state_names": ["pos", "vel", "force"], "action_names": ["thrust"], "contemporaneous": contemporaneous}
    g = discover_transitions(s, a, nxt, **kw).graph
    vel_parents = {"vel[t]", "force[t]", "thrust[t]"}
    pos_parents = {"pos[t]", "vel[t+1]"} if contemporaneous else {"pos[t]"} | vel_parents
    assert {v: set(g.parents(f"{v}[t+1]")) for v in ("pos", "vel", "force")} == {
        "pos": pos_parents,
        "vel": vel_parents,
        "force": {"force[t]"},
    }
    assert not g.undirected_edges
    plain = discover_transitions(s, a, nxt, deterministic_tol=None, **kw).graph
    assert set(plain.parents("vel[t+1]")) != vel_parents  # what the treatment fixes


def test_deterministic_tol_errors():
    with pytest.raises(ValueError, match="discover_transitions: deterministic_tol must be in"):
        discover_transitions(np.zeros((5, 2)), np.zeros((5, 1)), np.zeros((5, 2)), deterministic_tol=1.5)
