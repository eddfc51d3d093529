"""V_rand / V_info of trained models with and without post-processing and TTA.

    python -m benchmarks.postprocess MODEL.keras [MODEL.keras ...] [--tta d4]
        [--tile 256 --overlap 64]
        [--out recipes/results/postprocess.json]
    python -m benchmarks.postprocess --maps MAPS.npz [...] [--defaults-only]
    python -m benchmarks.postprocess MODEL.keras --defaults-only --save-maps DIR

Each model predicts the ISBI 2012 validation slices 20..24 (overlap-tile, as
zoo train validates), once plain and once per ``--tta`` mode; each map is
scored as it is and after ``zoo.postprocess.watershed_boundaries`` over a
small grid of its parameters (``--defaults-only``: the defaults alone).
``--maps`` scores saved maps instead of models: ``.npz`` files holding
``labels`` (the validation slices' ISBI labels) and one (N, H, W[, 1]) map per
TTA mode (``raw``, ``d4``, ...), float in [0, 1] or uint8 (/255), as ``--save-maps``
writes them (``DIR/<run folder>.npz``, uint8, compressed: a model's maps
scored again on another machine, e.g. models trained on a lent GPU). The grid
is read on the validation slices only (slices 25..29 are held out of this
repository and never tuned toward). Writes the JSON record and a Markdown
table beside it: per model (with each score's split / merge terms, which say
whether a setting cuts true cells or joins them), and with several models the
grid's settings by their mean over all of them.
"""

from __future__ import annotations

import argparse
import inspect
import itertools
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

RESULTS = Path(__file__).resolve().parents[1] / "recipes" / "results"
GRID = {"sigma": [0.0, 1.0], "seed_threshold": [0.1, 0.3, 0.5], "seed_erosion": [1.0, 3.0, 5.0],
        "min_seed": [20, 100], "keep_map": [True, False]}


def main(argv=None) -> dict:
    import keras
    import numpy as np

    import zoo
    from zoo import machine
    from zoo.data import isbi2012, load_isbi2012
    from zoo.evaluation import isbi_scores
    from zoo.postprocess import watershed_boundaries

    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="*", type=Path)
    parser.add_argument("--maps", nargs="*", type=Path, default=[],
                        help="saved validation maps (.npz) to score instead of models")
    parser.add_argument("--defaults-only", action="store_true",
                        help="score the post-processing defaults alone, not the grid")
    parser.add_argument("--data", type=Path, help="ISBI 2012 folder (default: "
                        "zoo.data.locate's)")
    parser.add_argument("--tta", nargs="*", default=["d4"], choices=["flips", "d4"])
    parser.add_argument("--tile", type=int, default=256,
                        help="tile side for models built for any size")
    parser.add_argument("--overlap", type=int,
                        help="pixels shared by neighbouring tiles (default: tile // 4)")
    parser.add_argument("--save-maps", type=Path, metavar="DIR",
                        help="also save each model's maps as DIR/<run folder>.npz (for --maps)")
    parser.add_argument("--out", type=Path, default=RESULTS / "postprocess.json")
    args = parser.parse_args(argv)

    if not args.models and not args.maps:
        parser.error("give trained models (MODEL.keras) or --maps MAPS.npz")
    defaults = {k: v.default for k, v in inspect.signature(
        watershed_boundaries).parameters.items() if k in GRID}
    points = [defaults] if args.defaults_only else [
        dict(zip(GRID, values, strict=True)) for values in itertools.product(*GRID.values())]
    rows = []

    def score(name, tta, labels, probs, predict_s=None):
        raw = isbi_scores(labels, probs)
        rows.append({"model": name, "tta": tta, "postprocess": None,
                     "predict_s": predict_s, **_keep(raw)})
        for options in points:
            started = time.perf_counter()
            post = watershed_boundaries(probs, **options)
            rows.append({"model": name, "tta": tta, "postprocess": options,
                         "postprocess_s": time.perf_counter() - started,
                         **_keep(isbi_scores(labels, post))})
        best = max(r["v_rand"] for r in rows[-len(points):])
        print(f"{name} tta={tta}: V_rand raw {raw['v_rand']:.4f}, post-processed (best of "
              f"{len(points)}) {best:.4f}", flush=True)

    val = load_isbi2012(args.data, slices=isbi2012.VAL_SLICES) if args.models else None
    for path in args.models:
        model = keras.saving.load_model(path)
        context = model.input_shape[-1] // 2
        tile = model.input_shape[1] or args.tile
        overlap = tile // 4 if args.overlap is None else args.overlap
        maps = {"labels": val.labels}
        for tta in [None, *args.tta]:
            started = time.perf_counter()
            probs = zoo.predict_tiled(model, val.images,
                                      tile_size=tile, overlap=overlap, tta=tta,
                                      context=context, verbose=False)[..., -1]
            score(str(path), tta, val.labels, probs, time.perf_counter() - started)
            maps[tta or "raw"] = np.round(probs * 255).astype(np.uint8)
        if args.save_maps:
            args.save_maps.mkdir(parents=True, exist_ok=True)
            np.savez_compressed(args.save_maps / f"{path.parent.name or path.stem}.npz", **maps)
    for path in args.maps:
        saved = np.load(path)
        if "labels" not in saved:
            raise SystemExit(f"{path} has no 'labels' array; save the validation labels "
                             "beside the maps (see --help)")
        for key in sorted(set(saved.files) - {"labels"}):
            probs = saved[key].astype(np.float32)
            if saved[key].dtype == np.uint8:
                probs /= 255
            score(str(path), None if key == "raw" else key, saved["labels"],
                  probs[..., 0] if probs.ndim == 4 else probs)
    command = argv if argv is not None else sys.argv[1:]
    record = {"command": "python -m benchmarks.postprocess " + " ".join(map(str, command)),
              "machine": machine.describe(), "grid": points, "rows": rows}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=1, default=float) + "\n")
    args.out.with_suffix(".md").write_text(_table(rows, defaults) + _summary(rows, defaults))
    print(f"wrote {args.out} and {args.out.with_suffix('.md')}")
    return record


