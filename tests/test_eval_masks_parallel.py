"""Parallel sweep jobs making the same evaluation mask set at once (EvalMaskSet.ensure) all succeed, leave a
complete, verifiable set and no temporary files."""
from __future__ import annotations

import json
import threading

from mminvert.data import EvalMaskSet


def test_parallel_ensure_of_one_set(tmp_path):
    errors: list[BaseException] = []
    start = threading.Barrier(6)

    def job() -> None:
        try:
            start.wait()
            EvalMaskSet(tmp_path, 32, "0.4-0.6", count=24, seed=7).ensure()
        except BaseException as e:  # noqa: BLE001 - collected and asserted below
            errors.append(e)

    threads = [threading.Thread(target=job) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    masks = EvalMaskSet(tmp_path, 32, "0.4-0.6", count=24, seed=7)
    manifest = json.loads(masks.manifest_path.read_text())
    assert manifest["count"] == 24 and masks.verify()
    assert sorted(p.name for p in masks.dir.iterdir()) == sorted([f"{i:05d}.png" for i in range(24)] + ["manifest.json"])
    assert (masks.dir / "00000.png").stat().st_mode & 0o044 == 0o044  # readable by the group and others too
