"""Small convolutional encoder and decoder for image observations (DreamerV3 / PlaNet style).

Images are channels-first floats [..., C, H, W] (the grid envs' "image" observations, e.g. GridWorld's
[3, 2r + 1, 2r + 1] wall / goal / pit planes). The encoder is `stages` stride-2 convolutions (kernel 3,
padding 1) with `depth * 2**i` channels, each followed by a LayerNorm over the channels and SiLU (or ReLU),
then a linear map of the flattened features to `embed` (Hafner et al. 2023, arXiv:2301.04104, app. B: stride-2
convs doubling the depth down to a small resolution). The decoder mirrors it: a linear map from the features
to the smallest feature map, then transposed stride-2 convolutions back to [C, H, W], the last one linear
(the mean of a unit-variance Gaussian, as the MLP decoder). Odd sizes are restored exactly: every transposed
convolution is given the size of the matching encoder input.

By default the number of stages halves the larger side until it is at most `min_res` (4, DreamerV3's minimum
resolution), with at least one stage: 64 x 64 -> 4 stages (32, 16, 8, 4); GridWorld's 5 x 5 -> 1 stage (3 x 3).
"""

from __future__ import annotations

from collections.abc import Sequence

import gymnasium as gym
import numpy as np
from torch import Tensor, nn

_ACTS = {"silu": nn.SiLU, "relu": nn.ReLU}


def image_shape(fn: str, shape: Sequence[int]) -> tuple[int, int, int]:
    """`shape` checked to be three ints >= 1 (C, H, W)."""
    shape = tuple(shape)
    if len(shape) != 3 or any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in shape):
        raise ValueError(f"{fn}: obs_shape must be three ints >= 1 (channels, height, width), got {shape!r}")
    return shape


def observation_input(fn: str, space) -> int | tuple[int, int, int]:
    """The RSSM's obs_dim for a single-env observation space: obs_dim for a Box of vectors [obs_dim], (C, H, W) for
    a Box of channels-first images. Images must be floats: integer pixels (uint8 0-255) are refused rather than
    trained on unscaled; scale them first (PlaNet and Dreamer feed pixels / 255 - 0.5)."""
    if not isinstance(space, gym.spaces.Box) or len(space.shape) not in (1, 3):
        raise ValueError(
            f"{fn}: observations must be a Box of vectors [obs_dim] or channels-first images (C, H, W), got {space}"
        )
    if len(space.shape) == 1:
        return int(space.shape[0])
    if not np.issubdtype(space.dtype, np.floating):
        raise ValueError(
            f"{fn}: image observations must be floats, got dtype {space.dtype}; scale integer pixels first "
            "(e.g. gymnasium.wrappers.vector.TransformObservation to obs / 255 - 0.5 with a float32 Box)"
        )
    return tuple(int(v) for v in space.shape)


