"""What machine a run or a benchmark ran on: CPU, GPU, library versions and the measured
matmul peak (the reference every timing is read against)."""

from __future__ import annotations

import os
import platform
import resource
import shutil
import subprocess
import time
from importlib import metadata

LIBRARIES = ("unet-zoo", "keras", "tensorflow", "jax", "jaxlib", "torch", "numpy",
             "segmentation-models", "keras-unet-collection", "segmentation-models-pytorch",
             "timm", "monai", "albumentations")
#: The CPU features that decide convolution speed and which precisions are native.
ISA_FLAGS = ("avx2", "fma", "avx512f", "avx512_bf16", "avx512_fp16", "amx_bf16", "amx_tile")


def cpu_model() -> str:
    try:
        for line in open("/proc/cpuinfo", encoding="utf-8"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def isa_flags() -> list[str]:
    """Which of :data:`ISA_FLAGS` the CPU reports (Linux ``/proc/cpuinfo``; empty elsewhere)."""
    try:
        for line in open("/proc/cpuinfo", encoding="utf-8"):
            if line.startswith("flags"):
                present = set(line.split(":", 1)[1].split())
                return [flag for flag in ISA_FLAGS if flag in present]
    except OSError:
        pass
    return []


def threads() -> dict:
    """The CPU threads each loaded framework computes with (the same for every side of a
    comparison, or it is not one)."""
    import sys

    found = {"cpus": os.cpu_count()}
    if "torch" in sys.modules:
        found["torch"] = sys.modules["torch"].get_num_threads()
    return found


def gpus() -> list[dict]:
    """``[{"name", "memory_mb"}]`` from ``nvidia-smi``; empty without an NVIDIA GPU."""
    if shutil.which("nvidia-smi") is None:
        return []
    out = subprocess.run(["nvidia-smi", "--query-gpu=name,memory.total",
                          "--format=csv,noheader,nounits"], capture_output=True, text=True,
                         check=False)
    rows = [line.split(",") for line in out.stdout.strip().splitlines() if "," in line]
    return [{"name": name.strip(), "memory_mb": float(mem)} for name, mem in rows]


def versions() -> dict[str, str]:
    found = {}
    for name in LIBRARIES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


def memory_total_mb() -> float | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**20
    except (ValueError, OSError, AttributeError):
        return None


def describe() -> dict:
    """The machine record every benchmark cell carries (no framework import)."""
    gpu, flags = gpus(), isa_flags()
    return {"cpu": cpu_model(), "cores": os.cpu_count(), "isa": flags,
            "memory_mb": memory_total_mb(), "gpus": gpu, "platform": platform.platform(),
            "python": platform.python_version(), "versions": versions(),
            "label": f"{cpu_model()}, {os.cpu_count()} cores"
                     + (f" ({' '.join(flags)})" if flags else "")
                     + (f", {gpu[0]['name']}" if gpu else ", no GPU")}


def peak_rss_mb() -> float:
    """The process's maximum resident set size so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def matmul_peak_gflops(n: int | None = None, repeats: int = 8, dtype: str = "float32") -> dict:
    """Best GFLOP/s of an ``n x n`` matmul in ``dtype`` (float32 by default, the
    reference every timing names) through ``keras.ops`` on the current backend's
    default device (2 n^3 FLOPs per product)."""
    import keras
    import numpy as np

    if n is None:
        n = 8192 if gpus() else 2048
    a, b = (keras.ops.convert_to_tensor(
        np.random.default_rng(seed).random((n, n), dtype=np.float32), dtype=dtype)
        for seed in (0, 1))

    def product():  # one element back to the host waits for the whole product
        keras.ops.convert_to_numpy(keras.ops.cast(keras.ops.matmul(a, b)[0, 0], "float32"))

    product()  # warm-up
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        product()
        best = min(best, time.perf_counter() - start)
    return {"n": n, "seconds": best, "gflops": 2 * n**3 / best / 1e9,
            "backend": keras.backend.backend(), "dtype": dtype}


def device_peak_memory_mb() -> float | None:
    """Peak accelerator memory of this process (JAX and PyTorch on a GPU); ``None`` on
    the CPU and on TensorFlow, which Keras gives no backend-neutral way to ask."""
    import keras

    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        device = jax.devices()[0]
        if device.platform == "cpu":
            return None
        stats = device.memory_stats() or {}
        peak = stats.get("peak_bytes_in_use")
        return None if peak is None else peak / 2**20
    if backend == "torch":
        import torch

        if torch.cuda.is_available():
            return torch.cuda.max_memory_allocated() / 2**20
    return None
