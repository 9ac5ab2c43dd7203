"""Recurrent state-space model (RSSM): PlaNet (Hafner et al. 2019, arXiv:1811.04551) and DreamerV3 options
(Hafner et al. 2023, arXiv:2301.04104).

State s_t = (h_t, z_t): a deterministic GRU path and a stochastic latent. Index alignment (both papers):

    h_t = GRU(h_{t-1}, [z_{t-1}, a_{t-1}])          (a_{t-1}: the action that led to x_t)
    prior      p(z_t | h_t)                          posterior  q(z_t | h_t, x_t)
    decoder    p(x_t | h_t, z_t)     reward  p(r_t | h_t, z_t)     continue  p(c_t | h_t, z_t)

where r_t is the reward received on arriving at x_t and c_t = 0 when that arrival terminated the episode.
is_first_t resets (h_{t-1}, z_{t-1}, a_{t-1}) to zeros before the step (the initial state is zero, as in PlaNet).
Planning from a filtered state s_t applies a_t and reads r_{t+1} off the *next* state, which is what training fits
(the CA18 world model read the reward of a step off the wrong state).

Latents: a diagonal Gaussian (mean, std = softplus + min_std, PlaNet) or `groups` categoricals of `classes` classes
(DreamerV3: 1% uniform mixture, straight-through one-hot samples). `sample=False` takes the mean, or for a
categorical latent the one-hot of each categorical's most probable class: on a diffuse prior that mode drifts open
loop (PointMass: 10-step reward error 1.4-4.6x that of the mean of 16 sampled rollouts, measured in
tests/models/test_rssm_categorical_learning.py), so average sampled rollouts for point predictions there.
KL in closed form, summed over latent dims:

    Gaussian     KL = sum log(s2 / s1) + (s1^2 + (m1 - m2)^2) / (2 s2^2) - 1/2
    categorical  KL = sum_groups sum_k p_k (log p_k - log q_k)

KL terms (`kl_mode`): "balanced" (DreamerV3): dyn_scale * max(free_nats, KL[sg(q) || p]) + rep_scale *
max(free_nats, KL[q || sg(p)]), the clip applied per step (after the sum over latent dims), then the mean over
batch and time; "free_nats" (PlaNet): max(free_nats, mean KL[q || p]) on the mean over batch and time (the
DreamerV1 / PlaNet implementations). Loss = reconstruction (unit-variance Gaussian NLL without its constant,
0.5 sum (x - x_hat)^2; symlog targets optional) + reward (same, scalar) + continue (Bernoulli NLL) + the KL term.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from nextrl.models.conv import ConvDecoder, ConvEncoder, image_shape


@dataclass(frozen=True)
class RSSMConfig:
    deter: int = 200
    """GRU state size (PlaNet 200)"""
    hidden: int = 200
    """width of every MLP layer"""
    embed: int = 200
    """encoder output size"""
    latent: str = "gaussian"
    """"gaussian" (PlaNet) or "categorical" (DreamerV3)"""
    stoch: int = 30
    """Gaussian latent size (PlaNet 30)"""
    groups: int = 32
    """categorical latent: number of categoricals (DreamerV3 32)"""
    classes: int = 32
    """categorical latent: classes per categorical (DreamerV3 32)"""
    min_std: float = 0.1
    """Gaussian latent: lower bound of the std (PlaNet 0.1)"""
    unimix: float = 0.01
    """categorical latent: weight of the uniform mixture in the class probabilities (DreamerV3 0.01), in [0, 1)"""
    kl_mode: str = "balanced"
    """"balanced" (DreamerV3 dyn / rep terms, free nats per term) or "free_nats" (PlaNet, on the total KL)"""
    dyn_scale: float = 1.0
    """balanced: weight of KL[sg(q) || p] (trains the prior)"""
    rep_scale: float = 0.1
    """balanced: weight of KL[q || sg(p)] (trains the posterior)"""
    free_nats: float = 1.0
    """KL values below this are not penalized (DreamerV3 1.0 per term; PlaNet 3.0 on the total)"""
    symlog: bool = False
    """fit symlog(x) and symlog(r) instead of x and r (DreamerV3); predictions are mapped back by symexp"""
    layers: int = 2
    """hidden layers of the encoder, decoder and heads"""
    cnn_depth: int = 16
    """image observations: channels of the first conv stage, doubled per stage (models.conv)"""

    def __post_init__(self):
        if self.latent not in ("gaussian", "categorical"):
            raise ValueError(f"RSSMConfig: latent must be 'gaussian' or 'categorical', got {self.latent!r}")
        if self.kl_mode not in ("balanced", "free_nats"):
            raise ValueError(f"RSSMConfig: kl_mode must be 'balanced' or 'free_nats', got {self.kl_mode!r}")
        for name in ("deter", "hidden", "embed", "stoch", "groups", "classes", "layers", "cnn_depth"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"RSSMConfig: {name} must be an int >= 1, got {v!r}")
        if not self.min_std > 0:
            raise ValueError(f"RSSMConfig: min_std must be > 0, got {self.min_std}")
        if not 0.0 <= self.unimix < 1.0:
            raise ValueError(f"RSSMConfig: unimix must be in [0, 1), got {self.unimix}")
        for name in ("dyn_scale", "rep_scale", "free_nats"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"RSSMConfig: {name} must be >= 0, got {getattr(self, name)}")

    @property
    def stoch_size(self) -> int:
        """flattened latent size: stoch, or groups * classes"""
        return self.stoch if self.latent == "gaussian" else self.groups * self.classes


def symlog(x: Tensor) -> Tensor:
    return torch.sign(x) * torch.log1p(torch.abs(x))


def symexp(x: Tensor) -> Tensor:
    return torch.sign(x) * torch.expm1(torch.abs(x))


def gaussian_kl(mean1: Tensor, std1: Tensor, mean2: Tensor, std2: Tensor) -> Tensor:
    """KL[N(mean1, std1^2) || N(mean2, std2^2)] of diagonal Gaussians, summed over the last dim."""
    return (torch.log(std2 / std1) + (std1**2 + (mean1 - mean2) ** 2) / (2.0 * std2**2) - 0.5).sum(-1)


def categorical_kl(logp: Tensor, logq: Tensor) -> Tensor:
    """KL[p || q] of categoricals given as log-probabilities [..., groups, classes], summed over groups."""
    return (logp.exp() * (logp - logq)).sum((-2, -1))


def mlp(inp: int, out: int, hidden: int, layers: int) -> nn.Sequential:
    mods: list[nn.Module] = []
    for i in range(layers):
        mods += [nn.Linear(inp if i == 0 else hidden, hidden), nn.LayerNorm(hidden), nn.SiLU()]
    mods.append(nn.Linear(hidden if layers else inp, out))
    return nn.Sequential(*mods)


class RSSM(nn.Module):
    """The world model: encoder, RSSM core, decoder, reward and continue heads. `obs_dim` an int: vector
    observations [obs_dim] and MLP encoder / decoder; a shape (C, H, W): channels-first images and the conv
    encoder / decoder of models.conv (`cfg.cnn_depth`); `self.obs_dim` is then C * H * W.

    A state is a dict {"deter": [B, deter], "stoch": [B, stoch_size]} (plus the latent's statistics:
    "mean"/"std" [B, stoch] or "logp" [B, groups, classes])."""

    def __init__(self, obs_dim: int | tuple[int, int, int], action_dim: int, cfg: RSSMConfig = RSSMConfig()):
        super().__init__()
        image = not isinstance(obs_dim, int)
        self.obs_shape = image_shape("RSSM", obs_dim) if image else (obs_dim,)
        for name, v in (("obs_dim", obs_dim if not image else 1), ("action_dim", action_dim)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"RSSM: {name} must be an int >= 1 or a shape (C, H, W), got {v!r}")
        self.obs_dim, self.action_dim, self.cfg = math.prod(self.obs_shape), action_dim, cfg
        c, s = cfg, cfg.stoch_size
        stats = 2 * c.stoch if c.latent == "gaussian" else s
        if image:
            self.encoder = ConvEncoder(self.obs_shape, c.embed, depth=c.cnn_depth)
        else:
            self.encoder = mlp(obs_dim, c.embed, c.hidden, c.layers)
        self.img_in = nn.Sequential(nn.Linear(s + action_dim, c.hidden), nn.LayerNorm(c.hidden), nn.SiLU())
        self.gru = nn.GRUCell(c.hidden, c.deter)
        self.prior_net = mlp(c.deter, stats, c.hidden, 1)
        self.post_net = mlp(c.deter + c.embed, stats, c.hidden, 1)
        feat = c.deter + s
        if image:
            self.decoder = ConvDecoder(feat, self.obs_shape, depth=c.cnn_depth)
        else:
            self.decoder = mlp(feat, obs_dim, c.hidden, c.layers)
        self.reward_head = mlp(feat, 1, c.hidden, c.layers)
        self.cont_head = mlp(feat, 1, c.hidden, c.layers)

    # ------------------------------------------------------------------------------------------------ core
    def initial(self, batch_size: int, device=None) -> dict[str, Tensor]:
        """The zero state of `batch_size` rows."""
        z = lambda n: torch.zeros(batch_size, n, device=device)
        return {"deter": z(self.cfg.deter), "stoch": z(self.cfg.stoch_size)}

    def _dist(self, raw: Tensor, generator: torch.Generator | None, sample: bool) -> dict[str, Tensor]:
        """Latent statistics from a head's output, and a sample (reparameterized / straight-through) or the mode."""
        c = self.cfg
        if c.latent == "gaussian":
            mean, std = raw.chunk(2, dim=-1)
            std = F.softplus(std) + c.min_std
            if sample:
                eps = torch.randn(mean.shape, generator=generator, device=mean.device, dtype=mean.dtype)
                stoch = mean + std * eps
            else:
                stoch = mean
            return {"stoch": stoch, "mean": mean, "std": std}
        logits = raw.reshape(*raw.shape[:-1], c.groups, c.classes)
        probs = (1.0 - c.unimix) * torch.softmax(logits, -1) + c.unimix / c.classes
        if sample:
            u = torch.rand(probs.shape, generator=generator, device=probs.device, dtype=probs.dtype)
            idx = torch.argmax(torch.log(probs) - torch.log(-torch.log(u.clamp_min(1e-20))), -1)  # Gumbel-max
        else:
            idx = torch.argmax(probs, -1)
        onehot = F.one_hot(idx, c.classes).to(probs.dtype)
        stoch = onehot + probs - probs.detach()  # straight-through gradients (Bengio et al. 2013)
        return {"stoch": stoch.flatten(-2), "logp": torch.log(probs)}

    def img_step(
        self, state: dict[str, Tensor], action: Tensor, *, generator=None, sample: bool = True
    ) -> dict[str, Tensor]:
        """Prior step: h_t = GRU(h_{t-1}, [z_{t-1}, a_{t-1}]), z_t ~ p(z_t | h_t). action: [B, action_dim]."""
        x = self.img_in(torch.cat([state["stoch"], action], -1))
        deter = self.gru(x, state["deter"])
        return {"deter": deter, **self._dist(self.prior_net(deter), generator, sample)}

    def obs_step(
        self,
        state: dict[str, Tensor],
        action: Tensor,
        embed: Tensor,
        is_first: Tensor | None = None,
        *,
        generator=None,
        sample: bool = True,
    ) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
        """Filter step: (posterior, prior) of step t from the state of t - 1, a_{t-1} and embed(x_t).
        is_first [B] bool: rows whose x_t starts an episode (their previous state and action are zeroed)."""
        if is_first is not None:
            keep = (~is_first.bool()).to(action.dtype)[:, None]
            state = {k: state[k] * keep for k in ("deter", "stoch")}
            action = action * keep
        prior = self.img_step(state, action, generator=generator, sample=sample)
        raw = self.post_net(torch.cat([prior["deter"], embed], -1))
        post = {"deter": prior["deter"], **self._dist(raw, generator, sample)}
        return post, prior

    def features(self, state: dict[str, Tensor]) -> Tensor:
        return torch.cat([state["deter"], state["stoch"]], -1)

    def encode(self, obs: Tensor) -> Tensor:
        return self.encoder(symlog(obs) if self.cfg.symlog else obs)

    def reward(self, feat: Tensor) -> Tensor:
        """Predicted reward [...] in env units (symexp'd under symlog)."""
        r = self.reward_head(feat).squeeze(-1)
        return symexp(r) if self.cfg.symlog else r

    def cont(self, feat: Tensor) -> Tensor:
        """Predicted continue probability [...]."""
        return torch.sigmoid(self.cont_head(feat).squeeze(-1))

    def decode(self, feat: Tensor) -> Tensor:
        x = self.decoder(feat)
        return symexp(x) if self.cfg.symlog else x

    # ------------------------------------------------------------------------------------------ sequences
    def observe(
        self, obs: Tensor, prev_actions: Tensor, is_first: Tensor, state=None, *, generator=None
    ) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
        """Posterior and prior states over sequences. obs [B, T, obs_dim] (or [B, T, C, H, W]), prev_actions
        [B, T, action_dim] (a_{t-1} for x_t), is_first [B, T] bool; returns dicts of [B, T, ...] tensors."""
        B, T = obs.shape[:2]
        _check_seq("RSSM.observe", self.obs_shape, self.action_dim, obs, prev_actions, is_first)
        embed = self.encode(obs)
        state = self.initial(B, obs.device) if state is None else state
        posts, priors = [], []
        for t in range(T):
            state, prior = self.obs_step(state, prev_actions[:, t], embed[:, t], is_first[:, t], generator=generator)
            posts.append(state)
            priors.append(prior)
        stack = lambda xs: {k: torch.stack([x[k] for x in xs], 1) for k in xs[0]}
        return stack(posts), stack(priors)

    def kl(self, post: dict[str, Tensor], prior: dict[str, Tensor], *, detach: str | None = None) -> Tensor:
        """KL[q || p] per step [...], summed over latent dims; detach "post" or "prior" stops that side's gradient."""
        sg = lambda d, side: {k: (v.detach() if detach == side else v) for k, v in d.items()}
        q, p = sg(post, "post"), sg(prior, "prior")
        if self.cfg.latent == "gaussian":
            return gaussian_kl(q["mean"], q["std"], p["mean"], p["std"])
        return categorical_kl(q["logp"], p["logp"])

    def kl_loss(self, post: dict[str, Tensor], prior: dict[str, Tensor]) -> tuple[Tensor, dict[str, float]]:
        """The KL term of the loss (see the module docstring) and the mean KL[q || p]."""
        c = self.cfg
        if c.kl_mode == "balanced":
            dyn = self.kl(post, prior, detach="post")
            rep = self.kl(post, prior, detach="prior")
            loss = c.dyn_scale * dyn.clamp_min(c.free_nats).mean() + c.rep_scale * rep.clamp_min(c.free_nats).mean()
            value = dyn.detach().mean()
        else:
            mean_kl = self.kl(post, prior).mean()
            loss, value = mean_kl.clamp_min(c.free_nats), mean_kl.detach()
        return loss, {"kl": value.item()}

    def loss(self, batch: dict[str, Tensor], *, generator=None) -> tuple[Tensor, dict[str, float], dict]:
        """World-model loss on a batch of `model_batch` (obs, prev_actions, rewards, conts, is_first [B, T, ...]).
        Returns (loss, metrics, posterior states [B, T, ...] detached)."""
        post, prior = self.observe(batch["obs"], batch["prev_actions"], batch["is_first"], generator=generator)
        feat = self.features(post)
        obs_t, rew_t = batch["obs"], batch["rewards"]
        if self.cfg.symlog:
            obs_t, rew_t = symlog(obs_t), symlog(rew_t)
        recon = 0.5 * ((self.decoder(feat) - obs_t) ** 2).flatten(2).sum(-1).mean()
        reward = 0.5 * ((self.reward_head(feat).squeeze(-1) - rew_t) ** 2).mean()
        cont = F.binary_cross_entropy_with_logits(self.cont_head(feat).squeeze(-1), batch["conts"])
        kl, info = self.kl_loss(post, prior)
        total = recon + reward + cont + kl
        info.update(recon=recon.item(), reward=reward.item(), cont=cont.item(), loss=total.item())
        return total, info, {k: v.detach() for k, v in post.items()}

    def imagine_returns(
        self, state: dict[str, Tensor], actions: Tensor, *, gamma: float = 1.0, sample: bool = False, generator=None
    ) -> Tensor:
        """Sum over h of gamma^h * prod_{k<=h} c_k * r_h for action sequences [N, H, action_dim] from states [N, ...]:
        a_h applied to s_h gives s_{h+1}, whose reward and continue heads give r_{h+1} and c_{h+1}. Returns [N]."""
        ret = torch.zeros(actions.shape[0], device=actions.device)
        alive = torch.ones_like(ret)
        for h in range(actions.shape[1]):
            state = self.img_step(state, actions[:, h], generator=generator, sample=sample)
            feat = self.features(state)
            ret = ret + (gamma**h) * alive * self.reward(feat)
            alive = alive * self.cont(feat)
        return ret


