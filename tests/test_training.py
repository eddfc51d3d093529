"""model.fit on synthetic cells lowers the loss; `zoo.training.train` owns its run directory."""

import keras

import zoo
from zoo.data import synthetic_cells


def test_a_few_steps_lower_the_loss():
    images, masks, _ = synthetic_cells(8, 32, seed=1)
    model = zoo.unet((32, 32, 1), 1, depth=2, encoder_options={"filters": 8}, dropout=0.0)
    model.compile(keras.optimizers.Adam(3e-3), "binary_crossentropy")
    before = model.evaluate(images, masks[..., None], verbose=0)
    model.fit(images, masks[..., None], batch_size=4, epochs=15, verbose=0)
    after = model.evaluate(images, masks[..., None], verbose=0)
    assert after < 0.8 * before


def _tiny_run(tmp_path, **kwargs):
    from zoo.data import SegmentationDataset
    from zoo.training import SegmentationValidation, train

    images, masks, labels = synthetic_cells(3, 32, seed=2)
    dataset = SegmentationDataset(images[:2], 1 - masks[:2], patch_size=16, batch_size=2,
                                  steps=2, workers=1)

    def build():
        model = zoo.unet((None, None, 1), 1, depth=2, encoder_options={"filters": 4})
        model.compile(keras.optimizers.Adam(1e-3), "binary_crossentropy")
        return model

    validation = SegmentationValidation(images[2:], 1 - masks[2:], tmp_path,
                                        isbi_labels=(masks[2:] * 255).astype("uint8"),
                                        tile_kwargs={"tile_size": 32}, verbose=False)
    return train(build, dataset, tmp_path, validation=validation, verbose=0, **kwargs)


def test_train_owns_its_run_directory_and_resumes(tmp_path):
    import json

    import pytest

    record = _tiny_run(tmp_path, steps=4)
    files = {p.name for p in tmp_path.iterdir()}
    assert {"checkpoint.keras", "state.json", "best.keras", "last.keras", "model.keras",
            "metrics.json"} <= files
    assert record["steps"] == 4 and len(record["history"]) == 2
    assert {"v_rand", "v_info", "pixel_error", "iou", "dice", "kept_step"} <= set(record)
    assert record["keep"] == "best"
    assert record["train_s"] <= record["wall_s"]
    assert json.loads((tmp_path / "metrics.json").read_text())["steps"] == 4
    with pytest.raises(FileExistsError, match="resume"):
        _tiny_run(tmp_path, steps=4)  # an earlier run is never overwritten
    compiled = []
    probe = keras.callbacks.LambdaCallback(
        on_train_begin=lambda logs: compiled.append(probe.model.jit_compile))
    record = _tiny_run(tmp_path, steps=8, resume=True, session={"machine": "B"},
                       jit_compile=False, callbacks=[probe])
    assert compiled == [False]  # set on the resumed model (how the run is carried out)
    assert record["steps"] == 8
    assert [p["step"] for p in record["history"]] == [2, 4, 6, 8]  # history kept
    # the first call named no session; the resumed one is kept with its starting step
    assert record["sessions"] == [{"step": 4, "machine": "B"}]
    assert json.loads((tmp_path / "state.json").read_text())["sessions"] == record["sessions"]


def test_train_budget_stops_mid_pass_and_validates(tmp_path):
    record = _tiny_run(tmp_path / "run", steps=100, budget_s=1e-6, resume=True)
    assert record["steps"] == 1 and len(record["history"]) == 1
    assert "val_v_rand" in record["history"][0]
    again = _tiny_run(tmp_path / "run", steps=100, budget_s=1e-6, resume=True)
    assert again["steps"] == 1  # budget spent: a resumed run does not train further


def test_train_refuses_files_without_checkpoint(tmp_path):
    import pytest

    (tmp_path / "model.keras").write_text("a user's model")
    with pytest.raises(FileExistsError, match="no checkpoint.keras"):
        _tiny_run(tmp_path, steps=2, resume=True)
    assert (tmp_path / "model.keras").read_text() == "a user's model"


