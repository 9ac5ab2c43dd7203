"""The categorical RSSM learns (DreamerV3 latent at a smaller size: 8 categoricals of 8 classes, 1% unimix,
straight-through samples, KL balancing 1.0 / 0.1 with 1 free nat per term): trained on random-action sequences of
PointMass, its one-step prediction error (prior mode after a 5-step filter, no observation) of the observations
and rewards falls below a stated fraction of the data variance on held-out sequences, and so do the 10-step
open-loop errors of the observations and the rewards, of the prior's mode and of the mean of 16 rollouts with
sampled latents (the papers' open loop; the mean is the squared-error-optimal point prediction). An untrained
model is at about 1 or more.

Measured (400 random steps x 8 envs, 400 gradient steps of 16 windows x 16 steps), seeds 0 / 1: one-step obs
0.186 / 0.084, 10-step obs 0.239 / 0.170, one-step reward 0.132 / 0.043, 10-step reward of the mode 0.322 / 0.324,
of the mean of 16 sampled rollouts 0.131 / 0.157 (10-step obs of that mean 0.149 / 0.076). 46 s per seed with both
seeds in parallel on the shared 2-core machine at load 4-6.

Why the 10-step reward error of the mode was not asserted before (1.52 of the variance on seed 1, with 200 random
steps x 8 envs; measured again here at 1.60): two causes, measured on that seed. (1) The mode drifts open loop:
the prior is diffuse (largest class probability 0.50 on average, entropy 1.34 nats per categorical of ln 8 =
2.08), and the joint one-hot of every categorical's most probable class is far from the straight-through samples
the model is trained on, so its error grows with the horizon: 10-step reward error of the mode 1.60, of one
sampled rollout 0.61, of the mean of 16 sampled rollouts 0.58, of the class probabilities fed in place of the
one-hot 0.64, while the observation error of sampled rollouts stays at 0.14-0.16 over the 10 steps. (2) That
run's reward head was weak: its error on held-out posterior states (observations filtered, no open loop) was
0.22-0.33 of the variance per step (0.14 on its training windows; seed 0: 0.05 on both). (2) is a chance outcome
of that run, not of a setting: unimix 0, or dyn_scale 0.5, or 400 random steps bring the held-out posterior error
to 0.03-0.08, while the mode still drifts (10-step reward: mode 0.72 / 0.65 / 0.32 against the mean of 16 samples
0.16 / 0.17 / 0.16). free_nats 0 gives mode 0.64 and mean of samples 0.24 with a worse observation error
(0.26 / 0.22). Neither is a defect of the model; the mode is a poor deterministic open-loop predictor for a diffuse
categorical latent."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nextrl.models.rssm import RSSM, RSSMConfig, model_batch

from .test_rssm_learning import _collect

CONFIG = RSSMConfig(
    deter=64, hidden=64, embed=64, latent="categorical", groups=8, classes=8, unimix=0.01, kl_mode="balanced"
)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1])
def test_categorical_rssm_prediction_error_falls_below_a_fraction_of_the_variance(seed):
    assert (CONFIG.dyn_scale, CONFIG.rep_scale, CONFIG.free_nats) == (1.0, 0.1, 1.0)  # DreamerV3's balance
    train, obs_dim, A = _collect("nextrl/PointMass-v0", 400, seed, max_steps=50)
    test, _, _ = _collect("nextrl/PointMass-v0", 60, 100 + seed, max_steps=50)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = RSSM(obs_dim, A, CONFIG)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3, eps=1e-4)
    rng, g = np.random.default_rng(seed), torch.Generator().manual_seed(seed)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for _ in range(400):
            loss, _, _ = model.loss(model_batch(train.sample(16, 17, rng), A), generator=g)
            opt.zero_grad()
            loss.backward()
            opt.step()
    finally:
        torch.set_num_threads(threads)
    b = model_batch(test.sample(256, 16, np.random.default_rng(5)), A)
    keep = ~b["is_first"][:, 1:].any(1)  # windows inside one episode
    with torch.no_grad():
        post, _ = model.observe(b["obs"][:, :5], b["prev_actions"][:, :5], b["is_first"][:, :5], generator=g)
        s = {k: v[:, -1] for k, v in post.items()}
        z = s["stoch"].reshape(-1, 8, 8).numpy()  # one-hot samples per categorical (straight-through: + p - sg(p))
        np.testing.assert_allclose(np.round(z), z, atol=1e-6)
        np.testing.assert_allclose(z.sum(-1), 1.0, atol=1e-6)

        def open_loop(sample: bool, generator=None):
            """Predicted x_h and r_h for h = 5..14: s_h = prior of (s_{h-1}, a_{h-1}), its mode or a sample."""
            state, xs, rs = s, [], []
            for h in range(5, 15):
                state = model.img_step(state, b["prev_actions"][:, h], sample=sample, generator=generator)
                f = model.features(state)
                xs.append(model.decode(f))
                rs.append(model.reward(f))
            return torch.stack(xs, 1)[keep], torch.stack(rs, 1)[keep]

        x, r = open_loop(False)
        g2 = torch.Generator().manual_seed(100 + seed)
        rollouts = [open_loop(True, g2) for _ in range(16)]
        x_mc, r_mc = (torch.stack(v).mean(0) for v in zip(*rollouts))
    tx, tr = b["obs"][:, 5:15][keep], b["rewards"][:, 5:15][keep]
    err = ((x - tx) ** 2).sum(-1).mean(0) / tx.reshape(-1, obs_dim).var(0).sum()
    rerr = ((r - tr) ** 2).mean(0) / tr.var()
    rerr_mc = ((r_mc - tr) ** 2).mean(0) / tr.var()
    err_mc = ((x_mc - tx) ** 2).sum(-1).mean(0) / tx.reshape(-1, obs_dim).var(0).sum()
    assert err[0] < 0.25, err
    assert err[-1] < 0.4, err
    assert rerr[0] < 0.25, rerr
    assert rerr[-1] < 0.5, rerr
    assert rerr_mc[-1] < 0.3, rerr_mc
    assert err_mc[-1] < 0.25, err_mc
