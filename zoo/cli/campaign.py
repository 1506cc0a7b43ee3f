"""`zoo campaign run | status | publish`: a release campaign over several working sessions."""

from __future__ import annotations

import json
import time
from pathlib import Path

import typer

from ._app import app

campaign_app = typer.Typer(
    help="Release campaigns: long training runs continued across working sessions (docs/campaign.md).",
    no_args_is_help=True,
)
app.add_typer(campaign_app, name="campaign")

_PLAN = typer.Option(
    Path("campaign.toml"), "--plan", help="The campaign plan (the repo root's campaign.toml)."
)


def _plan(path: Path):
    from ..campaign import load_plan

    return load_plan(path)


@campaign_app.command("run")
def run_command(
    plan: Path = _PLAN,
    foreground: bool = typer.Option(
        False, "--foreground", help="Run in this process (default: a detached background process)."
    ),
    lock_fd: int = typer.Option(None, "--lock-fd", hidden=True, help="The lock a parent `run` passed down."),
) -> None:
    """Start (or continue) the first unfinished step, then the next, until every step is done."""
    from ..campaign import CampaignStopped, run_foreground, start

    loaded = _plan(plan)
    if lock_fd is not None:  # the background process: campaign.log, its stdout, has every line already
        try:
            run_foreground(loaded, lock_fd=lock_fd)
        except CampaignStopped:
            raise typer.Exit(1) from None
        except KeyboardInterrupt:  # SIGTERM as a session ends (no terminal sends Ctrl-C here)
            raise typer.Exit(128 + 15) from None
        return
    if foreground:
        finished = run_foreground(loaded)
        typer.echo(f"{len(finished)} of {len(loaded.steps)} steps done; publish with `zoo campaign publish`")
        return
    started = start(loaded)
    if started is None:
        typer.echo("nothing to run: every step is finished or blocked (`zoo campaign status` says which)")
        return
    typer.echo(f"campaign running in the background (pid {started.pid}, nice {loaded.nice})")
    typer.echo(f"  step {started.step.name} ({started.step.model}): {started.how}")
    typer.echo(f"  step log:     {started.step_log}")
    typer.echo(f"  campaign log: {started.log}")
    typer.echo("watch it with `zoo campaign status`")


def _clock(when: float | None) -> str:
    if when is None:
        return "-"
    fmt = "%H:%M" if time.strftime("%F", time.localtime(when)) == time.strftime("%F") else "%m-%d %H:%M"
    return time.strftime(fmt, time.localtime(when))


@campaign_app.command("stop")
def stop_command(
    timeout: float = typer.Option(300.0, "--timeout", min=0, help="Seconds to wait for it to end."),
) -> None:
    """Stop the background campaign: its step saves a checkpoint where it stands; `run` resumes it."""
    from ..campaign import stop

    stopped = stop(timeout_s=timeout)
    if stopped is None:
        typer.echo("no campaign process is running")
        return
    if not stopped.ended:
        typer.echo(
            f"zoo: error: campaign pid {stopped.pid} is still saving after {timeout:g} s; see {stopped.log}",
            err=True,
        )
        raise typer.Exit(1)
    typer.echo(
        f"campaign pid {stopped.pid} stopped, its step saved; `zoo campaign run` resumes it ({stopped.log})"
    )


def _epochs_done(step) -> str:
    """'2', or '2.4' when a mid-epoch checkpoint saved 40 % of epoch 3; '-' before any."""
    if step.progress is not None and step.progress != step.epoch:
        return f"{step.epoch + int((step.progress - step.epoch) * 10) / 10:.1f}"  # 1.99 is 1.9, not 2.0
    return str(step.epoch) if step.epoch is not None else "-"


def _time_left(step) -> str:
    from .._units import duration

    if step.state in ("done", "published"):
        return "-"
    if step.state == "waiting":
        return f"~{duration(step.seconds_left)}" if step.seconds_left is not None else "unknown"
    if step.seconds_left is None:
        return "unknown"
    finish = f" (~{_clock(time.time() + step.seconds_left)})" if step.state == "running" else ""
    return duration(step.seconds_left) + finish


def _top1(step) -> str:
    """'91.20' when done or measured after the last finished epoch; '64.80@2' (after epoch 2) for a
    run in flight that has trained on since; '-' when none yet."""
    if step.top1 is None:
        return "-"
    behind = step.state != "done" and step.top1_epoch and step.top1_epoch != step.epoch
    return f"{step.top1:.2f}" + (f"@{step.top1_epoch}" if behind else "")


