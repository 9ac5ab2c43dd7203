"""Variational world model (the CA13 design with its defects fixed; Ha and Schmidhuber 2018, arXiv:1803.10122, for
the VAE + latent dynamics structure): a VAE encoder q(z | o) and decoder p(o | z), a Gaussian latent transition
p(z' | z, a) and a reward head r(z, a), trained on transitions (o, a, r, o') with the ELBO

    loss = (0.5 ||o - dec(z)||^2 + 0.5 ||o' - dec(z')||^2 + 0.5 (r - r(z, a))^2) / sigma^2
           + KL[q(z | o) || N(0, I)] + KL[q(z' | o') || p(z' | z, a)],     z ~ q(z | o),  z' ~ q(z' | o'),

so the transition is trained toward the encoding of the *real* next observation through the KL to the learned
transition prior. (CA13 regressed the transition mean on a sample of itself, which never sees o' and only drives
its variance to zero, and took the KL of every latent to N(0, I).) Ha and Schmidhuber train the VAE first and an
MDN-RNN on its codes; here both are one ELBO, with a single Gaussian transition. Gaussians: mean and std =
softplus + min_std. Observations are vectors; decoder and reward head are Gaussians of fixed std sigma = `obs_std`
(their NLL without the constant): with sigma = 1 and observations of small variance, the optimum is a collapsed
posterior that encodes nothing (the KL costs more than the reconstruction gains).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from nextrl.models.rssm import gaussian_kl, mlp


@dataclass(frozen=True)
class VAEWorldModelConfig:
    latent: int = 16
    """latent size"""
    hidden: int = 128
    """MLP width (CA13 128)"""
    layers: int = 2
    """hidden layers per MLP"""
    min_std: float = 0.01
    """lower bound of every Gaussian std"""
    kl_scale: float = 1.0
    """weight of both KL terms (beta)"""
    obs_std: float = 0.1
    """std sigma of the Gaussian likelihoods of observations and rewards"""

    def __post_init__(self):
        for name in ("latent", "hidden", "layers"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"VAEWorldModelConfig: {name} must be an int >= 1, got {v!r}")
        if not self.obs_std > 0:
            raise ValueError(f"VAEWorldModelConfig: obs_std must be > 0, got {self.obs_std}")
        if not self.min_std > 0 or not self.kl_scale >= 0:
            raise ValueError(
                f"VAEWorldModelConfig: min_std must be > 0 and kl_scale >= 0, got {self.min_std} and {self.kl_scale}"
            )


class VAEWorldModel(nn.Module):
    def __init__(self, obs_dim: int, action_dim: int, cfg: VAEWorldModelConfig = VAEWorldModelConfig()):
        super().__init__()
        for name, v in (("obs_dim", obs_dim), ("action_dim", action_dim)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"VAEWorldModel: {name} must be an int >= 1, got {v!r}")
        self.obs_dim, self.action_dim, self.cfg = obs_dim, action_dim, cfg
        z, h, n = cfg.latent, cfg.hidden, cfg.layers
        self.encoder = mlp(obs_dim, 2 * z, h, n)
        self.decoder = mlp(z, obs_dim, h, n)
        self.transition = mlp(z + action_dim, 2 * z, h, n)
        self.reward_head = mlp(z + action_dim, 1, h, n)

    def _gauss(self, raw: Tensor) -> tuple[Tensor, Tensor]:
        mean, std = raw.chunk(2, -1)
        return mean, F.softplus(std) + self.cfg.min_std

    def encode(self, obs: Tensor) -> tuple[Tensor, Tensor]:
        """q(z | o): (mean, std) [B, latent]."""
        return self._gauss(self.encoder(obs))

    def prior(self, z: Tensor, action: Tensor) -> tuple[Tensor, Tensor]:
        """p(z' | z, a): (mean, std) [B, latent]."""
        return self._gauss(self.transition(torch.cat([z, action], -1)))

    def reward(self, z: Tensor, action: Tensor) -> Tensor:
        """r(z, a) [B]: the reward of taking a from the state encoded by z."""
        return self.reward_head(torch.cat([z, action], -1)).squeeze(-1)

    def _check(self, fn: str, obs: Tensor, actions: Tensor, rewards: Tensor, next_obs: Tensor) -> None:
        B = obs.shape[0]
        for name, x, shape in (
            ("obs", obs, (B, self.obs_dim)),
            ("actions", actions, (B, self.action_dim)),
            ("rewards", rewards, (B,)),
            ("next_obs", next_obs, (B, self.obs_dim)),
        ):
            if tuple(x.shape) != shape:
                raise ValueError(f"{fn}: {name} must have shape {shape}, got {tuple(x.shape)}")
            if not torch.isfinite(x).all():
                raise ValueError(f"{fn}: {name} must be finite, got NaN or inf")

    def loss(
        self, obs: Tensor, actions: Tensor, rewards: Tensor, next_obs: Tensor, *, generator=None
    ) -> tuple[Tensor, dict[str, float]]:
        """The ELBO loss of the module docstring on transitions obs, next_obs [B, obs_dim], actions [B, action_dim],
        rewards [B]; returns (loss, its terms)."""
        self._check("VAEWorldModel.loss", obs, actions, rewards, next_obs)
        noise = lambda m: torch.randn(m.shape, generator=generator, dtype=m.dtype)
        m0, s0 = self.encode(obs)
        m1, s1 = self.encode(next_obs)
        z0, z1 = m0 + s0 * noise(m0), m1 + s1 * noise(m1)
        pm, ps = self.prior(z0, actions)
        recon = (
            0.5 * ((self.decoder(z0) - obs) ** 2).sum(-1).mean()
            + 0.5 * ((self.decoder(z1) - next_obs) ** 2).sum(-1).mean()
        )
        kl0 = gaussian_kl(m0, s0, torch.zeros_like(m0), torch.ones_like(s0)).mean()
        kl1 = gaussian_kl(m1, s1, pm, ps).mean()
        reward = 0.5 * ((self.reward(z0, actions) - rewards) ** 2).mean()
        total = (recon + reward) / self.cfg.obs_std**2 + self.cfg.kl_scale * (kl0 + kl1)
        return total, {
            "recon": recon.item(),
            "kl_init": kl0.item(),
            "kl_transition": kl1.item(),
            "reward": reward.item(),
            "loss": total.item(),
        }

    def predict(self, obs: Tensor, actions: Tensor) -> tuple[Tensor, Tensor]:
        """Open-loop prediction with the means: obs [B, obs_dim], actions [B, H, action_dim] -> predicted
        observations [B, H, obs_dim] (after each action) and rewards [B, H] (of each action)."""
        if obs.ndim != 2 or obs.shape[1] != self.obs_dim:
            raise ValueError(f"VAEWorldModel.predict: obs must have shape [B, {self.obs_dim}], got {tuple(obs.shape)}")
        if actions.ndim != 3 or actions.shape[0] != obs.shape[0] or actions.shape[2] != self.action_dim:
            raise ValueError(
                f"VAEWorldModel.predict: actions must have shape [{obs.shape[0]}, H, {self.action_dim}], "
                f"got {tuple(actions.shape)}"
            )
        z = self.encode(obs)[0]
        xs, rs = [], []
        for h in range(actions.shape[1]):
            rs.append(self.reward(z, actions[:, h]))
            z = self.prior(z, actions[:, h])[0]
            xs.append(self.decoder(z))
        return torch.stack(xs, 1), torch.stack(rs, 1)


__all__ = ["VAEWorldModel", "VAEWorldModelConfig"]
