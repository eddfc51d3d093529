"""The benchmark's Markdown table and matplotlib charts, made from the cell records."""

from __future__ import annotations

from pathlib import Path

TARGETS = {"unet": 1.2, "unet_plus_plus": 1.2, "unet_3plus": 1.0}  # zoo/peer, issue targets
SCORE_NAMES = {"v_rand": "V_rand", "iou": "IoU"}


def _f(value, digits=2, scale=1.0) -> str:
    return "-" if value is None else f"{value * scale:.{digits}f}"


def _rate(part: dict | None) -> str:
    if not part:
        return "-"
    return (f"{part['img_per_s']:.2f} ({part['img_per_s_min']:.2f}-"
            f"{part['img_per_s_max']:.2f})")


def _why(record: dict) -> str:
    lines = (record.get("reason") or record.get("error") or "?").strip().splitlines()
    return f"{record['status']}: {lines[-1][:160] if lines else '?'}"


def _not_ok(first: list[str], blanks: int, record: dict) -> str:
    return "| " + " | ".join(first) + " |" + " - |" * blanks + f" {_why(record)} |"


def speed_table(records: list[dict]) -> list[str]:
    rows = [r for r in records if r["spec"]["kind"] == "speed"]
    lines = ["| model | backend | precision | params (M) | GFLOP/img | train img/s, median "
             "(min-max) | inference img/s | fit loop img/s (epoch) | train % of peak | "
             "train % of half peak | peak RSS MB | status |", "|" + " --- |" * 12]
    for r in rows:
        s = r["spec"]
        if r["status"] != "ok":
            lines.append(_not_ok([s["subject"], s["backend"], s["precision"]], 8, r))
            continue
        fit = r.get("fit")
        lines.append(
            f"| {s['subject']} | {s['backend']} | {s['precision']} | {r['params'] / 1e6:.2f} "
            f"| {r['gflops_per_image']:.1f} | {_rate(r['train'])} | {_rate(r['inference'])} "
            f"| {_f(fit and fit['img_per_s'])} ({_f(fit and fit['epoch_img_per_s'])}) "
            f"| {_f(r['train']['utilisation'], 0, 100)} "
            f"| {_f(r['train'].get('utilisation_half'), 0, 100)} | {r['peak_rss_mb']:.0f} | ok |")
    return lines


def _side(record: dict, role: str) -> str:
    """The framework a pair's side ran on: the cell's backend for a shared process."""
    side = record[role]
    return side.get("framework") or record["spec"]["backend"]


def pair_table(records: list[dict]) -> list[str]:
    rows = [r for r in records if r["spec"]["kind"] in ("pair", "duel")]
    lines = ["| zoo | zoo on | peer | peer on | processes | precision | params zoo / peer (M) "
             "| GFLOP/img zoo / peer | train ratio (min-max) | per FLOP | inference ratio | "
             "per FLOP | target | met | note |", "|" + " --- |" * 15]
    for r in rows:
        s = r["spec"]
        processes = "one" if s["kind"] == "pair" else "two, alternated"
        if r["status"] != "ok":
            lines.append(_not_ok([s["zoo"], s["backend"], s["peer"], "-", processes,
                                  s["precision"]], 8, r) + " |")
            continue
        z, p = r["zoo"], r["peer"]
        target = TARGETS.get(s["zoo"].split(":")[1].split("/")[0], 1.0)
        worst = min(r["train_ratio"], r["inference_ratio"])
        met = "yes" if worst >= target else f"no: {worst:.2f}x, {1 - worst / target:.0%} short"
        lines.append(
            f"| {s['zoo']} | {_side(r, 'zoo')} | {s['peer']} | {_side(r, 'peer')} | "
            f"{processes} | {s['precision']} | {z['params'] / 1e6:.2f} / "
            f"{p['params'] / 1e6:.2f} | {z['gflops_per_image']:.1f} / "
            f"{p['gflops_per_image']:.1f} | {r['train_ratio']:.2f} ({r['train_ratio_min']:.2f}"
            f"-{r['train_ratio_max']:.2f}) | {r['train_ratio_per_flop']:.2f} | "
            f"{r['inference_ratio']:.2f} | {r['inference_ratio_per_flop']:.2f} | "
            f">= {target} | {met} | {r.get('note', '')} |")
    return lines


