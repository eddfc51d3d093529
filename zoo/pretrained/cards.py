"""Model cards: a finished ``zoo train`` run put on the shelf, and its scores recomputed.

    python -m zoo.pretrained.cards RUN NAME [NOTE]   # e.g. runs/unet-quick isbi2012/unet-quick
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from . import SHELF, sha256

ISBI_TERMS = ("ISBI 2012 challenge data: serial-section TEM of the Drosophila first-instar "
              "larva ventral nerve cord (Cardona et al. 2010, PLoS Biol 8(10):e1000502), "
              "released for the ISBI 2012 segmentation challenge (Arganda-Carreras et al. "
              "2015, Front. Neuroanat. 9:142); cite both when using a model trained on it.")


def shelve(run_dir, name: str, *, note: str = "", terms: str = ISBI_TERMS,
           shelf=SHELF) -> Path:
    """Put the kept model of the finished run ``run_dir`` on ``shelf`` as ``name``
    (``SET/MODEL``): ``NAME.keras`` without optimizer state, ``NAME.json`` (the card) and
    ``NAME.md``. ``note``: what else a user should know of the run (e.g. that it shared
    the machine). Returns the card's path. A final run (trained on its validation slices
    too) has no scores of its own; its card cites its preset's measured ones."""
    import keras

    from ..saving import load_model, save_portable
    from ..training import preset_about, read_config

    run_dir = Path(run_dir)
    config = read_config(run_dir / "config.toml")
    record = json.loads((run_dir / "metrics.json").read_text())
    target = Path(shelf) / f"{name}.keras"
    target.parent.mkdir(parents=True, exist_ok=True)
    model = load_model(run_dir / "model.keras")  # not compiled: no optimizer state saved
    save_portable(model, target)  # loads on every admitted Keras, not just this one
    session = record["sessions"][0]
    scores = _scores(record)
    card = {
        "name": name,
        "model": config["model"], "encoder": config["encoder"],
        "encoder_options": config["encoder_options"], "model_options": config["model_options"],
        "parameters": int(model.count_params()),
        "input": f"(H, W, {model.input_shape[-1]}) float in [0, 1], any H and W "
                 "(overlap-tile inference)",
        "output": "membrane (boundary) probability, 1 channel",
        "data": record.get("data", ""),
        "train_slices": config["train_slices"], "val_slices": config["val_slices"],
        "final": config["final"], "preset": config["preset"], "seed": config["seed"],
        "command": _command(config, name),
        "settings": {k: v for k, v in config.items() if k != "data"},
        "steps": record["steps"], "train_s": round(record["train_s"], 1),
        "precision": record["precision"],
        "machine": session["machine"], "matmul_gflops": session.get("matmul_gflops"),
        "versions": _versions(keras),
        "inference": inference_settings(config, scores),
        "scores": {} if config["final"] else scores,
        "tta_mode": record["tta"]["mode"] if "tta" in record else None,
        "preset_measured": preset_about(config["preset"]) if config["preset"] else {},
        "file": target.name, "bytes": target.stat().st_size, "sha256": sha256(target),
        "reference": {"input": "reference_input(): synthetic_cells(1, 64, seed=0)",
                      "probabilities": reference_probabilities(model).tolist()},
        "note": note,
        "terms": terms,
    }
    path = Path(shelf) / f"{name}.json"
    path.write_text(json.dumps(card, indent=1) + "\n")
    (Path(shelf) / f"{name}.md").write_text(render(card))
    return path


def reference_input():
    """The fixed (1, 64, 64, 1) image a card's reference probabilities are computed on."""
    from ..data import synthetic_cells

    return synthetic_cells(1, 64, seed=0)[0]


def reference_probabilities(model) -> np.ndarray:
    """``model``'s probabilities on :func:`reference_input`, every 8th pixel (8 x 8),
    rounded to 1e-6: a loaded checkpoint must reproduce them within 1e-4."""
    probs = model.predict(reference_input(), verbose=0)
    return np.round(np.asarray(probs, np.float64)[0, ::8, ::8, -1], 6)


def inference_settings(config: dict, scores: dict | None = None) -> dict:
    """``zoo predict``'s settings for a run's model: its validation tiles, watershed and
    test-time augmentation, the latter only where it scored higher on validation
    (V_rand after the watershed, else V_rand) than one pass; a final run, which has no
    validation scores, keeps its preset's."""
    tta = config["tta"] or None
    if tta and scores and "tta" in scores:
        key = "post_v_rand" if "post_v_rand" in scores["plain"] else "v_rand"
        tta = tta if scores["tta"][key] > scores["plain"][key] else None
    return {"tile_size": config["val_tile"], "overlap": config["val_overlap"],
            "tta": tta, "watershed": config["postprocess"] == "watershed",
            "watershed_sigma": config["watershed_sigma"], "threshold": 0.5}


