"""``zoo bench``: matrix expansion, records, resume, failures, report and charts."""

import importlib.util
import json

import keras
import pytest

import zoo
from zoo.bench import matrix, measure, report, subjects
from zoo.bench.cell import load_data
from zoo.cli import main

BACKEND = keras.backend.backend()
TINY = {"size": 32, "batch": 1, "steps": 2, "warmup": 1, "fit_steps": 2, "timeout_s": 300,
        "train": {**matrix.TRAIN, "size": 32, "batch": 2, "train_seconds": 60, "max_steps": 2,
                  "val_every": 2, "timeout_s": 300}}


def tiny(*groups):
    return {**TINY, "groups": [{"backends": [BACKEND], **g} for g in groups]}


def test_zoo_models_come_from_the_registry_and_peers_pair_with_their_counterparts():
    config = {**TINY, "groups": [
        {"kind": "speed", "models": ["*"], "encoders": ["plain"], "peers": ["kuc:unet_2d"]},
        {"kind": "pair", "models": ["*"], "encoders": ["resnet34"],
         "peers": ["sm:unet", "sm:fpn", "kuc:unet_plus_2d"]}]}
    cells = matrix.expand(config)
    speed = [c["subject"] for c in cells if c["kind"] == "speed"]
    assert speed == [f"zoo:{m}/plain" for m in zoo.list_models()] + ["kuc:unet_2d/plain"]
    pairs = [(c["zoo"], c["peer"]) for c in cells if c["kind"] == "pair"]
    # sm:fpn has no zoo counterpart, so it is measured alone but never paired.
    assert pairs == [("zoo:unet/resnet34", "sm:unet/resnet34"),
                     ("zoo:unet_plus_plus/plain", "kuc:unet_plus_2d/plain")]
    assert len({c["id"] for c in cells}) == len(cells)
    assert matrix.expand(config) == cells  # stable ids and order


def test_config_errors_name_the_problem(tmp_path):
    with pytest.raises(ValueError, match="unknown precision"):
        matrix.expand({**TINY, "groups": [{"models": ["unet"], "precisions": ["fp8"]}]})
    with pytest.raises(ValueError, match="did you mean 'unet'"):
        matrix.expand({**TINY, "groups": [{"models": ["unte"]}]})
    with pytest.raises(ValueError, match="unknown peer"):
        subjects.parse("sm:pspnet")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        matrix.load_config(tmp_path / "missing.toml")


def test_toml_config(tmp_path):
    path = tmp_path / "m.toml"
    path.write_text('size = 64\n[train]\ntrain_seconds = 5\n'
                    '[[groups]]\nkind = "speed"\nmodels = ["unet++"]\nencoders = ["resnet18"]\n')
    config = matrix.load_config(path)
    assert config["train"]["train_seconds"] == 5 and config["train"]["batch"] == 4
    (cell,) = matrix.expand(config)
    assert cell["subject"] == "zoo:unet_plus_plus/resnet18" and cell["size"] == 64


@pytest.mark.skipif(BACKEND == "tensorflow", reason="the end-to-end matrix test covers it")
def test_speed_cell_in_this_process_on_this_backend():
    spec = {**TINY, "kind": "speed", "subject": "zoo:unet/resnet18", "backend": BACKEND,
            "precision": "float32", "fit_steps": 1}
    record = measure.speed_cell(spec, load_data(spec))
    assert record["train"]["n"] == 2 and record["inference"]["img_per_s"] > 0
    assert record["fit"]["n"] == 1 and 0 < record["train"]["utilisation"]
    assert record["gflops_per_image"] == pytest.approx(
        zoo.count_flops(subjects.build("zoo:unet/resnet18", 32)) / 1e9)


