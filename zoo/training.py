"""Resumable training: atomic checkpoints, validation by ISBI scores, best-model keeping."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import keras
import numpy as np

from .evaluation import dice_score, iou_score, isbi_scores
from .inference import predict_tiled

CHECKPOINT, STATE, BEST = "checkpoint.keras", "state.json", "best.keras"


def write_json_atomic(path, data) -> None:
    """Write JSON so that readers see the old or the new file, never half of one."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2, default=float) + "\n")
    os.replace(tmp, path)


def save_model_atomic(model: keras.Model, path) -> None:
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.tmp.keras")
    model.save(tmp)
    os.replace(tmp, path)


def read_state(run_dir) -> dict | None:
    path = Path(run_dir) / STATE
    return json.loads(path.read_text()) if path.is_file() else None


class AtomicCheckpoint(keras.callbacks.Callback):
    """At every epoch end, save the compiled model (weights and optimizer state)
    to ``run_dir/checkpoint.keras`` and the progress to ``run_dir/state.json``,
    each by write-then-rename, so an interruption leaves the last complete pair."""

    def __init__(self, run_dir, steps_per_epoch: int, extra_state=None):
        super().__init__()
        self.run_dir, self.steps_per_epoch = Path(run_dir), steps_per_epoch
        self.state = {"epoch": 0, "step": 0, "history": [], **(extra_state or {})}

    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.time()

    def on_epoch_end(self, epoch, logs=None):
        self.state["epoch"] = epoch + 1
        self.state["step"] = (epoch + 1) * self.steps_per_epoch
        self.state["history"].append({"epoch": epoch + 1, "time": time.time(),
                                      "seconds": time.time() - self.started,
                                      **{k: float(v) for k, v in (logs or {}).items()}})
        save_model_atomic(self.model, self.run_dir / CHECKPOINT)
        write_json_atomic(self.run_dir / STATE, self.state)


class SegmentationValidation(keras.callbacks.Callback):
    """Every ``every`` epochs: overlap-tile prediction of the validation images,
    scores into the logs (``val_v_rand``, ``val_v_info``, ``val_pixel_error`` with
    ISBI labels; ``val_iou``, ``val_dice`` always), and the best model by
    ``monitor`` saved to ``run_dir/best.keras``."""

    def __init__(self, images, masks, run_dir, *, isbi_labels=None, every: int = 1,
                 monitor: str = "val_v_rand", channel: int = -1, tile_kwargs=None,
                 best_score: float = -np.inf):
        super().__init__()
        self.images, self.masks, self.isbi_labels = images, masks, isbi_labels
        self.run_dir, self.every, self.monitor = Path(run_dir), every, monitor
        self.channel, self.tile_kwargs = channel, tile_kwargs or {}
        self.best = best_score

    def scores(self, model) -> dict:
        probs = predict_tiled(model, self.images, verbose=False, **self.tile_kwargs)
        return score_predictions(probs[..., self.channel], self.masks, self.isbi_labels)

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every:
            return
        scores = {f"val_{k}": v for k, v in self.scores(self.model).items()}
        if logs is not None:
            logs.update(scores)
        if scores[self.monitor] > self.best:
            self.best = scores[self.monitor]
            save_model_atomic(self.model, self.run_dir / BEST)
        print(" - ".join(f"{k}: {v:.4f}" for k, v in scores.items()), flush=True)


def score_predictions(probs, masks, isbi_labels=None) -> dict:
    """IoU and Dice of ``probs > 0.5`` vs binary ``masks``; with ISBI labels (0/255)
    also V_rand, V_info, Rand and pixel error of ``probs`` as membrane maps."""
    scores = {"iou": iou_score(masks, probs), "dice": dice_score(masks, probs)}
    if isbi_labels is not None:
        isbi = isbi_scores(isbi_labels, probs)
        scores.update({k: isbi[k] for k in ("v_rand", "v_info", "rand_error", "pixel_error")})
    return scores


def fit_resumable(build, dataset, run_dir, *, epochs: int, resume: bool = False,
                  callbacks=(), verbose="auto"):
    """Train ``build()``'s compiled model for ``epochs`` passes over ``dataset``.

    ``dataset``: a ``SegmentationDataset`` (or any PyDataset with an ``epoch``
    attribute); a checkpoint is written after every pass (``len(dataset)``
    steps), so the checkpoint interval is set by the dataset's ``steps``. With
    ``resume`` and a checkpoint in ``run_dir``, the model, optimizer state and
    data position are restored and training continues after the last
    checkpoint; without ``resume`` an existing run is never overwritten.
    Returns (model, state).
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    state = read_state(run_dir) if resume else None
    if state and (run_dir / CHECKPOINT).is_file():
        model = keras.saving.load_model(run_dir / CHECKPOINT)
        print(f"resuming after step {state['step']} ({run_dir / CHECKPOINT})", flush=True)
    else:
        if not resume and (run_dir / STATE).is_file():
            raise FileExistsError(f"{run_dir} holds an earlier run; pass --resume to continue "
                                  "it or choose another output directory")
        model, state = build(), None
    checkpoint = AtomicCheckpoint(run_dir, len(dataset), extra_state={"epochs": epochs})
    initial_epoch = 0
    if state:
        checkpoint.state.update(state)
        initial_epoch = state["epoch"]
        for callback in callbacks:
            if isinstance(callback, SegmentationValidation):
                callback.best = state.get("best_score", callback.best)
    dataset.epoch = initial_epoch
    if initial_epoch < epochs:
        model.fit(dataset, epochs=epochs, initial_epoch=initial_epoch, verbose=verbose,
                  callbacks=[*callbacks, _BestScoreToState(checkpoint, callbacks), checkpoint])
    return model, checkpoint.state


class _BestScoreToState(keras.callbacks.Callback):
    def __init__(self, checkpoint, callbacks):
        super().__init__()
        self.checkpoint = checkpoint
        self.validation = [c for c in callbacks if isinstance(c, SegmentationValidation)]

    def on_epoch_end(self, epoch, logs=None):
        for validation in self.validation:
            self.checkpoint.state["best_score"] = float(validation.best)
