"""Train, fetch and publish the large models on a lent GPU (the runbook: docs/gpu_release.md).

On the device machine (PYTHONPATH=$PWD python3 scripts/gpu_release.py ...):
    --budget 420 --data-dir /tmp/c        train the unpublished models in priority order, each finished
                                          model handed to $OUT before the next starts
    --send /tmp/gpu-release               the next files that fit one call, into $OUT
Here:
    --plan                                the models, seconds and recipes a job would use
    --collect runs/gpu-release            verify, reassemble and export what came back
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from zoo_release import plan

DEVICE_WORK = Path("/tmp/gpu-release")  # on the device machine: outlives a call while it stays warm
RELEASES = Path(__file__).resolve().parents[1] / "releases"
SCRIPT = "scripts/gpu_release.py"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__,
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--plan", action="store_true", help="print the plan and exit")
    mode.add_argument("--send", type=Path, metavar="WORK", help="send the next files of WORK to --out")
    mode.add_argument("--collect", type=Path, metavar="DIR", help="publish the folders fetched into DIR")
    job = parser.add_argument_group("the job")
    job.add_argument("--budget", help="wall budget of the whole job: 420, 7m, ...")
    job.add_argument(
        "--models", help="MODEL[=SECONDS],... (default: the unpublished ones, in priority order)"
    )
    job.add_argument("--work", type=Path, default=DEVICE_WORK, help=f"working folder (default {DEVICE_WORK})")
    job.add_argument("--data-dir", type=Path, help="the folder holding cifar-10-batches-py/")
    job.add_argument("--eval-every", type=int, default=5, help="evaluate every K epochs while training")
    job.add_argument("--compile", action="store_true", help="torch.compile (pays only for long budgets)")
    for name in ("limit-train", "limit-test", "batch-size", "epochs"):
        job.add_argument(f"--{name}", type=int, help="smoke runs on CPU")
    job.add_argument("--device", help="cuda (default when there is one) or cpu")
    send = parser.add_argument_group("sending")
    send.add_argument("--out", type=Path, default=os.environ.get("OUT"), help="where files go (default $OUT)")
    send.add_argument("--again", default="", help="MODEL/FILE,... to send once more (collect names them)")
    collect = parser.add_argument_group("collecting")
    collect.add_argument("--releases", type=Path, default=RELEASES, help=f"default {RELEASES}")
    collect.add_argument("--org", default="cifar-zoo", help="Hub organisation of the repo ids")
    collect.add_argument("--tag", help="weights tag (default: the data set identity, e.g. cifar10-jpeg)")
    collect.add_argument("--measure-here", action="store_true", help="measure top-1 again on this CPU (slow)")
    return parser


def _job(args: argparse.Namespace) -> int:
    from zoo_release.job import Settings, run_job

    from zoo.train import parse_duration

    if not args.budget:
        raise SystemExit("the job needs --budget (seconds for everything: training, measuring, packing)")
    items = plan.parse_models(args.models) if args.models else plan.unpublished()
    os.environ.setdefault("ZOO_CACHE_DIR", str(args.work / "cache"))  # the device has no platformdirs
    log = logging.getLogger("zoo")  # each epoch's line, in the call's output
    log.addHandler(logging.StreamHandler(sys.stdout))
    log.setLevel(logging.INFO)
    given = {"limit_train": args.limit_train, "limit_test": args.limit_test, "batch_size": args.batch_size}
    given.update(epochs=args.epochs, device=args.device)
    settings = Settings(
        work=args.work,
        total_s=parse_duration(args.budget),
        data_dir=args.data_dir,
        send_to=args.out,
        eval_every=args.eval_every,
        compile=args.compile,
        overrides={k: v for k, v in given.items() if v is not None},
    )
    print(plan.describe_plan(items), flush=True)
    summary = run_job(items, settings, log=lambda line: print(line, flush=True))
    counts = ", ".join(f"{len(summary[k])} {k}" for k in ("done", "skipped", "failed"))
    print(f"job: {counts}")
    return 0 if summary["done"] or not items else 1


def _send(args: argparse.Namespace) -> int:
    from zoo_release.transport import send

    if args.out is None:
        raise SystemExit("--send needs --out DIR (or $OUT)")
    sent = send(args.send, args.out, [a for a in args.again.split(",") if a])
    print("\n".join(sent.files))
    print(sent.summary())
    return 0


def _collect(args: argparse.Namespace) -> int:
    from zoo_release.collect import collect

    options = {"org": args.org, "tag": args.tag, "data_dir": args.data_dir, "measure_here": args.measure_here}
    done = collect(args.collect, args.releases, **options)
    for model, missing in done.incomplete.items():
        print(f"{model}: incomplete; while the machine is warm, fetch the rest with the device command")
        print(f"    PYTHONPATH=$PWD python3 {SCRIPT} --send {DEVICE_WORK} --again {','.join(missing)}")
    for model, reason in done.failed.items():
        print(f"{model}: not published: {reason}")
    left = [item.model for item in plan.unpublished()]
    if left:
        print(f"still unpublished, for the next lease: --models {','.join(left)}")
    return 0 if not done.failed else 1


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.plan:
        print(plan.describe_plan(plan.parse_models(args.models) if args.models else plan.unpublished()))
        return 0
    if args.send:
        return _send(args)
    if args.collect:
        return _collect(args)
    return _job(args)


if __name__ == "__main__":
    sys.exit(main())
