"""Pictures with matplotlib (``pip install "unet-zoo[viz]"``): a prediction against
the ground truth, a weight map, a run's training curves and a confusion matrix. Each
function returns a ``matplotlib.figure.Figure``; save it with ``fig.savefig(path)``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .checks import binary_mask

FALSE_POSITIVE = (1.0, 0.55, 0.0)  # orange: predicted, not true
FALSE_NEGATIVE = (0.0, 0.6, 1.0)  # blue: true, missed


def _pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg", force=False)
        from matplotlib import pyplot
    except ImportError:
        raise ImportError('zoo.viz draws with matplotlib: pip install "unet-zoo[viz]" '
                          "(or matplotlib)") from None
    return pyplot


def _gray(image) -> np.ndarray:
    image = np.asarray(image, dtype=np.float32)
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[-1] not in (3, 4)):
        raise ValueError(f"image must be (H, W), (H, W, 1) or RGB (H, W, 3), got {image.shape}")
    return image


def error_map(truth, prediction) -> np.ndarray:
    """(H, W) binary truth and prediction -> (H, W, 3) RGB: true positives white,
    false positives orange, false negatives blue, true negatives black."""
    truth, prediction = binary_mask(truth, "truth"), binary_mask(prediction, "prediction")
    if truth.shape != prediction.shape or truth.ndim != 2:
        raise ValueError(f"truth {truth.shape} and prediction {prediction.shape} must be the "
                         "same (H, W)")
    rgb = np.zeros((*truth.shape, 3), np.float32)
    rgb[truth & prediction] = 1.0
    rgb[~truth & prediction] = FALSE_POSITIVE
    rgb[truth & ~prediction] = FALSE_NEGATIVE
    return rgb


def prediction_figure(image, truth, probabilities, *, threshold: float = 0.5, title=None):
    """Image, ground truth, prediction (probabilities) and errors side by side.

    ``image`` (H, W[, C]) in [0, 1]; ``truth`` (H, W) 0/1; ``probabilities``
    (H, W) foreground probabilities; errors at ``threshold``.
    """
    probabilities = np.asarray(probabilities, dtype=np.float32)
    if probabilities.ndim == 3 and probabilities.shape[-1] == 1:
        probabilities = probabilities[..., 0]
    truth, predicted = binary_mask(truth, "truth"), probabilities > threshold
    errors = error_map(truth, predicted)
    plt = _pyplot()
    fig, axes = plt.subplots(1, 4, figsize=(16, 4.4))
    panels = [(_gray(image), "image", "gray"), (truth, "ground truth", "gray"),
              (probabilities, "prediction (probability)", "magma"),
              (errors, "errors: orange FP, blue FN", None)]
    for ax, (data, name, cmap) in zip(axes, panels, strict=True):
        ax.imshow(data, cmap=cmap, vmin=0, vmax=1, interpolation="nearest")
        ax.set_title(name)
        ax.axis("off")
    fp, fn = int((~truth & predicted).sum()), int((truth & ~predicted).sum())
    fig.suptitle((title + ": " if title else "") + f"{fp} false positive, {fn} false "
                 f"negative pixels at threshold {threshold}")
    fig.tight_layout()
    return fig


def weight_map_figure(weights, image=None, *, title="U-Net weight map"):
    """A weight map (H, W) as a heat map with a colour bar, beside its image if given."""
    weights = np.asarray(weights, dtype=np.float32)
    if weights.ndim != 2:
        raise ValueError(f"weights must be one (H, W) map, got {weights.shape}")
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2 if image is not None else 1, figsize=(
        10 if image is not None else 5.5, 4.6), squeeze=False)
    if image is not None:
        axes[0, 0].imshow(_gray(image), cmap="gray", vmin=0, vmax=1)
        axes[0, 0].set_title("image")
        axes[0, 0].axis("off")
    ax = axes[0, -1]
    shown = ax.imshow(weights, cmap="inferno")
    ax.set_title(f"{title} ({weights.min():.2f}..{weights.max():.2f})")
    ax.axis("off")
    fig.colorbar(shown, ax=ax, fraction=0.046)
    fig.tight_layout()
    return fig


def confusion_figure(confusion, names=None, *, title="confusion matrix"):
    """A (K, K) confusion matrix of pixel counts (rows: truth, columns: prediction, as
    :class:`zoo.confusion.ConfusionScores` keeps it), each row as fractions of its truth
    class's pixels, the fraction written in each cell."""
    counts = np.asarray(confusion, dtype=np.float64)
    if counts.ndim != 2 or counts.shape[0] != counts.shape[1]:
        raise ValueError(f"confusion must be a square (K, K) matrix, got {counts.shape}")
    k = counts.shape[0]
    names = [str(n) for n in names] if names is not None else [str(c) for c in range(k)]
    if len(names) != k:
        raise ValueError(f"{len(names)} names for a {k}-class confusion matrix")
    from .confusion import row_fractions

    fractions = row_fractions(counts)
    plt = _pyplot()
    side = 2.5 + 0.45 * k
    fig, ax = plt.subplots(figsize=(side + 1, side))
    shown = ax.imshow(fractions, cmap="Blues", vmin=0, vmax=1)
    for (row, column), value in np.ndenumerate(fractions):
        if counts[row, column]:
            ax.text(column, row, f"{value:.2f}", ha="center", va="center", fontsize=7,
                    color="white" if value > 0.6 else "black")
    ax.set(xticks=range(k), yticks=range(k), xlabel="predicted", ylabel="truth", title=title)
    ax.set_xticklabels(names, rotation=45, ha="right")
    ax.set_yticklabels(names)
    fig.colorbar(shown, ax=ax, fraction=0.046, label="fraction of the truth class's pixels")
    fig.tight_layout()
    return fig


def run_history(run_dir) -> list[dict]:
    """The points of a run directory's history: ``metrics.json`` when the run has
    finished, else its last ``state.json`` (a run in progress)."""
    run_dir = Path(run_dir)
    for name in ("metrics.json", "state.json"):
        path = run_dir / name
        if path.is_file():
            history = json.loads(path.read_text()).get("history") or []
            if history:
                return history
    raise FileNotFoundError(f"{run_dir} holds no training history (metrics.json or "
                            "state.json of zoo.training.train)")


def training_curves(run_dir, *, title=None):
    """Training loss and the validation scores of a run directory against the step."""
    history = run_history(run_dir)
    steps = [point["step"] for point in history]
    scores = sorted({k for point in history for k in point
                     if k.startswith("val_") and isinstance(point[k], int | float)})
    plt = _pyplot()
    fig, (loss_ax, score_ax) = plt.subplots(1, 2, figsize=(13, 4.2))
    for key in ("loss", "val_loss"):
        if any(key in point for point in history):
            loss_ax.plot(steps, [point.get(key, np.nan) for point in history], marker=".",
                         label=key)
    loss_ax.set_xlabel("step")
    loss_ax.set_ylabel("loss")
    loss_ax.set_yscale("log")
    loss_ax.legend()
    for key in scores:
        if key == "val_loss":
            continue
        score_ax.plot(steps, [point.get(key, np.nan) for point in history], marker=".",
                      label=key[4:])
    score_ax.set_xlabel("step")
    score_ax.set_ylabel("validation score")
    score_ax.legend(fontsize="small", loc="center left", bbox_to_anchor=(1.02, 0.5))
    score_ax.grid(alpha=0.3)
    fig.suptitle(title or str(run_dir))
    fig.tight_layout()
    return fig
