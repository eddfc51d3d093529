"""A zoo model and a peer in two processes, stepped alternately (A B A B ...).

The zoo model runs on the cell's Keras backend and the peer on its own framework, each in
its own process with its own imports, so neither framework's threads or caches touch the
other's; the parent tells them in turn to run one step, so machine noise hits both sides
alike. ``python -m zoo.bench.duel SPEC.json`` is one side: it builds its subject,
warms up, prints one JSON line describing itself, then answers each ``train`` or ``infer``
line on stdin with the seconds that step took.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from . import subjects


def side_env(backend: str, subject: str) -> dict:
    """A side's environment: the zoo's Keras backend, or the peer's own framework."""
    if subjects.framework(subject) != "keras":
        backend = subjects.framework(subject)
    return {**os.environ, **subjects.peer_env(backend), "KERAS_BACKEND": backend,
            "TF_CPP_MIN_LOG_LEVEL": "3", "NO_ALBUMENTATIONS_UPDATE": "1"}


class Side:
    """One side's process: ``ready()`` waits until it is built and warm, ``step(part)``
    runs one ``train`` or ``infer`` step there."""

    def __init__(self, spec: dict, subject: str, spec_path: Path):
        spec_path.write_text(json.dumps({**spec, "subject": subject}))
        self.log = spec_path.with_suffix(".log")
        with self.log.open("w") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "zoo.bench.duel", str(spec_path)],
                env=side_env(spec["backend"], subject), stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, stderr=log, text=True, bufsize=1)

    def ready(self) -> dict:
        """Wait for the side to be built and warm; its description."""
        self.described = json.loads(self._line())
        return self.described

    def _line(self) -> str:
        line = self.process.stdout.readline()
        if not line:
            self.process.wait(timeout=60)
            raise RuntimeError(self.log.read_text().strip()[-2500:] or
                               "the side's process ended without a word")
        return line

    def step(self, part: str) -> float:
        self.process.stdin.write(f"{part}\n")
        self.process.stdin.flush()
        return float(self._line())

    def close(self):
        if self.process.poll() is None:
            self.process.stdin.close()
            self.process.wait(timeout=60)


def duel_cell(spec: dict, work_dir: Path) -> dict:
    """The pair record (as :func:`zoo.bench.measure.pair_cell`) with each side in its own
    process: the zoo on ``spec["backend"]``, the peer on its own framework."""
    from .measure import interleave, ratios

    sides = {}
    try:
        for role in ("zoo", "peer"):  # both start at once, then both get ready
            sides[role] = Side(spec, spec[role], work_dir / f"{role}.json")
        for side in sides.values():
            side.ready()
        times = interleave({role: side.step for role, side in sides.items()}, spec["steps"])
    finally:
        for side in sides.values():
            side.close()
    described = {role: {**side.described, "subject": spec[role], "process": "own"}
                 for role, side in sides.items()}
    record = ratios(times, spec["batch"], described)
    record["note"] = subjects.peer_note(spec["peer"])
    return record


def serve(spec: dict) -> None:
    """One side: build, warm up, describe, then time each requested step. Only the
    protocol goes to stdout (libraries that print on import print to stderr)."""
    protocol, sys.stdout = sys.stdout, sys.stderr
    import keras

    from .. import machine
    from .measure import timed_calls
    from .runners import make_runner

    if subjects.framework(spec["subject"]) != "torch":
        keras.mixed_precision.set_global_policy(spec["precision"])
    runner = make_runner(spec["subject"], spec)
    timed_calls(runner.train, spec["warmup"])
    timed_calls(runner.infer, spec["warmup"])
    framework = subjects.framework(spec["subject"])
    print(json.dumps({"params": runner.params, "gflops_per_image": runner.gflops_per_image,
                      "framework": keras.backend.backend() if framework == "keras"
                      else framework, "threads": machine.threads()}), file=protocol, flush=True)
    steps = {"train": runner.train, "infer": runner.infer}
    for line in sys.stdin:
        start = time.perf_counter()
        steps[line.strip()]()
        print(time.perf_counter() - start, file=protocol, flush=True)


if __name__ == "__main__":
    serve(json.loads(Path(sys.argv[1]).read_text()))
