"""Training: the loop that owns a run directory (:mod:`zoo.training.loop`), how the
presets compile and run a model (:mod:`zoo.training.setup`), the settings and presets
(:mod:`zoo.training.config`) and a run from settings (:mod:`zoo.training.run`)."""

from .config import (
    DEFAULTS,
    SETTINGS,
    list_presets,
    load_preset,
    preset_about,
    read_config,
    resolve,
)
from .loop import (
    CHECKPOINT,
    CONFIG,
    METRICS,
    MODEL,
    RUN_FILES,
    STATE,
    AtomicCheckpoint,
    EMAWeightsBetweenEpochs,
    SaveTrainingWeights,
    SegmentationValidation,
    moving_average_weights,
    read_state,
    recover_checkpoint,
    save_model_atomic,
    score_predictions,
    train,
)
from .run import build_model, read_out_of_fold, resume_config, run, run_folds, score_folds
from .setup import compile_model, default_jit_compile, prepare, set_bn_momentum

__all__ = [
    "CHECKPOINT", "CONFIG", "DEFAULTS", "METRICS", "MODEL", "RUN_FILES", "SETTINGS", "STATE",
    "AtomicCheckpoint", "EMAWeightsBetweenEpochs", "SaveTrainingWeights",
    "SegmentationValidation", "build_model", "compile_model", "default_jit_compile",
    "list_presets", "load_preset", "moving_average_weights", "prepare", "preset_about",
    "read_config", "read_out_of_fold",
    "read_state", "recover_checkpoint", "resolve", "resume_config", "run", "run_folds",
    "save_model_atomic", "score_folds", "score_predictions", "set_bn_momentum", "train",
]
