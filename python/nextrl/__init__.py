"""nextrl: next-generation deep reinforcement learning with compiled hot paths."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _pkg_version

from nextrl import _core

try:
    __version__ = _pkg_version("nextrl")
except PackageNotFoundError:  # running from a source tree
    __version__ = "0.0.0"

set_num_threads = _core.set_num_threads
get_num_threads = _core.get_num_threads


def build_info() -> dict:
    """Version, compiler, SIMD level, OpenMP threads and CUDA availability of this build."""
    info = {"version": __version__, **_core.build_info()}
    devices = _core.cuda_device_count() if info["cuda_compiled"] else 0
    info["cuda_devices"] = devices
    info["cuda_available"] = devices > 0
    if devices:
        info["cuda_device"] = _core.cuda_device_description(0)
    return info


from nextrl import envs as _envs  # noqa: E402, F401  registers the nextrl/ env ids

__all__ = ["__version__", "build_info", "get_num_threads", "set_num_threads"]
