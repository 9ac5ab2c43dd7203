"""Update compression with real encodings: what crosses the wire is a byte string whose length is counted.

- Top-k sparsification with error feedback (Stich et al. 2018; Karimireddy et al. 2019): the client adds its
  residual to the update, keeps the k = max(1, ceil(ratio d)) entries of largest magnitude over the whole flat
  vector (so a small tensor is not zeroed forever), sends their indices (int32 when d < 2**31, else int64) and
  values, and keeps as its new residual what the decoded message missed.
- QSGD (Alistarh et al. 2017): v_i -> ||v|| sign(v_i) xi_i / s with xi_i in {l, l + 1}, l = floor(s |v_i| / ||v||),
  xi_i = l + 1 with probability s |v_i| / ||v|| - l: unbiased, E||Q(v) - v||^2 <= min(d / s^2, sqrt(d) / s) ||v||^2.
  Sent: the norm (float32) and every entry's sign and level bit-packed at 1 + ceil(log2(s + 1)) bits.
- Composition (`compress(ratio, levels)`): sparsify, then quantize the k kept values (the zeros stay implicit:
  quantization never undoes sparsity); error feedback covers both steps.

`Message.to_bytes()` is the wire format: a 24-byte header (d, k, s as int64) followed by the index buffer, the
float32 norm and the packed codes (or the raw float32 values when unquantized). `Message.nbytes` equals its length.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

_HEADER = np.dtype([("d", "<i8"), ("k", "<i8"), ("levels", "<i8")])


def _bits(levels: int) -> int:
    return 1 + max(1, math.ceil(math.log2(levels + 1)))


def _index_dtype(d: int) -> np.dtype:
    return np.dtype("<i4") if d < 2**31 else np.dtype("<i8")


@dataclass(frozen=True)
class Message:
    """One encoded update. `indices` is None for a dense message (k = d, every entry in order); `levels` = 0 means
    `values` holds raw float32 values, else `norm` and the bit-packed `codes` of QSGD with that many levels."""

    d: int
    k: int
    levels: int
    indices: np.ndarray | None
    values: np.ndarray | None
    norm: float
    codes: np.ndarray | None

    def to_bytes(self) -> bytes:
        head = np.array([(self.d, self.k, self.levels)], dtype=_HEADER).tobytes()
        parts = [head]
        if self.indices is not None:
            parts.append(self.indices.tobytes())
        if self.levels:
            parts += [np.float32(self.norm).tobytes(), self.codes.tobytes()]
        else:
            parts.append(self.values.astype("<f4").tobytes())
        return b"".join(parts)

    @property
    def nbytes(self) -> int:
        """Bytes on the wire: the header plus every buffer."""
        n = _HEADER.itemsize
        if self.indices is not None:
            n += self.indices.nbytes
        return n + (4 + self.codes.nbytes if self.levels else self.values.nbytes)

    @staticmethod
    def from_bytes(buf: bytes) -> Message:
        head = np.frombuffer(buf, dtype=_HEADER, count=1)[0]
        d, k, levels = int(head["d"]), int(head["k"]), int(head["levels"])
        off = _HEADER.itemsize
        indices = None
        if k < d:
            idt = _index_dtype(d)
            indices = np.frombuffer(buf, dtype=idt, count=k, offset=off).copy()
            off += k * idt.itemsize
        if levels:
            norm = float(np.frombuffer(buf, dtype="<f4", count=1, offset=off)[0])
            codes = np.frombuffer(buf, dtype=np.uint8, offset=off + 4).copy()
            return Message(d, k, levels, indices, None, norm, codes)
        values = np.frombuffer(buf, dtype="<f4", count=k, offset=off).copy()
        return Message(d, k, levels, indices, values, 0.0, None)


def _check_vector(fn: str, v: Tensor) -> None:
    if not isinstance(v, Tensor) or v.dim() != 1 or not v.is_floating_point():
        raise ValueError(f"{fn}: update must be a 1-D floating tensor, got {getattr(v, 'shape', type(v).__name__)}")
    if not torch.isfinite(v.sum()) and not torch.isfinite(v).all():  # the sum: one cheap pass, exact re-check
        raise ValueError(f"{fn}: update must be finite, got NaN or inf")


def _check_levels(fn: str, levels: int) -> None:
    if isinstance(levels, bool) or not isinstance(levels, int) or not 1 <= levels <= 2**15 - 1:
        raise ValueError(f"{fn}: levels must be an int in [1, 32767], got {levels!r}")


def _pack(code: np.ndarray, bits: int) -> np.ndarray:
    """The low `bits` bits of each uint16 code, LSB first, concatenated and packed little-endian into bytes."""
    bitmat = np.unpackbits(code.astype("<u2").view(np.uint8).reshape(-1, 2), axis=1, bitorder="little")
    return np.packbits(bitmat[:, :bits].reshape(-1), bitorder="little")


def _unpack(codes: np.ndarray, k: int, bits: int) -> np.ndarray:
    """The inverse of `_pack`: [k] uint16 codes, code i read from the 3 bytes that hold its bits i*bits ..
    (i+1)*bits - 1 (bits <= 16 span at most 3 bytes) as one word, shifted and masked."""
    buf = np.zeros(codes.size + 3, dtype=np.uint32)
    buf[: codes.size] = codes
    pos = np.arange(k, dtype=np.int64) * bits
    off, shift = pos >> 3, (pos & 7).astype(np.uint32)
    word = buf[off] | (buf[off + 1] << 8) | (buf[off + 2] << 16)
    return ((word >> shift) & np.uint32((1 << bits) - 1)).astype(np.uint16)


def qsgd_codes(values: np.ndarray, levels: int, rng: np.random.Generator) -> tuple[float, np.ndarray]:
    """(norm, packed codes uint8) of QSGD with `levels` levels on float values [k]."""
    v = values.astype(np.float64)
    norm = math.sqrt(float(np.square(v).sum()))  # not np.linalg.norm: its BLAS dot spins up threads
    bits = _bits(levels)
    if norm == 0.0:
        lv = np.zeros(v.shape, dtype=np.uint16)
    else:
        r = np.abs(v) / norm * levels
        low = np.floor(r)
        lv = (low + (rng.random(v.shape) < r - low)).astype(np.uint16)
    code = lv | ((v < 0).astype(np.uint16) << np.uint16(bits - 1))
    return norm, _pack(code, bits)


def qsgd_values(norm: float, codes: np.ndarray, k: int, levels: int) -> np.ndarray:
    """Decoded QSGD values [k] float64."""
    bits = _bits(levels)
    code = _unpack(codes, k, bits)
    lv = code & np.uint16((1 << (bits - 1)) - 1)
    sign = np.where(code >> np.uint16(bits - 1), -1.0, 1.0)
    return np.float32(norm).astype(np.float64) * sign * lv / levels


def encode(update: Tensor, *, ratio: float = 1.0, levels: int = 0, seed: int = 0) -> Message:
    """Encodes `update` [d]: top-k with k = max(1, ceil(ratio d)) when ratio < 1, then QSGD of the kept values when
    levels > 0 (else float32 values). No error feedback here: see `ErrorFeedback`."""
    _check_vector("encode", update)
    if not 0 < ratio <= 1:
        raise ValueError(f"encode: ratio must be in (0, 1], got {ratio}")
    if levels:
        _check_levels("encode", levels)
    d = update.numel()
    u = update.detach().cpu()
    k = max(1, math.ceil(ratio * d - 1e-12))
    indices = None
    if k < d:
        idx = u.abs().topk(k, sorted=False).indices.sort().values  # torch.topk: 5-10x np.argpartition here
        indices = idx.numpy().astype(_index_dtype(d))
        u = u[idx]
    if levels:
        norm, codes = qsgd_codes(u.numpy(), levels, np.random.default_rng(seed))
        return Message(d, k, levels, indices, None, norm, codes)
    return Message(d, k, 0, indices, u.numpy().astype("<f4"), 0.0, None)


def decode(msg: Message, dtype: torch.dtype = torch.float32) -> Tensor:
    """The dense update [d] a message stands for."""
    vals = torch.from_numpy(qsgd_values(msg.norm, msg.codes, msg.k, msg.levels) if msg.levels else msg.values)
    if msg.indices is None:
        return vals.to(dtype)
    out = torch.zeros(msg.d, dtype=dtype)
    out[torch.from_numpy(msg.indices.astype(np.int64))] = vals.to(dtype)
    return out


class ErrorFeedback:
    """A client's compressor with error feedback: `encode(update)` compresses update + residual and sets residual
    to (update + residual) - decode(message), so nothing is lost, only delayed."""

    def __init__(self, d: int, *, ratio: float, levels: int = 0, seed: int = 0):
        if not 0 < ratio <= 1:
            raise ValueError(f"ErrorFeedback: ratio must be in (0, 1], got {ratio}")
        if levels:
            _check_levels("ErrorFeedback", levels)
        self.ratio, self.levels = ratio, levels
        self.residual = torch.zeros(d, dtype=torch.float64)
        self._rng = np.random.default_rng(seed)

    def encode(self, update: Tensor) -> Message:
        _check_vector("ErrorFeedback.encode", update)
        if update.numel() != self.residual.numel():
            raise ValueError(
                f"ErrorFeedback.encode: update must have {self.residual.numel()} entries, got {update.numel()}"
            )
        acc = self.residual + update.detach().to(torch.float64)
        msg = encode(acc, ratio=self.ratio, levels=self.levels, seed=int(self._rng.integers(2**63)))
        self.residual = acc - decode(msg, torch.float64)
        return msg


def dense_nbytes(d: int, dtype: torch.dtype = torch.float32) -> int:
    """Bytes of the uncompressed update, for comparison."""
    return d * torch.empty((), dtype=dtype).element_size()


__all__ = ["ErrorFeedback", "Message", "decode", "dense_nbytes", "encode", "qsgd_codes", "qsgd_values"]
