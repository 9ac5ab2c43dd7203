"""Update compression with real encodings: what crosses the wire is a byte string whose length is counted.

- Top-k sparsification with error feedback (Stich et al. 2018; Karimireddy et al. 2019): the client adds its
  residual to the update, keeps the k = max(1, ceil(ratio d)) entries of largest magnitude over the whole flat
  vector (so a small tensor is not zeroed forever), sends their indices (int32 when d < 2**31, else int64) and
  values, and keeps as its new residual what the decoded message missed.
- QSGD (Alistarh et al. 2017): v_i -> ||v|| sign(v_i) xi_i / s with xi_i in {l, l + 1}, l = floor(s |v_i| / ||v||),
  xi_i = l + 1 with probability s |v_i| / ||v|| - l: unbiased, E||Q(v) - v||^2 <= min(d / s^2, sqrt(d) / s) ||v||^2.
  Sent: the norm (float32) and every entry's sign and level bit-packed at 1 + ceil(log2(s + 1)) bits (the norm
  is summed in float64, the levels computed in float32 with float32 uniforms: `qsgd_quantize`).
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


def _group(bits: int) -> tuple[int, int]:
    """(codes, bytes) of the smallest whole-byte group of `bits`-bit codes: 8 / gcd(bits, 8) codes fill
    lcm(bits, 8) / 8 bytes (at most 7 bytes, one uint64 word, for bits <= 8)."""
    g = 8 // math.gcd(bits, 8)
    return g, g * bits // 8


def _pack(code: np.ndarray, bits: int) -> np.ndarray:
    """The low `bits` bits of each uint16 code, LSB first, concatenated and packed little-endian into bytes.
    bits <= 8: each group of g codes is shifted into one uint32 / uint64 word whose low bytes are the group's bytes;
    16: the little-endian uint16s themselves; 9..15 (levels >= 256): through the [k, 16] bit matrix."""
    k = code.size
    if bits == 16:
        return code.astype("<u2").view(np.uint8)
    if bits > 8:
        bitmat = np.unpackbits(code.astype("<u2").view(np.uint8).reshape(-1, 2), axis=1, bitorder="little")
        return np.packbits(bitmat[:, :bits].reshape(-1), bitorder="little")
    g, gb = _group(bits)
    m = -(-k // g)
    wdt = np.dtype("<u4") if gb <= 4 else np.dtype("<u8")
    if k % g:
        code = np.concatenate([code, np.zeros(m * g - k, dtype=code.dtype)])
    c = code.reshape(m, g)
    word = c[:, 0].astype(wdt)
    for j in range(1, g):
        word |= c[:, j].astype(wdt) << wdt.type(j * bits)
    out = word.view(np.uint8).reshape(m, wdt.itemsize)[:, :gb].reshape(-1)
    return out[: (k * bits + 7) // 8].copy()


def _unpack(codes: np.ndarray, k: int, bits: int) -> np.ndarray:
    """The inverse of `_pack`: [k] uint16 codes. bits <= 8: each group's bytes read as one uint64 word, then
    shifted and masked; 16: a uint16 view; 9..15: code i read from the 3 bytes that hold its bits i*bits ..
    (i+1)*bits - 1 as one word, shifted and masked."""
    if bits == 16:
        return codes[: 2 * k].view("<u2").astype(np.uint16)
    mask = (1 << bits) - 1
    if bits > 8:
        buf = np.zeros(codes.size + 3, dtype=np.uint32)
        buf[: codes.size] = codes
        pos = np.arange(k, dtype=np.int64) * bits
        off, shift = pos >> 3, (pos & 7).astype(np.uint32)
        word = buf[off] | (buf[off + 1] << 8) | (buf[off + 2] << 16)
        return ((word >> shift) & np.uint32(mask)).astype(np.uint16)
    g, gb = _group(bits)
    m = -(-k // g)
    grouped = np.zeros(m * gb, dtype=np.uint8)
    n = min(codes.size, m * gb)
    grouped[:n] = codes[:n]
    wdt = np.dtype("<u4") if gb <= 4 else np.dtype("<u8")
    buf = np.zeros((m, wdt.itemsize), dtype=np.uint8)
    buf[:, :gb] = grouped.reshape(m, gb)
    word = buf.view(wdt).reshape(m)
    out = np.empty((m, g), dtype=np.uint16)
    for j in range(g):
        out[:, j] = (word >> wdt.type(j * bits)) & wdt.type(mask)
    return out.reshape(-1)[:k]


def qsgd_quantize(values: np.ndarray, levels: int, rng: np.random.Generator) -> tuple[float, np.ndarray]:
    """(norm, codes uint16 [k]) of QSGD with `levels` levels on float values [k], unpacked: code = level | sign
    << (bits - 1).

    The norm is accumulated in float64; the levels in float32: r = min(float32(|v_i|) * float32(s / norm), s),
    l = floor(r), xi = l + (u < r - l) with u = rng.random(k, dtype=float32) (multiples of 2**-24). The float32
    steps bias E[xi] by at most about 2**-23 r, far below the variance of the quantizer itself."""
    v = np.asarray(values)
    if v.dtype not in (np.float32, np.float64):
        v = v.astype(np.float64)
    norm = float(torch.linalg.vector_norm(torch.from_numpy(v), dtype=torch.float64))  # float64 sum, no temporary
    bits = _bits(levels)
    if norm == 0.0:
        code = np.zeros(v.shape, dtype=np.uint16)
    else:
        r = np.multiply(np.abs(v), np.float32(levels / norm), dtype=np.float32)
        np.minimum(r, np.float32(levels), out=r)  # |v_i| = norm may round above s
        low = np.floor(r)
        r -= low
        code = low.astype(np.uint16)
        code += rng.random(v.shape, dtype=np.float32) < r
    code |= (v < 0).view(np.uint8).astype(np.uint16) << np.uint16(bits - 1)
    return norm, code


def qsgd_dequantize(norm: float, code: np.ndarray, levels: int, dtype=np.float64) -> np.ndarray:
    """Values [k] of unpacked codes: float64, sign * level * float32(norm) / s evaluated in float64; other dtypes,
    level * float32(float32(norm) / s) in float32 with the sign bit set (within 1 ulp of the float64 value), cast."""
    bits = _bits(levels)
    lv = code & np.uint16((1 << (bits - 1)) - 1)
    scale = float(np.float32(norm))
    if np.dtype(dtype) == np.float64:
        return scale * np.where(code >> np.uint16(bits - 1), -1.0, 1.0) * lv / levels
    out = lv.astype(np.float32)
    out *= np.float32(scale / levels)
    sign = (code >> np.uint16(bits - 1)).astype(np.uint32)
    sign <<= np.uint32(31)
    out.view(np.uint32)[...] |= sign  # the float32 sign bit (np.negative(where=) is 100x slower here)
    return out.astype(dtype, copy=False)


def qsgd_codes(values: np.ndarray, levels: int, rng: np.random.Generator) -> tuple[float, np.ndarray]:
    """(norm, packed codes uint8) of QSGD with `levels` levels on float values [k] (`qsgd_quantize`, bit-packed)."""
    norm, code = qsgd_quantize(values, levels, rng)
    return norm, _pack(code, _bits(levels))


def qsgd_values(norm: float, codes: np.ndarray, k: int, levels: int, dtype=np.float64) -> np.ndarray:
    """Decoded QSGD values [k] of packed codes, as `qsgd_dequantize`."""
    return qsgd_dequantize(norm, _unpack(codes, k, _bits(levels)), levels, dtype)


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
    vals = u.numpy()
    if k < d:
        idx = u.abs().topk(k, sorted=False).indices  # torch.topk: 5-10x np.argpartition here
        indices = np.sort(idx.numpy().astype(_index_dtype(d)))  # NumPy's int32 sort: 2-3x torch.sort's int64
        vals = vals[indices]
    if levels:
        norm, codes = qsgd_codes(vals, levels, np.random.default_rng(seed))
        return Message(d, k, levels, indices, None, norm, codes)
    return Message(d, k, 0, indices, vals.astype("<f4"), 0.0, None)


def decode(msg: Message, dtype: torch.dtype = torch.float32) -> Tensor:
    """The dense update [d] a message stands for."""
    if msg.levels:
        npdt = np.float32 if dtype == torch.float32 else np.float64
        vals = torch.from_numpy(qsgd_values(msg.norm, msg.codes, msg.k, msg.levels, npdt))
    else:
        vals = torch.from_numpy(msg.values)
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


__all__ = [
    "ErrorFeedback",
    "Message",
    "decode",
    "dense_nbytes",
    "encode",
    "qsgd_codes",
    "qsgd_dequantize",
    "qsgd_quantize",
    "qsgd_values",
]
