"""Which recipe gives the best top-1 for a fixed CPU budget? Variants of onecycle-bn side by side.

    python benchmarks/budget_recipes.py --data-dir ../shared/data/cifar10-jpeg --epochs 6 \
        --limit-train 10000 --limit-test 2000 --out /tmp/budget-recipes

Every arm trains MODEL (default resnet18) for the same epochs on the same images, batch and seed;
only the recipe fields named in ARMS differ from the baseline's (onecycle-bn at `--lr`):
  onecycle-bn     the campaign's recipe: one-cycle, label smoothing 0.1
  no-smoothing    label smoothing 0
  linear-decay    lr falling linearly from the peak to zero (Li, Yumer, Ramanan, "Budgeted Training:
                  Rethinking Deep Neural Network Training Under Resource Constraints", ICLR 2020)
  ema             an exponential moving average of the weights, 0.99 every 5 steps, evaluated
  low-res-early   progressive_resize 16:0.4,24:0.3: 40 % of the epochs at 16x16, 30 % at 24x24
                  (FixRes-style: the last epochs at full size); cheaper epochs at the same count
  low-res-equal-time  low-res-early given the baseline's minutes rather than its epochs: as many
                  epochs as fit them at low-res-early's measured cost (the budget question itself)
The table gives each arm's test top-1 and its training minutes, so benchmarks/RESULTS.md can say
which to keep: top-1 at equal epochs, and top-1 per minute where an arm is cheaper per epoch.
Arms survive a session's end (benchmarks/_arms.py): the same command again reads back the arms that
finished, resumes the one cut off and runs the rest; OUT/budget_recipes.json holds the rows so far,
OUT/budget_recipes.png draws top-1 against minutes.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from _arms import check_setting, load_rows, save_rows, show_training_log, train_arm

ARMS = {
    "onecycle-bn": {},
    "no-smoothing": {"label_smoothing": 0.0},
    "linear-decay": {"scheduler": "linear"},
    "ema": {"ema_momentum": 0.99, "ema_every": 5},
    "low-res-early": {"progressive_resize": "16:0.4,24:0.3"},
}
# Arms whose epochs come from two measured arms: (cheaper arm, baseline arm). Their recipe is the
# cheaper arm's; their epoch count the most whose minutes fit the baseline's.
EQUAL_TIME_ARMS = {"low-res-equal-time": ("low-res-early", "onecycle-bn")}


def equal_time_epochs(epochs: int, baseline_minutes: float, cheaper_minutes: float) -> int:
    """Epochs of an arm that took `cheaper_minutes` for `epochs` epochs that fit in `baseline_minutes`
    (rounded down, so the arm never gets more time than the baseline; never fewer than `epochs`)."""
    if cheaper_minutes <= 0:
        return epochs
    return max(epochs, math.floor(epochs * baseline_minutes / cheaper_minutes + 1e-9))


def arm_changes(name: str, rows: dict, epochs: int) -> dict:
    """The fields arm `name` changes from the baseline (an equal-time arm: its epochs too)."""
    if name not in EQUAL_TIME_ARMS:
        return ARMS[name]
    cheaper, baseline = EQUAL_TIME_ARMS[name]
    missing = [arm for arm in (cheaper, baseline) if arm not in rows]
    if missing:
        raise SystemExit(f"arm {name} needs the minutes of {' and '.join(missing)}: run it first")
    fitted = equal_time_epochs(epochs, rows[baseline]["minutes"], rows[cheaper]["minutes"])
    return {**ARMS[cheaper], "epochs": fitted}


def run_arm(name: str, changes: dict, common: dict) -> dict:
    """Train (resume, or read back) one arm; its test top-1, epochs and minutes."""
    keywords = {k: v for k, v in common.items() if k != "out"}
    if "epochs" in changes:  # evaluate once, at its end, as every arm does
        keywords["eval_every"] = changes["epochs"]
    arm = train_arm(common["out"] / name, **{**keywords, **changes})
    return {
        "arm": name,
        "changes": changes,
        "top1": round(100 * arm["final"]["test_acc"], 2),
        "epochs": arm["epochs"],
        "minutes": arm["minutes"],
        "dataset": arm["dataset"],
    }


def plot(rows: list[dict], title: str, path: Path) -> None:
    """One bar per arm, its test top-1, labelled with its epochs and minutes; the baseline's top-1 as a
    dashed line: a bar past it in no more minutes beats the baseline for the budget."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 0.9 + 0.45 * len(rows)), layout="constrained")
    labels = [f"{row['arm']}\n{row['epochs']} epochs, {row['minutes']:g} min" for row in rows]
    colours = ["black" if not row["changes"] else "tab:blue" for row in rows]
    bars = axes.barh(labels, [row["top1"] for row in rows], color=colours, height=0.6)
    axes.bar_label(bars, [f"{row['top1']:.2f} %" for row in rows], padding=3, fontsize=9)
    for row in rows:
        if not row["changes"]:
            axes.axvline(row["top1"], color="grey", lw=0.8, ls="--")
    low, high = min(row["top1"] for row in rows), max(row["top1"] for row in rows)
    left = max(0.0, low - 5)  # differences are points: the axis starts near the lowest bar
    axes.set_xlim(left, high + max(2.5, 0.15 * (high - left)))  # room for the last label
    axes.invert_yaxis()  # the arms top to bottom in the table's order
    axes.tick_params(axis="y", labelsize=9)
    axes.set_xlabel("test top-1 % (x axis cut: the arms differ by points)")
    axes.set_title(title.replace("; ", "\n"), fontsize=10)
    figure.savefig(path, dpi=120)
    plt.close(figure)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="resnet18")
    arm_names = [*ARMS, *EQUAL_TIME_ARMS]
    parser.add_argument("--arms", nargs="+", choices=arm_names, default=arm_names)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--lr", type=float, default=0.2, help="peak lr of every arm")
    parser.add_argument("--limit-train", type=int, default=10_000)
    parser.add_argument("--limit-test", type=int, default=2_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--out", type=Path, required=True, help="the runs' folder (again: continue them)")
    args = parser.parse_args()
    show_training_log()

    common = dict(
        model=args.model, recipe="onecycle-bn", out=args.out, data_dir=args.data_dir, epochs=args.epochs,
        batch_size=args.batch_size, lr=args.lr, limit_train=args.limit_train, limit_test=args.limit_test,
        seed=args.seed, eval_every=args.epochs,
    )  # fmt: skip
    rows_file = args.out / "budget_recipes.json"
    setting = {k: str(v) if isinstance(v, Path) else v for k, v in common.items() if k != "out"}
    check_setting(rows_file, setting)
    rows = load_rows(rows_file)
    for name in args.arms:
        rows[name] = run_arm(name, arm_changes(name, rows, args.epochs), common)
        save_rows(rows_file, setting, list(rows.values()))  # kept if a later arm is cut off
    rows = [rows[name] for name in args.arms]
    title = (
        f"{args.model}, {args.epochs} epochs on {args.limit_train} {rows[0]['dataset']} images, "
        f"batch {args.batch_size}, peak lr {args.lr:g}; test top-1 on {args.limit_test} images"
    )
    print(title)
    plot(rows, title, args.out / "budget_recipes.png")
    print("| arm | changes | top-1 | epochs | minutes |\n|---|---|---|---|---|")
    for row in rows:
        changes = ", ".join(f"{k}={v}" for k, v in row["changes"].items()) or "baseline"
        print(f"| {row['arm']} | {changes} | {row['top1']:.2f} % | {row['epochs']} | {row['minutes']} |")


if __name__ == "__main__":
    main()
