"""The benchmark matrix: configuration, expansion into cells, and the resumable run.

A configuration (a dict, or a TOML file of the same shape) holds defaults and
``groups``; each group crosses ``models`` (``"*"``: every registered zoo
model) x ``encoders``, plus ``peers``, with ``precisions`` and ``backends``,
for one ``kind``: ``speed`` (one subject per process), ``pair`` (each peer
beside its zoo counterpart, interleaved in one process, so both on one framework:
TensorFlow for segmentation-models, torch for segmentation_models_pytorch and MONAI),
``duel`` (the same pair in two processes stepped alternately: the zoo on each of the
group's backends, the peer on its own framework) or ``train`` (accuracy and time to
accuracy). A PyTorch peer's speed and accuracy cells run on torch whatever the group's
backends.
Group keys override the defaults; ``[train]`` holds the training recipe's defaults.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .. import machine
from ..files import write_json_atomic
from . import subjects

ALL_ENCODERS = ["plain", "resnet34", "resnet50", "efficientnetb0"]
U_NETS = ["unet", "unet_plus_plus", "unet_3plus"]
BASELINES = ["fcn", "deeplabv3_plus"]
#: one encoder per family the U-Net family is not otherwise measured with
NEW_FAMILIES = ["mobilenetv2", "mobilenetv3large", "densenet121", "convnext_tiny"]
ALL_PEERS = ["sm:unet", "sm:fpn", "sm:linknet", "kuc:unet_2d", "kuc:unet_plus_2d",
             "kuc:unet_3plus_2d"]
TORCH_PEERS = ["smp:unet", "smp:unetplusplus", "smp:fpn", "smp:linknet", "smp:deeplabv3plus",
               "monai:basicunet", "monai:basicunetplusplus", "monai:flexibleunet"]
PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")
BACKENDS = ("tensorflow", "jax", "torch")
KINDS = ("speed", "pair", "duel", "train")
TRAIN = {"size": 128, "batch": 4, "lr": 1e-3, "train_seconds": 600, "max_steps": 5000,
         "val_every": 40, "thresholds": [0.80, 0.90], "timeout_s": 2400}

FULL = {
    "size": 256, "batch": 2, "steps": 3, "warmup": 2, "fit_steps": 2, "timeout_s": 1200,
    "train": TRAIN,
    "groups": [
        {"kind": "speed", "models": U_NETS, "encoders": ALL_ENCODERS, "peers": ALL_PEERS},
        {"kind": "pair", "models": U_NETS, "encoders": ALL_ENCODERS, "peers": ALL_PEERS},
        {"kind": "train", "models": U_NETS, "encoders": ["resnet34"],
         "peers": ["sm:unet", "sm:fpn", "sm:linknet", "kuc:unet_2d", "kuc:unet_plus_2d"]},
        # The baselines and U-Nets on the other encoder families, at the same settings
        # (batch norm, as every zoo cell) and training budget.
        {"kind": "speed", "models": ["fcn"], "encoders": ["vgg16", "resnet34"]},
        {"kind": "speed", "models": ["deeplabv3_plus"], "encoders": ["resnet34", "resnet50"]},
        {"kind": "speed", "models": ["unet"], "encoders": NEW_FAMILIES},
        {"kind": "train", "models": ["fcn", "deeplabv3_plus"], "encoders": ["resnet34"]},
        {"kind": "train", "models": ["unet"], "encoders": NEW_FAMILIES},
        {"kind": "speed", "models": ["unet", "unet_plus_plus"],
         "encoders": ["plain", "resnet34"], "backends": ["jax"]},
        {"kind": "speed", "models": ["unet_3plus"], "encoders": ["resnet34"],
         "backends": ["jax"]},
        {"kind": "speed", "models": ["unet"], "encoders": ["resnet34"],
         "precisions": ["mixed_bfloat16", "mixed_float16"], "timeout_s": 600},
    ],
    "left_out": [
        "train kuc:unet_3plus_2d: 395 GFLOP per 256^2 image, minutes per validation pass "
        "over the 5 validation slices on a 2-core CPU; it does not fit the 2-hour plan",
        "train with the plain encoder: the plain networks cost 4-30x the FLOPs of the "
        "resnet34 ones; accuracy is compared at one encoder per architecture",
        "mixed precision beyond U-Net/resnet34 alone: a CPU without float16/bfloat16 "
        "arithmetic (the recorded AMD EPYC: AVX2 only) measures emulation, not the precision "
        "(its bfloat16 cell trains 10x slower than float32; on an AMX CPU see "
        "benchmarks/precision_speed.py); the zoo/SM pairs in mixed precision belong on a GPU "
        "(benchmarks/gpu.toml)",
        "JAX for peers (they are built on TensorFlow's bundled Keras) and for U-Net 3+ "
        "with the plain encoder (395 GFLOP per image; its TensorFlow cell is recorded)",
    ],
}

#: What a newcomer runs first (< 5 min on 2 cores): speed at 256^2, where per-step overhead
#: no longer hides the network: U-Net/ResNet-34 against segmentation-models in one process
#: and against segmentation_models_pytorch (when installed) in two alternated processes,
#: U-Net++/ResNet-34 alone; and an accuracy cell small enough to learn the generated cells
#: within its budget (a 16-filter U-Net on 96-px crops, validated on whole 192-px images:
#: on 128-px crops it did not learn in the budget on 2 cores). U-Net++'s XLA compilation
#: alone takes most of a minute on 2 cores, so its accuracy, and its ratios to SMP and
#: MONAI, are the full runs'.
QUICK = {
    "size": 256, "batch": 2, "steps": 2, "warmup": 1, "fit_steps": 0, "timeout_s": 300,
    "train": {**TRAIN, "size": 96, "lr": 3e-3, "train_seconds": 75, "val_every": 50,
              "timeout_s": 300},
    "groups": [
        {"kind": "pair", "models": ["unet"], "encoders": ["resnet34"], "peers": ["sm:unet"]},
        {"kind": "duel", "encoders": ["resnet34"], "peers": ["smp:unet"]},
        {"kind": "speed", "models": ["unet_plus_plus"], "encoders": ["resnet34"]},
        {"kind": "train", "models": ["unet"], "encoders": ["plain"],
         "options": {"encoder_options": {"filters": 16}}},
    ],
}


def load_config(path) -> dict:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"benchmark config {path} does not exist")
    with path.open("rb") as f:
        config = tomllib.load(f)
    return {**FULL, "left_out": [], **config, "train": {**TRAIN, **config.get("train", {})}}


def _models(names) -> list[str]:
    from ..registry import MODELS

    return MODELS.names() if "*" in names else [MODELS.canonical(n) for n in names]


def _check(group: dict) -> None:
    if group.get("kind", "speed") not in KINDS:
        raise ValueError(f"group kind must be one of {KINDS}, got {group.get('kind')!r}")
    for key, allowed in (("precisions", PRECISIONS), ("backends", BACKENDS)):
        bad = [v for v in group.get(key, ()) if v not in allowed]
        if bad:
            raise ValueError(f"unknown {key[:-1]} {bad}; choose from {allowed}")


def _subjects(group: dict) -> list[str]:
    zoo = [f"zoo:{m}/{e}" for m in _models(group.get("models", [])) for e in
           group.get("encoders", ["plain"])]
    peers, encoders = [], group.get("encoders", ALL_ENCODERS)
    for peer in group.get("peers", []):
        if "/" in peer:
            peers.append(subjects.label(peer))
            continue
        key = subjects.label(peer).rsplit("/", 1)[0]
        known = subjects.PEERS[key].encoders
        peers += [f"{key}/{e}" for e in ([e for e in known if e in encoders] or known[:1])]
    return zoo + peers


def _slug(subject: str) -> str:
    return subject.replace(":", "-").replace("/", "-")


def _backend(kind: str, member, backend: str) -> str:
    """The Keras backend of a cell's process: a PyTorch peer's speed or accuracy cell runs
    on torch (its accuracy cell wrapped as a Keras layer)."""
    if kind in ("speed", "train") and subjects.framework(member) == "torch":
        return "torch"
    return backend


def expand(config: dict) -> list[dict]:
    """Every cell of ``config`` as a spec dict with a stable ``id``, in run order."""
    cells, seen = [], set()
    for group in config["groups"]:
        _check(group)
        kind = group.get("kind", "speed")
        settings = {k: v for k, v in config.items() if k not in ("groups", "train", "left_out")}
        if kind == "train":
            settings.update(config["train"])
        settings.update({k: v for k, v in group.items()
                         if k not in ("models", "encoders", "peers", "precisions", "backends")})
        members = _subjects(group)
        if kind in ("pair", "duel"):
            members = [(subjects.counterpart(p), p) for p in members
                       if subjects.is_peer(p) and subjects.counterpart(p)]
        for backend in group.get("backends", ["tensorflow"]):
            for precision in group.get("precisions", ["float32"]):
                for member in members:
                    spec = {**settings, "kind": kind, "precision": precision,
                            "backend": _backend(kind, member, backend)}
                    if kind in ("pair", "duel"):
                        spec.update(zoo=member[0], peer=member[1])
                        name = f"{_slug(member[0])}-vs-{_slug(member[1])}"
                    else:
                        spec["subject"] = member
                        name = _slug(member) + re.sub(r"[^\w.-]+", "", "".join(
                            f"-{k}-{v}" for k, v in sorted(group.get("options", {}).items())))
                    budget = f"-{spec['train_seconds']:g}s" if kind == "train" else ""
                    spec["id"] = (f"{kind}-{spec['backend']}-{precision}-{name}-"
                                  f"{spec['size']}x{spec['batch']}{budget}")
                    if spec["id"] not in seen:
                        seen.add(spec["id"])
                        cells.append(spec)
    return cells


def skip_reason(spec: dict) -> str | None:
    """Why a cell cannot run here, decided before starting it (``None``: it can)."""
    peers = [s for s in (spec.get("subject"), spec.get("peer")) if s and subjects.is_peer(s)]
    for peer in peers:
        framework = subjects.framework(peer)
        source = peer.split(":")[0]
        module = subjects.PEER_MODULES[source]
        extra = "peers-torch" if framework == "torch" else "bench"
        if importlib.util.find_spec(module) is None:
            return f"{peer} needs the {module} package: pip install 'unet-zoo[{extra}]'"
        if spec["kind"] != "duel" and spec["backend"] != framework:
            return (f"{peer} runs on {framework} and needs the {framework} backend in one "
                    "process (a duel cell compares it with the zoo on any backend)")
    return None


UNSUPPORTED = ("no opkernel", "not supported", "unimplemented", "could not find device for "
               "node", "no registered")


def _classify(spec: dict, error: str) -> str:
    """A failure that says the device lacks a kernel for the precision is a skip."""
    lowered = error.lower()
    if spec["precision"] != "float32" and any(s in lowered for s in UNSUPPORTED):
        return "skipped"
    return "error"


def shown_path(path) -> str:
    """``path`` as a record shows it: under ``$ZOO_DATA`` or the working folder, relative to
    it (``$ZOO_DATA/isbi2012``), so a record names no machine's folders; else as given."""
    path = Path(path).expanduser().resolve()
    for root, name in ((os.environ.get("ZOO_DATA"), "$ZOO_DATA"), (os.getcwd(), None)):
        if root and path.is_relative_to(Path(root).expanduser().resolve()):
            relative = path.relative_to(Path(root).expanduser().resolve()).as_posix()
            return f"{name}/{relative}" if name else relative
    return str(path)