def test_ema_weights_survive_predict_then_save_every_epoch(tmp_path):
    """Regression (JAX): Keras's SwapEMAWeights left a variable and its average
    sharing a buffer in the last epoch; predict_on_batch donated it and the
    next save raised "Array has been deleted"."""
    import numpy as np

    from zoo.training import EMAWeightsBetweenEpochs

    x = np.random.default_rng(0).random((2, 16, 16, 1), dtype=np.float32)
    y = (x > 0.5).astype("float32")
    model = zoo.unet((None, None, 1), 1, depth=2, encoder_options={"filters": 4})
    model.compile(keras.optimizers.Adam(1e-2, use_ema=True), "binary_crossentropy")

    class PredictThenSave(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            self.model.predict_on_batch(x)
            self.model.save(tmp_path / f"epoch{epoch}.keras")

    model.fit(x, y, epochs=2, verbose=0,
              callbacks=[EMAWeightsBetweenEpochs(), PredictThenSave()])
    model.predict_on_batch(x)
    model.save(tmp_path / "after.keras")
    ema = keras.saving.load_model(tmp_path / "epoch1.keras")
    for a, b in zip(ema.trainable_weights, model.trainable_weights, strict=True):
        np.testing.assert_allclose(a.numpy(), keras.ops.convert_to_numpy(b), atol=1e-6)


def test_ema_weights_are_validated_kept_and_resumed(tmp_path):
    import numpy as np

    from zoo.data import SegmentationDataset
    from zoo.training import train

    images, masks, _ = synthetic_cells(2, 32, seed=3)
    dataset = SegmentationDataset(images, masks, patch_size=16, batch_size=2, steps=2,
                                  workers=1)

    def build():
        model = zoo.unet((None, None, 1), 1, depth=2, encoder_options={"filters": 4})
        model.compile(keras.optimizers.Adam(1e-2, use_ema=True, ema_momentum=0.9),
                      "binary_crossentropy")
        return model

    train(build, dataset, tmp_path, steps=4, verbose=0)
    checkpoint = keras.saving.load_model(tmp_path / "checkpoint.keras")
    final = keras.saving.load_model(tmp_path / "model.keras")
    raw = [w.numpy() for w in checkpoint.trainable_weights]
    kept = [w.numpy() for w in final.trainable_weights]
    # model.keras holds the EMA weights, the checkpoint the training weights
    assert not all(np.allclose(a, b) for a, b in zip(raw, kept, strict=True))
    record = train(build, dataset, tmp_path, steps=6, resume=True, verbose=0)
    assert record["steps"] == 6
    six = [w.numpy() for w in keras.saving.load_model(tmp_path / "model.keras").weights]
    train(build, dataset, tmp_path, steps=6, resume=True, verbose=0)  # nothing left to train
    again = keras.saving.load_model(tmp_path / "model.keras")  # the EMA weights again
    for a, b in zip(six, again.weights, strict=True):
        np.testing.assert_allclose(a, b.numpy(), atol=1e-7)


def test_keep_last_keeps_and_scores_the_last_model(tmp_path):
    import numpy as np
    import pytest

    record = _tiny_run(tmp_path / "run", steps=6, keep="last")
    assert record["keep"] == "last" and record["kept_step"] == 6
    last = record["history"][-1]
    assert record["v_rand"] == last["val_v_rand"]  # the last point, not the best one
    kept = keras.saving.load_model(tmp_path / "run" / "model.keras")
    checkpoint = keras.saving.load_model(tmp_path / "run" / "checkpoint.keras")
    for a, b in zip(kept.trainable_weights, checkpoint.trainable_weights, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())  # no EMA: the last weights
    with pytest.raises(ValueError, match="keep must be 'best' or 'last'"):
        _tiny_run(tmp_path / "other", steps=2, keep="first")


def test_accumulated_batches_update_as_one_batch_of_them_all():
    """``accumulate=2`` (the optimizer's gradient_accumulation_steps): two batches of 2
    give the one update a batch of 4 gives, and nothing in between."""
    import numpy as np

    from zoo.training import compile_model

    rng = np.random.default_rng(0)
    x = rng.random((4, 16, 16, 1), dtype=np.float32)
    y = (x > 0.5).astype("float32")

    def model(accumulate):
        keras.utils.set_random_seed(0)
        net = zoo.unet((16, 16, 1), 1, depth=2, encoder_options={"filters": 4}, dropout=0.0)
        return compile_model(net, "binary_crossentropy", lr=0.1, steps=10, optimizer="sgd",
                             momentum=0.0, accumulate=accumulate)

    accumulated, whole = model(2), model(1)
    start = [w.copy() for w in accumulated.get_weights()]
    accumulated.train_on_batch(x[:2], y[:2])
    for a, b in zip(accumulated.get_weights(), start, strict=True):
        np.testing.assert_array_equal(a, b)  # no update after the first batch
    accumulated.train_on_batch(x[2:], y[2:])
    whole.train_on_batch(x, y)
    changed = [not np.array_equal(a, b) for a, b in zip(whole.get_weights(), start, strict=True)]
    assert any(changed)
    for a, b in zip(accumulated.get_weights(), whole.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
