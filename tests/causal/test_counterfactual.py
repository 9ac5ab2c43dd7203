"""Counterfactuals: SCM abduction-action-prediction against the closed forms of a linear SCM and against DoWhy's
gcm.counterfactual_samples; counterfactual policy evaluation on CausalThrust against the ground truth (the env
replayed with the logged seed: its noise draws do not depend on the actions).

DoWhy is not installed as a test peer: dowhy 0.14 pins scipy <= 1.15.3 on Python < 3.13 (this environment has
scipy 1.17) and pulls cvxpy, numba / llvmlite and Cython. Its outputs below were computed once with dowhy 0.14
in a separate virtual environment by the script in `DOWHY_SCRIPT` (gcm.InvertibleStructuralCausalModel,
AdditiveNoiseModel mechanisms, gcm.counterfactual_samples on the observed rows `OBSERVED`).
"""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

from nextrl.causal.counterfactual import collect_episodes, counterfactual_returns, replay_returns
from nextrl.causal.scm import SCM, fit_scm, linear_scm
from nextrl.causal.world_model import causal_thrust_model, causal_thrust_reward, causal_thrust_terminated

COLS = ("X1", "A", "X2", "X3")
GRAPH = nx.DiGraph([("X1", "X2"), ("A", "X2"), ("X1", "X3"), ("X2", "X3")])
OBSERVED = np.array(
    [
        [0.3, 0.5, 0.9, 0.7],
        [-1.2, -0.5, -2.0, 1.9],
        [0.8, 1.0, 1.7, 0.2],
        [2.0, 0.0, 1.1, -0.5],
        [-0.1, -1.0, -0.4, 0.3],
    ]
)
DOWHY_SCRIPT = """
g = nx.DiGraph([("X1", "X2"), ("A", "X2"), ("X1", "X3"), ("X2", "X3")])
# known mechanisms; DoWhy passes the parents sorted by name: X2 <- (A, X1), X3 <- (X1, X2)
X2 = 1.5 sin(A) + 0.5 X1 + N2,  X3 = tanh(X1) + 0.3 X2^2 + N3   (AdditiveNoiseModel with a fixed predictor)
counterfactual_samples(m, {"X2": lambda x: 1.0}, observed_data=obs), then {"X1": lambda x: x + 0.5}, {"A": -1}
linear: x1 ~ N(0, .5^2), a ~ U(-1, 1), x2 = .7 x1 + .5 a + N(0, .3^2), x3 = .8 x2 + .3 x1 + N(0, .4^2), n = 300
from default_rng(1) drawn in that order; AdditiveNoiseModel(create_linear_regressor()); gcm.fit; same queries
"""
DOWHY_NONLINEAR = {
    "X2=1": [
        [0.3, 0.5, 1.0, 0.7569999999999999],
        [-1.2, -0.5, 1.0, 0.9999999999999998],
        [0.8, 1.0, 1.0, -0.367],
        [2.0, 0.0, 1.0, -0.563],
        [-0.1, -1.0, 1.0, 0.5519999999999999],
    ],
    "X1+0.5": [
        [0.8, 0.5, 1.15, 1.226474157816258],
        [-0.7, -0.5, -1.75, 1.8480368298949916],
        [1.3, 1.0, 1.95, 0.6714363890454573],
        [2.5, 0.0, 1.35, -0.2936632819243865],
        [0.4, -1.0, -0.15000000000000002, 0.7383669568801807],
    ],
    "A=-1": [
        [0.3, -1.0, -1.0813447851181492, 0.8077919632906649],
        [-1.2, -1.0, -2.54306816930554, 2.640158714120509],
        [0.8, -1.0, -0.8244129544236892, -0.46310298417352114],
        [2.0, -1.0, -0.16220647721184456, -0.855106717625157],
        [-0.1, -1.0, -0.4, 0.3],
    ],
}
DOWHY_LINEAR = {
    "X2=1": [
        [0.3, 0.5, 1.0, 0.7833300896113264],
        [-1.2, -0.5, 1.0, 4.399902688339795],
        [0.8, 1.0, 1.0, -0.38331062727928544],
        [2.0, 0.0, 1.0, -0.5833300896113265],
        [-0.1, -1.0, 1.0, 1.466621254558571],
    ],
    "A=-1": [
        [0.3, -1.0, 0.18849050937397155, 0.10709850386823772],
        [-1.2, -1.0, -2.2371698302086758, 1.7023661679560798],
        [0.8, -1.0, 0.7513206791652954, -0.590535328175683],
        [2.0, -1.0, 0.6256603395826479, -0.8952676640878412],
        [-0.1, -1.0, -0.4, 0.30000000000000004],
    ],
}


