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
        assert record["status"] == "skipped" and "TensorFlow" in record["reason"]
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
             "curve": [{"step": 2, "train_s": 4.0, "val_v_rand": 0.5},
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
