"""Train, fetch and publish the unpublished models on a GPU machine (the runbook: docs/gpu_release.md).

On the GPU machine, from a checkout (PYTHONPATH=$PWD python3 scripts/gpu_release.py ...):
    run --budget 30m --data-dir DATA      train, measure and pack the unpublished models in priority
                                          order into --work; with --out, each finished model is also
                                          handed to that outbox within the fetch limits
    send WORK --out OUTBOX                the next files of WORK that fit one fetch, into OUTBOX
Here, in the checkout whose releases/ receives them:
    plan                                  the models, seconds and recipes a run would use
    collect DIR                           verify, reassemble and export DIR: the work folder copied
                                          back, or the fetched outboxes gathered
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from zoo_release import plan
from zoo_release.transport import FILE_BYTES, Limits, LimitsError, parse_size

WORK = Path("/tmp/gpu-release")  # on the GPU machine: outlives one command while the machine is up
RELEASES = Path(__file__).resolve().parents[1] / "releases"
SCRIPT = "scripts/gpu_release.py"
LIMITS = Limits()


def _models(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--models", help="MODEL[=SECONDS],... (default: the unpublished ones, in priority order)"
    )


def _fetch_limits(parser: argparse.ArgumentParser, file_size: bool = False) -> None:
    group = parser.add_argument_group(
        "what one fetch of the outbox may bring back (0: no limit; defaults: this project's lent machine)"
    )
    group.add_argument("--max-files", type=int, default=LIMITS.files, metavar="N", help="files (default 8)")
    group.add_argument(
        "--max-bytes", type=_size, default=LIMITS.bytes, metavar="SIZE", help="together (default 62MiB)"
    )
    if file_size:
        group.add_argument(
            "--max-file-bytes", type=_size, default=FILE_BYTES, metavar="SIZE",
            help="largest file: shards aim at it, a larger tensor goes in parts (default 15MB)",
        )  # fmt: skip


def _size(text: str) -> int:
    try:
        return parse_size(text)
    except LimitsError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__,
    )
    steps = parser.add_subparsers(dest="step", required=True, metavar="{plan,run,send,collect}")
    _models(steps.add_parser("plan", help="print the models, seconds and recipes a run would use"))

    run = steps.add_parser("run", help="on the GPU machine: train, measure and pack (the job)")
    run.add_argument("--budget", metavar="SECONDS", help="wall budget of the whole job: 420, 7m, 1.5h, ...")
    _models(run)
    run.add_argument(
        "--work", type=Path, default=WORK, metavar="WORK", help=f"working folder (default {WORK})"
    )
    run.add_argument("--data-dir", type=Path, metavar="DIR", help="the folder holding cifar-10-batches-py/")
    run.add_argument(
        "--out",
        type=Path,
        metavar="OUTBOX",
        help="outbox: each finished model is handed to it as it finishes",
    )
    _fetch_limits(run, file_size=True)
    run.add_argument("--eval-every", type=int, default=5, help="evaluate every K epochs while training")
    run.add_argument("--compile", action="store_true", help="torch.compile (pays only for long budgets)")
    for name in ("limit-train", "limit-test", "batch-size", "epochs"):
        run.add_argument(f"--{name}", type=int, help="smoke runs on CPU")
    run.add_argument("--device", help="cuda (default when there is one) or cpu")

    send = steps.add_parser("send", help="on the GPU machine: the next files of WORK into the outbox")
    send.add_argument("work", type=Path, metavar="WORK", help="the job's working folder")
    send.add_argument(
        "--out", type=Path, required=True, metavar="OUTBOX", help="the outbox (emptied by each fetch)"
    )
    send.add_argument(
        "--again", default="", metavar="MODEL/FILE,...", help="send once more (collect names them)"
    )
    _fetch_limits(send)

    collect = steps.add_parser("collect", help="here: verify, reassemble and publish what came back")
    collect.add_argument("gathered", type=Path, metavar="DIR", help="the work folder or gathered outboxes")
    collect.add_argument("--releases", type=Path, default=RELEASES, help=f"default {RELEASES}")
    collect.add_argument("--org", default="cifar-zoo", help="Hub organisation of the repo ids")
    collect.add_argument("--tag", help="weights tag (default: the data set identity, e.g. cifar10-jpeg)")
    collect.add_argument("--measure-here", action="store_true", help="measure top-1 again on this CPU (slow)")
    collect.add_argument("--data-dir", type=Path, metavar="DIR", help="the data --measure-here measures on")
    collect.add_argument(
        "--work", type=Path, default=WORK, metavar="WORK", help="the GPU machine's work folder, for hints"
    )
    return parser


def _limits(args: argparse.Namespace) -> Limits:
    try:
        return Limits(files=args.max_files, bytes=args.max_bytes)
    except LimitsError as error:
        raise SystemExit(str(error)) from None


def settings_from(args: argparse.Namespace):
    """The job's `Settings` from the `run` flags (refused before any training when they cannot work)."""
    from zoo_release.job import Settings

    from zoo.train import parse_duration

    if not args.budget:
        raise SystemExit("the job needs --budget (seconds for everything: training, measuring, packing)")
    given = {"limit_train": args.limit_train, "limit_test": args.limit_test, "batch_size": args.batch_size}
    given.update(epochs=args.epochs, device=args.device)
    try:
        return Settings(
            work=args.work,
            total_s=parse_duration(args.budget, "--budget"),
            data_dir=args.data_dir,
            outbox=args.out,
            limits=_limits(args),
            file_bytes=args.max_file_bytes,
            eval_every=args.eval_every,
            compile=args.compile,
            overrides={k: v for k, v in given.items() if v is not None},
        )
    except ValueError as error:  # a DurationError or LimitsError, worded for the command line
        raise SystemExit(str(error)) from None