@pytest.mark.slow
def test_matrix_end_to_end_resume_and_a_failing_cell(tmp_path, capsys):
    config = tiny({"kind": "speed", "models": ["unet"], "encoders": ["resnet18"]},
                  {"kind": "speed", "models": ["unet"], "encoders": ["plain"], "size": 30},
                  {"kind": "train", "models": ["unet"], "encoders": ["resnet18"]})
    records = matrix.run_matrix(config, tmp_path)
    speed, broken, trained = records
    assert speed["status"] == "ok", speed.get("error")
    for key in ("id", "spec", "machine", "date", "params", "gflops_per_image", "train",
                "inference", "fit", "peak_rss_mb", "matmul_peak", "backend"):
        assert key in speed, key
    assert speed["backend"] == BACKEND
    assert {"cpu", "cores", "gpus", "versions", "label"} <= set(speed["machine"])
    for part in ("train", "inference", "fit"):
        assert {"img_per_s", "img_per_s_min", "img_per_s_max", "utilisation"} <= set(
            speed[part])
        assert speed[part]["img_per_s_min"] <= speed[part]["img_per_s"] <= speed[part][
            "img_per_s_max"]
    assert speed["gflops_per_image"] > 0 and speed["matmul_peak"]["gflops"] > 0
    # The failing cell (32 px model sides must be divisible by 16) records its error ...
    assert broken["status"] == "error" and "divisible" in broken["error"]
    # ... and the run goes on to train.
    assert trained["status"] == "ok", trained.get("error")
    assert trained["steps"] == 2 and trained["curve"][-1]["step"] == 2
    assert 0 <= trained["v_rand"] <= 1
    assert set(trained["time_to"]) == {f"{t:.2f}" for t in matrix.TRAIN["thresholds"]}
    json.dumps(records)  # records are plain JSON
    capsys.readouterr()
    again = matrix.run_matrix(config, tmp_path)
    assert again == records  # finished (and failed) cells are reused, not rerun
    assert capsys.readouterr().out.count("(recorded)") == 3


@pytest.mark.slow
def test_pair_cell_is_interleaved_in_one_process_or_skipped_off_tensorflow(tmp_path):
    if importlib.util.find_spec("segmentation_models") is None:
        pytest.skip("segmentation-models is not installed (pip install 'unet-zoo[bench]')")
    config = tiny({"kind": "pair", "models": ["unet"], "encoders": ["resnet34"],
                   "peers": ["sm:unet"]})
    (record,) = matrix.run_matrix(config, tmp_path)
    if BACKEND != "tensorflow":
        assert record["status"] == "skipped" and "tensorflow backend" in record["reason"]
        return
    assert record["status"] == "ok", record.get("error")
    assert record["zoo"]["train"]["n"] == record["peer"]["train"]["n"] == 2
    assert record["train_ratio"] == pytest.approx(
        record["zoo"]["train"]["img_per_s"] / record["peer"]["train"]["img_per_s"])
    assert record["train_ratio_per_flop"] == pytest.approx(
        record["train_ratio"] * record["flop_ratio"])
    assert "up-conv" in record["note"]


def _fake_records():
    machine = {"label": "test cpu", "memory_mb": 1024, "versions": {"keras": "3"}}
    rate = {"img_per_s": 2.0, "img_per_s_min": 1.5, "img_per_s_max": 2.5, "utilisation": 0.5,
            "epoch_img_per_s": 1.9}
    speed = {"spec": {"kind": "speed", "subject": "zoo:unet/plain", "backend": "tensorflow",
                      "precision": "float32", "size": 64, "batch": 2, "steps": 3,
                      "warmup": 1}, "status": "ok", "params": 1e6, "gflops_per_image": 1.0,
             "train": rate, "inference": rate, "fit": rate, "peak_rss_mb": 900.0}
    train = {"spec": {"kind": "train", "subject": "zoo:unet/plain", "precision": "float32",
                      "thresholds": [0.9], "size": 64, "batch": 2, "lr": 1e-3,
                      "train_seconds": 10, "val_every": 2},
             "status": "ok", "steps": 4, "train_s": 9.0, "v_rand": 0.91, "v_info": 0.95,
             "pixel_error": 0.1, "iou": 0.8, "dice": 0.85, "time_to": {"0.90": 8.0},
             "curve": [{"step": 2, "train_s": 4.0, "val_v_rand": 0.905},
                       {"step": 4, "train_s": 8.0, "val_v_rand": 0.91}], "data": "synthetic"}
    failed = {"spec": {**speed["spec"], "subject": "kuc:unet_2d/plain"}, "status": "skipped",
              "reason": "needs TensorFlow"}
    run = {"name": "t", "command": "zoo bench", "date": "today", "machine": machine,
           "peaks": [{"backend": "tensorflow", "gflops": 100.0, "n": 8}],
           "left_out": ["something, and why"]}
    return run, [speed, failed, train]


