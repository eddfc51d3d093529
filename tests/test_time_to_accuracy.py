"""benchmarks/time_to_accuracy.py: the peers' crops and flips, and the chart of records."""

import json

import numpy as np

from benchmarks import time_to_accuracy as tta


def test_peer_crops_flip_images_and_masks_together():
    images = np.random.default_rng(0).random((3, 300, 300, 1), dtype=np.float32)
    masks = (images[..., 0] > 0.5).astype(np.uint8)
    x, y = tta._crops(images, masks, np.random.default_rng(1))
    assert x.shape == (tta.BATCH, tta.CROP, tta.CROP, 1) and y.shape == x.shape
    np.testing.assert_array_equal(y, (x > 0.5).astype(np.float32))


def test_the_chart_draws_every_record(tmp_path):
    for subject, seed, score in (("preset:isbi2012/quick", 0, 0.95), ("sm:unet/x", 0, 0.9),
                                 ("sm:unet/x", 1, 0.91)):
        curve = [{"train_s": s, "step": s, "post_v_rand": score, "post_v_info": score}
                 for s in (60, 250, 470)]
        (tmp_path / f"{subject.replace(':', '-').replace('/', '-')}-seed{seed}.json").write_text(
            json.dumps({"subject": subject, "seed": seed, "machine": "m", "matmul_gflops": 9,
                        "note": "shared" if seed else "", "curve": curve}))
    assert tta.chart(tmp_path).stat().st_size > 10_000
    table = (tmp_path / "time_to_accuracy.md").read_text()
    assert "| subject | seed | 4 min | 8 min |" in table  # budgets the runs reached
    assert "| sm:unet/x | 1 | 0.910 / 0.910 | 0.910 / 0.910 |" in table
    assert "Machine: m, float32 matmul 9 GFLOP/s." in table and "Note: shared" in table