def _check_seq(fn: str, obs_shape: tuple, action_dim: int, obs: Tensor, prev_actions: Tensor, is_first: Tensor) -> None:
    if obs.ndim != 2 + len(obs_shape) or tuple(obs.shape[2:]) != obs_shape:
        want = ", ".join(map(str, obs_shape))
        raise ValueError(f"{fn}: obs must have shape [B, T, {want}], got {tuple(obs.shape)}")
    B, T = obs.shape[:2]
    if tuple(prev_actions.shape) != (B, T, action_dim):
        raise ValueError(f"{fn}: prev_actions must have shape {(B, T, action_dim)}, got {tuple(prev_actions.shape)}")
    if tuple(is_first.shape) != (B, T):
        raise ValueError(f"{fn}: is_first must have shape {(B, T)}, got {tuple(is_first.shape)}")
    if not torch.isfinite(obs).all():
        raise ValueError(f"{fn}: obs must be finite, got NaN or inf")


def model_batch(seq, action_dim: int) -> dict[str, Tensor]:
    """A SequenceReplayBuffer window of L + 1 rows -> the model's L steps, aligned as in the papers.

    The buffer's row k holds (o_k, a_k, r_k, term_k) with r_k, term_k the outcome of a_k (a NEXT_STEP reset row
    holds an episode's final observation and is followed by an is_first row). Step t of the result (t = 0..L-1) is
    row t + 1: obs x_t = o_{t+1}, prev_actions a_{t-1} = a_t, rewards r_t = r_t(row t), conts c_t = 1 - term_t(row t),
    is_first; at is_first steps the previous action and reward are 0 and the continue flag is 1.
    Returns float32 tensors obs [B, L, obs_dim], prev_actions [B, L, A], rewards [B, L], conts [B, L] and
    is_first [B, L] bool."""
    obs = seq.obs.float()
    if obs.ndim not in (3, 5) or obs.shape[1] < 2:
        shape = tuple(obs.shape)
        raise ValueError(
            f"model_batch: windows must have shape [B, L + 1, obs_dim] or [B, L + 1, C, H, W] with L >= 1, got {shape}"
        )
    actions = seq.actions.float().reshape(obs.shape[0], obs.shape[1], -1)
    if actions.shape[-1] != action_dim:
        raise ValueError(f"model_batch: actions must have {action_dim} dims per step, got {actions.shape[-1]}")
    first = seq.is_first[:, 1:].bool()
    keep = (~first).float()
    return {
        "obs": obs[:, 1:],
        "prev_actions": actions[:, :-1] * keep[..., None],
        "rewards": seq.rewards[:, :-1].float() * keep,
        "conts": torch.where(first, 1.0, 1.0 - seq.terminations[:, :-1].float()),
        "is_first": first,
    }


__all__ = ["RSSM", "RSSMConfig", "categorical_kl", "gaussian_kl", "model_batch", "symexp", "symlog"]