def test_report_table_and_charts(tmp_path):
    run, records = _fake_records()
    run["charts"] = report.charts(records, tmp_path, "test cpu")
    assert sorted(p.name for p in tmp_path.glob("*.png")) == [
        "accuracy_speed.png", "accuracy_time.png", "throughput.png"]
    table = report.markdown(run, records)
    assert "| zoo:unet/plain | tensorflow | float32 | 1.00 | 1.0 | 2.00 (1.50-2.50)" in table
    assert "skipped: needs TensorFlow" in table
    assert "| zoo:unet/plain | 4 | 9 | 0.9100 |" in table and "| 8 | ok |" in table
    assert "test cpu" in table and "100 GFLOP/s" in table and "something, and why" in table


def test_cli_lists_the_quick_matrix(capsys):
    assert main(["bench", "--quick", "--list"]) == 0
    cells = capsys.readouterr().out.split()
    assert any(c.startswith("pair-") for c in cells) and any(c.startswith("train-")
                                                             for c in cells)


def test_report_header_names_the_days_of_a_resumed_run():
    run, records = _fake_records()
    records[0]["date"], records[2]["date"] = "2026-11-25 22:14", "2026-11-25 23:40"
    assert "`zoo bench`, today." in report.markdown(run, records)  # one day: the run's date
    records[2]["date"] = "2026-11-27 02:53"
    header = report.markdown(run, records).splitlines()[2]
    assert "cells recorded 2026-11-25 22:14 to 2026-11-27 02:53 (a run resumed on" in header
    assert "peak measured at the run's last start (today): tensorflow 100 GFLOP/s" in header


