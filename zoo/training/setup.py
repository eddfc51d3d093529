"""How the presets compile and run a model: seed, precision, XLA, data parallelism,
the optimizer with its cosine schedule and moving average, batch-norm momentum.

These are the compile defaults of the training task (as keras-hub keeps them with
the task): ``zoo train`` and :func:`zoo.training.run` call them, and so can a
script that wants the presets' training without the command line.
"""

from __future__ import annotations

import contextlib
import statistics
import time

import keras

from .. import checks, machine

OPTIMIZERS = ("adam", "sgd")
#: CPU features with bfloat16 arithmetic in hardware (``/proc/cpuinfo`` names).
NATIVE_BFLOAT16 = ("amx_bf16", "avx512_bf16")


def prepare(*, seed: int, precision: str = "float32", xla: bool = True,
            distribute: bool = False, batch_size: int | None = None):
    """Seed every generator, set the global mixed-precision policy and, with
    ``distribute``, data parallelism over all local devices (``keras.distribution``,
    which Keras 3 provides on JAX only). Returns the context to build models in.

    ``xla=False`` is refused on JAX, which always compiles.
    """
    backend = keras.backend.backend()
    keras.utils.set_random_seed(seed)
    keras.mixed_precision.set_global_policy(precision)
    if not xla and backend == "jax":
        raise ValueError("xla = off runs TensorFlow's (or PyTorch's) own kernels; JAX always "
                         "compiles with XLA: pass --xla on (also over a preset's, e.g. "
                         "isbi2012/best_amx), or run with KERAS_BACKEND=tensorflow")
    if not distribute:
        return contextlib.nullcontext()
    if backend != "jax":
        raise ValueError(f"distribute: data parallelism goes through keras.distribution, "
                         f"which Keras 3 provides on JAX only (the {backend} backend has "
                         "none in Keras' public API): run with KERAS_BACKEND=jax")
    devices = keras.distribution.list_devices()
    if batch_size is not None and batch_size % len(devices):
        raise ValueError(f"batch-size {batch_size} must be divisible by the "
                         f"{len(devices)} devices")
    keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices))
    print(f"data-parallel over {len(devices)} devices: {devices}", flush=True)
    return contextlib.nullcontext()


def choose_precision(build, batch, *, repeats: int = 3) -> dict:
    """``precision = "auto"``: float32, or the mixed precision that trains faster where
    the hardware has it, measured on the run's own model and batch.

    A CPU with bfloat16 in hardware (:data:`NATIVE_BFLOAT16`: AMX or AVX-512 BF16)
    times ``mixed_bfloat16`` against float32; an NVIDIA GPU times ``mixed_float16``
    against float32; any other CPU (AVX2, say, where bfloat16 is emulated) takes float32
    unmeasured. ``build()`` returns the compiled model under the current policy and
    ``batch`` is one training batch ``(x, y[, sample_weight])``; each candidate takes
    one warm-up step (compilation) and the median of ``repeats`` timed steps.

    Returns ``{"precision", "reason", "step_s"}`` (``step_s``: seconds per step of each
    candidate, empty when nothing was measured), the record a run keeps. The global
    policy is left at float32.
    """
    native = [flag for flag in NATIVE_BFLOAT16 if flag in machine.isa_flags()]
    if machine.gpus():
        candidate, reason = "mixed_float16", "a GPU: float16 tensor cores, measured"
    elif native:
        candidate, reason = "mixed_bfloat16", f"bfloat16 in hardware ({' '.join(native)}), measured"
    else:
        return {"precision": "float32", "step_s": {},
                "reason": "no bfloat16 in hardware: neither AMX nor AVX-512 BF16"}
    step_s = {}
    for policy in ("float32", candidate):
        keras.mixed_precision.set_global_policy(policy)
        model = build()
        model.train_on_batch(*batch)  # compiles
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            model.train_on_batch(*batch)
            times.append(time.perf_counter() - start)
        step_s[policy] = round(statistics.median(times), 4)
        del model
        keras.backend.clear_session()
    keras.mixed_precision.set_global_policy("float32")
    return {"precision": min(step_s, key=step_s.get), "reason": reason, "step_s": step_s}


def default_jit_compile():
    """XLA on TensorFlow (and JAX, which always compiles); PyTorch keeps Keras' "auto".

    Keras' "auto" leaves XLA off on a TensorFlow CPU, where ``model.fit`` over a
    ``SegmentationDataset`` ran a 16-filter U-Net's step at 2.45 s, and 1.50 s with
    XLA (``benchmarks/results/fit_trace.md``, a 2-core AMD EPYC). On a CPU
    with AMX, TensorFlow's own kernels won instead (``xla = off``,
    ``benchmarks/results/precision_speed_*.md``).
    """
    return True if keras.backend.backend() in ("tensorflow", "jax") else "auto"


def compile_model(model, loss, *, lr: float, steps: int, ema: float = 0.0,
                  deep_supervision: bool = False, metrics=None, optimizer: str = "adam",
                  momentum: float = 0.99, accumulate: int = 1, jit_compile=None):
    """Compile ``model`` as the presets train it.

    ``optimizer``: ``"adam"`` with a cosine decay of ``lr`` over ``steps`` (to 5% of
    it), or ``"sgd"`` at a constant ``lr`` with ``momentum`` (Ronneberger et al. 2015,
    Sec. 3: momentum 0.99); ``ema``: keep an exponential moving average of the
    weights with this momentum (e.g. 0.99; 0: off); ``accumulate``: average the
    gradients of this many batches per update (the optimizer's
    ``gradient_accumulation_steps``; the learning-rate schedule still counts batches,
    batch norm still normalises each batch); ``loss`` on the mask output, or
    on every head with ``deep_supervision``; IoU as the training metric unless
    ``metrics`` says otherwise; ``jit_compile`` defaults to :func:`default_jit_compile`.
    """
    from .. import losses
    from .. import metrics as zoo_metrics

    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {optimizer!r}")
    checks.positive_int(accumulate, "accumulate")
    extra = {"use_ema": ema > 0, "ema_momentum": ema or 0.99,
             "gradient_accumulation_steps": accumulate if accumulate > 1 else None}
    if optimizer == "sgd":
        chosen = keras.optimizers.SGD(lr, momentum=momentum, **extra)
    else:
        schedule = keras.optimizers.schedules.CosineDecay(lr, steps, alpha=0.05)
        chosen = keras.optimizers.Adam(schedule, **extra)
    loss_args = losses.deep_supervision(model, loss) if deep_supervision else {"loss": loss}
    model.compile(chosen, metrics=metrics or [zoo_metrics.IoU()],
                  jit_compile=default_jit_compile() if jit_compile is None else jit_compile,
                  **loss_args)
    return model


def set_bn_momentum(model, momentum: float) -> None:
    """Set every batch normalisation's moving-average momentum, nested models included."""
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            set_bn_momentum(layer, momentum)
        elif isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = momentum
