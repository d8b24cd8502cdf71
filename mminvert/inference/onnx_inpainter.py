"""`OnnxInpainter`: the `Inpainter` call on an exported ONNX graph, with onnxruntime, numpy and Pillow only.

It imports neither torch nor Lightning (install `mminvert[onnx]`, or just onnxruntime, numpy and Pillow
next to the package): a service can run the model exported by `mminvert export ... format=onnx`. Images of
any size and mode go through the same window, resize and paste code as `Inpainter` (`windowing.py`), so the
two backends differ only by the graph's float rounding (parity: tests/test_onnx_export.py, docs/deploy.md).

DiverseInversion graphs take the random code z as an input. Fills with a `seed` draw z for input i from
`numpy.random.default_rng(seed + i)` (K codes, standard normal): repeatable, but not the codes torch's
generator draws for the same seed in `Inpainter`. Without a seed and with K = 1 each call draws a fresh z.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .windowing import WindowedInpainter, collate

__all__ = ["OnnxInpainter", "read_metadata"]


def _onnxruntime() -> Any:
    try:
        import onnxruntime
    except ImportError as e:
        raise ImportError(f"OnnxInpainter needs onnxruntime ({e}): pip install 'mminvert[onnx]' "
                          "(or pip install onnxruntime)") from e
    return onnxruntime


def read_metadata(session: Any) -> dict[str, str]:
    """The mminvert.* metadata of a session's graph (keys without the prefix)."""
    props = session.get_modelmeta().custom_metadata_map
    return {k.removeprefix("mminvert."): v for k, v in props.items() if k.startswith("mminvert.")}


class OnnxInpainter(WindowedInpainter):
    """`inp(image, mask, seg=None, edge=None) -> image`, `inp.batch([...], [...])`, as `Inpainter`.

    `threads`: onnxruntime's intra-op threads (None: its default, all cores). `providers`: onnxruntime execution
    providers (default CPU).
    """

    def __init__(self, path: str | Path, context: float = 2.0, batch_size: int = 8, num_samples: int = 1,
                 seed: int | None = None, threads: int | None = None, providers: list[str] | None = None) -> None:
        ort = _onnxruntime()
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"ONNX model {path} does not exist")
        options = ort.SessionOptions()
        if threads is not None:
            options.intra_op_num_threads, options.inter_op_num_threads = int(threads), 1
        try:
            self.session = ort.InferenceSession(str(path), options, providers=providers or ["CPUExecutionProvider"])
        except Exception as e:  # onnxruntime raises its own classes for unreadable or invalid files
            raise ValueError(f"{path}: not a readable ONNX model ({e})") from e
        self.path, self.metadata = path, read_metadata(self.session)
        inputs = {i.name: i for i in self.session.get_inputs()}
        outputs = [o.name for o in self.session.get_outputs()]
        if "image" not in inputs or "mask" not in inputs or "generated" not in outputs:
            raise ValueError(f"{path}: not an mminvert inpainting graph (inputs {sorted(inputs)}; expected image, "
                             "mask -> composite, generated, as `mminvert export ... format=onnx` writes)")
        self.input_names = list(inputs)
        self.R = int(inputs["image"].shape[-1])
        self.use_aux = any(n in inputs for n in ("seg", "edge"))
        self.num_classes = int(self.metadata.get("num_classes", 0))
        self.z_dim = int(inputs["z"].shape[-1]) if "z" in inputs else 0
        self._fresh = np.random.default_rng()
        super().__init__(context, batch_size, num_samples, seed)

    @classmethod
    def from_checkpoint(cls, path: str | Path, **kwargs: Any) -> OnnxInpainter:
        """Same as the constructor (the name `Inpainter` uses)."""
        return cls(path, **kwargs)

    @property
    def model_name(self) -> str:
        return self.metadata.get("model_class", "this ONNX model")

    @property
    def can_sample(self) -> bool:
        return self.z_dim > 0

    def run(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        """The raw generator output (B, 3, R, R) for a batch of the graph's inputs (extra keys are ignored)."""
        feed = {k: np.ascontiguousarray(inputs[k]) for k in self.input_names}
        return self.session.run(["generated"], feed)[0]

    def _codes(self, K: int, seed: int | None, item: int) -> np.ndarray:
        rng = self._fresh if seed is None else np.random.default_rng(int(seed) + item)
        return rng.standard_normal((K, self.z_dim)).astype(np.float32)

    def _predict(self, samples: list[dict[str, np.ndarray]], items: list[int], K: int,
                 seed: int | None) -> list[np.ndarray]:
        if K == 1 and (seed is None or not self.can_sample):  # one fill per window, batched
            preds = []
            for start in range(0, len(samples), self.batch_size):
                chunk = collate(samples[start : start + self.batch_size])
                if self.can_sample:
                    chunk["z"] = np.concatenate([self._codes(1, None, 0) for _ in range(len(chunk["image"]))])
                preds += [p[None] for p in self.run(chunk)]
            return preds
        preds = []  # K fills per window: the window repeated K times, K codes drawn with seed + i
        for s, i in zip(samples, items):
            batch = {k: np.repeat(v, K, axis=0) for k, v in s.items()}
            batch["z"] = self._codes(K, seed, i)
            preds.append(self.run(batch))
        return preds