def nonlinear_scm() -> SCM:
    zero = lambda pa: np.zeros(len(pa))
    # our parents follow the node order COLS: X2 <- (X1, A), X3 <- (X1, X2)
    return SCM(
        GRAPH,
        {
            "X1": zero,
            "A": zero,
            "X2": lambda pa: 1.5 * np.sin(pa[:, 1]) + 0.5 * pa[:, 0],
            "X3": lambda pa: np.tanh(pa[:, 0]) + 0.3 * pa[:, 1] ** 2,
        },
        {"X1": 1.0, "A": 0.5, "X2": 0.2, "X3": 0.2},
        nodes=COLS,
    )


def test_counterfactuals_equal_dowhy_on_a_nonlinear_additive_noise_scm():
    scm = nonlinear_scm()
    np.testing.assert_allclose(
        scm.counterfactual(OBSERVED, {"X2": 1.0}), DOWHY_NONLINEAR["X2=1"], rtol=1e-12, atol=1e-12
    )
    np.testing.assert_allclose(
        scm.counterfactual(OBSERVED, {"X1": OBSERVED[:, 0] + 0.5}), DOWHY_NONLINEAR["X1+0.5"], rtol=1e-12, atol=1e-12
    )
    np.testing.assert_allclose(
        scm.counterfactual(OBSERVED, {"A": -1.0}), DOWHY_NONLINEAR["A=-1"], rtol=1e-12, atol=1e-12
    )
    as_dict = {c: OBSERVED[:, k] for k, c in enumerate(COLS)}  # named columns give the same answer
    np.testing.assert_allclose(scm.counterfactual(as_dict, {"A": -1.0}), DOWHY_NONLINEAR["A=-1"], atol=1e-12)