def conv_sizes(height: int, width: int, stages: int) -> list[tuple[int, int]]:
    """Spatial sizes [(H, W), ...] of the input and after each stride-2 stage (kernel 3, padding 1)."""
    sizes = [(height, width)]
    for _ in range(stages):
        h, w = sizes[-1]
        sizes.append(((h - 1) // 2 + 1, (w - 1) // 2 + 1))
    return sizes


def default_stages(height: int, width: int, min_res: int = 4) -> int:
    """Stride-2 stages that bring max(H, W) to at most `min_res`, and at least 1."""
    n, size = 1, (max(height, width) - 1) // 2 + 1
    while size > min_res:
        n, size = n + 1, (size - 1) // 2 + 1
    return n


class ChannelNorm(nn.Module):
    """LayerNorm over the channel axis of [N, C, H, W] (DreamerV3's norm after each conv)."""

    def __init__(self, channels: int):
        super().__init__()
        self.norm = nn.LayerNorm(channels)

    def forward(self, x: Tensor) -> Tensor:
        return self.norm(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


def _config(fn: str, obs_shape, depth: int, stages: int | None, act: str) -> tuple[tuple[int, int, int], int]:
    shape = image_shape(fn, obs_shape)
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 1:
        raise ValueError(f"{fn}: depth must be an int >= 1, got {depth!r}")
    if stages is None:
        stages = default_stages(shape[1], shape[2])
    if isinstance(stages, bool) or not isinstance(stages, int) or stages < 1:
        raise ValueError(f"{fn}: stages must be an int >= 1, got {stages!r}")
    if act not in _ACTS:
        raise ValueError(f"{fn}: act must be one of {sorted(_ACTS)}, got {act!r}")
    return shape, stages


class ConvEncoder(nn.Module):
    """Images [..., C, H, W] -> embeddings [..., embed]."""

    def __init__(
        self, obs_shape: Sequence[int], embed: int, *, depth: int = 16, stages: int | None = None, act: str = "silu"
    ):
        super().__init__()
        self.obs_shape, self.stages = _config("ConvEncoder", obs_shape, depth, stages, act)
        c, h, w = self.obs_shape
        mods: list[nn.Module] = []
        for i in range(self.stages):
            out = depth * 2**i
            mods += [nn.Conv2d(c, out, 3, stride=2, padding=1), ChannelNorm(out), _ACTS[act]()]
            c = out
        self.convs = nn.Sequential(*mods)
        fh, fw = conv_sizes(h, w, self.stages)[-1]
        self.out = nn.Linear(c * fh * fw, embed)

    def forward(self, obs: Tensor) -> Tensor:
        n = obs.ndim - 3
        if n < 0 or tuple(obs.shape[n:]) != self.obs_shape:
            raise ValueError(
                f"ConvEncoder: obs must have shape [..., {', '.join(map(str, self.obs_shape))}], got {tuple(obs.shape)}"
            )
        lead = obs.shape[:n]
        x = self.convs(obs.reshape(-1, *self.obs_shape))
        return self.out(x.flatten(1)).reshape(*lead, -1)


class ConvDecoder(nn.Module):
    """Features [..., feat] -> images [..., C, H, W] (the mean of a unit-variance Gaussian per pixel)."""

    def __init__(
        self, feat: int, obs_shape: Sequence[int], *, depth: int = 16, stages: int | None = None, act: str = "silu"
    ):
        super().__init__()
        self.obs_shape, self.stages = _config("ConvDecoder", obs_shape, depth, stages, act)
        c, h, w = self.obs_shape
        self.feat = feat
        self.sizes = conv_sizes(h, w, self.stages)
        top = depth * 2 ** (self.stages - 1)
        fh, fw = self.sizes[-1]
        self.inp = nn.Sequential(
            nn.Linear(feat, top * fh * fw), nn.Unflatten(-1, (top, fh, fw)), ChannelNorm(top), _ACTS[act]()
        )
        self.ups = nn.ModuleList()
        self.post = nn.ModuleList()
        for i in reversed(range(self.stages)):
            cin = depth * 2**i
            out = c if i == 0 else depth * 2 ** (i - 1)
            self.ups.append(nn.ConvTranspose2d(cin, out, 3, stride=2, padding=1))
            self.post.append(nn.Identity() if i == 0 else nn.Sequential(ChannelNorm(out), _ACTS[act]()))

    def forward(self, feat: Tensor) -> Tensor:
        if feat.ndim < 1 or feat.shape[-1] != self.feat:
            raise ValueError(f"ConvDecoder: features must have shape [..., {self.feat}], got {tuple(feat.shape)}")
        lead = feat.shape[:-1]
        x = self.inp(feat.reshape(-1, self.feat))
        for k, (up, post) in enumerate(zip(self.ups, self.post)):
            x = post(up(x, output_size=self.sizes[self.stages - 1 - k]))
        return x.reshape(*lead, *self.obs_shape)


__all__ = ["ChannelNorm", "ConvDecoder", "ConvEncoder", "conv_sizes", "default_stages", "image_shape"]
