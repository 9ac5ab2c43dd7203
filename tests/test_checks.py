"""The shared argument checks (python/nextrl/_checks.py): the wording of the C++ allocation check
(csrc/common/memory.h) and seed check (SeedArg of csrc/bindings/vec_env_binding.h)."""

from __future__ import annotations

import numpy as np
import pytest

from nextrl import _checks, _core
from nextrl._checks import available_memory, check_allocation, check_seed


def test_available_memory_is_what_the_cpp_check_reports():
    have = available_memory()
    assert isinstance(have, int) and 0 < have <= 2**64 - 1
    with pytest.raises(MemoryError) as cpp:
        _core.SumTree(2**60)  # C++ CheckAllocation, with the bytes it found available
    reported = int(str(cpp.value).split("but only ")[1].split(" bytes")[0])
    # the same source (MemAvailable), read a moment apart while other processes may allocate
    assert abs(reported - have) <= max(2**31, reported // 4)


def test_check_allocation_wording(monkeypatch):
    monkeypatch.setattr(_checks, "available_memory", lambda: 1024)
    check_allocation("f", "x", 2**24)  # up to 16 MiB is not checked (reading /proc/meminfo costs ~10 us)
    with pytest.raises(MemoryError, match="only 1024 bytes"):
        check_allocation("f", "x", 2**24 + 1)
    with pytest.raises(MemoryError) as err:
        check_allocation("ReplayBuffer", "capacity 3", 3 * 2**30)
    assert str(err.value) == (
        "ReplayBuffer: capacity 3 need 3221225472 bytes (3 GiB), but only 1024 bytes are available; "
        "refused before allocating"
    )
    with pytest.raises(MemoryError, match=r"need 1180591620717411303424 bytes \(1\.09951e\+12 GiB\)"):
        check_allocation("f", "x", 2**70)  # exact bytes past uint64; GiB as C++ streams a double (%g)
    monkeypatch.setattr(_checks, "available_memory", lambda: 2**25)
    check_allocation("f", "x", 2**25)  # fits exactly
    with pytest.raises(MemoryError, match="need 33554433 bytes"):
        check_allocation("f", "x", 2**25 + 1)


@pytest.mark.parametrize(
    "seed, error, match",
    [
        (-1, ValueError, r"^f: seed must be in \[0, 2\*\*64\), got -1$"),
        (2**64, ValueError, r"^f: seed must be in \[0, 2\*\*64\), got 18446744073709551616$"),
        (True, TypeError, "^f: seed must be an int, got bool True$"),
        (1.0, TypeError, "^f: seed must be an int, got float 1.0$"),
        (None, TypeError, "^f: seed must be an int, got NoneType None$"),
    ],
)
def test_check_seed_refuses(seed, error, match):
    with pytest.raises(error, match=match):
        check_seed("f", seed)


def test_check_seed_accepts():
    assert check_seed("f", 0) == 0 and check_seed("f", 2**64 - 1) == 2**64 - 1
    assert type(check_seed("f", np.uint64(2**64 - 1))) is int
    assert check_seed("f", None, or_none=True) is None
    with pytest.raises(TypeError, match="^f: seed must be an int or None, got str '1'$"):
        check_seed("f", "1", or_none=True)
    with pytest.raises(ValueError, match=r"^f: seed must be in \[0, 2\*\*63\), got 9223372036854775808$"):
        check_seed("f", 2**63, bits=63)
