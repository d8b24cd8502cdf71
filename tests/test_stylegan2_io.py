"""Checkpoint formats: round trips, NVlabs pickles without code execution, and clear errors."""
import io
import os
import pickle
import re
import zipfile

import pytest
import torch

import mminvert
from mminvert.io import CheckpointError, export_rosinality, load_discriminator, load_generator, save_stylegan2
from mminvert.stylegan2 import StyleGAN2Discriminator
from tests.nvlabs_pickle import write_nvlabs_pickle


def _same_outputs(G1, G2, n=2):
    ws = torch.randn(n, G1.num_ws, G1.w_dim)
    torch.testing.assert_close(G1.synthesis(ws), G2.synthesis(ws))
    z = torch.randn(n, G1.z_dim)
    torch.testing.assert_close(G1.mapping(z, 0.7), G2.mapping(z, 0.7))


@torch.no_grad()
def test_native_round_trip_with_discriminator(tiny_generator, tmp_path):
    D = StyleGAN2Discriminator(32, channels=tiny_generator.channels)
    path = save_stylegan2(tmp_path / "g.pt", tiny_generator, D)
    _same_outputs(tiny_generator, load_generator(path))
    x = torch.randn(4, 3, 32, 32)
    torch.testing.assert_close(load_discriminator(path)(x), D(x))
    assert not any(p.name.startswith(".g.pt") for p in tmp_path.iterdir())  # no temp file left


@torch.no_grad()
def test_rosinality_export_round_trip(tiny_generator, tmp_path):
    tiny_generator.w_avg = torch.randn(64)
    D = StyleGAN2Discriminator(32, channels=tiny_generator.channels)
    path = export_rosinality(tmp_path / "ros.pt", tiny_generator, D)
    raw = torch.load(path, weights_only=True)
    assert {"g_ema", "d", "latent_avg"} <= set(raw) and "style.1.weight" in raw["g_ema"]
    assert raw["g_ema"]["convs.0.conv.weight"].shape == (1, 32, 32, 3, 3)
    _same_outputs(tiny_generator, load_generator(path))
    x = torch.randn(4, 3, 32, 32)
    torch.testing.assert_close(load_discriminator(path)(x), D(x))


@torch.no_grad()
def test_fixture_rosinality_export_reload(sg2, tmp_path):
    G = load_generator(sg2.rosinality)
    src = torch.load(sg2.rosinality, weights_only=True)["g_ema"]
    out = torch.load(export_rosinality(tmp_path / "x.pt", G), weights_only=True)["g_ema"]
    assert set(out) == set(src)  # same keys as the original implementation writes, buffers included
    for k in src:
        torch.testing.assert_close(out[k], src[k])


@torch.no_grad()
def test_bare_state_dicts(sg2, tmp_path):
    ros = torch.load(sg2.rosinality, weights_only=True)
    torch.save(ros["g_ema"], tmp_path / "bare_ros.pt")
    nv = torch.load(sg2.nvlabs, weights_only=True)
    torch.save(nv["G_ema"], tmp_path / "bare_nv.pt")
    G_ros = load_generator(tmp_path / "bare_ros.pt", compute_w_avg=2000)  # no latent_avg: computed
    assert G_ros.w_avg.abs().sum() > 0
    torch.testing.assert_close(G_ros.w_avg, ros["latent_avg"], atol=0.05, rtol=0.05)
    _same_outputs(load_generator(tmp_path / "bare_nv.pt"),
                  load_generator(sg2.nvlabs))