def test_fitted_linear_counterfactuals_equal_dowhy():
    rng = np.random.default_rng(1)
    n = 300
    x1, a = rng.normal(0, 0.5, n), rng.uniform(-1, 1, n)
    x2 = 0.7 * x1 + 0.5 * a + rng.normal(0, 0.3, n)
    x3 = 0.8 * x2 + 0.3 * x1 + rng.normal(0, 0.4, n)
    scm = fit_scm(np.stack([x1, a, x2, x3], 1), GRAPH, nodes=COLS)
    np.testing.assert_allclose(scm.counterfactual(OBSERVED, {"X2": 1.0}), DOWHY_LINEAR["X2=1"], rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(scm.counterfactual(OBSERVED, {"A": -1.0}), DOWHY_LINEAR["A=-1"], rtol=1e-9, atol=1e-9)


def test_linear_counterfactuals_equal_the_closed_form():
    w = np.zeros((4, 4))
    w[0, 2], w[1, 2], w[2, 3], w[0, 3] = 0.7, 0.5, 0.8, 0.3  # COLS order: X1, A, X2, X3
    scm = linear_scm(w, [0.5, 0.6, 0.3, 0.4], nodes=COLS)
    x = scm.sample(100, seed=0)
    x1, a, x2, x3 = x.T
    cf = scm.counterfactual(x, {"X2": 1.0})  # X3' = X3 + 0.8 (1 - X2); X1, A unchanged
    np.testing.assert_allclose(cf, np.stack([x1, a, np.ones(100), x3 + 0.8 * (1 - x2)], 1), atol=1e-12)
    cf = scm.counterfactual(x, {"X1": 0.0})  # X2' = X2 - 0.7 X1, X3' = X3 - (0.8 * 0.7 + 0.3) X1
    np.testing.assert_allclose(cf, np.stack([np.zeros(100), a, x2 - 0.7 * x1, x3 - 0.86 * x1], 1), atol=1e-12)
    np.testing.assert_allclose(scm.abduct(x), scm.sample(100, seed=0, return_noise=True)[1], atol=1e-12)
    # the counterfactual of the factual intervention is the observation itself
    np.testing.assert_allclose(scm.counterfactual(x, {"X2": x2}), x, atol=1e-12)
    np.testing.assert_allclose(scm.individual_effects(x, "A", "X3", 1.0, 0.0), np.full(100, 0.4), atol=1e-12)


# ---------------------------------------------------------------------------------------------- CausalThrust
KW = {"max_steps": 60}


def behaviour(seed: int):
    rng = np.random.default_rng(seed)
    return lambda obs: rng.uniform(-0.4, 1, (len(obs), 1)).astype(np.float32)  # drifts: some episodes terminate


def controller(obs):
    o = np.asarray(obs, dtype=np.float64)
    return np.clip(-2 * o[:, :1] - 3 * o[:, 1:2] - 0.5 * o[:, 2:3], -1, 1)


@pytest.mark.parametrize("force", [None, -0.2])
def test_counterfactual_returns_match_the_ground_truth(force):
    options = None if force is None else {"force": force}
    logged = collect_episodes("nextrl/CausalThrust-v0", behaviour(0), 24, seed=7, env_kwargs=KW, reset_options=options)
    assert logged.terminated.any() and (~logged.terminated).any()  # both kinds of episode end are covered
    truth = replay_returns(
        "nextrl/CausalThrust-v0", controller, logged.lengths, seed=7, env_kwargs=KW, reset_options=options
    )
    model = causal_thrust_model(force=force)
    kw = {"terminated_fn": causal_thrust_terminated}
    exact = counterfactual_returns(model, logged, controller, causal_thrust_reward, use_states=True, **kw)
    np.testing.assert_allclose(exact.returns, truth, rtol=1e-6, atol=1e-5)  # float32 rewards of the env
    from_obs = counterfactual_returns(model, logged, controller, causal_thrust_reward, **kw)
    np.testing.assert_allclose(from_obs.returns, truth, rtol=1e-4, atol=1e-3)  # float32 observations
    # the logged policy's own counterfactual is the logged episode
    replayed = counterfactual_returns(
        model, logged, replay(logged.actions), causal_thrust_reward, use_states=True, **kw
    )
    np.testing.assert_allclose(replayed.returns, logged.returns(), rtol=1e-6, atol=1e-5)
    # without abduction (fresh noise) the per-episode answer is not the counterfactual one
    if force is None:
        fresh = counterfactual_returns(model, logged, controller, causal_thrust_reward, noise="sampled", seed=0, **kw)
        assert np.mean(np.abs(fresh.returns - truth)) > 100 * np.mean(np.abs(exact.returns - truth)) + 1e-3


def replay(actions: np.ndarray):
    """The policy that plays logged actions [E, T, A] step after step."""
    t = [0]

    def act(states):
        t[0] += 1
        return actions[:, t[0] - 1]

    return act


def test_counterfactual_errors():
    logged = collect_episodes("nextrl/CausalThrust-v0", behaviour(0), 2, seed=1, env_kwargs={"max_steps": 5})
    model = causal_thrust_model()
    with pytest.raises(ValueError, match="counterfactual_returns: noise must be 'abducted' or 'sampled', got 'x'"):
        counterfactual_returns(model, logged, controller, causal_thrust_reward, noise="x")
    with pytest.raises(ValueError, match=r"counterfactual_returns: gamma must be in \[0, 1\], got 2"):
        counterfactual_returns(model, logged, controller, causal_thrust_reward, gamma=2)
    with pytest.raises(ValueError, match="TransitionModel.predict: intervention targets must be variables .*'wind'"):
        counterfactual_returns(model, logged, controller, causal_thrust_reward, interventions={"wind": 1.0})
    logged.obs[0, 1, 0] = np.nan
    with pytest.raises(ValueError, match="TransitionModel.abduct: state must be finite"):
        counterfactual_returns(model, logged, controller, causal_thrust_reward)
    with pytest.raises(ValueError, match="collect_episodes: num_episodes must be >= 1, got 0"):
        collect_episodes("nextrl/CausalThrust-v0", controller, 0, seed=0)
