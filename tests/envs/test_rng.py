"""The counter-based generator behind every env (csrc/common/rng.h): Philox4x32-10 against the known-answer
vectors of Random123 (Salmon et al., SC'11) through a pure-Python Philox, and Rng's draws (NextU32, Uniform,
the batched Uniforms of the resets) against that reference, word for word and bit for bit."""

import numpy as np
import pytest

from nextrl import _core

M0, M1, W0, W1, MASK = 0xD2511F53, 0xCD9E8D57, 0x9E3779B9, 0xBB67AE85, 0xFFFFFFFF


def philox4x32(ctr, key, rounds=10):
    """Philox4x32 from the paper's definition: ctr 4 words, key 2 words."""
    c0, c1, c2, c3 = ctr
    k0, k1 = key
    for _ in range(rounds):
        p0, p1 = M0 * c0, M1 * c2
        c0, c1, c2, c3 = ((p1 >> 32) ^ c1 ^ k0) & MASK, p1 & MASK, ((p0 >> 32) ^ c3 ^ k1) & MASK, p0 & MASK
        k0, k1 = (k0 + W0) & MASK, (k1 + W1) & MASK
    return [c0, c1, c2, c3]


# Random123's kat_vectors for philox4x32-10: counter words, key words, output words.
KAT = [
    ([0, 0, 0, 0], [0, 0], [0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8]),
    ([MASK] * 4, [MASK] * 2, [0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD]),
    (
        [0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344],
        [0xA4093822, 0x299F31D0],
        [0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1],
    ),
]


@pytest.mark.parametrize("ctr,key,expected", KAT)
def test_reference_philox_matches_known_answers(ctr, key, expected):
    assert philox4x32(ctr, key) == expected


def reference_words(seed, stream, n):
    """Rng(seed, stream)'s first n words: block k is Philox of counter k (words 0, 1), stream (words 2, 3)
    and key seed."""
    words = []
    counter = 0
    while len(words) < n:
        ctr = [counter & MASK, counter >> 32, stream & MASK, stream >> 32]
        words += philox4x32(ctr, [seed & MASK, seed >> 32])
        counter += 1
    return words[:n]


def reference_uniform(hi_word, lo_word, lo=-1.0, hi=2.0):
    bits = (hi_word << 32) | lo_word
    return lo + (hi - lo) * (float(bits >> 11) * 2.0**-53)


@pytest.mark.parametrize("seed,stream", [(0, 0), (7, 3), (2**64 - 1, 2**63 + 5), (0x243F6A8885A308D3, 1)])
def test_rng_words_match_reference(seed, stream):
    got = _core._rng_draws(seed, stream, [-1] * 37)
    np.testing.assert_array_equal(got, reference_words(seed, stream, 37))


@pytest.mark.parametrize(
    "ops",
    [
        [4, 4, 4],  # block-aligned: two fresh blocks per call
        [-1, 4, 3, 8],  # an odd word first: Uniforms falls back to single draws
        [-2, 4, -1, -1, 5],  # half a block left, then aligned again
        [1, 2, 3, 4, 5, 6, 7, 8, 9],
        [0, 12, -2, 0, 7],
    ],
)
def test_uniforms_equal_single_draws(ops):
    """Uniforms(n) = n calls of Uniform, whatever the position in the current block; both against the
    reference words."""
    seed, stream = 11, 5
    got = _core._rng_draws(seed, stream, ops)
    singles = _core._rng_draws(seed, stream, [op if op < 0 else -2 for op in ops for _ in range(max(op, 1)) if op != 0])
    assert got.tobytes() == singles.tobytes()
    words = reference_words(seed, stream, 2 * len(got) + 8)
    expected, w = [], 0
    for op in ops:
        for _ in range(op if op >= 0 else 1):
            if op == -1:
                expected.append(float(words[w]))
                w += 1
            else:
                expected.append(reference_uniform(words[w], words[w + 1]))
                w += 2
    np.testing.assert_array_equal(got, expected)


def test_rng_draws_rejects_bad_ops():
    with pytest.raises(ValueError, match="ops must be >= -2"):
        _core._rng_draws(0, 0, [-3])