@campaign_app.command("status")
def status_command(
    plan: Path = _PLAN,
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
    manifest: Path = typer.Option(None, "--manifest", help="What is published (default: the checkout's)."),
) -> None:
    """Every step: done (top-1), running (epoch, speed, time left), stopped, failed, waiting (estimate)."""
    from rich import box
    from rich.console import Console
    from rich.table import Table

    from .._units import duration
    from ..campaign import status
    from ..train.record import plural

    report = status(_plan(plan), manifest=manifest)
    if as_json:
        typer.echo(json.dumps(report.to_dict(), indent=2))
        return
    # A light frame and the notes below it: a dozen steps fit an 80-column terminal.
    table = Table(
        title=f"campaign in {report.dir}", title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False
    )
    longest_name = max((len(s.name) for s in report.steps), default=4)
    for column in ("step", "state", "epoch", "top-1 %", "img/s", "saved", "left"):
        justify = "right" if column in ("epoch", "top-1 %", "img/s") else "left"
        # step names are what people type next (`zoo campaign publish STEP`): never cut them
        # nor the time left ("~18h 31m"): what the table is read for
        widths = {"step": longest_name, "left": 8}
        table.add_column(column, justify=justify, min_width=widths.get(column), no_wrap=column in widths)
    for s in report.steps:
        table.add_row(
            s.name,
            s.state,
            f"{_epochs_done(s)}/{s.epochs or '?'}",
            _top1(s),
            f"{s.img_per_s:.0f}" if s.img_per_s else "-",
            _clock(s.last_checkpoint),
            _time_left(s),
        )
    console = Console()
    console.print(table)
    for s in report.steps:
        if s.state == "published":
            continue  # the table says it
        note = "published" if s.published else s.note if s.state != "waiting" else ""
        if note:
            console.print(f"{s.name}: {note}", highlight=False, soft_wrap=True)
    seconds, steps, unknown = report.remaining()
    if steps:
        unknown_note = f", {unknown} of them not estimated" if unknown else ""
        console.print(
            f"left in all: ~{duration(seconds)} on this machine ({plural(steps, 'step')}{unknown_note})",
            highlight=False,
        )
    process = report.process
    if process:
        console.print(
            f"campaign process: running (pid {process['pid']}, log {process.get('log', report.log)})"
        )
    else:
        console.print(
            f"campaign process: none (`zoo campaign run` starts one; log {report.log})", soft_wrap=True
        )


@campaign_app.command("publish")
def publish_command(
    steps: list[str] = typer.Argument(
        None, help="Steps to publish (default: every finished, unpublished one)."
    ),
    plan: Path = _PLAN,
    releases: Path = typer.Option(None, "--releases", help="Folder of release folders (default: releases/)."),
    manifest: Path = typer.Option(
        None, "--manifest", help="Weights manifest to add to (default: the checkout's)."
    ),
    readme: Path = typer.Option(
        None, "--readme", help="README whose model table to update (default: the checkout's)."
    ),
) -> None:
    """Export finished runs (scripts/export_release.py) into releases/, the manifest and the README table."""
    from ..campaign import PUSH_LIMIT_BYTES, publish

    def report(p) -> None:
        size = f"{p.bytes / 1e6:.1f} MB"
        typer.echo(
            f"published {p.name} (step {p.step}): top-1 {p.top1:.2f} %, {p.dtype}, {size} in {p.folder}"
        )

    kept: list[str] = []

    def keep(reason: str) -> None:
        kept.append(reason)
        typer.echo(f"kept: {reason}")

    done = publish(
        _plan(plan), steps or (), releases=releases, manifest=manifest, readme=readme,
        on_published=report, on_kept=keep,
    )  # fmt: skip
    if not done:
        if not kept:
            typer.echo(
                "nothing to publish: no finished step is missing from the manifest (`zoo campaign status`)"
            )
        return
    total = sum(p.bytes for p in done)
    typer.echo(f"{len(done)} releases, {total / 1e6:.1f} MB of new weight files; README table updated")
    if total > PUSH_LIMIT_BYTES:
        typer.echo(
            f"over the {PUSH_LIMIT_BYTES / 1e6:.0f} MB one push may carry: commit and push the release "
            "folders in several pushes (docs/campaign.md)"
        )