def _items(args: argparse.Namespace) -> list[plan.Item]:
    import zoo

    try:
        return plan.parse_models(args.models) if args.models else plan.unpublished()
    except (plan.PlanError, zoo.UnknownModelError) as error:
        raise SystemExit(str(error)) from None


def _run(args: argparse.Namespace) -> int:
    from zoo_release.job import run_job

    settings = settings_from(args)
    items = _items(args)
    os.environ.setdefault("ZOO_CACHE_DIR", str(args.work / "cache"))  # a bare machine may lack a user cache
    log = logging.getLogger("zoo")  # each epoch's line, in the command's output
    log.addHandler(logging.StreamHandler(sys.stdout))
    log.setLevel(logging.INFO)
    print(plan.describe_plan(items), flush=True)
    if settings.outbox is None:
        print(f"no --out: the finished models stay in {args.work}; copy it back and collect it", flush=True)
    summary = run_job(items, settings, log=lambda line: print(line, flush=True))
    counts = ", ".join(f"{len(summary[k])} {k}" for k in ("done", "skipped", "failed"))
    print(f"job: {counts}")
    return 0 if summary["done"] or not items else 1


def _send(args: argparse.Namespace) -> int:
    from zoo_release.transport import send

    try:
        sent = send(args.work, args.out, [a for a in args.again.split(",") if a], _limits(args))
    except (LimitsError, FileNotFoundError) as error:
        raise SystemExit(str(error)) from None
    print("\n".join(sent.files))
    print(sent.summary())
    return 0


def _collect(args: argparse.Namespace) -> int:
    from zoo_release.collect import collect

    options = {"org": args.org, "tag": args.tag, "data_dir": args.data_dir, "measure_here": args.measure_here}
    done = collect(args.gathered, args.releases, **options)
    for model, missing in done.incomplete.items():
        again = ",".join(missing)
        print(f"{model}: incomplete; copy these from the GPU machine's work folder, or hand them over with")
        print(f"    PYTHONPATH=$PWD python3 {SCRIPT} send {args.work} --out OUTBOX --again {again}")
    for model, reason in done.failed.items():
        print(f"{model}: not published: {reason}")
    left = [item.model for item in plan.unpublished()]
    if left:
        print(f"still unpublished, for the next run: --models {','.join(left)}")
    return 0 if not done.failed else 1


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.step == "plan":
        print(plan.describe_plan(_items(args)))
        return 0
    return {"run": _run, "send": _send, "collect": _collect}[args.step](args)


if __name__ == "__main__":
    sys.exit(main())
