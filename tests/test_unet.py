"""The original U-Net: the paper's valid form, same-padding shapes, size errors."""

import numpy as np
import pytest
from conftest import all_layers, conv_layer_count, find_layer

import zoo


def test_valid_unet_is_the_paper_network():
    model = zoo.unet((572, 572, 1), num_classes=2, padding="valid")
    assert model.count_params() == 31_030_658
    assert model.output_shape == (None, 388, 388, 2)
    assert conv_layer_count(model) == 23
    crops = [layer.cropping[0][0] for layer in model.layers if "crop" in layer.name]
    assert crops == [4, 16, 40, 88]
    assert model.get_layer("bottleneck_dropout").rate == 0.5
    assert find_layer(model, "encoder_stage1_conv1").kernel_initializer.__class__.__name__ == \
        "HeNormal"
    for name in ("encoder_stage1_conv1", "encoder_stage5_conv2"):
        model.get_layer("encoder").get_layer(name)
    for name in ("decoder_stage2_upconv", "decoder_stage4_concat", "head_conv", "head"):
        model.get_layer(name)


@pytest.mark.parametrize("size", [188, 204, 572, 188 + 16 * 20])
def test_valid_unet_sizes(size):
    model = zoo.unet((size, size, 1), 2, padding="valid", encoder_options={"filters": 4})
    assert model.output_shape[1:3] == (size - 184, size - 184)
    assert zoo.unet_output_size(size) == size - 184
    assert zoo.unet_input_size(size - 184) == size


def test_valid_unet_runs_on_non_square_input():
    model = zoo.unet((188, 204, 1), 2, padding="valid", encoder_options={"filters": 2})
    out = model.predict(np.zeros((1, 188, 204, 1), "float32"), verbose=0)
    assert out.shape == (1, 4, 20, 2)


@pytest.mark.parametrize("depth,first", [(2, 44), (3, 92), (4, 188)])
def test_output_size_functions_other_depths(depth, first):
    assert zoo.unet_input_size(zoo.unet_output_size(first, depth), depth) == first
    model = zoo.unet((first, first, 1), 1, padding="valid", depth=depth,
                     encoder_options={"filters": 2})
    assert model.output_shape[1] == zoo.unet_output_size(first, depth)


@pytest.mark.parametrize("size,nearest", [(512, "508 or 524"), (573, "572 or 588"),
                                          (100, "188")])
def test_illegal_valid_size_names_nearest_legal_sizes(size, nearest):
    with pytest.raises(ValueError, match=f"188 \\+ 16k; the nearest: {nearest}"):
        zoo.unet((size, size, 1), 2, padding="valid")
    with pytest.raises(ValueError, match="nearest"):
        zoo.unet_output_size(size)


def test_unreachable_output_size():
    with pytest.raises(ValueError, match="4 \\+ 16k"):
        zoo.unet_input_size(390)


@pytest.mark.parametrize("depth", range(7))
def test_smallest_legal_input_is_the_first_the_size_rule_accepts(depth):
    from zoo.geometry import _forward, _smallest_valid_input

    first = next(n for n in range(1, 20 * 2**depth) if _forward(n, depth))
    assert _smallest_valid_input(depth) == first


def test_size_rules_answer_at_any_depth():
    with pytest.raises(ValueError, match="legal outputs are"):
        zoo.unet_input_size(388, depth=40)  # used to search 10 * 2**40 sizes
    with pytest.raises(ValueError, match="legal sizes are"):
        zoo.unet_output_size(572, depth=200)


def test_valid_padding_needs_concrete_size():
    with pytest.raises(ValueError, match="concrete input size"):
        zoo.unet((None, None, 1), padding="valid")


@pytest.mark.parametrize("depth", [2, 3, 4, 5])
@pytest.mark.parametrize("filters", [4, 8])
def test_same_padding_shapes(depth, filters):
    side = 2**depth * 2
    model = zoo.unet((side, side + 2**depth, 3), num_classes=3, depth=depth,
                     encoder_options={"filters": filters})
    assert model.output_shape == (None, side, side + 2**depth, 3)
    assert find_layer(model, f"encoder_stage{depth + 1}_conv2").filters == filters * 2**depth
    assert conv_layer_count(model) == 2 * (depth + 1) + 3 * depth + 1


