"""The README's pictures, drawn by zoo.viz from a trained ISBI 2012 run:

    python -m benchmarks.pictures RUN_DIR   # writes benchmarks/results/pictures_*.png

- ``pictures_prediction.png``: validation slice 20 (a 256-px corner), its membranes,
  the run's ``model.keras`` prediction and the errors (``zoo.viz.prediction_figure``);
- ``pictures_weight_map.png``: slice 0's U-Net weight map (``zoo.viz.weight_map_figure``);
- ``pictures_curves.png``: the run's training curves (as ``zoo plot RUN --out ...``).
"""

from __future__ import annotations

import sys
from pathlib import Path

OUT = Path(__file__).resolve().parent / "results"


def main(run_dir: str) -> None:
    import keras

    import zoo
    from zoo import viz
    from zoo.data import load_isbi2012, unet_weight_map

    run = Path(run_dir)
    val = load_isbi2012(slices=[20])
    model = keras.saving.load_model(run / "model.keras", compile=False)
    probs = zoo.predict_tiled(model, val.images[0], tile_size=256, overlap=64)
    corner = (slice(0, 256), slice(0, 256))
    viz.prediction_figure(val.images[0][corner], val.membranes[0][corner],
                          probs[corner], title=f"{run.name}, slice 20 (membranes)").savefig(
        OUT / "pictures_prediction.png", dpi=80)
    train = load_isbi2012(slices=[0])
    viz.weight_map_figure(unet_weight_map(train.labels)[0][corner],
                          train.images[0][corner]).savefig(OUT / "pictures_weight_map.png",
                                                             dpi=80)
    viz.training_curves(run, title=run.name).savefig(OUT / "pictures_curves.png", dpi=80)
    print("wrote", *sorted(p.name for p in OUT.glob("pictures_*.png")))


if __name__ == "__main__":
    main(sys.argv[1])
