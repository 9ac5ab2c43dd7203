"""python/nextrl/_core.pyi (tools/stubs.sh) names what the built extension exposes, and both it and py.typed
sit in the package directory that scikit-build-core copies into the wheel (wheel.packages)."""

from __future__ import annotations

import ast
from pathlib import Path

import nextrl
from nextrl import _core

PACKAGE = Path(nextrl.__file__).parent
STUB = PACKAGE / "_core.pyi"


def _public(names) -> set[str]:
    return {n for n in names if not (n.startswith("__") and n.endswith("__"))}


def _stub_tree() -> ast.Module:
    return ast.parse(STUB.read_text(), filename=str(STUB))


def _defined(body) -> set[str]:
    names = set()
    for node in body:
        if isinstance(node, (ast.ClassDef, ast.FunctionDef)):
            names.add(node.name)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.Assign):
            names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
    return names


def _cuda_only(name: str) -> bool:
    return "cuda" in name.lower()  # BindCuda's names: CudaCircuit, CudaState, CudaBatchPlan, cuda_*


def test_stub_and_marker_are_in_the_package():
    assert STUB.is_file(), "run tools/stubs.sh"
    assert (PACKAGE / "py.typed").is_file()


def test_stub_names_match_the_extension():
    """Every name of the extension is in the stub; the stub has no others, except the CUDA names that a CPU-only
    build leaves out. A failure here means a binding changed: run tools/stubs.sh."""
    stub = _defined(_stub_tree().body) - {"__all__"}
    runtime = _public(dir(_core))
    assert sorted(runtime - stub) == []
    extra = stub - runtime
    if _core.has_cuda():
        assert sorted(extra) == []
    else:
        assert sorted(n for n in extra if not _cuda_only(n)) == []


def test_stub_class_members_match_the_extension():
    classes = {node.name: node for node in _stub_tree().body if isinstance(node, ast.ClassDef)}

    def members(node: ast.ClassDef) -> set[str]:  # the class's own and those of its stub base classes
        names = _defined(node.body)
        for base in node.bases:
            if isinstance(base, ast.Name) and base.id in classes:
                names |= members(classes[base.id])
        return names

    for node in classes.values():
        if not hasattr(_core, node.name):
            continue
        cls = getattr(_core, node.name)
        runtime = _public(dir(cls)) - {"_pybind11_conduit_v1_", "__entries"}  # pybind11 internals
        stub = _public(members(node))
        assert sorted(runtime - stub) == [], node.name
        assert sorted(stub - runtime) == [], node.name
