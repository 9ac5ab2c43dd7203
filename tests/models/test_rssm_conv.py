"""The conv encoder / decoder (models.conv) and the RSSM on image observations.

Shapes and sizes against torch's own conv arithmetic, the channel LayerNorm against NumPy, the image RSSM's
loss against the vector (MLP) code path on the flattened image with the same conv weights, clear errors, and a
learning test: trained on random-action sequences of GridWorld's egocentric image observations ([3, 5, 5] wall
/ goal / pit planes, view radius 2, random starts), the conv RSSM's one-step image prediction (5 filtered steps,
then the prior mean after the next action) has an error below a stated fraction of the data variance on held-out
sequences, and well below that of copying the last image (which ignores the action).

Measured (200 random steps x 8 envs, 400 gradient steps of 16 windows x 16 steps, cnn_depth 8), seeds 0 / 1:
  one-step error / variance 0.120 / 0.123 (untrained 3.53 / 2.11; copying the last image 0.630 / 0.641)
bounds 0.2 and 0.4 x the copy error; 19-25 s wall per seed alone (1 torch thread) on the shared 2-core
machine at load average 11-15."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from nextrl.agents.common import EpisodeTracker
from nextrl.agents.replay import SequenceReplayBuffer
from nextrl.envs.gridworld import GridWorldVectorEnv
from nextrl.models.conv import ChannelNorm, ConvDecoder, ConvEncoder, conv_sizes, default_stages
from nextrl.models.rssm import RSSM, RSSMConfig, model_batch

SMALL = dict(deter=32, hidden=32, embed=24, stoch=6, cnn_depth=4)


@pytest.mark.parametrize(
    ("shape", "stages"), [((3, 5, 5), 1), ((2, 7, 9), 2), ((1, 8, 8), 1), ((3, 64, 64), 4), ((4, 2, 3), 1)]
)
def test_shapes_and_sizes_match_the_conv_arithmetic(shape, stages):
    torch.manual_seed(0)
    assert default_stages(shape[1], shape[2]) == stages
    enc, dec = ConvEncoder(shape, 10, depth=4), ConvDecoder(12, shape, depth=4)
    assert enc.stages == dec.stages == stages
    x = torch.rand(2, 3, *shape)
    sizes = []
    for m in enc.convs:
        if isinstance(m, nn.Conv2d):
            m.register_forward_hook(lambda mod, inp, out: sizes.append(tuple(out.shape[-2:])))
    assert enc(x).shape == (2, 3, 10)
    assert sizes == conv_sizes(shape[1], shape[2], stages)[1:]  # the closed form = torch's conv output sizes
    assert sizes[-1][0] <= 4 or shape[1] <= 4
    assert enc(x[0, 0]).shape == (10,)  # a single unbatched image
    assert dec(torch.randn(2, 3, 12)).shape == (2, 3, *shape)  # odd and even sizes restored exactly
    assert dec(torch.randn(12)).shape == shape


def test_channel_norm_and_rows_independent():
    torch.manual_seed(0)
    norm = ChannelNorm(5)
    with torch.no_grad():
        norm.norm.weight.uniform_(0.5, 1.5)
        norm.norm.bias.uniform_(-0.5, 0.5)
    x = torch.randn(2, 5, 3, 4, dtype=torch.float64)
    norm = norm.double()
    xn = x.numpy()
    mu, var = xn.mean(1, keepdims=True), xn.var(1, keepdims=True)
    w, b = norm.norm.weight.detach().numpy()[:, None, None], norm.norm.bias.detach().numpy()[:, None, None]
    ref = (xn - mu) / np.sqrt(var + 1e-5) * w + b
    np.testing.assert_allclose(norm(x).detach().numpy(), ref, rtol=1e-10, atol=1e-10)
    # batched encoding / decoding equals row by row (nothing mixes rows)
    enc, dec = ConvEncoder((3, 7, 7), 8, depth=4).double(), ConvDecoder(6, (3, 7, 7), depth=4).double()
    imgs, feats = torch.rand(4, 3, 7, 7, dtype=torch.float64), torch.randn(4, 6, dtype=torch.float64)
    rows_e = torch.stack([enc(imgs[i : i + 1])[0] for i in range(4)])
    rows_d = torch.stack([dec(feats[i : i + 1])[0] for i in range(4)])
    np.testing.assert_allclose(enc(imgs).detach().numpy(), rows_e.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dec(feats).detach().numpy(), rows_d.detach().numpy(), rtol=1e-12, atol=1e-12)


def _image_batch(B, T, shape, A, seed):
    g = torch.Generator().manual_seed(seed)
    is_first = torch.zeros(B, T, dtype=torch.bool)
    is_first[:, 0] = True
    is_first[0, T // 2] = True
    return {
        "obs": (torch.rand(B, T, *shape, generator=g) < 0.3).float(),
        "prev_actions": torch.randn(B, T, A, generator=g),
        "rewards": torch.randn(B, T, generator=g),
        "conts": (torch.rand(B, T, generator=g) < 0.9).float(),
        "is_first": is_first,
    }


@pytest.mark.parametrize("latent", ["gaussian", "categorical"])
@pytest.mark.parametrize("symlog", [False, True])
def test_image_loss_equals_the_vector_path_on_the_flattened_image(latent, symlog):
    shape, A = (3, 5, 7), 2
    cfg = RSSMConfig(**SMALL, latent=latent, groups=3, classes=4, symlog=symlog)
    torch.manual_seed(0)
    img = RSSM(shape, A, cfg)
    vec = RSSM(int(np.prod(shape)), A, cfg)
    # the vector model with the image model's weights, its encoder / decoder the conv pair on the unflattened image
    vec.load_state_dict(
        {k: v for k, v in img.state_dict().items() if not k.startswith(("encoder.", "decoder."))}, strict=False
    )
    vec.encoder = nn.Sequential(nn.Unflatten(-1, shape), img.encoder)
    vec.decoder = nn.Sequential(img.decoder, nn.Flatten(-3))
    batch = _image_batch(3, 6, shape, A, seed=1)
    flat = {**batch, "obs": batch["obs"].flatten(2)}
    li, info_i, post = img.loss(batch, generator=torch.Generator().manual_seed(7))
    gi = torch.autograd.grad(li, list(img.encoder.parameters()) + list(img.decoder.parameters()))
    lv, info_v, _ = vec.loss(flat, generator=torch.Generator().manual_seed(7))
    gv = torch.autograd.grad(lv, list(img.encoder.parameters()) + list(img.decoder.parameters()))
    for k in ("loss", "recon", "reward", "cont", "kl"):
        np.testing.assert_allclose(info_i[k], info_v[k], rtol=1e-5, atol=1e-6, err_msg=k)
    for a, b in zip(gi, gv):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-4, atol=1e-6)
    # the reconstruction term by hand: 0.5 * sum over C, H, W of the squared error, mean over batch and time
    with torch.no_grad():
        x_hat = img.decoder(img.features(post)).numpy().astype(np.float64)
    target = batch["obs"].numpy().astype(np.float64)
    if symlog:
        target = np.sign(target) * np.log1p(np.abs(target))
    ref = 0.5 * ((x_hat - target) ** 2).reshape(3, 6, -1).sum(-1).mean()
    np.testing.assert_allclose(info_i["recon"], ref, rtol=1e-5)
    assert img.obs_dim == 105 and img.obs_shape == shape
    assert img.decode(img.features(post)).shape == (3, 6, *shape)


def test_errors():
    with pytest.raises(ValueError, match=r"ConvEncoder: obs_shape must be three ints >= 1 \(channels, height"):
        ConvEncoder((3, 5), 8)
    with pytest.raises(ValueError, match="ConvDecoder: obs_shape must be three ints >= 1"):
        ConvDecoder(8, (3, 0, 5))
    with pytest.raises(ValueError, match="ConvEncoder: depth must be an int >= 1, got 0"):
        ConvEncoder((3, 5, 5), 8, depth=0)
    with pytest.raises(ValueError, match="ConvEncoder: stages must be an int >= 1, got 0"):
        ConvEncoder((3, 5, 5), 8, stages=0)
    with pytest.raises(ValueError, match=r"ConvDecoder: act must be one of \['relu', 'silu'\], got 'tanh'"):
        ConvDecoder(8, (3, 5, 5), act="tanh")
    enc, dec = ConvEncoder((3, 5, 5), 8, depth=4), ConvDecoder(6, (3, 5, 5), depth=4)
    with pytest.raises(ValueError, match=r"ConvEncoder: obs must have shape \[\.\.\., 3, 5, 5\], got \(2, 5, 5, 3\)"):
        enc(torch.zeros(2, 5, 5, 3))  # channels-last
    with pytest.raises(ValueError, match=r"ConvEncoder: obs must have shape \[\.\.\., 3, 5, 5\], got \(5, 5\)"):
        enc(torch.zeros(5, 5))
    with pytest.raises(ValueError, match=r"ConvDecoder: features must have shape \[\.\.\., 6\], got \(2, 7\)"):
        dec(torch.zeros(2, 7))
    with pytest.raises(ValueError, match="RSSM: obs_shape must be three ints >= 1"):
        RSSM((3, 5), 2, RSSMConfig(**SMALL))
    with pytest.raises(ValueError, match="RSSMConfig: cnn_depth must be an int >= 1, got 0"):
        RSSMConfig(cnn_depth=0)
    model = RSSM((3, 5, 5), 2, RSSMConfig(**SMALL))
    with pytest.raises(ValueError, match=r"RSSM.observe: obs must have shape \[B, T, 3, 5, 5\], got \(2, 4, 75\)"):
        model.observe(torch.zeros(2, 4, 75), torch.zeros(2, 4, 2), torch.zeros(2, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match=r"RSSM.observe: obs must have shape \[B, T, 3, 5, 5\], got \(2, 4, 3, 7, 7\)"):
        model.observe(torch.zeros(2, 4, 3, 7, 7), torch.zeros(2, 4, 2), torch.zeros(2, 4, dtype=torch.bool))
    buf = SequenceReplayBuffer(8, (5, 5), (2,), num_envs=1)
    for _ in range(4):
        buf.add(
            np.zeros((1, 5, 5)), np.zeros((1, 2)), np.zeros(1), np.zeros(1, bool), np.zeros(1, bool), np.ones(1, bool)
        )
    with pytest.raises(ValueError, match=r"model_batch: windows must have shape .* or \[B, L \+ 1, C, H, W\]"):
        model_batch(buf.sample(1, 3, np.random.default_rng(0)), 2)


def _collect(steps, seed, num_envs=8):
    env = GridWorldVectorEnv(num_envs, obs_mode="image", view_radius=2, start=None, max_steps=30)
    shape = env.single_observation_space.shape
    buf = SequenceReplayBuffer(steps * num_envs, shape, (4,), num_envs=num_envs)
    rng = np.random.default_rng(seed)
    obs, _ = env.reset(seed=seed)
    tracker = EpisodeTracker(num_envs)
    for _ in range(steps):
        a = rng.integers(0, 4, num_envs)
        nxt, r, te, tu, _ = env.step(a)
        buf.add(obs, np.eye(4, dtype=np.float32)[a], r, te, tu, tracker.step(r, te, tu))
        obs = nxt
    return buf, shape


@pytest.mark.parametrize("seed", [0, 1])
def test_conv_rssm_one_step_image_prediction_learns(seed):
    train, shape = _collect(200, seed)
    test, _ = _collect(60, 100 + seed)
    assert shape == (3, 5, 5)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        cfg = RSSMConfig(deter=64, hidden=64, embed=64, stoch=8, kl_mode="free_nats", free_nats=1.0, cnn_depth=8)
        model = RSSM(shape, 4, cfg)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3, eps=1e-4)
    rng, g = np.random.default_rng(seed), torch.Generator().manual_seed(seed)
    b = model_batch(test.sample(256, 7, np.random.default_rng(5)), 4)
    keep = ~b["is_first"][:, 1:].any(1)  # windows inside one episode

    def one_step_error():
        with torch.no_grad():
            post, _ = model.observe(b["obs"][:, :5], b["prev_actions"][:, :5], b["is_first"][:, :5], generator=g)
            s = model.img_step({k: v[:, -1] for k, v in post.items()}, b["prev_actions"][:, 5], sample=False)
            x = model.decode(model.features(s))[keep]  # prior mean of x_5 after a_4
        tx = b["obs"][:, 5][keep]
        return (((x - tx) ** 2).flatten(1).sum(1).mean() / tx.flatten(1).var(0).sum()).item()

    tx, last = b["obs"][:, 5][keep], b["obs"][:, 4][keep]
    copy = (((last - tx) ** 2).flatten(1).sum(1).mean() / tx.flatten(1).var(0).sum()).item()
    untrained = one_step_error()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for _ in range(400):
            loss, _, _ = model.loss(model_batch(train.sample(16, 17, rng), 4), generator=g)
            opt.zero_grad()
            loss.backward()
            opt.step()
    finally:
        torch.set_num_threads(threads)
    err = one_step_error()
    assert untrained > 1.0, untrained
    assert copy > 0.45, copy  # the action matters: copying the last image misses most of the change
    assert err < 0.2, (err, copy)
    assert err < 0.4 * copy, (err, copy)
