"""The loaders reproduce the outputs of the original implementations on their own checkpoints."""
import pytest
import torch

import mminvert

TOL = dict(atol=1e-4, rtol=1e-4)


@pytest.fixture(scope="module")
def rosinality(sg2_sets):
    ref = torch.load(sg2_sets.rosinality_ref, weights_only=True)
    return mminvert.load_generator(sg2_sets.rosinality), mminvert.load_discriminator(sg2_sets.rosinality), ref


@pytest.fixture(scope="module")
def nvlabs(sg2_sets):
    ref = torch.load(sg2_sets.nvlabs_ref, weights_only=True)
    return mminvert.load_generator(sg2_sets.nvlabs), ref


@torch.no_grad()
def test_rosinality_architecture_inferred(rosinality, sg2_sets):
    G, D, _ = rosinality
    z = sg2_sets.z_dim
    assert (G.resolution, G.z_dim, G.w_dim, G.num_ws) == (64, z, z, 10)
    assert G.channels == sg2_sets.rosinality_channels
    assert len(G.mapping.fcs) == sg2_sets.mapping_layers
    assert not G.training and not D.training


@torch.no_grad()
def test_rosinality_mapping_w_wplus_const_noise(rosinality):
    G, _, ref = rosinality
    torch.testing.assert_close(G.mapping(ref["z"]), ref["w"], **TOL)
    torch.testing.assert_close(G(ref["z"], noise_mode="const"), ref["img_z"], **TOL)
    ws = ref["w"].unsqueeze(1).expand(-1, G.num_ws, -1)
    torch.testing.assert_close(G.synthesis(ws), ref["img_w"], **TOL)
    torch.testing.assert_close(G.synthesis(ref["wplus"]), ref["img_wplus"], **TOL)


@torch.no_grad()
def test_rosinality_truncation(rosinality):
    G, _, ref = rosinality
    saved = G.w_avg.clone()
    G.w_avg = ref["w_avg"]
    try:
        torch.testing.assert_close(G(ref["z"], truncation_psi=0.7), ref["img_trunc_0.7"], **TOL)
    finally:
        G.w_avg = saved


@torch.no_grad()
def test_rosinality_discriminator(rosinality):
    _, D, ref = rosinality
    torch.testing.assert_close(D(ref["img_w"]), ref["d_logits_of_img_w"], **TOL)


@torch.no_grad()
def test_nvlabs_all_references(nvlabs, sg2_sets):
    G, ref = nvlabs
    assert (G.resolution, G.num_ws) == (64, 10) and G.channels == sg2_sets.nvlabs_channels
    torch.testing.assert_close(G.mapping(ref["z"]), ref["ws"][:, 0], **TOL)
    torch.testing.assert_close(G.synthesis(ref["ws"], noise_mode="const"), ref["img"], **TOL)
    torch.testing.assert_close(G(ref["z"]), ref["img"], **TOL)
    torch.testing.assert_close(G.mapping(ref["z"], truncation_psi=0.7), ref["ws_trunc_0.7"][:, 0], **TOL)
    torch.testing.assert_close(G.synthesis(ref["ws_trunc_0.7"]), ref["img_trunc_0.7"], **TOL)
    torch.testing.assert_close(G.synthesis(ref["wplus"]), ref["img_wplus"], **TOL)


@torch.no_grad()
def test_fused_and_shared_weight_modconv_agree_on_fixture(nvlabs):
    G, ref = nvlabs
    for m in G.modules():
        if hasattr(m, "fused"):
            m.fused = True
    try:
        torch.testing.assert_close(G.synthesis(ref["wplus"]), ref["img_wplus"], **TOL)
    finally:
        for m in G.modules():
            if hasattr(m, "fused"):
                m.fused = False
