"""Training: one entry point, :func:`train`, that owns a run directory and its resume.

A run directory holds, and only ``train`` writes:

- ``checkpoint.keras`` + ``state.json``: the compiled model (weights and optimizer
  state) and the progress after the last checkpoint, each written by
  write-then-rename, so an interruption leaves the last complete pair;
- ``best.keras``: the model with the best validation score so far;
- ``last.keras``: the model at the end of training;
- ``model.keras``: the kept model (``keep="best"``: the best by validation, else
  the last; ``keep="last"``: the last);
- ``metrics.json``: the run's record (scores, steps, times, history);
- ``config.toml``: the run's settings, when :func:`train` is given them
  (``zoo train --config RUN/config.toml --out NEW`` repeats the run).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import keras
import numpy as np

from .. import checks
from ..evaluation import class_scores, dice_score, iou_score, isbi_scores
from ..files import write_atomic, write_json_atomic
from ..inference import predict_tiled
from ..saving import load_model, save_portable

CHECKPOINT, STATE, BEST = "checkpoint.keras", "state.json", "best.keras"
STAGED = ".checkpoint.staged.keras"
MODEL, LAST, METRICS = "model.keras", "last.keras", "metrics.json"
CONFIG = "config.toml"
RUN_FILES = (CHECKPOINT, STATE, BEST, LAST, MODEL, METRICS, CONFIG)


def save_model_atomic(model: keras.Model, path) -> None:
    write_atomic(path, lambda tmp: save_portable(model, tmp))


def _pending(run_dir: Path, step: int) -> Path:
    return run_dir / f".checkpoint.step{step}.keras"


def recover_checkpoint(run_dir) -> None:
    """After a run was killed: put a committed checkpoint in place and remove the
    uncommitted and half-written files. ``state.json`` is the commit point: a checkpoint
    is staged as ``.checkpoint.step{N}.keras``, then the state of step N is written,
    then the checkpoint is renamed into place, so a kill at any moment leaves either
    the old checkpoint and state or the new state and its staged checkpoint."""
    run_dir = Path(run_dir)
    state = read_state(run_dir)
    if state is not None and _pending(run_dir, state["step"]).is_file():
        os.replace(_pending(run_dir, state["step"]), run_dir / CHECKPOINT)
    for leftover in [*run_dir.glob(".checkpoint.*.keras"), *run_dir.glob(".*.tmp.*")]:
        if leftover.is_file():
            leftover.unlink()


def _generators(model) -> list:
    # in model order: the paths repeat ("seed_generator/seed_generator_state" per layer)
    return [v for v in model.variables if v.path.endswith("seed_generator_state")]


def dropout_rng(model) -> list:
    """The states of ``model``'s random-number generators (dropout's), in layer order:
    Keras saves a model without them, so a resumed run would draw other dropout masks."""
    return [keras.ops.convert_to_numpy(v).tolist() for v in _generators(model)]


def restore_dropout_rng(model, states: list) -> None:
    generators = _generators(model)
    if len(generators) == len(states):
        for variable, value in zip(generators, states, strict=True):
            variable.assign(np.asarray(value, dtype=variable.dtype))


def read_state(run_dir) -> dict | None:
    path = Path(run_dir) / STATE
    return json.loads(path.read_text()) if path.is_file() else None


def new_state() -> dict:
    return {"epoch": 0, "step": 0, "train_s": 0.0, "wall_s": 0.0, "history": []}


class AtomicCheckpoint(keras.callbacks.Callback):
    """Progress and checkpoints of a run; place it after the validation callback.

    Counts steps and training seconds (validation and checkpointing excluded),
    stops training once ``budget_s`` training seconds are spent (after the
    current batch), and at every epoch end appends a history point (step,
    cumulative ``train_s`` and ``wall_s``, the epoch's logs, validation scores
    included) and commits ``checkpoint.keras`` with ``state.json`` (see
    :func:`recover_checkpoint`), so a run killed at any moment resumes from its last
    finished epoch.
    """

    def __init__(self, run_dir, *, state=None, validation=None, budget_s=None):
        super().__init__()
        self.run_dir, self.validation, self.budget_s = Path(run_dir), validation, budget_s
        self.state = state if state is not None else new_state()

    def on_epoch_begin(self, epoch, logs=None):
        self.begin = self.last_batch = time.perf_counter()
        self.batches = 0

    def on_train_batch_end(self, batch, logs=None):
        self.last_batch = time.perf_counter()
        self.batches += 1
        spent = self.state["train_s"] + self.last_batch - self.begin
        if self.budget_s is not None and spent >= self.budget_s:
            self.model.stop_training = True  # Keras still ends the epoch (validation, here)

    def on_epoch_end(self, epoch, logs=None):
        state = self.state
        state["epoch"] = epoch + 1
        state["step"] += self.batches
        state["train_s"] += self.last_batch - self.begin
        state["wall_s"] += time.perf_counter() - self.begin
        if self.validation is not None:
            state["best_score"] = float(self.validation.best)
        state["rng"] = dropout_rng(self.model)
        state["history"].append({
            "epoch": epoch + 1, "step": state["step"], "train_s": state["train_s"],
            "wall_s": state["wall_s"], "time": time.time(),
            **{k: float(v) for k, v in (logs or {}).items()}})
        staged, pending = self.run_dir / STAGED, _pending(self.run_dir, state["step"])
        if staged.is_file():  # saved by SaveTrainingWeights before any weight swap
            os.replace(staged, pending)
        else:
            save_model_atomic(self.model, pending)
        write_json_atomic(self.run_dir / STATE, state)  # the commit point
        os.replace(pending, self.run_dir / CHECKPOINT)


class SaveTrainingWeights(keras.callbacks.Callback):
    """Stage the checkpoint at epoch end before any callback swaps weights (EMA),
    so the checkpoint holds the training weights; :class:`AtomicCheckpoint` puts it
    in place together with the state."""

    def __init__(self, run_dir):
        super().__init__()
        self.run_dir = Path(run_dir)

    def on_epoch_end(self, epoch, logs=None):
        self.model.save(self.run_dir / STAGED)


class EMAWeightsBetweenEpochs(keras.callbacks.Callback):
    """With an optimizer's ``use_ema=True``: between epochs the model holds the
    moving-average weights (for validation, ``best.keras``, ``model.keras``),
    during them its training weights.

    Keras's ``SwapEMAWeights`` and ``Optimizer.finalize_variable_values`` assign
    one variable to another, which on JAX makes both hold one buffer; the next
    ``predict_on_batch`` donates it and the optimizer's average is deleted
    ("Array has been deleted" at the next save). Here every value is copied
    through NumPy, also after Keras's own final assignment.
    """

    def __init__(self):
        super().__init__()
        self.training = None

    def on_epoch_end(self, epoch, logs=None):
        self.training = [keras.ops.convert_to_numpy(v) for v in self.model.trainable_variables]
        moving_average_weights(self.model)

    def on_epoch_begin(self, epoch, logs=None):
        if self.training is not None:
            for variable, value in zip(self.model.trainable_variables, self.training,
                                       strict=True):
                variable.assign(value)
            self.training = None

    def on_train_end(self, logs=None):
        _unshare(self.model)  # fit() ends with finalize_variable_values


def moving_average_weights(model) -> None:
    """Put the ``use_ema`` optimizer's moving-average weights into ``model``, each
    value copied (see :class:`EMAWeightsBetweenEpochs`)."""
    model.optimizer.finalize_variable_values(model.trainable_variables)
    _unshare(model)


def _unshare(model) -> None:
    for variable in model.trainable_variables:
        variable.assign(keras.ops.convert_to_numpy(variable))


class SegmentationValidation(keras.callbacks.Callback):
    """Every ``every`` epochs: overlap-tile prediction of the validation images (a
    stack, or a list of images of different sizes; IoU and Dice then count the
    pixels of all of them), scores into the logs (``val_v_rand``, ``val_v_info``,
    ``val_pixel_error`` with ISBI labels, and ``val_post_*`` of the map after
    ``postprocess``, e.g. ``zoo.postprocess.watershed_boundaries``; ``val_iou``,
    ``val_dice`` always), and the best model by ``monitor`` saved to
    ``run_dir/best.keras``. ``channel``: the output channel scored against binary
    masks; ``None`` scores class maps against every channel (mean IoU and Dice
    over the foreground classes)."""

    def __init__(self, images, masks, run_dir, *, isbi_labels=None, every: int = 1,
                 monitor: str = "val_v_rand", channel: int | None = -1, tile_kwargs=None,
                 postprocess=None, best_score: float = -np.inf, verbose: bool = True):
        super().__init__()
        self.images, self.masks, self.isbi_labels = images, masks, isbi_labels
        self.run_dir, self.every, self.monitor = Path(run_dir), every, monitor
        self.channel, self.tile_kwargs = channel, tile_kwargs or {}
        self.postprocess, self.best, self.verbose = postprocess, best_score, verbose

    def predictions(self, model, **tile_kwargs):
        """The scored maps of the validation images: a list of (H, W[, K]) arrays for a
        list of images, else one (N, H, W[, K]) array."""
        kwargs = {**self.tile_kwargs, **tile_kwargs}
        if isinstance(self.images, list | tuple):
            return [self._channel(predict_tiled(model, image, verbose=False, **kwargs))
                    for image in self.images]
        return self._channel(predict_tiled(model, self.images, verbose=False, **kwargs))

    def scores(self, model, **tile_kwargs) -> dict:
        probs = self.predictions(model, **tile_kwargs)
        if isinstance(probs, list):  # sizes may differ: score all pixels
            return score_image_list(probs, self.masks)
        return score_predictions(probs, self.masks, self.isbi_labels, self.postprocess)

    def _channel(self, probs):
        return probs if self.channel is None else probs[..., self.channel]

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every and not self.model.stop_training:
            return
        scores = {f"val_{k}": v for k, v in self.scores(self.model).items()}
        if logs is not None:
            logs.update(scores)
        if scores[self.monitor] > self.best:
            self.best = scores[self.monitor]
            save_model_atomic(self.model, self.run_dir / BEST)
        if self.verbose:
            print(" - ".join(f"{k}: {v:.4f}" for k, v in scores.items()), flush=True)


def score_predictions(probs, masks, isbi_labels=None, postprocess=None) -> dict:
    """IoU and Dice of ``probs > 0.5`` vs binary ``masks`` (or, for ``probs`` with a
    class axis more than ``masks``, their means over the foreground classes of the
    argmax, :func:`zoo.evaluation.class_scores`); with ISBI labels (0/255)
    also V_rand, V_info, Rand, pixel and warping error of ``probs`` as membrane maps, and
    with ``postprocess`` (a function of the maps) the same four after it, as
    ``post_v_rand``, ``post_v_info``, ..."""
    if np.ndim(probs) == np.ndim(masks) + 1:
        return class_scores(masks, probs)
    scores = {"iou": iou_score(masks, probs), "dice": dice_score(masks, probs)}
    if isbi_labels is not None:
        keys = ("v_rand", "v_info", "rand_error", "pixel_error", "warping_error")
        isbi = isbi_scores(isbi_labels, probs)
        scores.update({k: isbi[k] for k in keys})
        if postprocess is not None:
            post = isbi_scores(isbi_labels, postprocess(np.asarray(probs, np.float32)))
            scores.update({f"post_{k}": post[k] for k in keys})
    return scores


def score_image_list(probs: list, masks: list) -> dict:
    """:func:`score_predictions` of images of different sizes: every pixel counts once."""
    classes = probs[0].shape[-1:] if np.ndim(probs[0]) == np.ndim(masks[0]) + 1 else ()
    return score_predictions(np.concatenate([np.reshape(p, (-1, *classes)) for p in probs]),
                             np.concatenate([np.ravel(m) for m in masks]))


def train(build, dataset, run_dir, *, steps: int, validation=None, resume: bool = False,
          budget_s: float | None = None, keep: str = "best", tta: str | None = None,
          callbacks=(), verbose="auto", info: dict | None = None,
          session: dict | None = None, jit_compile: bool | None = None,
          config: dict | None = None) -> dict:
    """Train ``build()``'s compiled model in ``run_dir`` and return the run's record.

    Args:
        build: a function returning a compiled ``keras.Model`` (called only when
            the run starts afresh; a resumed run loads its checkpoint).
        dataset: a ``SegmentationDataset`` (or any ``PyDataset`` with an ``epoch``
            attribute); one pass (``len(dataset)`` steps) is the interval between
            checkpoints and validations.
        run_dir: the run directory (see the module docstring for its files).
        steps: training steps in total (rounded up to whole passes).
        validation: a :class:`SegmentationValidation` writing into ``run_dir``,
            or ``None`` (the final model is then the last one).
        resume: continue the run in ``run_dir`` after its last checkpoint (model,
            optimizer state, data position, history, best score); a run dir
            with nothing to resume starts afresh. Without ``resume`` an earlier
            run is never overwritten (``FileExistsError``).
        budget_s: stop once this many seconds of training (validation and
            checkpoints excluded) are spent, mid-pass if need be.
        keep: the model kept as ``model.keras`` and scored in the record:
            ``"best"``, the best validation point by ``validation.monitor`` (the
            last without validation); ``"last"``, the model at the end of
            training (validated at its step; ``best.keras`` is still written).
            Selecting among checkpoints on the validation slices favours a lucky
            one; ``"last"`` scores what a ``--final`` run would keep.
        tta: also score the final model with test-time augmentation
            (``"flips"`` or ``"d4"``, see ``predict_tiled``) under ``record["tta"]``.
        callbacks: more Keras callbacks (they run before the checkpoint).
        info: extra entries for the record (e.g. the command's arguments).
        session: what this call trains on (e.g. the machine and its measured matmul
            GFLOP/s, the reference a timing needs), kept with the step it starts
            from in the run's ``sessions`` list (``state.json`` and the record):
            a run resumed on another machine names each one.
        jit_compile: ``None`` keeps the model's own (its ``compile`` argument; a
            resumed run, its checkpoint's); ``True`` or ``False`` sets XLA on or off
            for this call's training and validation (how a run is carried out, not
            what it trains, so a resumed run may change it).

    Returns:
        The record written to ``metrics.json``: the kept model's validation
        scores (``v_rand``, ``v_info``, ``pixel_error``, ``iou``, ``dice``, ...),
        ``keep``, ``kept_step``, ``steps``, ``train_s`` (training clock), ``wall_s``
        (validation and checkpoints included), ``backend``, ``precision`` and
        ``history`` (one point per checkpoint: step, times, logs, scores) and
        ``sessions`` (see ``session``).

    An optimizer with ``use_ema=True`` trains as usual; validation, ``best.keras``
    and ``model.keras`` use its moving-average weights, and the checkpoint
    keeps the training weights (so a resumed run continues exactly).
    """
    if keep not in ("best", "last"):
        raise ValueError(f"keep must be 'best' or 'last', got {keep!r}")
    checks.positive_int(steps, "steps")
    if budget_s is not None and not budget_s >= 0:
        raise ValueError(f"budget_s must be >= 0 seconds (or None), got {budget_s}")
    run_dir = Path(run_dir)
    if run_dir.exists() and not run_dir.is_dir():
        raise NotADirectoryError(f"run_dir {run_dir} is a file; choose a folder")
    created = not run_dir.exists()
    run_dir.mkdir(parents=True, exist_ok=True)
    try:
        return _train(build, dataset, run_dir, steps, validation, resume, budget_s, keep, tta,
                      callbacks, verbose, info, session, jit_compile, config)
    except BaseException:
        if created and not (run_dir / CHECKPOINT).is_file():  # nothing to resume: no folder
            shutil.rmtree(run_dir, ignore_errors=True)
        raise


def _train(build, dataset, run_dir, steps, validation, resume, budget_s, keep, tta, callbacks,
           verbose, info, session, jit_compile, config) -> dict:
    if resume:
        recover_checkpoint(run_dir)
    earlier = [name for name in RUN_FILES if (run_dir / name).is_file()]
    state = read_state(run_dir) if resume and (run_dir / CHECKPOINT).is_file() else None
    state = {**new_state(), **state} if state is not None else None
    listed = ", ".join(earlier)
    check_run_dir(run_dir, resume)
    if state is None and set(earlier) - {BEST, CONFIG}:
        raise FileExistsError(f"{run_dir} holds files of a run ({listed}) but no {CHECKPOINT} "
                              "to resume from; choose another output directory")
    if state is not None:
        model = load_model(run_dir / CHECKPOINT, compile=True, what="checkpoint")
        restore_dropout_rng(model, state.get("rng", []))
        if verbose:
            print(f"resuming after step {state['step']} ({run_dir / CHECKPOINT})", flush=True)
        if validation is not None:
            validation.best = state.get("best_score", validation.best)
    else:
        (run_dir / BEST).unlink(missing_ok=True)  # from a first pass cut before its checkpoint
        model, state = build(), new_state()
    if config is not None:  # on resume too: a moved data folder, the runtime settings
        write_config(run_dir / CONFIG, config)
    if jit_compile is not None:
        model.jit_compile = jit_compile
    if session is not None:
        state.setdefault("sessions", []).append({"step": state["step"], **session})
    checkpoint = AtomicCheckpoint(run_dir, state=state, validation=validation,
                                  budget_s=budget_s)
    epochs = -(-steps // len(dataset))
    spent = budget_s is not None and state["train_s"] >= budget_s
    ema = getattr(model.optimizer, "use_ema", False)
    if state["epoch"] < epochs and state["step"] < steps and not spent:
        dataset.epoch = state["epoch"]
        first = [SaveTrainingWeights(run_dir)]
        if ema:  # validate and keep the EMA weights
            first.append(EMAWeightsBetweenEpochs())
        if validation is not None:
            first.append(validation)
        # shuffle=False: a batch is a function of (seed, epoch, index) alone, and Keras would
        # shuffle the indices with Python's global random state, which a resumed process
        # does not share, so a resumed run would see the batches in another order.
        model.fit(dataset, epochs=epochs, initial_epoch=state["epoch"], verbose=verbose,
                  callbacks=[*first, *callbacks, checkpoint], shuffle=False)
    elif ema:  # nothing left to train: the checkpoint holds the training weights
        moving_average_weights(model)
    return _finish(model, run_dir, checkpoint.state, validation, keep, tta, info, verbose)


def check_run_dir(run_dir, resume: bool) -> None:
    """Refuse, before any work, a folder holding an earlier run unless ``resume``
    (``FileExistsError`` naming its files). A run stopped before its first checkpoint
    (its settings and at most a ``best.keras`` of the cut first pass) trained nothing that
    can be continued, so a new run may start there."""
    run_dir = Path(run_dir)
    earlier = [name for name in RUN_FILES if (run_dir / name).is_file()]
    if set(earlier) - {BEST, CONFIG} and not resume:
        raise FileExistsError(f"{run_dir} holds an earlier run ({', '.join(earlier)}); pass "
                              "resume=True (--resume) to continue it or choose another "
                              "output directory")


def write_config(path, config: dict) -> None:
    """``config`` as TOML, written atomically (``tomli_w``)."""
    import tomli_w

    text = ("# zoo train settings, resolved; `zoo train --config THIS --out NEW` repeats them\n"
            + tomli_w.dumps(config))
    write_atomic(path, lambda target: Path(target).write_text(text))


def _finish(model, run_dir, state, validation, keep, tta, info, verbose) -> dict:
    """Keep the final model (``keep``: the best by validation or the last) and write
    the record."""
    best = run_dir / BEST
    save_model_atomic(model, run_dir / LAST)
    if keep == "best" and best.is_file():
        model = load_model(best, compile=True, what="best model")
    record = {"steps": state["step"], "train_s": state["train_s"], "wall_s": state["wall_s"],
              "keep": keep}
    if validation is not None:
        scored = [p for p in state["history"] if validation.monitor in p]
        if keep == "last":
            scored = [p for p in scored[-1:] if p["step"] == state["step"]]
        if scored:
            point = max(scored, key=lambda p: p[validation.monitor])
            record["kept_step"] = point["step"]
            record.update({k[4:]: v for k, v in point.items() if k.startswith("val_")})
        else:  # the kept model has no validation point: score it now
            record.update(validation.scores(model))
            record["kept_step"] = state["step"]
        if tta:
            record["tta"] = {"mode": tta, **validation.scores(model, tta=tta)}
    save_model_atomic(model, run_dir / MODEL)
    record.update({"backend": keras.backend.backend(),
                   "precision": keras.mixed_precision.global_policy().name,
                   **(info or {}), "sessions": state.get("sessions", []),
                   "history": state["history"]})
    write_json_atomic(run_dir / METRICS, record)
    scores = [f"{k} {record[k]:.4f}" for k in ("v_rand", "v_info", "pixel_error",
                                                "post_v_rand", "post_v_info", "iou", "dice")
              if k in record]
    if verbose and scores:
        print("final " + "  ".join(scores), flush=True)
    return record
