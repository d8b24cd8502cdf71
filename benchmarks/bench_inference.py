"""CPU inference latency per image: encoder-based inpainting vs optimisation-based inversion, and the model's
forward in torch eager vs onnxruntime on its exported ONNX graph.

    python benchmarks/bench_inference.py [--res 64 256] [--threads N] [--reps 3] [--steps 500]
                                         [--measure-steps-256 20] [--perceptual lpips|none]
                                         [--parts optim backends] [--batches 1 8] [--backend-threads 1 2]

For each resolution, one model preset is built from the Hydra configs as bench_model.py does
(64 px: `model=mminvertfill`, `model/generator=random64`; 256 px: `model=mminvertfill_256`,
`model/generator=random256`; random weights, `pretrained: false` — latency does not depend on them):
  * encoder: `model(batch)` (encoder + generator, one forward) and the end-to-end `Inpainter` call on a
    (3, R, R) tensor (window, resize, forward, paste), best of `--reps`;
  * optimisation: `OptimInversion` (W+ Adam, `--steps` iterations, λ₁·MSE + λ₂·LPIPS-VGG over the known
    pixels) on the *same* generator, one run. At 256 px only `--measure-steps-256` steps are run and the
    time is extrapolated linearly to `--steps` (marked "extrapolated"; a full run takes tens of minutes).
Batch 1. Threads: the machine's cores unless `--threads`.

Backends (`--parts backends`): the same model's forward (graph inputs: image, mask, seg, edge and their masks)
in torch eager and in onnxruntime (CPU provider, the graph `mminvert.inference.onnx_export` writes), per batch
size and thread count (torch.set_num_threads / onnxruntime intra-op threads), best of `--reps`, with the CPU
named (docs/deploy.md).
"""
from __future__ import annotations

import argparse
import logging
import os
import time
import warnings
from pathlib import Path

import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from timing import best_time  # benchmarks/timing.py (scripts run from this folder)

CONF = Path(__file__).resolve().parents[1] / "conf"
NUM_CLASSES = 11  # segmentation classes of the built-in scenes data set (conf/data/scenes.yaml)
PRESETS = {64: ("mminvertfill", "random64"), 256: ("mminvertfill_256", "random256")}


def build(res: int) -> torch.nn.Module:
    preset, generator = PRESETS[res]
    torch.manual_seed(0)  # random weights, reproducible
    overrides = [f"model={preset}", f"++data.num_classes={NUM_CLASSES}", f"model/generator={generator}"]
    with initialize_config_dir(str(CONF), version_base="1.3"):
        cfg = compose("config", overrides=overrides)
    return instantiate(cfg.model).eval()


