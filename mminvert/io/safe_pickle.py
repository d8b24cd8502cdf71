"""Restricted unpickling of NVlabs `.pkl` network snapshots, without running their embedded code.

NVlabs pickles whole modules through `torch_utils.persistence`: each network is stored as a call to
`_reconstruct_persistent_obj(meta)` where `meta` carries the class's *source code* and the object's
`__dict__`. Loading that with `pickle` would import and execute the source. Here only an allow-list
of globals is resolved, each to an inert replacement: persistent objects become `PersistentStub`s
(class name, init kwargs and tensors), tensors are rebuilt from their bytes with
`torch.load(weights_only=True)`. Any other global — `os.system`, `builtins.eval`, an unknown class —
stops the load with an `UnsafePickleError` naming it; nothing of the file is executed.
"""
from __future__ import annotations

import collections
import io
import pickle
import re
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import torch

__all__ = ["PersistentStub", "UnsafePickleError", "safe_load_pickle", "flatten_stub_tensors"]


class UnsafePickleError(pickle.UnpicklingError):
    """The pickle referenced a global outside the allow-list."""


@dataclass
class PersistentStub:
    """Inert stand-in for an NVlabs persistent module: its class name, init kwargs and state."""

    class_name: str
    state: dict[str, Any] = field(default_factory=dict)

    @property
    def init_kwargs(self) -> dict[str, Any]:
        return dict(self.state.get("_init_kwargs") or {})


class _EasyDict(dict):
    """Stand-in for dnnlib.EasyDict (a plain dict with attribute access)."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError as e:
            raise AttributeError(name) from e


def _reconstruct_persistent_obj(meta: dict[str, Any]) -> PersistentStub:
    if not isinstance(meta, dict) or meta.get("type") != "class":
        raise UnsafePickleError("persistent object record of an unexpected form")
    return PersistentStub(class_name=str(meta.get("class_name")), state=dict(meta.get("state") or {}))


def _load_storage_from_bytes(b: bytes) -> Any:
    """A tensor storage saved inside the pickle (torch's own format): read with weights_only, so a global
    hidden in it is refused like one in the outer pickle."""
    try:
        return torch.load(io.BytesIO(b), weights_only=True)
    except pickle.UnpicklingError as e:
        if "Weights only load failed" not in str(e) and "GLOBAL" not in str(e):
            raise
        found = re.search(r"GLOBAL ([\w.]+)", str(e))
        name = f"global '{found.group(1)}'" if found else "a global"
        raise UnsafePickleError(f"refusing to load {name} inside an embedded tensor storage (_load_from_bytes): "
                                "not a tensor (nothing from the file was executed)") from None


def _rebuild_parameter(data: torch.Tensor, requires_grad: bool, backward_hooks: Any, *state: Any) -> torch.Tensor:
    return torch.nn.Parameter(data, requires_grad=requires_grad)


def _numpy_global(name: str) -> Any:
    import numpy as np  # local: numpy is only needed for pickles that hold arrays

    table = {"_reconstruct": np.core.multiarray._reconstruct, "scalar": np.core.multiarray.scalar,
             "ndarray": np.ndarray, "dtype": np.dtype}
    return table[name]


_ALLOWED: dict[tuple[str, str], Any] = {
    ("torch_utils.persistence", "_reconstruct_persistent_obj"): _reconstruct_persistent_obj,
    ("dnnlib.util", "EasyDict"): _EasyDict,
    ("dnnlib", "EasyDict"): _EasyDict,
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): torch._utils._rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
    ("torch.storage", "_load_from_bytes"): _load_storage_from_bytes,
    ("torch", "_load_from_bytes"): _load_storage_from_bytes,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
}
_NUMPY_MODULES = ("numpy.core.multiarray", "numpy._core.multiarray", "numpy")


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED:
            return _ALLOWED[(module, name)]
        if module in _NUMPY_MODULES and name in ("_reconstruct", "scalar", "ndarray", "dtype"):
            return _numpy_global(name)
        raise UnsafePickleError(f"refusing to load global '{module}.{name}': not a tensor, container or "
                                "NVlabs network record (nothing from the file was executed)")

    def persistent_load(self, pid: Any) -> Any:
        raise UnsafePickleError(f"unexpected persistent id {pid!r} (a torch.save file, not a network pickle)")


def safe_load_pickle(f: BinaryIO) -> Any:
    """Unpickle with the allow-list above. Raises UnsafePickleError for anything else."""
    return _RestrictedUnpickler(f).load()


def flatten_stub_tensors(stub: PersistentStub, prefix: str = "") -> dict[str, torch.Tensor]:
    """State dict (dotted names) of a stub tree: parameters, buffers and sub-modules, recursively."""
    out: dict[str, torch.Tensor] = {}
    st = stub.state
    for group in ("_parameters", "_buffers"):
        for name, t in (st.get(group) or {}).items():
            if isinstance(t, torch.Tensor):
                out[prefix + name] = t.detach()
    for name, sub in (st.get("_modules") or {}).items():
        if isinstance(sub, PersistentStub):
            out.update(flatten_stub_tensors(sub, f"{prefix}{name}."))
    return out
