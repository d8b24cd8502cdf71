"""Export an inpainting model to ONNX: one graph from the model's inputs at resolution R to the composite.

Graph (opset `ONNX_OPSET` = 17, TorchScript-based exporter `torch.onnx.export(..., dynamo=False)`: it needs
nothing beyond torch and onnx, where the dynamo exporter also needs onnxscript):

    inputs   image (B, 3, R, R) float32 in [-1, 1]; mask (B, 1, R, R) float32, 1 = known, 0 = hole;
             per guidance modality of the encoder: seg (B, R, R) int64 labels (255 = none given) and
             mask_seg (B, 1, R, R) (1 where labels were given); edge and mask_edge (B, 1, R, R) {0, 1};
             DiverseInversion: z (B, z_dim) float32 ~ N(0, I), the random code of the fill.
    outputs  composite (B, 3, R, R) = image ⊙ mask + G(...) ⊙ (1 − mask): known pixels exact by construction;
             generated (B, 3, R, R), the raw generator output (what `Inpainter` resizes and pastes).

B is dynamic. The generator's per-layer noise is its stored constant noise (noise_mode "const", a model set to
"random" is exported with its constant noise; "none" stays none): initialisers of the graph, so a fill is a
function of the inputs. Metadata (`metadata_props`, keys `METADATA_KEYS`) records the model class, resolution,
mask convention, inputs, noise, training run and mminvert version; `OnnxInpainter` reads it.

Op rewrites the export relies on (the PyTorch path computes the same numbers):
- area resampling (the attention gate's mask, map2style's pooling) as avg-pool / nearest for whole-number
  factors, `mminvert.utils.area.area_resize`;
- StyleGAN2's depthwise FIR filters (blur, 2x up/down) as one single-channel convolution over all B·C planes
  while exporting (`stylegan2.ops._planewise`); the modulated convolution is already the unfused form (style
  scales the input, one shared-weight convolution, demodulation scales the output), so no per-sample weights
  or grouped convolution with a batch-dependent group count reach the graph;
- the attention (`F.scaled_dot_product_attention` with an additive mask) becomes MatMul / Softmax.
The segmentation range check (labels < num_classes) runs in Python only; the graph clamps larger labels.
"""
from __future__ import annotations

import io
import warnings
from pathlib import Path

import torch
from torch import Tensor, nn

from .. import __version__
from ..io.atomic import atomic_write_bytes
from .model_classes import model_class_name

__all__ = ["ONNX_OPSET", "METADATA_KEYS", "MASK_CONVENTION", "InpaintingGraph", "export_onnx", "graph_input_names"]

ONNX_OPSET = 17
MASK_CONVENTION = "1 = known (kept), 0 = hole (filled)"
METADATA_KEYS = ("mminvert.format", "mminvert.model_class", "mminvert.resolution", "mminvert.mask_convention",
                 "mminvert.inputs", "mminvert.num_classes", "mminvert.noise", "mminvert.training_run",
                 "mminvert.version", "mminvert.opset")
GRAPH_FORMAT = "mminvert.onnx_inpainter/1"


def graph_input_names(model: nn.Module) -> list[str]:
    """The graph's inputs for this model, in order (module docstring)."""
    if getattr(model, "supports_sampling", False):
        return ["image", "mask", "z"]
    names = ["image", "mask"]
    modalities = list(getattr(getattr(model, "encoder", None), "modalities", []))
    if "seg" in modalities:
        names += ["seg", "mask_seg"]
    if "edge" in modalities:
        names += ["edge", "mask_edge"]
    return names


class InpaintingGraph(nn.Module):
    """The exported function: positional inputs named by `graph_input_names` -> (composite, generated)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.names = graph_input_names(model)

    def forward(self, *inputs: Tensor) -> tuple[Tensor, Tensor]:
        batch = dict(zip(self.names, inputs))
        z = batch.pop("z", None)
        out = self.model(batch) if z is None else self.model(batch, z=z)
        return out["composite"], out["image"]


def _example_inputs(model: nn.Module, names: list[str], batch: int = 2) -> tuple[Tensor, ...]:
    """Inputs to trace the graph with (any values of the right shapes and types)."""
    R = model.generator.resolution
    g = torch.Generator().manual_seed(0)
    made = {"image": torch.rand(batch, 3, R, R, generator=g) * 2 - 1,
            "mask": (torch.rand(batch, 1, R, R, generator=g) > 0.5).float()}
    for name in names:
        if name == "seg":
            made[name] = torch.randint(0, max(int(model.encoder.num_classes), 1), (batch, R, R), generator=g)
        elif name == "z":
            made[name] = torch.randn(batch, model.generator.z_dim, generator=g)
        elif name not in made:  # edge and the guidance masks: {0, 1} maps
            made[name] = (torch.rand(batch, 1, R, R, generator=g) > 0.5).float()
    return tuple(made[n] for n in names)


def export_onnx(model: nn.Module, path: str | Path, training_run: str = "", opset: int = ONNX_OPSET) -> Path:
    """Write `model` as an ONNX graph to `path` (atomically: a temporary file renamed into place; an existing file
    is replaced, so callers check first). Returns the path. The model's mode and noise setting are restored."""
    import onnx  # the `onnx` extra; imported here so that bundles export without it

    path = Path(path)
    graph = InpaintingGraph(model).eval()
    noise = getattr(model, "noise_mode", "const")
    exported_noise = "none" if noise == "none" else "const"
    was_training = model.training
    buffer = io.BytesIO()
    try:
        model.eval()
        model.noise_mode = exported_noise
        outputs = ["composite", "generated"]
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # tracer warnings about the shape checks, which the graph drops
            torch.onnx.export(graph, _example_inputs(model, graph.names), buffer, dynamo=False, opset_version=opset,
                              input_names=graph.names, output_names=outputs, do_constant_folding=True,
                              dynamic_axes={n: {0: "batch"} for n in graph.names + outputs})
    finally:
        model.noise_mode = noise
        model.train(was_training)
    proto = onnx.load_from_string(buffer.getvalue())
    arch_model = model.architecture() if hasattr(model, "architecture") else {}
    encoder = getattr(model, "encoder", None)
    meta = {"mminvert.format": GRAPH_FORMAT, "mminvert.model_class": model_class_name(arch_model),
            "mminvert.resolution": str(model.generator.resolution), "mminvert.mask_convention": MASK_CONVENTION,
            "mminvert.inputs": ",".join(graph.names), "mminvert.num_classes": str(int(getattr(encoder, "num_classes", 0))),
            "mminvert.noise": exported_noise + ("" if noise in ("const", "none") else f" (the model's {noise} noise "
                                                "replaced by its stored constant noise)"),
            "mminvert.training_run": str(training_run), "mminvert.version": __version__, "mminvert.opset": str(opset)}
    del proto.metadata_props[:]
    for key, value in meta.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    proto.producer_name, proto.doc_string = "mminvert", f"mminvert inpainting graph ({meta['mminvert.model_class']})"
    onnx.checker.check_model(proto)
    return atomic_write_bytes(path, proto.SerializeToString())
