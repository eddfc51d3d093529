"""Benchmark cases: name -> function(size) building a model (peers imported lazily)."""

from __future__ import annotations

import zoo


def kuc_unet3plus(size):
    """keras-unet-collection 0.1.13 ``unet_3plus_2d`` in the paper's configuration."""
    from keras_unet_collection import models

    return models.unet_3plus_2d(
        (size, size, 1), n_labels=1, filter_num_down=[64, 128, 256, 512, 1024],
        filter_num_skip="auto", filter_num_aggregate="auto", stack_num_down=2, stack_num_up=1,
        activation="ReLU", output_activation="Sigmoid", batch_norm=True, pool=True,
        unpool=True, deep_supervision=False, name="kuc_unet3plus")


def zoo_unet3plus(size, **kwargs):
    return zoo.unet_3plus((size, size, 1), 1, **kwargs)


def zoo_unetpp_ds(size):
    return zoo.unet_plus_plus((size, size, 1), 1, encoder_options={"filters": 32},
                              deep_supervision=True)


CASES = {
    "kuc_unet3plus": kuc_unet3plus,
    "zoo_unet3plus": zoo_unet3plus,
    "zoo_unet3plus_unfused": lambda size: zoo_unet3plus(size, fused_upsampling=False),
    "zoo_unet3plus_conv_upsample": lambda size: zoo_unet3plus(size, branch_order="conv_upsample"),
    "zoo_unetpp_ds_inference": zoo_unetpp_ds,
    **{f"zoo_unetpp_l{level}_inference": (lambda size, level=level:
                                          zoo.prune(zoo_unetpp_ds(size), level))
       for level in (1, 2, 3, 4)},
}
