"""Does growth pay? A grown-and-fine-tuned model against the same model from scratch, same CPU time.

    python benchmarks/growth_pays.py --data-dir ../shared/data/cifar10-jpeg --minutes 12 \
        --limit-train 10000 --limit-test 2000 --out /tmp/growth-pays

Two arms share one budget of `--minutes` of training (`zoo train --time-budget`, which fits the
epochs to the measured step and evaluation times):
  grown    SOURCE trained for `--source-share` of the budget, grown into TARGET (`zoo.grow`,
           function-preserving), then fine-tuned for the rest at `--fine-tune-lr`
  scratch  TARGET trained from scratch for the whole budget
Both use the same recipe, batch, data subset and seed. The table gives each arm's top-1 on the
test subset and the wall time it took, so `benchmarks/RESULTS.md` can say whether the campaign's
grown steps (campaign.toml) should rather train from scratch.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from zoo.growth import grow_model, save_grown
from zoo.train import train


def run_arm(name: str, steps: list[tuple[str, dict]], common: dict) -> dict:
    """Run `steps` (label, train keywords) in order; the last one's test top-1 and the wall time."""
    started, results = time.perf_counter(), []
    for label, keywords in steps:
        if label == "grow":
            grown = grow_model(keywords["source"], keywords["target"])
            save_grown(grown, keywords["out"])
            continue
        results.append(train(**{**common, **keywords}))
    final = results[-1].final
    return {
        "arm": name,
        "top1": round(100 * final["test_acc"], 2),
        "epochs": [r.epochs_run for r in results],
        "minutes": round((time.perf_counter() - started) / 60, 1),
        "dataset": results[-1].config["dataset"]["identity"],  # cifar10-jpeg here, not the spec's name
    }


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
    parser.add_argument("--out", type=Path, required=True, help="a new folder for the runs")
    args = parser.parse_args()

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
    arms = [
        run_arm(
            f"grown ({args.source} {share:.0%} -> {args.target})",
            [
                (
                    args.source,
                    dict(model=args.source, out=out / "source", lr=args.lr, time_budget=budget(share)),
                ),
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
                ),
            ],
            common,
        ),
        run_arm(
            f"scratch ({args.target})",
            [(args.target, dict(model=args.target, out=out / "scratch", lr=args.lr, time_budget=budget(1)))],
            common,
        ),
    ]
    setting = (
        f"{args.limit_train} train / {args.limit_test} test images of {arms[-1]['dataset']}, "
        f"{args.minutes:g} min per arm, recipe {args.recipe}, batch {args.batch_size}"
    )
    print(f"\n{setting}\n\n| arm | epochs | top-1 % | wall min |\n|---|---|---|---|")
    for arm in arms:
        print(f"| {arm['arm']} | {' + '.join(map(str, arm['epochs']))} | {arm['top1']} | {arm['minutes']} |")
    (out / "growth_pays.json").write_text(json.dumps({"setting": setting, "arms": arms}, indent=2) + "\n")


if __name__ == "__main__":
    main()
