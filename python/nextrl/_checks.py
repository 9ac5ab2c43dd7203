"""Argument checks shared by every subpackage: the Python twins of CheckAllocation (csrc/common/memory.h) and of
the bindings' SeedArg (csrc/bindings/vec_env_binding.h), so that a size or a seed refused in Python reads exactly
as one refused in C++."""

from __future__ import annotations

import numbers
import os


def available_memory() -> int:
    """Bytes available to a new allocation: MemAvailable of /proc/meminfo, else the free physical pages, else
    2**64 - 1 (unknown: nothing is refused), as AvailableMemory in csrc/common/memory.h."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        pages, page = os.sysconf("SC_AVPHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError):
        pages = page = -1
    return pages * page if pages > 0 and page > 0 else 2**64 - 1


# Requests up to this size are not checked: reading /proc/meminfo costs ~10 us, as much as creating a small
# Statevector, and a 16 MiB request that does not fit fails in NumPy's allocator with a MemoryError anyway.
_UNCHECKED_BYTES = 1 << 24


def check_allocation(fn: str, what: str, nbytes: int) -> None:
    """Raises MemoryError "<fn>: <what> need <nbytes> bytes (<GiB> GiB), but only <available> bytes are available;
    refused before allocating" when `nbytes` (an exact Python int) exceed `available_memory()`. Requests of at
    most 16 MiB pass without reading the available memory."""
    if nbytes <= _UNCHECKED_BYTES:
        return
    have = available_memory()
    if nbytes <= have:
        return
    raise MemoryError(
        f"{fn}: {what} need {nbytes} bytes ({nbytes / 2**30:g} GiB), but only {have} bytes are available; "
        "refused before allocating"
    )


def check_seed(fn: str, seed, *, bits: int = 64, or_none: bool = False) -> int | None:
    """`seed` as an int in [0, 2**bits) (None passes through with `or_none`): TypeError for anything but a Python
    or NumPy integer (a bool is not a seed), ValueError outside the range (a larger seed would otherwise wrap, or
    fail inside pybind11)."""
    if seed is None and or_none:
        return None
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        expected = "an int or None" if or_none else "an int"
        raise TypeError(f"{fn}: seed must be {expected}, got {type(seed).__name__} {seed!r}")
    if not 0 <= seed < 2**bits:
        raise ValueError(f"{fn}: seed must be in [0, 2**{bits}), got {seed}")
    return int(seed)


__all__ = ["available_memory", "check_allocation", "check_seed"]
