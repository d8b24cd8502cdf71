"""Write NVlabs-style network pickles for tests, without NVlabs code.

A real snapshot stores each network as `torch_utils.persistence._reconstruct_persistent_obj(meta)`
with the class source in `meta["module_src"]`. This helper emits exactly that opcode structure
from a flat state dict, with a module source that would create a marker file if it were executed.
"""
from __future__ import annotations

import collections
import pickle
import sys
import types

import torch

BUFFERS = ("w_avg", "noise_const", "resample_filter")


def _install_fake_persistence() -> types.FunctionType:
    pkg = sys.modules.setdefault("torch_utils", types.ModuleType("torch_utils"))
    mod = sys.modules.setdefault("torch_utils.persistence", types.ModuleType("torch_utils.persistence"))

    def _reconstruct_persistent_obj(meta):  # never called by the loader under test
        raise AssertionError("the loader must not call NVlabs code")

    _reconstruct_persistent_obj.__module__ = "torch_utils.persistence"
    _reconstruct_persistent_obj.__qualname__ = "_reconstruct_persistent_obj"
    mod._reconstruct_persistent_obj = _reconstruct_persistent_obj
    pkg.persistence = mod
    return _reconstruct_persistent_obj


class _Record:
    def __init__(self, fn, meta):
        self.fn, self.meta = fn, meta

    def __reduce__(self):
        return (self.fn, (self.meta,))


def _tree(sd: dict[str, torch.Tensor], fn, class_name: str, init_kwargs: dict, marker: str) -> _Record:
    node: dict = {}
    for key, t in sd.items():
        parts = key.split(".")
        d = node
        for p in parts[:-1]:
            d = d.setdefault(p, {})
        d[parts[-1]] = t

    def build(d: dict, name: str, kwargs: dict | None) -> _Record:
        params, buffers, modules = (collections.OrderedDict() for _ in range(3))
        for k, v in d.items():
            if isinstance(v, dict):
                modules[k] = build(v, k, None)
            elif k in BUFFERS:
                buffers[k] = v.clone()
            else:
                params[k] = torch.nn.Parameter(v.clone(), requires_grad=False)
        state = {"training": False, "_parameters": params, "_buffers": buffers, "_modules": modules,
                 "_init_args": (), "_init_kwargs": kwargs or {}}
        src = f"import pathlib\npathlib.Path({marker!r}).write_text('executed')\nclass {name}: pass\n"
        return _Record(fn, dict(type="class", version=6, module_src=src, class_name=name, state=state))

    return build(node, class_name, init_kwargs)


def write_nvlabs_pickle(path, g_ema_sd: dict[str, torch.Tensor], init_kwargs: dict, marker: str,
                        d_sd: dict[str, torch.Tensor] | None = None) -> None:
    fn = _install_fake_persistence()
    obj = {"G_ema": _tree(g_ema_sd, fn, "Generator", init_kwargs, marker), "augment_pipe": None,
           "training_set_kwargs": {"resolution": init_kwargs.get("img_resolution")}}
    if d_sd is not None:
        obj["D"] = _tree(d_sd, fn, "Discriminator", {"epilogue_kwargs": {"mbstd_group_size": 4}}, marker)
    with open(path, "wb") as f:
        pickle.dump(obj, f, protocol=4)