def _zoo_rates(records: list[dict]) -> dict:
    """``{(zoo subject, precision): {backend: (train img/s, inference img/s)}}`` from the
    speed cells, and from the zoo side of pairs and duels where no speed cell has it."""
    rates: dict = {}
    for r in records:
        if r["status"] != "ok":
            continue
        s = r["spec"]
        if s["kind"] == "speed" and not s["subject"].startswith("zoo:"):
            continue
        if s["kind"] == "speed":
            subject, side = s["subject"], r
        elif s["kind"] in ("pair", "duel"):
            subject, side = s["zoo"], r["zoo"]
        else:
            continue
        per_backend = rates.setdefault((subject, s["precision"]), {})
        if s["kind"] == "speed" or s["backend"] not in per_backend:
            per_backend[s["backend"]] = (side["train"]["img_per_s"],
                                         side["inference"]["img_per_s"])
    return rates


def backend_table(records: list[dict]) -> list[str]:
    """Which Keras backend runs each zoo model fastest on this run's machine."""
    rates = {k: v for k, v in _zoo_rates(records).items() if len(v) > 1}
    if not rates:
        return []
    lines = ["| zoo model | precision | train img/s per backend | fastest in training | "
             "inference img/s per backend | fastest in inference |", "|" + " --- |" * 6]
    for (subject, precision), per_backend in rates.items():
        cells = []
        for i in (0, 1):
            listed = ", ".join(f"{b} {v[i]:.2f}" for b, v in sorted(per_backend.items()))
            cells += [listed, max(per_backend, key=lambda b: per_backend[b][i])]
        lines.append(f"| {subject} | {precision} | " + " | ".join(cells) + " |")
    return lines


#: A trained cell whose map marks less than this IoU of the target has not learned it...
LEARNED_IOU = 0.5
#: ... and one whose last validation still raised the IoU by more than this is still learning.
SETTLED_IOU = 0.05


def learning_state(record: dict) -> str:
    """``ok``, ``still learning`` (the budget ended on a rising IoU) or ``did not learn``
    (IoU below :data:`LEARNED_IOU`): only ``ok`` cells stand for the model's accuracy at
    the budget. (IoU, not V_rand, judges it: V_rand jumps between checkpoints while the
    batch-norm statistics settle.)"""
    if (record.get("iou") or 0.0) < LEARNED_IOU:
        return f"did not learn in {record['train_s']:.0f} s (IoU < {LEARNED_IOU})"
    scores = [p["val_iou"] for p in record.get("curve", []) if "val_iou" in p]
    if len(scores) >= 2 and scores[-1] - scores[-2] > SETTLED_IOU:
        return f"still learning at {record['train_s']:.0f} s"
    return "ok"


def accuracy_table(records: list[dict]) -> list[str]:
    rows = [r for r in records if r["spec"]["kind"] == "train"]
    if not rows:
        return []
    thresholds = rows[0]["spec"]["thresholds"]
    score = SCORE_NAMES[next((r.get("score") for r in rows if r.get("score")), "v_rand")]
    lines = ["| model | steps | train s | V_rand | V_info | pixel error | IoU | Dice | "
             + " | ".join(f"s to {score} {t:.2f}" for t in thresholds) + " | status |",
             "|" + " --- |" * (9 + len(thresholds))]
    for r in rows:
        s = r["spec"]
        if r["status"] != "ok":
            lines.append(_not_ok([s["subject"]], 7 + len(thresholds), r))
            continue
        times = " | ".join(_f(r["time_to"].get(f"{t:.2f}"), 0) for t in thresholds)
        lines.append(
            f"| {s['subject']} | {r['steps']} | {r['train_s']:.0f} | {_f(r['v_rand'], 4)} | "
            f"{_f(r['v_info'], 4)} | {_f(r['pixel_error'], 4)} | {_f(r['iou'], 4)} | "
            f"{_f(r['dice'], 4)} | {times} | {learning_state(r)} |")
    return lines