def inputs(R: int, seed: int = 0) -> dict[str, torch.Tensor]:
    """A random image, a free-form-ish hole (a centred square, ~25 % of the pixels), seg and edge maps."""
    g = torch.Generator().manual_seed(seed)
    mask = torch.ones(1, 1, R, R)
    mask[..., R // 4 : 3 * R // 4, R // 4 : 3 * R // 4] = 0
    return dict(image=torch.rand(1, 3, R, R, generator=g) * 2 - 1, mask=mask,
                seg=torch.randint(0, NUM_CLASSES, (1, R, R), generator=g),
                edge=(torch.rand(1, 1, R, R, generator=g) > 0.9).float())


def backend_rows(R: int, batches: list[int], threads: list[int], reps: int) -> None:
    """Print a row (R, batch, threads, torch eager s, onnxruntime s, ...) per setting, as it is measured."""
    import tempfile

    import onnxruntime as ort

    from mminvert.inference.onnx_export import export_onnx, graph_input_names

    model = build(R)
    names = graph_input_names(model)
    with tempfile.TemporaryDirectory() as tmp:
        path = export_onnx(model, Path(tmp) / f"bench{R}.onnx")
        for b in batches:
            x = {k: v.expand(b, *v.shape[1:]).contiguous() for k, v in inputs(R).items()}
            x.update(mask_seg=torch.ones(b, 1, R, R), mask_edge=torch.ones(b, 1, R, R))
            feed = {k: x[k].numpy() for k in names}
            for n in threads:
                torch.set_num_threads(n)
                opts = ort.SessionOptions()
                opts.intra_op_num_threads, opts.inter_op_num_threads = n, 1
                session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
                with torch.no_grad():
                    t_torch = best_time(lambda: model(x), reps)
                t_ort = best_time(lambda: session.run(["composite"], feed), reps)
                print(f"{R:>4} {b:>5} {n:>7} {t_torch:9.3f} {t_ort:9.3f} {1e3 * t_torch / b:12.1f} "
                      f"{1e3 * t_ort / b:10.1f} {t_torch / t_ort:11.2f}x", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--res", nargs="+", type=int, default=[64, 256], choices=sorted(PRESETS))
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--steps", type=int, default=500, help="optimisation steps to report")
    ap.add_argument("--measure-steps-256", type=int, default=20,
                    help="steps actually run at 256 px (extrapolated to --steps); >= --steps runs it fully")
    ap.add_argument("--perceptual", choices=["lpips", "none"], default="lpips")
    ap.add_argument("--parts", nargs="+", choices=["optim", "backends"], default=["optim", "backends"],
                    help="optim: encoder vs optimisation; backends: torch eager vs onnxruntime")
    ap.add_argument("--batches", nargs="+", type=int, default=[1, 8], help="batch sizes of the backend rows")
    ap.add_argument("--backend-threads", nargs="+", type=int, default=[1, 2], help="thread counts of the backend rows")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    logging.disable(logging.WARNING)  # random-weight warnings: expected here
    warnings.filterwarnings("ignore")

    from mminvert.baselines import OptimInversion
    from mminvert.inference import Inpainter
    from mminvert.losses.perceptual import PerceptualLoss
    from mminvert.utils.machine import cpu_model

    print(f"CPU: {cpu_model()} ({os.cpu_count()} logical cores)")
    if "backends" in args.parts:
        import onnxruntime as ort

        print(f"torch {torch.__version__} eager vs onnxruntime {ort.__version__} (CPU provider), model forward")
        print(f"{'res':>4} {'batch':>5} {'threads':>7} {'torch s':>9} {'ort s':>9} {'torch ms/img':>12} "
              f"{'ort ms/img':>10} {'ort speed-up':>12}", flush=True)
        for R in args.res:
            backend_rows(R, args.batches, args.backend_threads, args.reps)
        torch.set_num_threads(args.threads)
    if "optim" not in args.parts:
        return
    torch.manual_seed(0)
    perc = PerceptualLoss("lpips", pretrained=False) if args.perceptual == "lpips" else None
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch 1, "
          f"optimisation: {args.steps} steps, MSE{' + LPIPS-VGG' if perc else ''}, Adam on W+")
    rows = []
    for R in args.res:
        model = build(R)
        x = inputs(R)
        inp = Inpainter(model)
        with torch.no_grad():
            t_fwd = best_time(lambda: model(x), args.reps)
        t_inp = best_time(lambda: inp(x["image"][0], x["mask"][0]), args.reps)

        run = args.steps if R < 256 else min(args.steps, args.measure_steps_256)
        OptimInversion(model.generator, steps=2, perceptual=perc)(x["image"], x["mask"])  # warm-up
        opt = OptimInversion(model.generator, steps=run, perceptual=perc)
        t0 = time.perf_counter()
        out = opt(x["image"], x["mask"])
        t_run = time.perf_counter() - t0
        t_opt = t_run * args.steps / run
        note = "measured" if run == args.steps else f"extrapolated from {run} steps"
        loss = out["loss"]
        rows.append((R, t_fwd, t_inp, t_run / run, t_opt, note, float(loss[0]), float(loss[-1])))
        model = inp = opt = out = None  # free the large model before building the next

    print(f"{'res':>4} {'model fwd s':>11} {'Inpainter s':>11} {'optim s/step':>12} "
          f"{'optim s/img':>11} {'optim/Inpainter':>15}  note")
    for R, t_fwd, t_inp, t_step, t_opt, note, l0, l1 in rows:
        print(f"{R:>4} {t_fwd:11.3f} {t_inp:11.3f} {t_step:12.3f} {t_opt:11.1f} {t_opt / t_inp:14.0f}x  "
              f"{note} (loss {l0:.3f} -> {l1:.3f})")


if __name__ == "__main__":
    main()
