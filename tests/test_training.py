"""model.fit on synthetic cells lowers the loss."""

import keras

import zoo
from zoo.data import synthetic_cells


def test_a_few_steps_lower_the_loss():
    images, masks, _ = synthetic_cells(8, 32, seed=1)
    model = zoo.unet((32, 32, 1), 1, depth=2, filters=8, dropout=0.0)
    model.compile(keras.optimizers.Adam(3e-3), "binary_crossentropy")
    before = model.evaluate(images, masks[..., None], verbose=0)
    model.fit(images, masks[..., None], batch_size=4, epochs=15, verbose=0)
    after = model.evaluate(images, masks[..., None], verbose=0)
    assert after < 0.8 * before
