"""Does growth pay? A grown-and-fine-tuned model against the same model from scratch, same CPU time.

    python benchmarks/growth_pays.py --data-dir ../shared/data/cifar10-jpeg --minutes 12 \
        --limit-train 10000 --limit-test 2000 --out /tmp/growth-pays

Two arms share one budget of `--minutes` of training (`zoo train --time-budget`, which fits the
epochs to the measured step and evaluation times):
  grown    SOURCE trained for `--source-share` of the budget, grown into TARGET (`zoo.grow`,
           function-preserving), then fine-tuned for the rest at `--fine-tune-lr`
  scratch  TARGET trained from scratch for the whole budget
Both use the same recipe, batch, data subset and seed. The table gives each arm's top-1 on the
test subset and the training minutes it took (epoch times, evaluation included; the grow step's
seconds aside), so `benchmarks/RESULTS.md` can say whether the campaign's
grown steps (campaign.toml) should rather train from scratch. Arms survive a session's end
(benchmarks/_arms.py): the same command again continues them; OUT/growth_pays.json holds the
rows, OUT/growth_pays.png plots each arm's test top-1 against its training minutes.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from _arms import check_setting, load_rows, save_rows, show_training_log, train_arm

from zoo.growth import grow_model, save_grown


def run_arm(name: str, steps: list[tuple[str, dict]], common: dict) -> dict:
    """Run `steps` (label, keywords) in order, each read back if an earlier call finished it; the last
    run's test top-1, the epochs of each run and their minutes together, and the arm's curve: test
    top-1 after each evaluated epoch against the arm's training minutes so far."""
    runs, curve, minutes = [], [], 0.0
    for label, keywords in steps:
        if label == "grow":
            if not keywords["out"].is_file():  # written whole by save_grown, so present means done
                save_grown(grow_model(keywords["source"], keywords["target"]), keywords["out"])
            continue
        runs.append(train_arm(keywords.pop("out"), **{**common, **keywords}))
        for row in runs[-1]["rows"]:
            minutes += (row.get("seconds") or 0) / 60
            if row.get("test_acc") is not None:
                curve.append([round(minutes, 2), round(100 * row["test_acc"], 2), label])
    return {
        "arm": name,
        "top1": round(100 * runs[-1]["final"]["test_acc"], 2),
        "epochs": [run["epochs"] for run in runs],
        "minutes": round(sum(run["minutes"] for run in runs), 1),
        "dataset": runs[-1]["dataset"],
        "curve": curve,
    }


def plot(rows: list[dict], title: str, path: Path) -> None:
    """Test top-1 against training minutes, one line per arm; the grown arm's marker changes where
    the source model was grown, so the jump the growth costs or buys shows."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 4), layout="constrained")
    for row, colour in zip(rows, ("tab:blue", "black")):
        points = row["curve"]
        axes.plot([p[0] for p in points], [p[1] for p in points], color=colour, lw=1.2, label=row["arm"])
        for model, marker in zip(dict.fromkeys(p[2] for p in points), "os"):
            chosen = [p for p in points if p[2] == model]
            axes.scatter([p[0] for p in chosen], [p[1] for p in chosen], color=colour, marker=marker, s=22)
        last = points[-1]
        axes.annotate(f"{last[1]:.2f} %", (last[0], last[1]), textcoords="offset points", xytext=(4, 4))
    right = max(p[0] for row in rows for p in row["curve"])
    axes.set_xlim(0, right * 1.15)  # room for the last label
    axes.set_xlabel("training minutes (evaluation included; circles: the first model, squares: the second)")
    axes.set_ylabel("test top-1 %")
    axes.set_title(title, fontsize=10)
    axes.legend(loc="lower right", fontsize=9)
    axes.grid(alpha=0.3)
    figure.savefig(path, dpi=120)
    plt.close(figure)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", default="resnet18")
    parser.add_argument("--target", default="resnet34")
    parser.add_argument("--minutes", type=float, default=12.0, help="training budget of each arm")
    parser.add_argument("--source-share", type=float, default=0.5, help="of the grown arm's budget")
    parser.add_argument("--recipe", default="onecycle-bn")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--lr", type=float, default=0.2, help="peak lr from scratch")
    parser.add_argument("--fine-tune-lr", type=float, default=0.05, help="peak lr of the grown model")
    parser.add_argument("--limit-train", type=int, default=10_000)
    parser.add_argument("--limit-test", type=int, default=2_000)
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--out", type=Path, required=True, help="the runs' folder (again: continue them)")
    args = parser.parse_args()
    show_training_log()

    def budget(share: float) -> str:
        return f"{args.minutes * 60 * share:.0f}s"

    common = dict(
        recipe=args.recipe,
        data_dir=args.data_dir,
        batch_size=args.batch_size,
        limit_train=args.limit_train,
        limit_test=args.limit_test,
        epochs=1000,  # the time budget decides
    )
    out, share = args.out, args.source_share
    grown_file = out / "grown" / "model.safetensors"
    arms = {
        f"grown ({args.source} {share:.0%} -> {args.target})": [
            (args.source, dict(model=args.source, out=out / "source", lr=args.lr, time_budget=budget(share))),
            ("grow", dict(source=out / "source", target=args.target, out=grown_file)),
            (
                args.target,
                dict(
                    model=args.target,
                    out=out / "fine-tune",
                    lr=args.fine_tune_lr,
                    init_from=grown_file,
                    time_budget=budget(1 - share),
                ),
            ),  # fmt: skip
        ],
        f"scratch ({args.target})": [
            (args.target, dict(model=args.target, out=out / "scratch", lr=args.lr, time_budget=budget(1)))
        ],
    }
    rows_file = out / "growth_pays.json"
    setting = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items() if k != "out"}
    check_setting(rows_file, setting)
    rows = load_rows(rows_file)
    for name, steps in arms.items():
        rows[name] = run_arm(name, steps, common)
        save_rows(rows_file, setting, list(rows.values()))  # kept if the next arm is cut off
    described = (
        f"{args.limit_train} train / {args.limit_test} test images of {rows[name]['dataset']}, "
        f"{args.minutes:g} min per arm, recipe {args.recipe}, batch {args.batch_size}"
    )
    print(f"\n{described}\n\n| arm | epochs | top-1 % | training min |\n|---|---|---|---|")
    for name in arms:
        arm = rows[name]
        print(f"| {arm['arm']} | {' + '.join(map(str, arm['epochs']))} | {arm['top1']} | {arm['minutes']} |")
    plot([rows[name] for name in arms], described, out / "growth_pays.png")
    print(f"\nplot: {out / 'growth_pays.png'}")


if __name__ == "__main__":
    main()
