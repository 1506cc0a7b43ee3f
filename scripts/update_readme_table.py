"""Regenerate the model table in README.md from the registry (never edit that table by hand).

    python scripts/update_readme_table.py          # rewrite the table in place
    python scripts/update_readme_table.py --check  # exit 1 if README.md is stale (the test suite runs this)
    python scripts/update_readme_table.py --readme COPY.md   # another copy (`zoo campaign publish` tests)

Only built-in models are listed: an installed third-party plugin must not change the README.
Speed columns come from the newest `zoo bench` CSV in benchmarks/results/ for this machine, if any.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import zoo
from zoo.weights.manifest import load_base_manifest

README = Path(__file__).resolve().parents[1] / "README.md"
RESULTS = README.parent / "benchmarks" / "results"
START, END = "<!-- model-table:start -->", "<!-- model-table:end -->"


def _newest_run(path: Path) -> str:
    """The date of the newest row in a bench CSV (file times are checkout times in a clone)."""
    with path.open(newline="") as f:
        return max((row["date"] for row in csv.DictReader(f)), default="")


def _speeds() -> tuple[dict[str, dict[str, str]], str]:
    """Per model {mode: figure} from the bench CSV with the newest run, and a footnote naming it.

    A model's newest row per mode wins: the table shows one run's settings (which the footnote
    states), not the best of several.
    """
    files = sorted(RESULTS.glob("bench-cpu*.csv"), key=_newest_run) if RESULTS.is_dir() else []
    if not files:
        return {}, ""
    speeds: dict[str, dict[str, str]] = {}
    settings: dict[str, set[str]] = {}
    channels_last = False
    with files[-1].open(newline="") as f:
        for row in sorted(csv.DictReader(f), key=lambda r: r["date"]):
            mode = row["mode"]
            value = (
                f"{float(row['latency_ms']):,.1f}" if mode == "latency" else f"{float(row['img_per_s']):,.0f}"
            )
            speeds.setdefault(row["model"], {})[mode] = value
            settings.setdefault("precision", set()).add(row["precision"])
            if mode != "latency":
                settings.setdefault(f"{mode} batch", set()).add(row["batch"])
            device, torch_version = row["device"], row["torch"]
            channels_last = channels_last or row["channels_last"] == "True"
    said = "; ".join(f"{key} {'/'.join(sorted(values))}" for key, values in settings.items())
    layout = "channels_last on models with a convolution" if channels_last else "NCHW"
    footnote = (
        f"Speed columns: `zoo bench --all` on {device}, torch {torch_version} ({said}; {layout}), "
        f"from `benchmarks/results/{files[-1].name}`."
    )
    return speeds, footnote


def render() -> str:
    speeds, source = _speeds()  # source: the footnote
    modes = sorted({m for per_model in speeds.values() for m in per_model})
    published = load_base_manifest()  # an installed plugin's weights must not change the README
    header = ["model", "family", "params", "MACs", "input", "paper", "seed", "seed's top-1"]
    header += ["published weights (top-1)"]
    header += ["latency ms (batch 1)" if m == "latency" else f"{m} img/s" for m in modes]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for spec in map(zoo.model_info, zoo.list_models()):
        if not spec.plugin.startswith("zoo.plugins."):
            continue
        row = [
            f"`{spec.name}`",
            spec.family,
            f"{spec.params:,}",
            f"{spec.macs / 1e6:,.2f} M",
            "x".join(map(str, spec.input_size)),
            f"[{spec.paper.title}]({spec.paper.url})",
            spec.seed,
            spec.seed_top1 or "-",
            "<br>".join(
                f"`{tag}`: {entry['metrics']['top1']:.2f} %"
                + (f" on {entry['dataset']}" if entry["dataset"] != tag else "")
                for tag, entry in published.get(spec.name, {}).items()
            )
            or "-",
        ] + [speeds.get(spec.name, {}).get(m, "-") for m in modes]
        lines.append("| " + " | ".join(row) + " |")
    if source:
        lines.append(f"\n{source}")
    return "\n".join(lines)


def updated(text: str, readme: Path = README) -> str:
    if START not in text or END not in text:
        raise SystemExit(f"{readme}: markers {START} / {END} not found")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\n{render()}\n{END}{tail}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the README table is stale")
    parser.add_argument(
        "--readme", type=Path, default=README, help="the README to update (default: the repo's)"
    )
    args = parser.parse_args()
    text = args.readme.read_text()
    new = updated(text, args.readme)
    if args.check:
        if new != text:
            print(
                "README.md model table is stale: run python scripts/update_readme_table.py", file=sys.stderr
            )
            sys.exit(1)
        return
    args.readme.write_text(new)


if __name__ == "__main__":
    main()