def test_same_padding_with_variable_size_runs_on_any_multiple():
    model = zoo.unet((None, None, 1), 1, depth=2, encoder_options={"filters": 4})
    for shape in [(1, 16, 16, 1), (2, 24, 40, 1)]:
        assert model.predict(np.zeros(shape, "float32"), verbose=0).shape == shape


@pytest.mark.parametrize("shape,match", [
    ((100, 96, 1), "height 100 is not divisible by 16.*pad the image to 112"),
    ((96, 36, 1), "width 36 is not divisible by 16.*pad the image to 48"),
])
def test_same_padding_size_error_suggests_padding(shape, match):
    with pytest.raises(ValueError, match=match):
        zoo.unet(shape)


def test_depth_6_and_its_divisor():
    deep = zoo.unet((64, 64, 1), depth=6, encoder_options={"filters": 2})
    assert deep.output_shape == (None, 64, 64, 1)
    with pytest.raises(ValueError, match="divisible by 64"):
        zoo.unet((96, 96, 1), depth=6, encoder_options={"filters": 2})


@pytest.mark.parametrize("kwargs,match", [
    ({"depth": 1}, "depth in \\[2, 3, 4, 5, 6\\]"),
    ({"depth": 7}, "depth in"),
    ({"padding": "SAME"}, "supports padding \\[.same., .valid.\\]"),
    ({"input_shape": (64, 64)}, "input_shape must be"),
    ({"input_shape": (64, 64, None)}, "known channel count"),
    ({"encoder": "plian"}, "did you mean 'plain'"),
    ({"decoder_filters": (8, 8)}, "decoder_filters needs 4 values"),
    ({"encoder_weights": "imagenet"}, "no pretrained weights"),
])
def test_bad_arguments_raise_clear_errors(kwargs, match):
    kwargs = {"input_shape": (64, 64, 1), "encoder_options": {"filters": 2}, **kwargs}
    with pytest.raises((ValueError, TypeError), match=match):
        zoo.unet(**kwargs)


@pytest.mark.parametrize("num_classes,activation,last", [
    (1, "auto", "sigmoid"), (3, "auto", "softmax"), (2, None, None), (1, "linear", "linear"),
])
def test_activation(num_classes, activation, last):
    model = zoo.unet((32, 32, 1), num_classes, depth=2, encoder_options={"filters": 2},
                     activation=activation)
    head = model.layers[-1]
    assert head.name == "head" and head.role == "mask"
    assert head.activation.__name__ == (last or "linear")
    if last == "softmax":
        probs = model.predict(np.random.rand(2, 32, 32, 1).astype("float32"), verbose=0)
        np.testing.assert_allclose(probs.sum(-1), 1.0, rtol=1e-5)


def test_batch_norm_in_encoder_and_decoder():
    model = zoo.unet((32, 32, 1), depth=2, encoder_options={"filters": 4}, batch_norm=True)
    bn = [layer.name for layer in all_layers(model) if "bn" in layer.name]
    assert "encoder_stage1_bn1" in bn and "decoder_stage2_bn2" in bn
    assert not find_layer(model, "encoder_stage1_conv1").use_bias


def test_decoder_filters_override():
    model = zoo.unet((32, 32, 1), depth=2, encoder_options={"filters": 4}, decoder_filters=(6, 5))
    assert model.get_layer("decoder_stage1_conv2").filters == 6
    assert model.get_layer("decoder_stage2_upconv").filters == 5


def test_dropout_zero_removes_the_layer():
    model = zoo.unet((32, 32, 1), depth=2, encoder_options={"filters": 2}, dropout=0.0)
    assert "bottleneck_dropout" not in [layer.name for layer in model.layers]