def _keep(scores: dict) -> dict:
    return {k: float(scores[k]) for k in ("v_rand", "v_info", "pixel_error", "rand_split",
                                          "rand_merge", "info_split", "info_merge")}


def _table(rows, defaults) -> str:
    """Per model and TTA: the raw map, the default post-processing, the best grid point."""
    lines = ["| model | TTA | map | V_rand | V_info | pixel error | V_rand split / merge | "
             "V_info split / merge |", "|" + " --- |" * 8]
    for (model, tta), group in itertools.groupby(rows, key=lambda r: (r["model"], r["tta"])):
        group = list(group)
        raw = group[0]
        default = next(r for r in group if r["postprocess"] == defaults)
        best = max(group[1:], key=lambda r: r["v_rand"])
        shown = [("raw", raw), ("watershed, defaults", default)]
        if best is not default:
            shown.append((f"watershed, best of grid {best['postprocess']}", best))
        for label, r in shown:
            source = Path(model).stem if model.endswith(".npz") else Path(model).parent.name
            lines.append(f"| {source or model} | {tta or '-'} | {label} | "
                         f"{r['v_rand']:.4f} | {r['v_info']:.4f} | {r['pixel_error']:.4f} | "
                         f"{_terms(r, 'rand')} | {_terms(r, 'info')} |")
    return "\n".join(lines) + "\n"


def _terms(row: dict, score: str) -> str:
    """A score's split / merge terms, or '-' in records made before they were kept."""
    if f"{score}_split" not in row:
        return "-"
    return f"{row[f'{score}_split']:.4f} / {row[f'{score}_merge']:.4f}"


def _summary(rows, defaults, top: int = 8) -> str:
    """Per TTA mode, over all models: the raw maps, the defaults and the ``top`` grid
    points by mean V_info, each with mean V_rand / V_info and on how many models it
    beats the raw map on both scores (a setting to choose, not one model's luck)."""
    lines, default = [], json.dumps(defaults)
    for tta in dict.fromkeys(r["tta"] for r in rows):
        group = [r for r in rows if r["tta"] == tta]
        raw = {r["model"]: r for r in group if r["postprocess"] is None}
        if len(raw) < 2:
            continue
        points = {}
        for r in group:
            points.setdefault(json.dumps(r["postprocess"]), []).append(r)
        means = {key: _means(rs, raw) for key, rs in points.items()}
        ranked = sorted((k for k in points if k != "null"), key=lambda k: -means[k][1])
        lines += ["", f"Over the {len(raw)} models, TTA {tta or '-'}: mean scores per setting "
                  "(best mean V_info first after the raw maps and the defaults)", "",
                  "| post-processing | mean V_rand | mean V_info | beats the raw map on both |",
                  "|" + " --- |" * 4]
        for key in ["null", default, *[k for k in ranked[:top] if k != default]]:
            v_rand, v_info, wins = means[key]
            label = {"null": "raw map", default: "defaults"}.get(key, key)
            lines.append(f"| {label} | {v_rand:.4f} | {v_info:.4f} | "
                         f"{'-' if key == 'null' else wins} / {len(points[key])} |")
    return "\n".join(lines) + "\n"


def _means(rows, raw) -> tuple[float, float, int]:
    """Mean V_rand and V_info of one setting's rows, and how many beat their model's raw
    map on both."""
    wins = sum(r["v_rand"] > raw[r["model"]]["v_rand"] and r["v_info"] > raw[r["model"]]["v_info"]
               for r in rows)
    return (sum(r["v_rand"] for r in rows) / len(rows),
            sum(r["v_info"] for r in rows) / len(rows), wins)


if __name__ == "__main__":
    main()