def run_cell(spec: dict, out: Path) -> dict:
    """Run one cell in a fresh process with its backend; returns its record (never raises)."""
    record_path = out / "cells" / f"{spec['id']}.json"
    record_path.parent.mkdir(parents=True, exist_ok=True)
    shown = {**spec, "data": shown_path(spec["data"])} if spec.get("data") else spec
    base = {"id": spec["id"], "spec": shown, "machine": machine.describe(),
            "date": time.strftime("%Y-%m-%d %H:%M")}
    reason = skip_reason(spec)
    if reason:
        return {**base, "status": "skipped", "reason": reason}
    env = {**os.environ, **subjects.peer_env(spec["backend"]),
           "KERAS_BACKEND": spec["backend"], "TF_CPP_MIN_LOG_LEVEL": "3",
           "NO_ALBUMENTATIONS_UPDATE": "1"}
    with tempfile.TemporaryDirectory() as tmp:
        spec_path = Path(tmp) / "spec.json"
        # A train cell's run directory (checkpoint, state, curve) lives beside its record,
        # so an interrupted cell resumes where it stopped.
        spec_path.write_text(json.dumps({**spec, "run_dir": str(out / "cells" / spec["id"])}))
        result_path = Path(tmp) / "result.json"
        cmd = [sys.executable, "-m", "zoo.bench.cell", str(spec_path), str(result_path)]
        try:
            done = subprocess.run(cmd, env=env, capture_output=True, text=True,
                                  timeout=spec.get("timeout_s"), check=False)
        except subprocess.TimeoutExpired:
            return {**base, "status": "error",
                    "error": f"timed out after {spec.get('timeout_s')} s"}
        if done.returncode or not result_path.is_file():
            tail = (done.stderr or done.stdout).strip()[-2500:]
            return {**base, "status": _classify(spec, tail), "error": tail,
                    "returncode": done.returncode}
        return {**base, "status": "ok", **json.loads(result_path.read_text())}


