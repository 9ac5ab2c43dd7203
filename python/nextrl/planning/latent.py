"""Latent-space planning in C++: an RSSM (nextrl.models.rssm) exported to the recurrent latent rollout model of
csrc/planning/latent_model.h, so CEM / iCEM / MPPI (continuous actions) or CategoricalCEM (discrete actions) plan from
B filtered states in one C++ call.

- `LatentModel.from_rssm(rssm)`: the imagination path of the RSSM (img_in MLP, GRU cell, prior MLP, reward head and
  continue head) as float32 weights; `set_states` takes the filtered states {"deter", "stoch"} [B, ...] (one
  planning problem each); the planners score a candidate by RSSM.imagine_returns' return (rewards read off the
  state after each action, weighted by the continue probabilities of the states before it, discounted by gamma).
  Latents follow the prior's mean (sample=False, PlaNet's planner) or are sampled with particles and the planners'
  counter-based noise (sample=True; every candidate of a problem sees the same noise). Categorical latents
  (DreamerV3) follow the prior's mode (the one-hot of the most probable class per group) or are sampled by
  Gumbel-max over the unimix probabilities with the planners' counter-based uniforms.
- Discrete actions (`num_actions=n`): the RSSM takes one-hot actions [n]; the C++ model takes one action index per
  step (action_dim 1, the CategoricalCEM convention) and feeds its one-hot to img_in.
- `torch_returns(rssm, latent, actions)`: the same returns computed by the torch modules with the same noise (the
  reference of tests/planning/test_latent_model.py, which checks both to 1e-5).

Exported layers: nn.Linear, nn.LayerNorm (over the last dim), nn.ReLU, nn.SiLU, nn.Tanh (nn.Identity skipped), in
nn.Sequential stacks; anything else is a ValueError naming the layer.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from nextrl import _core

_ACTIVATIONS = {nn.ReLU: "relu", nn.SiLU: "silu", nn.Tanh: "tanh"}


def _f32(t: torch.Tensor) -> np.ndarray:
    return np.ascontiguousarray(t.detach().cpu().numpy(), dtype=np.float32)


def export_stack(module: nn.Module, name: str) -> list[tuple]:
    """The ops of an MLP stack (nn.Sequential, nested ones flattened, or a single layer) for the C++ model."""
    fn = "LatentModel.from_rssm"
    layers = list(module) if isinstance(module, nn.Sequential) else [module]
    ops: list[tuple] = []
    for layer in layers:
        if isinstance(layer, nn.Sequential):
            ops += export_stack(layer, name)
        elif isinstance(layer, nn.Linear):
            bias = layer.bias if layer.bias is not None else torch.zeros(layer.out_features)
            ops.append(("linear", _f32(layer.weight), _f32(bias)))
        elif isinstance(layer, nn.LayerNorm):
            if len(layer.normalized_shape) != 1:
                raise ValueError(
                    f"{fn}: {name} has a LayerNorm over {layer.normalized_shape}; only the last dim is supported"
                )
            n = layer.normalized_shape[0]
            weight = layer.weight if layer.weight is not None else torch.ones(n)
            bias = layer.bias if layer.bias is not None else torch.zeros(n)
            ops.append(("layernorm", _f32(weight), _f32(bias), float(layer.eps)))
        elif type(layer) in _ACTIVATIONS:
            ops.append((_ACTIVATIONS[type(layer)],))
        elif isinstance(layer, nn.Identity):
            continue
        else:
            raise ValueError(
                f"{fn}: {name} has an unsupported layer {type(layer).__name__} "
                "(supported: Linear, LayerNorm, ReLU, SiLU, Tanh, Identity)"
            )
    return ops


class LatentModel:
    """An RSSM's latent rollouts as a C++ rollout model (csrc/planning/latent_model.h) for the planners."""

    def __init__(self, core, deter: int, stoch: int, action_dim: int, num_actions: int = 0):
        self._model, self.deter, self.stoch, self.action_dim = core, deter, stoch, action_dim
        self.num_actions = num_actions
        """discrete actions: the number of actions (the model takes one index per step); 0 for continuous"""

    @classmethod
    def from_rssm(
        cls, rssm, *, sample: bool = False, particles: int = 1, generic: bool = False, num_actions: int | None = None
    ) -> LatentModel:
        """Exports `rssm` (nextrl.models.rssm.RSSM). sample: latents drawn from the prior with `particles` rollouts
        per candidate (their mean return), else the prior's mean (categorical latents: the mode). num_actions:
        discrete actions, the RSSM trained on one-hot actions of rssm.action_dim == num_actions; the C++ model then
        takes action indices (action_dim 1). generic: force the baseline dense kernel (no AVX2), for tests and
        benchmarks."""
        fn = "LatentModel.from_rssm"
        c = rssm.cfg
        categorical = c.latent == "categorical"
        if isinstance(particles, bool) or not isinstance(particles, int) or particles < 1:
            raise ValueError(f"{fn}: particles must be an int >= 1, got {particles!r}")
        if num_actions is not None:
            if isinstance(num_actions, bool) or not isinstance(num_actions, int) or num_actions < 1:
                raise ValueError(f"{fn}: num_actions must be an int >= 1 or None, got {num_actions!r}")
            if num_actions != rssm.action_dim:
                raise ValueError(
                    f"{fn}: num_actions ({num_actions}) must equal the RSSM's action_dim ({rssm.action_dim}): "
                    "discrete actions enter the RSSM one-hot"
                )
        gru = rssm.gru
        if not isinstance(gru, nn.GRUCell):
            raise ValueError(f"{fn}: gru has an unsupported layer {type(gru).__name__} (supported: GRUCell)")
        zeros = torch.zeros(3 * gru.hidden_size)
        b_ih = gru.bias_ih if gru.bias_ih is not None else zeros
        b_hh = gru.bias_hh if gru.bias_hh is not None else zeros
        core = _core._LatentModel(
            export_stack(rssm.img_in, "img_in"),
            (_f32(gru.weight_ih), _f32(gru.weight_hh), _f32(b_ih), _f32(b_hh)),
            export_stack(rssm.prior_net, "prior_net"),
            export_stack(rssm.reward_head, "reward_head"),
            export_stack(rssm.cont_head, "cont_head"),
            deter=c.deter,
            stoch=c.stoch_size,
            action_dim=1 if num_actions else rssm.action_dim,
            min_std=float(c.min_std),
            sample=bool(sample),
            symlog_reward=bool(c.symlog),
            particles=particles,
            generic=bool(generic),
            num_actions=num_actions or 0,
            groups=c.groups if categorical else 0,
            classes=c.classes if categorical else 0,
            unimix=float(c.unimix),
        )
        return cls(core, c.deter, c.stoch_size, 1 if num_actions else rssm.action_dim, num_actions or 0)

    @property
    def core(self):
        """The C++ rollout model (nextrl._core._RolloutModel)."""
        return self._model

    @property
    def num_problems(self) -> int:
        return self._model.num_problems

    @property
    def isa(self) -> str:
        """The dense kernel in use: "avx512", "avx2" (AVX2 + FMA) or "generic"."""
        return self._model.isa

    def _flat(self, fn: str, state) -> np.ndarray:
        if isinstance(state, dict):
            state = torch.cat([state["deter"], state["stoch"]], -1)
        s = np.asarray(state.detach().cpu().numpy() if isinstance(state, torch.Tensor) else state)
        F = self.deter + self.stoch
        if s.ndim != 2 or s.shape[1] != F:
            raise ValueError(f"{fn}: states must have shape (num_problems, deter + stoch = {F}), got {s.shape}")
        if not np.all(np.isfinite(s)):
            raise ValueError(f"{fn}: states must be finite, got NaN or inf")
        return np.ascontiguousarray(s, dtype=np.float32)

    def set_states(self, state, seed: int = 0, round: int = 0) -> None:
        """Start states: the RSSM's state dict {"deter": [B, deter], "stoch": [B, stoch]} or [B, deter + stoch];
        seed and round address the latent noise when sampling."""
        self._model.set_states(self._flat("set_states", state), seed, round)

    def rollout(self, state, actions, problem: int = 0):
        """(states [n, horizon, deter + stoch], rewards [n, horizon], continue probabilities [n, horizon]) of n start
        states rolled forward by actions [n, horizon, action_dim] (discrete: [n, horizon, 1] action indices;
        particle 0's noise of `problem` when sampling)."""
        a = actions.detach().cpu().numpy() if isinstance(actions, torch.Tensor) else actions
        return self._model.rollout(self._flat("rollout", state), np.ascontiguousarray(a, dtype=np.float64), problem)

    def evaluate(self, actions, gamma: float = 1.0) -> np.ndarray:
        """Returns [num_problems, count] of candidates actions [num_problems, count, horizon, action_dim]."""
        if self.num_problems < 1:
            raise ValueError("evaluate: the model has no start states; call set_states(states) first")
        a = np.ascontiguousarray(actions, dtype=np.float64)
        if self.num_actions and not np.all((a >= 0) & (a < self.num_actions) & (a == np.floor(a))):
            raise ValueError(f"evaluate: actions must be action indices in {{0, ..., {self.num_actions - 1}}}")
        return self._model.evaluate(a, float(gamma))