def markdown(run: dict, records: list[dict]) -> str:
    m = run["machine"]
    peaks = ", ".join(f"{p['backend']} {p['gflops']:.0f} GFLOP/s (n={p['n']}"
                      + (f"; {p['note']}" if p.get("note") else "") + ")"
                      for p in run["peaks"] if "gflops" in p)
    first = run.get("config") or next(
        (r["spec"] for r in records if r["spec"]["kind"] == "speed"), None)
    shape = (f"{first['size']}x{first['size']}x1 images, batch {first['batch']}, "
             f"{first['steps']} timed steps after {first['warmup']} warm-up unless a cell's "
             "spec says otherwise"
             if first else "")
    dates = sorted(r["date"] for r in records if r.get("date"))
    span = (f"cells recorded {dates[0]} to {dates[-1]} (a run resumed on other days; each speed "
            "cell's % of peak uses the matmul peak measured in its own process)"
            if len({d[:10] for d in dates}) > 1 else run["date"])
    parts = [f"# Benchmark: {run['name']}", "",
             f"`{run['command']}`, {span}. Machine: {m['label']}, "
             f"{(m['memory_mb'] or 0) / 1024:.0f} GiB; matmul fp32 peak measured at the "
             f"run's last start ({run['date']}): {peaks}. Versions: "
             + ", ".join(f"{k} {v}" for k, v in m["versions"].items()) + ".", "",
             "## Speed and memory", "", shape + ". Train: `train_on_batch` (Adam, BCE). "
             "Fit loop: `model.fit` on random crops with the paper's augmentation and the "
             "checkpoint callback (a PyTorch peer: its own loop over the same batches), median "
             "step (whole epoch in brackets). Train % of peak: 3x forward FLOPs per image x "
             "img/s over the float32 matmul peak; of half peak: over the float16 or bfloat16 "
             "matmul peak measured for a mixed-precision cell. Peak RSS: the cell process, "
             "framework included.", "", *speed_table(records), "",
             "## Zoo / peer ratios (interleaved)", "",
             "Ratio = zoo img/s over peer img/s, stepped A B A B: in one process (both on "
             "one framework) or in two processes alternated (the zoo on its Keras backend, "
             "the peer on its own framework, the same threads and data); per FLOP = ratio x "
             "zoo FLOPs / peer FLOPs (above 1: the zoo does more work per second). Min-max: "
             "the spread of the per-step ratios.", "", *pair_table(records), ""]
    backends = backend_table(records)
    if backends:
        parts += ["## The fastest Keras backend per zoo model", "", *backends, ""]
    accuracy = accuracy_table(records)
    if accuracy:
        spec = next(r["spec"] for r in records if r["spec"]["kind"] == "train")
        parts += ["## Accuracy and time to accuracy", "",
                  f"Same recipe for every model: {spec['size']}^2 crops, batch {spec['batch']},"
                  f" paper augmentation, Adam {spec['lr']}, BCE + Dice, {spec['train_seconds']}"
                  f" s of training (validation excluded), validation every {spec['val_every']} "
                  "steps, best checkpoint by V_rand. Data: "
                  f"{next((r.get('data') for r in records if r.get('data')), '?')}.", "",
                  *accuracy, ""]
    left = run.get("left_out") or []
    if left:
        parts += ["## Left out of this run", "", *(f"- {item}" for item in left), ""]
    if run.get("not_run"):
        parts += ["## Not run yet (rerun the command to resume)", "",
                  *(f"- `{cell}`" for cell in run["not_run"]), ""]
    charts = [c for c in run.get("charts", [])]
    if charts:
        parts += ["## Charts", "", *(f"![{Path(c).stem}]({Path(c).name})" for c in charts), ""]
    return "\n".join(parts)