@torch.no_grad()
def test_nvlabs_pickle_loads_without_running_its_code(sg2, tmp_path):
    nv = torch.load(sg2.nvlabs, weights_only=True)
    ref = torch.load(sg2.nvlabs_ref, weights_only=True)
    marker = tmp_path / "executed.txt"
    D = StyleGAN2Discriminator(64, channels={4: 64, 8: 64, 16: 64, 32: 64, 64: 32})
    d_sd = _ours_to_nvlabs_discriminator(D.state_dict())
    kwargs = dict(nv["kwargs"], mapping_kwargs={"lr_multiplier": 0.01})
    write_nvlabs_pickle(tmp_path / "net.pkl", nv["G_ema"], kwargs, str(marker), d_sd)
    G = load_generator(tmp_path / "net.pkl")
    torch.testing.assert_close(G.synthesis(ref["wplus"]), ref["img_wplus"], atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(G(ref["z"], truncation_psi=0.7), ref["img_trunc_0.7"], atol=1e-4, rtol=1e-4)
    x = torch.randn(4, 3, 64, 64)
    torch.testing.assert_close(load_discriminator(tmp_path / "net.pkl")(x), D(x))
    assert not marker.exists()


def _ours_to_nvlabs_discriminator(sd):
    out = {"b64.fromrgb.weight": sd["fromrgb.weight"], "b64.fromrgb.bias": sd["fromrgb.bias"]}
    for j, r in enumerate([64, 32, 16, 8]):
        for name in ("conv0.weight", "conv0.bias", "conv1.weight", "conv1.bias", "skip.weight"):
            out[f"b{r}.{name}"] = sd[f"blocks.{j}.{name}"]
    out.update({"b4.conv.weight": sd["final_conv.weight"], "b4.conv.bias": sd["final_conv.bias"],
                "b4.fc.weight": sd["fc.weight"], "b4.fc.bias": sd["fc.bias"],
                "b4.out.weight": sd["out.weight"], "b4.out.bias": sd["out.bias"]})
    return out


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_malicious_pickle_is_refused_without_side_effects(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps({"G_ema": _Evil(marker)}))
    with pytest.raises(CheckpointError, match=r"evil\.pkl.*refusing to load global '(posix|os|nt)\.system'"):
        load_generator(path)
    assert not marker.exists()


def test_malicious_torch_file_is_refused_without_side_effects(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    torch.save({"g_ema": _Evil(marker)}, path)
    with pytest.raises(CheckpointError, match=r"evil\.pt.*refused"):
        load_generator(path)
    assert not marker.exists()


class _EmbeddedStorage:
    """Pickles as `torch.storage._load_from_bytes(<bytes>)`, the record NVlabs pickles use for tensor storages."""

    def __init__(self, payload: bytes):
        self.payload = payload

    def __reduce__(self):
        return (torch.storage._load_from_bytes, (self.payload,))


def test_malicious_pickle_inside_an_embedded_storage_is_refused_not_called_corrupt(tmp_path):
    marker = tmp_path / "pwned"
    inner = io.BytesIO()
    torch.save(_Evil(marker), inner, _use_new_zipfile_serialization=False)
    path = tmp_path / "nested.pkl"
    path.write_bytes(pickle.dumps({"G_ema": _EmbeddedStorage(inner.getvalue())}))
    with pytest.raises(CheckpointError, match=r"nested\.pkl.*refused.*global '(posix|os|nt)\.system'") as e:
        load_generator(path)
    assert "corrupt" not in str(e.value)
    assert not marker.exists()


def test_eval_global_is_refused(tmp_path):
    path = tmp_path / "eval.pkl"
    # GLOBAL builtins.eval, then call it: must be refused before anything runs.
    path.write_bytes(b"\x80\x04cbuiltins\neval\n(V__import__('os').system('true')\ntR.")
    with pytest.raises(CheckpointError, match="builtins.eval"):
        load_generator(path)


def test_garbage_truncated_empty_and_missing_files(sg2, tmp_path):
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(os.urandom(1000).replace(b"\x80", b"\x00").replace(b"PK", b"pk"))
    with pytest.raises(CheckpointError, match="garbage.pt.*unknown format"):
        load_generator(garbage)
    src = sg2.rosinality.read_bytes()
    trunc = tmp_path / "truncated.pt"
    trunc.write_bytes(src[: len(src) // 2])
    with pytest.raises(CheckpointError, match="truncated.pt.*(truncated|corrupt|cannot be read)"):
        load_generator(trunc)
    empty = tmp_path / "empty.pt"
    empty.touch()
    with pytest.raises(CheckpointError, match="empty.pt.*empty"):
        load_generator(empty)
    with pytest.raises(CheckpointError, match="nope.pt.*no such file"):
        load_generator(tmp_path / "nope.pt")
    with pytest.raises(CheckpointError, match="is a directory"):
        load_generator(tmp_path)


def test_truncated_pickle(tmp_path, sg2):
    nv = torch.load(sg2.nvlabs, weights_only=True)
    write_nvlabs_pickle(tmp_path / "net.pkl", nv["G_ema"], nv["kwargs"], str(tmp_path / "m"))
    data = (tmp_path / "net.pkl").read_bytes()
    (tmp_path / "cut.pkl").write_bytes(data[: len(data) // 3])
    with pytest.raises(CheckpointError, match="cut.pkl.*(truncated|corrupt)"):
        load_generator(tmp_path / "cut.pkl")


def test_missing_keys_and_unknown_dicts(sg2, tmp_path):
    ros = torch.load(sg2.rosinality, weights_only=True)
    del ros["g_ema"]["convs.3.conv.weight"]
    torch.save(ros, tmp_path / "missing.pt")
    with pytest.raises(CheckpointError, match="missing.pt.*missing key 'convs.3.conv.weight'"):
        load_generator(tmp_path / "missing.pt")
    torch.save({"model": {"a": torch.zeros(1)}}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="other.pt.*no StyleGAN2 generator"):
        load_generator(tmp_path / "other.pt")
    torch.save({"g_ema": ros["g_ema"]}, tmp_path / "nod.pt")
    with pytest.raises(CheckpointError, match="nod.pt.*no discriminator"):
        load_discriminator(tmp_path / "nod.pt")


def test_expectation_mismatch_names_file_and_field(sg2):
    path = sg2.rosinality
    expected = re.escape(f"{path.name}: checkpoint has img_channels=3, but img_channels=4")
    with pytest.raises(CheckpointError, match=expected):
        load_generator(path, img_channels=4)
    with pytest.raises(CheckpointError, match="resolution=64, but resolution=256"):
        load_generator(path, resolution=256)


def test_wrong_shape_tensor(sg2, tmp_path):
    ros = torch.load(sg2.rosinality, weights_only=True)
    ros["g_ema"]["conv1.activate.bias"] = torch.zeros(7)
    torch.save(ros, tmp_path / "shape.pt")
    with pytest.raises(CheckpointError, match="shape.pt.*synthesis.blocks.0.conv1.bias.*shape \\(7,\\)"):
        load_generator(tmp_path / "shape.pt")


def test_public_api_names():
    for name in ("load_generator", "load_discriminator", "StyleGAN2Generator", "CheckpointError"):
        assert hasattr(mminvert, name)


def test_zip_detection_is_content_based(tmp_path):
    path = tmp_path / "not_a_ckpt.pt"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("hello.txt", "hi")
    with pytest.raises(CheckpointError, match="not_a_ckpt.pt"):
        load_generator(path)