def _bar(done: int, total: int, width: int = 24) -> str:
    filled = round(width * done / max(total, 1))
    return f"[{'#' * filled}{'.' * (width - filled)}] {done}/{total}"


def run_matrix(config: dict, out, *, retry_errors: bool = False, data=None,
               stream=None) -> list[dict]:
    """Run every cell not already recorded in ``out/cells`` (finished cells are reused;
    errors too, unless ``retry_errors``). A failing cell records its error and the run
    goes on. Returns all records in matrix order."""
    out, stream = Path(out), stream or sys.stdout
    (out / "cells").mkdir(parents=True, exist_ok=True)
    cells = expand(config)
    records, started = [], time.time()
    for index, spec in enumerate(cells):
        if data is not None:
            spec["data"] = str(data)
        path = out / "cells" / f"{spec['id']}.json"
        previous = json.loads(path.read_text()) if path.is_file() else None
        if previous and (previous["status"] != "error" or not retry_errors):
            records.append(previous)
            print(f"{_bar(index + 1, len(cells))} {spec['id']}: {previous['status']} "
                  "(recorded)", file=stream, flush=True)
            continue
        print(f"{_bar(index, len(cells))} {spec['id']} ...", file=stream, flush=True)
        cell_start = time.time()
        record = run_cell(spec, out)
        write_json_atomic(path, record, indent=1)
        records.append(record)
        detail = record.get("reason") or (record.get("error", "").splitlines() or [""])[-1]
        print(f"{_bar(index + 1, len(cells))} {spec['id']}: {record['status']} "
              f"{time.time() - cell_start:.0f} s (run {time.time() - started:.0f} s)"
              + (f" - {detail[:200]}" if record["status"] != "ok" else ""),
              file=stream, flush=True)
    return records


def recorded(config: dict, out) -> tuple[list[dict], list[str]]:
    """The records already in ``out/cells`` for ``config``'s cells, and the ids not run yet."""
    records, missing = [], []
    for spec in expand(config):
        path = Path(out) / "cells" / f"{spec['id']}.json"
        if path.is_file():
            records.append(json.loads(path.read_text()))
        else:
            missing.append(spec["id"])
    return records, missing


def measure_peak(backend: str) -> dict:
    """The matmul peak measured in a fresh process of ``backend``, for the run record."""
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
    code = "import json; from zoo.machine import matmul_peak_gflops as f; " \
           "print(json.dumps(f()))"
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, check=False)
    if done.returncode:
        return {"backend": backend, "error": done.stderr.strip()[-500:]}
    return json.loads(done.stdout.strip().splitlines()[-1])