def test_accuracy_data_is_located_or_falls_back_to_synthetic_cells(tmp_path, monkeypatch,
                                                                  capsys):
    """`zoo bench` finds ISBI 2012 as zoo train does ($ZOO_DATA/isbi2012), else it says on
    the console that the accuracy cells train on synthetic cells."""
    from zoo.bench import accuracy_data

    train_cell = [{"kind": "train"}]
    (tmp_path / "isbi2012").mkdir()
    monkeypatch.setenv("ZOO_DATA", str(tmp_path))
    assert accuracy_data(None, train_cell) == tmp_path / "isbi2012"
    monkeypatch.setenv("ZOO_DATA", str(tmp_path / "none"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert accuracy_data(None, train_cell) is None
    assert "synthetic cells instead" in capsys.readouterr().out
    with pytest.raises(FileNotFoundError, match="no such folder"):
        accuracy_data(tmp_path / "missing", train_cell)


def test_pytorch_peers_run_on_torch_and_duels_put_the_zoo_on_every_backend():
    config = {**TINY, "groups": [
        {"kind": "speed", "peers": ["smp:unet", "monai:basicunet"],
         "encoders": ["resnet34", "plain"]},
        {"kind": "pair", "models": ["unet"], "encoders": ["resnet34"], "peers": ["smp:unet"],
         "backends": ["tensorflow", "torch"]},
        {"kind": "duel", "models": ["unet"], "encoders": ["resnet34", "plain"],
         "peers": ["smp:unet", "sm:unet", "monai:basicunet"], "backends": ["tensorflow", "jax"]},
        {"kind": "train", "models": ["unet"], "encoders": ["resnet34"], "peers": ["smp:unet"],
         "backends": ["tensorflow"]}]}
    cells = matrix.expand(config)
    speed = {c["subject"]: c["backend"] for c in cells if c["kind"] == "speed"}
    assert speed == {"smp:unet/resnet34": "torch", "monai:basicunet/plain": "torch"}
    # A PyTorch peer's accuracy cell trains in the zoo's loop on torch, the zoo's on TensorFlow.
    trained = {c["subject"]: c["backend"] for c in cells if c["kind"] == "train"}
    assert trained == {"zoo:unet/resnet34": "tensorflow", "smp:unet/resnet34": "torch"}
    pairs = [c for c in cells if c["kind"] == "pair"]
    assert [c["backend"] for c in pairs] == ["tensorflow", "torch"]
    # One process holds one framework: SMP beside the zoo needs the torch backend.
    assert "needs the torch backend" in (matrix.skip_reason(pairs[0]) or "needs the torch "
                                         "backend")
    duels = {(c["backend"], c["zoo"], c["peer"]) for c in cells if c["kind"] == "duel"}
    assert duels == {(b, z, p) for b in ("tensorflow", "jax") for z, p in (
        ("zoo:unet/resnet34", "smp:unet/resnet34"), ("zoo:unet/resnet34", "sm:unet/resnet34"),
        ("zoo:unet/plain", "monai:basicunet/plain"))}
    assert subjects.framework("smp:unet") == "torch" and subjects.framework("zoo:unet") == "keras"
    assert "widths 64..1024" in subjects.peer_note("monai:basicunet")


def test_a_missing_peer_library_is_a_skip_naming_the_extra(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name: None if name == "segmentation_models_pytorch" else real(name))
    spec = {"kind": "speed", "subject": "smp:unet/resnet34", "backend": "torch"}
    assert "pip install 'unet-zoo[peers-torch]'" in matrix.skip_reason(spec)


def test_the_quick_run_is_at_least_128_px_and_has_a_peer_of_each_kind():
    cells = matrix.expand(matrix.QUICK)
    # Speed at 256^2; the accuracy cell crops 96 px of 192-px images and validates whole ones.
    assert min(c["size"] for c in cells if c["kind"] != "train") >= 256
    assert {c["kind"] for c in cells} == {"pair", "duel", "speed", "train"}
    assert any(c.get("peer", "").startswith("smp:") for c in cells)


def _pair_record(kind, backend, peer_framework=None):
    side = {"params": 2e6, "gflops_per_image": 2.0}
    rate = {"img_per_s": 4.0, "img_per_s_min": 3.0, "img_per_s_max": 5.0}
    peer = {**side, "train": {**rate, "img_per_s": 2.0}, "inference": rate}
    if peer_framework:
        peer["framework"] = peer_framework
    return {"spec": {"kind": kind, "zoo": "zoo:unet/resnet34", "peer": "smp:unet/resnet34",
                     "backend": backend, "precision": "float32"}, "status": "ok",
            "zoo": {**side, "train": rate, "inference": rate}, "peer": peer,
            "train_ratio": 2.0, "train_ratio_min": 1.5, "train_ratio_max": 2.5,
            "train_ratio_per_flop": 2.0, "inference_ratio": 1.0, "inference_ratio_per_flop": 1.0,
            "note": "differs"}


def test_ratio_table_backend_table_and_verdict():
    run, records = _fake_records()
    records += [_pair_record("pair", "torch"), _pair_record("duel", "jax", "torch")]
    records[3]["zoo"]["train"] = {**records[3]["zoo"]["train"], "img_per_s": 1.0}
    table = report.markdown(run, records)
    assert "| zoo:unet/resnet34 | torch | smp:unet/resnet34 | torch | one |" in table
    assert "| zoo:unet/resnet34 | jax | smp:unet/resnet34 | torch | two, alternated |" in table
    assert "## The fastest Keras backend per zoo model" in table
    assert "| zoo:unet/resnet34 | float32 | jax 4.00, torch 1.00 | jax |" in table
    lines = report.verdict(records)
    assert any("on jax trains 2.00x" in line and "smp:unet/resnet34 on torch" in line
               for line in lines)
    assert any(line.startswith("- most accurate at this budget: zoo:unet/plain")
               for line in lines)


def test_a_cell_that_did_not_learn_is_labelled_not_scored():
    record = {"iou": 0.1, "train_s": 30.0, "curve": []}
    assert report.learning_state(record).startswith("did not learn in 30 s")
    rising = {"iou": 0.7, "train_s": 30.0, "curve": [{"val_iou": 0.5}, {"val_iou": 0.7}]}
    assert report.learning_state(rising) == "still learning at 30 s"
    run, records = _fake_records()
    records[2].update(iou=0.1)
    lines = report.verdict(records)
    assert not any("most accurate" in line for line in lines)
    assert any("did not learn" in line and "not its accuracy" in line for line in lines)
    assert any("IoU 0.1000" in line for line in lines)


TORCH_PEERS = importlib.util.find_spec("segmentation_models_pytorch") is not None


TORCH_RUNNER_CHECK = """
import pytest
from zoo.bench.runners import make_runner
runner = make_runner("smp:unet/resnet34", {"size": 32, "batch": 2, "precision": "float32"})
assert runner.params == pytest.approx(24.43e6, rel=0.01) and runner.gflops_per_image > 0
before = [p.detach().clone() for p in runner.module.parameters()][:3]
runner.train()
runner.infer()
assert any((a != b).any() for a, b in zip(before, runner.module.parameters(), strict=False))

# The peer as a Keras model (its accuracy cells): trains with fit, round-trips through .keras
# with identical outputs (batch-norm statistics included), without pickles.
import keras, numpy as np, tempfile, os
from zoo.bench.torch_peer import keras_model
model = keras_model("smp:unet/resnet34", 32)
model.compile(keras.optimizers.Adam(1e-3), "binary_crossentropy")
x = np.random.default_rng(0).random((2, 32, 32, 1), "float32")
model.fit(x, (x > 0.5).astype("float32"), epochs=2, verbose=0)
path = os.path.join(tempfile.mkdtemp(), "peer.keras")
model.save(path)
loaded = keras.saving.load_model(path)
np.testing.assert_array_equal(keras.ops.convert_to_numpy(loaded(x, training=False)),
                              keras.ops.convert_to_numpy(model(x, training=False)))
assert model.output_shape == (None, 32, 32, 1)
"""


@pytest.mark.skipif(not TORCH_PEERS, reason="PyTorch peers not installed "
                    "(pip install 'unet-zoo[peers-torch]'; a CUDA build of several GB)")
def test_torch_runner_and_keras_wrapper_of_a_pytorch_peer():
    # In a process of its own on the torch backend: PyTorch and TensorFlow in one process
    # can crash on import, which is why a PyTorch peer never shares a TensorFlow process.
    import os
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", TORCH_RUNNER_CHECK], capture_output=True,
                          text=True, env={**os.environ, "KERAS_BACKEND": "torch"}, check=False)
    assert done.returncode == 0, done.stderr[-2000:]


@pytest.mark.slow
@pytest.mark.skipif(not TORCH_PEERS, reason="PyTorch peers not installed")
def test_duel_cell_steps_two_processes_alternately_and_a_peer_trains(tmp_path):
    # Batch 2 at 64 px: PyTorch's batch norm refuses one value per channel (1 x 1 x 1).
    config = tiny({"kind": "duel", "models": ["unet"], "encoders": ["resnet34"],
                   "peers": ["smp:unet"], "size": 64, "batch": 2},
                  {"kind": "train", "encoders": ["resnet34"], "peers": ["smp:unet"]})
    record, trained = matrix.run_matrix(config, tmp_path)
    assert trained["status"] == "ok", trained.get("error")
    assert trained["backend"] == "torch" and trained["steps"] == 2
    assert 0 <= trained["v_rand"] <= 1
    assert record["status"] == "ok", record.get("error")
    assert record["zoo"]["framework"] == BACKEND and record["peer"]["framework"] == "torch"
    assert record["zoo"]["train"]["n"] == record["peer"]["train"]["n"] == 2
    assert record["peer"]["threads"]["torch"] >= 1


@pytest.mark.parametrize("classes", [1, 3])
def test_bench_data_ranks_models_on_a_folder_of_ones_own(tmp_path, capsys, classes):
    """`zoo bench --data DIR` on image/mask folders (binary and class maps): the accuracy
    cells only, trained as zoo train trains, and the zoo train command of the best."""
    from fixtures import mask_folder_layout

    mask_folder_layout(tmp_path / "data", classes=classes)
    config = tmp_path / "m.toml"
    config.write_text('[train]\nsize = 32\nbatch = 2\nmax_steps = 2\nval_every = 2\n'
                      'train_seconds = 600\n[[groups]]\nkind = "speed"\nmodels = ["unet"]\n'
                      '[[groups]]\nkind = "train"\nmodels = ["unet"]\nencoders = ["plain"]\n'
                      'options = {encoder_options = {filters = 8}}\n'
                      f'backends = ["{BACKEND}"]\n')
    code = main(["bench", "--config", str(config), "--data", str(tmp_path / "data"),
                 "--num-classes", str(classes), "--out", str(tmp_path / "out")])
    out = capsys.readouterr().out
    assert code == 0, out
    (record,) = [json.loads(p.read_text()) for p in (tmp_path / "out" / "cells").glob("*.json")]
    assert record["spec"]["kind"] == "train" and record["status"] == "ok"
    assert record["steps"] == 2 and record["v_rand"] is None and record["score"] == "iou"
    assert (f"--data {tmp_path / 'data'} --model unet --encoder plain --filters 8"
            in record["command"])
    assert ("--num-classes 3" in record["command"]) == (classes == 3)
    assert "folder layout" in out and "s to IoU" in out


def test_bench_num_classes_needs_a_folder(capsys):
    assert main(["bench", "--quick", "--list", "--num-classes", "3"]) == 2
    assert "--data" in capsys.readouterr().err


@pytest.mark.slow
def test_the_gpu_matrix_script_dry_runs_on_the_cpu(tmp_path):
    """benchmarks/device/gpu_matrix.sh, as a device call runs it, with DRY_RUN=1: the
    matrix expands and a tiny run of its kinds finishes (PyTorch peers skipped where absent)."""
    import os
    import subprocess
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "benchmarks" / "device" / "gpu_matrix.sh"
    done = subprocess.run(["bash", str(script)], capture_output=True, text=True, check=False,
                          env={**os.environ, "DRY_RUN": "1", "OUT": str(tmp_path)})
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    assert "cells in the matrix" in done.stdout
    cells = (tmp_path / "gpu_peers.cells.txt").read_text().split()
    assert any(c.startswith("duel-jax-mixed_float16-zoo-unet-resnet34-vs-smp") for c in cells)
    assert (tmp_path / "gpu_peers" / "table.md").is_file()


def test_records_show_data_folders_without_machine_paths(tmp_path, monkeypatch):
    monkeypatch.setenv("ZOO_DATA", str(tmp_path))
    assert matrix.shown_path(tmp_path / "isbi2012") == "$ZOO_DATA/isbi2012"
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ZOO_DATA")
    (tmp_path / "mine").mkdir()
    assert matrix.shown_path("mine") == "mine"