def charts(records: list[dict], out: Path, label: str) -> list[str]:
    """throughput.png, accuracy_time.png, accuracy_speed.png (those with data)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    made = []
    speed = [r for r in records if r["spec"]["kind"] == "speed" and r["status"] == "ok"]
    if speed:
        short = {"tensorflow": "tf", "jax": "jax", "torch": "torch"}
        names = [f"{r['spec']['subject']} {short[r['spec']['backend']]} "
                 f"{r['spec']['precision'].replace('mixed_', '')}" for r in speed]
        fig, ax = plt.subplots(figsize=(9, 0.32 * len(speed) + 1.5))
        y = range(len(speed))
        ax.barh([i - 0.2 for i in y], [r["train"]["img_per_s"] for r in speed], 0.4,
                label="train")
        ax.barh([i + 0.2 for i in y], [r["inference"]["img_per_s"] for r in speed], 0.4,
                label="inference")
        ax.set_yticks(list(y), names, fontsize=7)
        ax.invert_yaxis()
        ax.set_xscale("log")
        ax.set_xlabel("images/s (log)")
        ax.set_title(f"Throughput per model and precision\n{label}", fontsize=9)
        ax.legend()
        made.append(_save(fig, out / "throughput.png"))
    trained = [r for r in records if r["spec"]["kind"] == "train" and r["status"] == "ok"]
    if trained:
        fig, ax = plt.subplots(figsize=(7, 4.5))
        for r in trained:
            curve = [p for p in r["curve"] if "val_v_rand" in p]
            ax.plot([p["train_s"] / 60 for p in curve], [p["val_v_rand"] for p in curve],
                    marker=".", label=r["spec"]["subject"])
        ax.set_xlabel("training time (min, validation excluded)")
        ax.set_ylabel("validation V_rand")
        ax.set_title(f"Accuracy versus training time\n{label}", fontsize=9)
        ax.legend(fontsize=7)
        made.append(_save(fig, out / "accuracy_time.png"))
        rates = {(r["spec"]["subject"], r["spec"]["precision"]): r["train"]["img_per_s"]
                 for r in speed if r["spec"]["backend"] == "tensorflow"}
        points = [(rates[key], r["v_rand"], key[0]) for r in trained
                  if (key := (r["spec"]["subject"], r["spec"]["precision"])) in rates
                  and r["v_rand"] is not None]
        if points:
            fig, ax = plt.subplots(figsize=(7, 4.5))
            for rate, v_rand, name in points:
                ax.scatter(rate, v_rand)
                ax.annotate(name, (rate, v_rand), fontsize=7)
            ax.set_xscale("log")
            ax.set_xlabel("train images/s (log)")
            ax.set_ylabel("best validation V_rand")
            ax.set_title(f"Accuracy versus speed\n{label}", fontsize=9)
            made.append(_save(fig, out / "accuracy_speed.png"))
    return made


def _save(fig, path: Path) -> str:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return str(path)


def verdict(records: list[dict]) -> list[str]:
    """What a user can act on: each zoo/peer ratio, the fastest subject in training, and
    among the accuracy cells that learned, the most accurate and the fastest to a score."""
    lines = []
    for r in records:
        if r["spec"]["kind"] in ("pair", "duel") and r["status"] == "ok":
            s = r["spec"]
            lines.append(f"- {s['zoo']} on {_side(r, 'zoo')} trains {r['train_ratio']:.2f}x "
                         f"and predicts {r['inference_ratio']:.2f}x as fast as {s['peer']} on "
                         f"{_side(r, 'peer')} ({r['train_ratio_per_flop']:.2f}x / "
                         f"{r['inference_ratio_per_flop']:.2f}x per FLOP)")
    speeds = {}
    for r in records:
        if r["status"] != "ok":
            continue
        s = r["spec"]
        if s["kind"] == "speed":
            speeds[f"{s['subject']} on {s['backend']}"] = r["train"]["img_per_s"]
        elif s["kind"] in ("pair", "duel"):
            for role in ("zoo", "peer"):
                speeds.setdefault(f"{s[role]} on {_side(r, role)}", r[role]["train"]["img_per_s"])
    if speeds:
        name = max(speeds, key=speeds.get)
        lines.append(f"- fastest in training: {name}, {speeds[name]:.2f} img/s")
    trained = [r for r in records if r["spec"]["kind"] == "train" and r["status"] == "ok"]
    learned = [r for r in trained if learning_state(r) == "ok"]
    if learned:
        key = learned[0].get("score") or "v_rand"
        best = max(learned, key=lambda r: r[key])
        v_rand = "" if best["v_rand"] is None else f"V_rand {best['v_rand']:.4f}, "
        lines.append(f"- most accurate at this budget: {best['spec']['subject']}, {v_rand}"
                     f"IoU {best['iou']:.4f} in {best['train_s']:.0f} s ({best['steps']} "
                     f"steps; data: {best.get('data', '?')})")
        threshold = f"{best['spec']['thresholds'][0]:.2f}"
        reached = [r for r in learned if r["time_to"].get(threshold) is not None]
        if reached:
            first = min(reached, key=lambda r: r["time_to"][threshold])
            lines.append(f"- fastest to {SCORE_NAMES[key]} {threshold}: "
                         f"{first['spec']['subject']}, {first['time_to'][threshold]:.0f} s of "
                         "training")
        if best.get("command"):
            lines.append(f"- to train it fully on your data: {best['command']}")
    for r in trained:
        if r not in learned:
            v_rand = "" if r["v_rand"] is None else f"V_rand {r['v_rand']:.4f}, "
            lines.append(f"- {r['spec']['subject']}: {learning_state(r)}, at {v_rand}"
                         f"IoU {r['iou']:.4f}; this is where the budget stopped it, not its "
                         "accuracy")
    return lines