def recompute_scores(model, card: dict, data_root) -> dict:
    """The card's validation scores recomputed for ``model`` on ``data_root`` (ISBI 2012),
    as :func:`zoo.training.loop.score_predictions` scores a run: ``{"plain": ..., "tta":
    ...}``, each with ``v_rand``, ``v_info`` and their ``post_`` (watershed) forms."""
    from functools import partial

    from ..data import load_isbi2012
    from ..data.isbi2012 import parse_slices
    from ..inference import predict_tiled
    from ..postprocess import watershed_boundaries
    from ..training.loop import score_predictions

    settings = card["inference"]
    data = load_isbi2012(data_root, slices=parse_slices(card["val_slices"]))
    post = (partial(watershed_boundaries, sigma=settings["watershed_sigma"])
            if settings["watershed"] else None)
    scores = {}
    for key, tta in (("plain", None), ("tta", card["tta_mode"])):
        if key == "tta" and tta is None:
            continue
        probs = predict_tiled(model, data.images, tile_size=settings["tile_size"],
                              overlap=settings["overlap"], tta=tta, verbose=False)[..., -1]
        found = score_predictions(probs, data.membranes, data.labels, post)
        scores[key] = {k: float(found[k]) for k in _SCORE_KEYS if k in found}
    return scores


_SCORE_KEYS = ("v_rand", "v_info", "post_v_rand", "post_v_info")


def _scores(record: dict) -> dict:
    scores = {"plain": {k: record[k] for k in _SCORE_KEYS if k in record}}
    if "tta" in record:
        scores["tta"] = {k: record["tta"][k] for k in _SCORE_KEYS if k in record["tta"]}
    return scores


def _command(config: dict, name: str) -> str:
    if not config["preset"]:  # the card's "settings" are the run's config.toml
        return f"zoo train --config config.toml --out runs/{name}"
    command = f"zoo train --preset {config['preset']} --seed {config['seed']}"
    return command + (" --final" if config["final"] else "") + f" --out runs/{name}"


def _versions(keras) -> dict:
    import importlib.metadata

    backend = keras.backend.backend()
    return {"unet-zoo": importlib.metadata.version("unet-zoo"), "keras": keras.__version__,
            "backend": backend, backend: importlib.metadata.version(
                {"torch": "torch", "jax": "jax"}.get(backend, "tensorflow"))}


def render(card: dict) -> str:
    """The card as Markdown."""
    trained = (f"every labelled slice ({card['train_slices']} and {card['val_slices']})"
               if card["final"] else f"slices {card['train_slices']}")
    recipe = (f"the `{card['preset']}` preset" if card["preset"]
              else "the settings in the card's `settings`")
    inference = ", ".join(f"{k} {v}" for k, v in card["inference"].items())
    if card["tta_mode"] and not card["inference"]["tta"]:
        inference += f" (one pass: {card['tta_mode']} TTA scored lower on validation)"
    return "\n".join([
        f"# {card['name']}", "",
        f"`{card['model']}` on the `{card['encoder']}` encoder "
        f"({card['parameters']:,} parameters), trained on ISBI 2012 {trained} by {recipe}, "
        f"seed {card['seed']}, in {card['precision']}: {card['steps']} steps, "
        f"{card['train_s'] / 60:.1f} min of training on {card['machine']} "
        f"({card['matmul_gflops']} GFLOP/s float32 matmul)" + _cut(card) + ".", "",
        *([card["note"], ""] if card.get("note") else []),
        f"    {card['command']}", "",
        f"Input: {card['input']}. Output: {card['output']}.",
        f"Inference settings (`zoo predict --pretrained` applies them): {inference}.", "",
        *_score_lines(card),
        f"File: `{card['file']}`, {card['bytes']:,} bytes, sha256 `{card['sha256']}`. "
        "Versions: " + ", ".join(f"{k} {v}" for k, v in card["versions"].items()) + ".", "",
        f"Data terms: {card['terms']}", ""])


def _cut(card: dict) -> str:
    """Where a run stopped at its training-time cap before its step count."""
    planned, minutes = card["settings"]["steps"], card["settings"]["train_minutes"]
    if card["steps"] >= planned or not minutes:
        return ""
    return f", stopped by its {minutes:g}-minute cap at {card['steps']} of {planned} steps"


def _score_lines(card: dict) -> list[str]:
    if card["final"]:  # trained on every labelled slice: nothing left to score it on
        about = card["preset_measured"]
        cited = (f" The preset's validated runs (slices {card['val_slices']} held out): "
                 f"{about['measured']} (`{about['record']}`)." if about.get("record") else "")
        return [f"No validation scores: a final model, trained on slices "
                f"{card['val_slices']} too.{cited}", ""]
    rows = []
    for key, label in (("plain", "one pass"), ("tta", f"{card['tta_mode']} TTA")):
        if key in card["scores"]:
            s = card["scores"][key]
            rows.append(f"| {label} | {s['v_rand']:.4f} | {s['v_info']:.4f} | "
                        f"{s.get('post_v_rand', float('nan')):.4f} | "
                        f"{s.get('post_v_info', float('nan')):.4f} |")
    return [f"Validation on slices {card['val_slices']}:", "",
            "| inference | V_rand | V_info | V_rand, watershed | V_info, watershed |",
            "| --- | --- | --- | --- | --- |", *rows, ""]


if __name__ == "__main__":
    if len(sys.argv) not in (3, 4):
        raise SystemExit("usage: python -m zoo.pretrained.cards RUN NAME [NOTE]")
    print(shelve(sys.argv[1], sys.argv[2], note=" ".join(sys.argv[3:])))
