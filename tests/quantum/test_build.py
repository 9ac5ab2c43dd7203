"""Build information and the CUDA part of the build (skipped without a GPU)."""

import pytest

import nextrl


def test_build_info():
    info = nextrl.build_info()
    assert info["simd"] in info["simd_compiled"] and "generic" in info["simd_compiled"]
    assert info["threads"] >= 1 and isinstance(info["openmp"], bool)
    assert info["cuda_available"] == (info["cuda_devices"] > 0)
    assert info["version"] == nextrl.__version__


@pytest.mark.cuda
def test_cuda_device_is_visible():
    assert nextrl._core.has_cuda()
    info = nextrl.build_info()
    assert info["cuda_devices"] >= 1
    assert isinstance(info["cuda_device"], str) and info["cuda_device"]
    assert nextrl._core.cuda_device_description(0) == info["cuda_device"]
