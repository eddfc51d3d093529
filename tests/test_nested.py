"""U-Net++ and U-Net 3+: parameter counts, deep supervision, pruning, the CGM."""

import keras
import numpy as np
import pytest
from conftest import all_layers

import zoo
from zoo.data import synthetic_cells
from zoo.models import presence_targets


def test_unet_plus_plus_matches_the_paper_parameter_count():
    count = zoo.unet_plus_plus((96, 96, 1), 1, encoder_options={"filters": 32}).count_params()
    assert count == 9_041_601
    assert abs(count - 9.04e6) / 9.04e6 < 0.02
    count = zoo.unet((96, 96, 1), 1, encoder_options={"filters": 32}).count_params()
    assert abs(count - 7.76e6) / 7.76e6 < 0.02


def test_unet_3plus_matches_the_paper_parameter_count():
    count = zoo.unet_3plus((64, 64, 1), 1).count_params()
    assert count == 26_977_153
    assert abs(count - 26.97e6) / 26.97e6 < 0.02


@pytest.mark.parametrize("encoder,kwargs", [("plain", {"encoder_options": {"filters": 4}}),
                                            ("resnet18", {}), ("efficientnetb0", {})])
def test_unet_plus_plus_deep_supervision_heads(encoder, kwargs):
    model = zoo.unet_plus_plus((32, 32, 3), 2, encoder=encoder, deep_supervision=True,
                               **kwargs)
    levels = 4
    assert model.output_names == [f"head_l{j}" for j in range(1, levels + 1)]
    assert all(shape == (None, 32, 32, 2) for shape in model.output_shape)
    assert zoo.unet_plus_plus((32, 32, 3), 2, encoder=encoder, **kwargs).output_names == ["head"]


def test_nested_nodes_follow_the_paper():
    model = zoo.unet_plus_plus((32, 32, 1), 1, encoder_options={"filters": 4}, depth=3)
    # X(0,3) sees X(0,0..2) and up(X(1,2)): four inputs to its concatenation.
    assert len(model.get_layer("decoder_x0_3_concat").input) == 4
    assert len(model.get_layer("decoder_x2_1_concat").input) == 2
    names = {layer.name for layer in model.layers}
    assert {"decoder_x0_1_conv1", "decoder_x1_2_upconv", "decoder_x0_3_conv2"} <= names
    assert "decoder_x1_3_concat" not in names


def test_pruned_subnetworks_equal_the_heads_and_shrink():
    full = zoo.unet_plus_plus((32, 32, 1), 1, encoder_options={"filters": 4}, deep_supervision=True)
    x = np.random.default_rng(0).random((2, 32, 32, 1), "float32")
    heads = full.predict(x, verbose=0)
    sizes = []
    for level in range(1, 5):
        pruned = zoo.prune(full, level)
        np.testing.assert_array_equal(pruned.predict(x, verbose=0), heads[level - 1])
        sizes.append(pruned.count_params())
    assert sizes == sorted(sizes) and sizes[-1] < full.count_params() + 1
    kept = {layer.name for layer in all_layers(zoo.prune(full, 1))}
    assert "encoder_stage2_conv1" in kept and "encoder_stage3_conv1" not in kept


def test_prune_level_at_build_and_errors():
    model = zoo.unet_plus_plus((32, 32, 1), 1, encoder_options={"filters": 4}, prune_level=2)
    assert model.output_names == ["head_l2"] and model.name == "unet_plus_plus_l2"
    with pytest.raises(ValueError, match="deep_supervision=True"):
        zoo.prune(zoo.unet_plus_plus((32, 32, 1), 1, encoder_options={"filters": 4}), 2)
    with pytest.raises(ValueError, match="its levels are 1, 2, 3, 4"):
        zoo.prune(zoo.unet_plus_plus((32, 32, 1), 1, encoder_options={"filters": 4},
                                     deep_supervision=True), 5)


@pytest.mark.parametrize("encoder,kwargs", [("plain", {"encoder_options": {"filters": 4}}),
                                            ("resnet18", {}), ("vgg16", {"depth": 4})])
@pytest.mark.parametrize("cgm", [False, True])
def test_unet_3plus_outputs(encoder, kwargs, cgm):
    model = zoo.unet_3plus((32, 32, 3), 2, encoder=encoder, deep_supervision=True, cgm=cgm,
                           cat_channels=4, **kwargs)
    expected = ["head_de1", "head_de2", "head_de3", "head_de4", "head_en5"]
    assert model.output_names == expected + (["classification"] if cgm else [])
    shapes = model.output_shape
    assert all(shape == (None, 32, 32, 2) for shape in shapes[:5])
    if cgm:
        assert shapes[5] == (None, 1)
    plain = zoo.unet_3plus((32, 32, 3), 2, encoder=encoder, cat_channels=4, **kwargs)
    assert plain.output_names == ["head"]


