"""Latent editing: attribute labels from label maps, the scenes classifier files, InterFaceGAN-style
direction fitting (a planted direction is recovered) and edits in W / W+."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from mminvert.data.scenes import SCENE_CLASSES
from mminvert.editing import (
    SCENE_ATTRIBUTES,
    LatentDirections,
    SceneAttributeClassifier,
    attribute_labels,
    fit_directions,
    load_attribute_classifier,
    load_descriptor,
    save_attribute_classifier,
)


def test_attribute_labels_follow_the_pixel_fraction():
    lab = np.zeros((20, 20), np.uint8)  # all sky
    lab[0:2, 0:1] = SCENE_CLASSES.index("cloud")  # 2 px = 0.5 % -> present at min_fraction 0.005
    lab[5, 5] = SCENE_CLASSES.index("water")  # 1 px = 0.25 % -> absent
    lab[10:12, 10:12] = SCENE_CLASSES.index("window")  # counts as building
    y = attribute_labels(lab)
    names = list(SCENE_ATTRIBUTES)
    assert y.shape == (len(names),) and y.dtype == np.float32
    assert y[names.index("cloud")] == 1 and y[names.index("water")] == 0 and y[names.index("building")] == 1
    assert y.sum() == 2
    assert attribute_labels(np.stack([lab, np.zeros_like(lab)])).shape == (2, len(names))
    assert attribute_labels(lab, min_fraction=0.01)[names.index("cloud")] == 0


def test_classifier_file_roundtrip_and_descriptor_loading(tmp_path):
    torch.manual_seed(0)
    clf = SceneAttributeClassifier(["a", "b", "c"], resolution=32, width=8)
    path = save_attribute_classifier(tmp_path / "clf.pt", clf, test_accuracy={"a": 0.9})
    back = load_attribute_classifier(path)
    x = torch.rand(2, 3, 64, 64) * 2 - 1  # any size: resized to the classifier's resolution
    torch.testing.assert_close(back(x), clf(x))
    assert back.names == ["a", "b", "c"] and back.info["test_accuracy"]["a"] == 0.9
    assert all(not p.requires_grad for p in back.parameters())
    torch.jit.trace(clf, torch.zeros(1, 3, 64, 64)).save(str(tmp_path / "ts.pt"))  # a user network as TorchScript
    ts = load_descriptor(tmp_path / "ts.pt")
    torch.testing.assert_close(ts(x), clf(x))
    assert isinstance(load_descriptor(path), SceneAttributeClassifier)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_descriptor(tmp_path / "nope.pt")


def _planted(n: int = 3000, dim: int = 16, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, dim, generator=g) * torch.linspace(0.5, 2.0, dim) + 0.3  # anisotropic, off-centre
    n_true = torch.randn(dim, generator=g)
    n_true /= n_true.norm()
    margin = X @ n_true - 0.4
    probs = torch.stack([torch.sigmoid(8 * margin), torch.sigmoid(-8 * margin)], 1)
    return X, probs, n_true


@pytest.mark.parametrize("method", ["svm", "logistic"])
def test_fit_directions_recovers_a_planted_direction(method):
    X, probs, n_true = _planted()
    d = fit_directions(X, probs, ["up", "down"], method=method)
    assert d.normals.shape == (2, 16)
    torch.testing.assert_close(d.normals.norm(dim=1), torch.ones(2))
    assert float(d.normals[0] @ n_true) > 0.97, float(d.normals[0] @ n_true)
    assert float(d.normals[1] @ n_true) < -0.97
    # the hyperplane passes near n·w = 0.4
    on_plane = 0.4 * n_true
    assert abs(float(d.distance(on_plane[None], "up"))) < 0.1
    assert (d.accuracy > 0.95).all()
    torch.testing.assert_close(d.scale[0], (X @ d.normals[0]).std(), rtol=1e-3, atol=1e-4)


def test_edits_in_w_and_w_plus_and_file_roundtrip(tmp_path):
    X, probs, _ = _planted(dim=8)
    d = fit_directions(X, probs, ["up", "down"])
    w = torch.randn(3, 8)
    moved = d.edit(w, "up", 2.0)
    torch.testing.assert_close(moved - w, (2.0 * d.scale[0] * d.normals[0]).expand(3, 8))
    torch.testing.assert_close(d.distance(moved, "up") - d.distance(w, "up"), torch.full((3,), 2.0 * float(d.scale[0])))
    wp = w[:, None].repeat(1, 5, 1)
    some = d.edit(wp, "up", -1.0, layers=[0, 2])
    assert torch.equal(some[:, 1], wp[:, 1]) and torch.equal(some[:, 3:], wp[:, 3:])
    torch.testing.assert_close(some[:, 0], d.edit(w, "up", -1.0))
    per_sample = d.edit(w, "up", torch.tensor([1.0, 0.0, -1.0]))
    assert torch.equal(per_sample[1], w[1])
    with pytest.raises(KeyError, match="unknown attribute 'sky'"):
        d.edit(w, "sky", 1.0)
    back = LatentDirections.load(d.save(tmp_path / "dirs.pt"))
    assert back.names == d.names and torch.equal(back.normals, d.normals) and back.info["method"] == "svm"


def test_one_sided_attribute_gets_no_direction():
    X, probs, _ = _planted(n=200, dim=4)
    probs[:, 1] = 0.9  # F says "present" for every sample: nothing to separate
    d = fit_directions(X, probs, ["up", "always"])
    assert torch.equal(d.normals[1], torch.zeros(4)) and math.isnan(float(d.accuracy[1]))


def test_bundled_scenes_classifier_and_directions_load():
    clf = load_attribute_classifier("scenes64")
    assert clf.names == list(SCENE_ATTRIBUTES)
    acc = clf.info["test_accuracy"]
    assert set(acc) == set(SCENE_ATTRIBUTES) and min(acc.values()) > 0.7, acc
    d = LatentDirections.load("scenes64")
    assert d.names == clf.names and d.normals.shape == (len(clf.names), 128)