def torch_returns(rssm, latent: LatentModel, state: dict, actions: torch.Tensor, *, gamma: float = 1.0):
    """The returns of `latent.evaluate(actions)` from the torch modules: start states `state` [B, ...] (as given to
    set_states), actions [B, N, H, A] -> [B, N] (float64 of float32 rewards; discrete: A = 1 action indices, fed
    one-hot); sampled latents draw the C++ model's noise (particle p, step t: _planning_normals(seed, round, b, t,
    p * stoch, stoch)), common to all candidates; categorical latents take the prior's mode (RSSM._dist) or, sampled,
    the Gumbel-max class of log(probs) - log(-log(u)) with u = _planning_uniforms(seed, round, b, t, p * Z, Z)."""
    core = latent.core
    B, N, H, _ = actions.shape
    P = int(core.particles)
    out = torch.zeros(B, N, dtype=torch.float64)
    c = rssm.cfg
    with torch.no_grad():
        for b in range(B):
            for p in range(P):
                s = {k: state[k][b : b + 1].expand(N, -1).float() for k in ("deter", "stoch")}
                ret = torch.zeros(N, dtype=torch.float64)
                alive = torch.ones(N, dtype=torch.float64)
                for t in range(H):
                    a = actions[b, :, t].float()
                    if latent.num_actions:
                        a = torch.nn.functional.one_hot(a[:, 0].long(), latent.num_actions).float()
                    x = rssm.img_in(torch.cat([s["stoch"], a], -1))
                    deter = rssm.gru(x, s["deter"])
                    if c.latent == "categorical":
                        dist = rssm._dist(rssm.prior_net(deter), None, False)
                        stoch = dist["stoch"]
                        if core.sample:
                            Z = c.stoch_size
                            u = _core._planning_uniforms(int(core.seed), int(core.round), b, t, p * Z, Z)
                            gumbel = torch.as_tensor(-np.log(-np.log(np.maximum(u, 1e-20))), dtype=torch.float32)
                            score = dist["logp"] + gumbel.reshape(c.groups, c.classes)
                            stoch = torch.nn.functional.one_hot(score.argmax(-1), c.classes).float().flatten(-2)
                        s = {"deter": deter, "stoch": stoch}
                        feat = rssm.features(s)
                        ret += (gamma**t) * alive * rssm.reward(feat).double()
                        alive *= rssm.cont(feat).double()
                        continue
                    mean, std = rssm.prior_net(deter).chunk(2, dim=-1)
                    stoch = mean
                    if core.sample:
                        z = _core._planning_normals(int(core.seed), int(core.round), b, t, p * c.stoch, c.stoch)
                        eps = torch.as_tensor(z, dtype=torch.float32)
                        stoch = mean + (torch.nn.functional.softplus(std) + c.min_std) * eps
                    s = {"deter": deter, "stoch": stoch}
                    feat = rssm.features(s)
                    ret += (gamma**t) * alive * rssm.reward(feat).double()
                    alive *= rssm.cont(feat).double()
                out[b] += ret
            out[b] /= P
    return out


__all__ = ["LatentModel", "export_stack", "torch_returns"]