def test_full_scale_skips_reach_every_stage():
    model = zoo.unet_3plus((32, 32, 1), 1, encoder_options={"filters": 4}, cat_channels=4)
    concat = model.get_layer("decoder_de2_concat")
    assert len(concat.input) == 5 and concat.output.shape[-1] == 20
    names = {layer.name for layer in model.layers}
    assert {"decoder_de2_en1_pool", "decoder_de2_en2_conv1", "decoder_de2_de3_upsample",
            "decoder_de4_en5_upconv1", "decoder_de1_fuse_conv1"} <= names
    assert model.get_layer("decoder_de3_en1_pool").pool_size == (4, 4)
    assert model.get_layer("decoder_de1_de4_upsample").size == (8, 8)


@pytest.mark.parametrize("batch_norm", [True, False])
def test_fused_upsampling_is_the_same_network(batch_norm):
    kwargs = dict(input_shape=(32, 32, 1), num_classes=2, encoder_options={"filters": 8},
                  cat_channels=4, batch_norm=batch_norm)
    fused = zoo.unet_3plus(**kwargs)
    literal = zoo.unet_3plus(fused_upsampling=False, **kwargs)
    assert fused.count_params() == literal.count_params()
    fused_layers = [layer.name for layer in fused.layers if "upconv1" in layer.name]
    assert fused_layers  # the bottleneck's 128 channels > 9 * 4: its branches are fused
    for layer in literal.layers:
        if layer.weights:
            name = layer.name.replace("_conv1", "_upconv1")
            source = fused.get_layer(name if name in fused_layers else layer.name)
            layer.set_weights(source.get_weights())
    x = np.random.default_rng(0).random((2, 32, 32, 1), "float32")
    np.testing.assert_allclose(literal.predict(x, verbose=0), fused.predict(x, verbose=0),
                               atol=1e-5)


def _cgm_model():
    return zoo.unet_3plus((32, 32, 1), 1, encoder_options={"filters": 4}, cat_channels=4, cgm=True)


@pytest.mark.parametrize("bias,gated", [(-50.0, True), (50.0, False)])
def test_cgm_gates_masks_at_inference_only(bias, gated):
    model = _cgm_model()
    conv = model.get_layer("cgm_conv")
    kernel, _ = conv.get_weights()
    conv.set_weights([np.zeros_like(kernel), np.array([bias], "float32")])
    x = np.random.default_rng(0).random((2, 32, 32, 1), "float32")
    mask, probability = model.predict(x, verbose=0)
    ungated = keras.Model(model.inputs, model.get_layer("head_ungated").output)
    raw = ungated.predict(x, verbose=0)
    assert (probability < 0.5).all() == gated
    if gated:
        assert not mask.any() and raw.any()
        in_training = keras.ops.convert_to_numpy(model(x, training=True)[0])
        np.testing.assert_allclose(in_training, ungated(x, training=True), rtol=1e-5,
                                   atol=1e-6)
        assert in_training.any()
    else:
        np.testing.assert_array_equal(mask, raw)


def test_presence_targets():
    masks = np.zeros((3, 4, 4))
    masks[1, 2, 2] = 1
    np.testing.assert_array_equal(presence_targets(masks), [[0], [1], [0]])


def test_cgm_round_trip(tmp_path):
    model = _cgm_model()
    x = np.random.default_rng(0).random((1, 32, 32, 1), "float32")
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    for a, b in zip(loaded.predict(x, verbose=0), model.predict(x, verbose=0), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("builder,kwargs", [
    ("unet_plus_plus", {"encoder_options": {"filters": 8}, "depth": 2}),
    ("unet_3plus", {"encoder_options": {"filters": 8}, "depth": 2, "cat_channels": 8, "cgm": True,
                    "batch_norm": False}),
])
def test_fit_with_deep_supervision_lowers_the_loss(builder, kwargs):
    images, masks, _ = synthetic_cells(8, 32, seed=1)
    model = zoo.build(builder, input_shape=(32, 32, 1), num_classes=1, deep_supervision=True,
                      **kwargs)
    targets = {name: masks[..., None].astype("float32") for name in model.output_names}
    losses = {name: "binary_crossentropy" for name in model.output_names}
    if "classification" in targets:
        targets["classification"] = presence_targets(masks)
    model.compile(keras.optimizers.Adam(3e-3), loss=losses)
    before = model.evaluate(images, targets, verbose=0)[0]
    model.fit(images, targets, batch_size=4, epochs=12, verbose=0)
    after = model.evaluate(images, targets, verbose=0)[0]
    assert after < 0.85 * before
