import zoo
from zoo.cli import main


def test_info_lists_versions_models_and_encoders(capsys):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert f"unet-zoo {zoo.__version__}" in out and "backend" in out
    assert "unet" in out and "plain (alias vanilla)" in out


def test_demo_runs_end_to_end(capsys, tmp_path):
    path = tmp_path / "demo.keras"
    args = ["demo", "--train", "8", "--test", "4", "--size", "32", "--epochs", "1",
            "--depth", "2", "--filters", "4", "--save", str(path)]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "held-out IoU" in out and "Dice" in out
    assert path.exists()
