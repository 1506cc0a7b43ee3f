"""`zoo campaign status`: every step's state, progress and time left, read from the run folders.

Estimates rest on the speed this campaign measured for the model (the img/s in a run's
metrics.jsonl), else on the newest `zoo bench` training img/s recorded on this machine and torch
build (the user cache's CSV, not the README's, which another machine measured), else are unknown.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .._builder import model_info
from .._device import resolve_device
from .._recipe import pixel_shares
from ..bench import recorded_train_speed
from ..train.options import parse_duration
from ..train.recipes import default_recipe_name, get_recipe
from .lock import owner
from .plan import Plan, Step
from .runs import CampaignDir, RunFolder, campaign_dir

TRAIN_IMAGES = {"cifar10": 50_000, "mnist": 60_000}  # full training splits, before any validation split


@dataclass(frozen=True)
class StepStatus:
    """One step: state is done, published (in the manifest, no run here to
    continue), running, stopped (started, no process), failed, waiting or blocked."""

    name: str
    model: str
    state: str
    epoch: int | None = None
    epochs: int | None = None
    progress: float | None = None  # started: epochs finished + the saved share of the one in flight
    top1: float | None = None  # done: the final top-1; started: the last evaluated epoch's
    top1_epoch: int | None = None  # the epoch `top1` was measured after
    img_per_s: float | None = None
    last_checkpoint: float | None = None  # Unix time
    seconds_left: float | None = None  # running/stopped: to finish; waiting: the whole run
    note: str = ""  # why it failed or is blocked, who trains it, where an estimate came from
    published: bool = False
    log: str = ""


@dataclass(frozen=True)
class CampaignStatus:
    """The campaign dir, the live campaign process (pid, log) if any, and every step."""

    dir: str
    process: dict[str, Any] | None
    log: str
    steps: list[StepStatus]

    def remaining(self) -> tuple[float, int, int]:
        """(seconds, steps, of which unknown): what is left of the campaign on this machine; the
        seconds sum the steps with an estimate."""
        left = [s for s in self.steps if s.state not in ("done", "published")]
        unknown = sum(s.seconds_left is None for s in left)
        return sum(s.seconds_left or 0.0 for s in left), len(left), unknown

    def to_dict(self) -> dict[str, Any]:
        seconds, steps, unknown = self.remaining()
        remaining = {"seconds": seconds, "steps": steps, "unknown": unknown}
        return {**asdict(self), "steps": [asdict(s) for s in self.steps], "remaining": remaining}


def published_releases(manifest: Path) -> dict[str, dict[str, Any]]:
    """The entries of a weights manifest file by ``MODEL.TAG`` (empty when there is none)."""
    try:
        models = json.loads(manifest.read_text()).get("models", {})
        return {f"{model}.{tag}": entry for model, tags in models.items() for tag, entry in tags.items()}
    except (OSError, ValueError, AttributeError):
        return {}


def weights_sha256(entry: Any) -> str | None:
    """The sha256 of a manifest entry's first weights file (None for a malformed entry)."""
    try:
        return entry["files"][0]["sha256"]
    except (TypeError, KeyError, IndexError):
        return None


def is_published(step: Step, folder: CampaignDir, published: dict[str, dict[str, Any]]) -> bool:
    """Whether `step`'s release is in `published` (the manifest's entries by MODEL.TAG). An improve
    step counts only once the entry is the version its own run was exported as: the older release
    it retrains is not its."""
    entry = published.get(f"{step.model}.{step.tag}")
    if entry is None:
        return False
    return not step.improve or folder.published_sha256(step.name) == weights_sha256(entry)


def kept_back(step: Step, run: RunFolder, published: dict[str, dict]) -> str | None:
    """Why an improve step's finished run must not replace the release it retrains (None: it may,
    or the step is no retrain): its own final test top-1 is not above the published one."""
    name = f"{step.model}.{step.tag}"
    if not step.improve or name not in published:
        return None
    old = (published[name].get("metrics") or {}).get("top1")
    if old is None:
        return None
    if run.top1 is None:
        return f"step {step.name} has no test top-1 to set against {name}'s {old:.2f} %: the release stays"
    if run.top1 <= old:
        return (
            f"step {step.name} reached {run.top1:.2f} %, not above {name}'s published {old:.2f} %: "
            "the release stays as it is"
        )
    return None


def status(plan: Plan, *, manifest: Path | None = None) -> CampaignStatus:
    """The state of every step of `plan` in the campaign dir; `manifest` tells what is published
    (default: the plan folder's weights_manifest.json)."""
    folder = CampaignDir(campaign_dir())
    published = published_releases(manifest or plan.manifest)
    runs = {step.name: RunFolder(folder.run(step.name)) for step in plan.steps}
    speeds = _speeds(plan, runs)
    steps = [
        _step_status(plan, step, folder, runs[step.name], speeds.get(step.model), published)
        for step in plan.steps
    ]
    return CampaignStatus(str(folder.root), owner(folder.lock), str(folder.log), steps)


def _speeds(plan: Plan, runs: dict[str, RunFolder]) -> dict[str, float]:
    """img/s per model, from the runs of this campaign that measured one."""
    measured: dict[str, list[float]] = {}
    for step in plan.steps:
        speed = runs[step.name].full_size_img_per_s  # what a full-size epoch runs at
        if speed:
            measured.setdefault(step.model, []).append(speed)
    return {model: sum(s) / len(s) for model, s in measured.items()}


def _step_status(
    plan: Plan,
    step: Step,
    folder: CampaignDir,
    run: RunFolder,
    speed: float | None,
    published: dict[str, dict[str, Any]],
) -> StepStatus:
    common = dict(name=step.name, model=step.model, log=str(folder.step_log(step.name)))
    common["published"] = is_published(step, folder, published)
    if run.finished:
        kept = None if common["published"] else kept_back(step, run, published)
        return StepStatus(
            state="done", epoch=run.epoch, epochs=run.epochs, top1=run.top1, top1_epoch=run.epoch,
            note=kept or "", **common,
        )  # fmt: skip
    if not run.has_progress and common["published"]:
        # no run here (a new machine, an emptied cache): what the release itself says it reached
        entry = published[f"{step.model}.{step.tag}"]
        entry = entry if isinstance(entry, dict) else {}
        epochs = entry.get("epochs")  # the release's own, which the plan may since have changed
        return StepStatus(
            state="published", epoch=epochs, epochs=_planned_epochs(step),
            top1=(entry.get("metrics") or {}).get("top1"), top1_epoch=epochs, **common,
        )  # fmt: skip
    if not run.started:
        epochs, failure = _planned_epochs(step), folder.failure(step.name)
        if failure:
            return StepStatus(state="failed", epochs=epochs, note=failure, **common)
        estimate, note = _estimate(step, speed)
        return StepStatus(state="waiting", epochs=epochs, seconds_left=estimate, note=note, **common)
    trainer, failure = run.trainer, folder.failure(step.name)
    state = "running" if trainer else "failed" if failure else "stopped"
    note = f"trained by pid {trainer['pid']}" if trainer else failure or "`zoo campaign run` resumes it"
    left = _time_left(run, speed or _bench_speed(step.model), running=bool(trainer))
    top1_epoch, top1 = run.latest_top1 or (None, None)
    return StepStatus(
        state=state, epoch=run.epoch, epochs=run.epochs, progress=run.progress, top1=top1,
        top1_epoch=top1_epoch,
        img_per_s=run.img_per_s or None, last_checkpoint=run.last_checkpoint, seconds_left=left,
        note=note, **common,
    )  # fmt: skip


def _planned_epochs(step: Step) -> int | None:
    if "time_budget" in step.options:
        return None  # set by the budget when the run starts
    if "epochs" in step.options:
        return int(step.options["epochs"])
    return get_recipe(step.recipe or default_recipe_name(step.model)).epochs


def _epoch_images(step: Step) -> int:
    if step.options.get("limit_train"):
        return int(step.options["limit_train"])
    return TRAIN_IMAGES.get(model_info(step.model).dataset, 50_000)


def _estimate(step: Step, speed: float | None) -> tuple[float | None, str]:
    """A waiting step's duration, and where the figure comes from."""
    if "time_budget" in step.options:
        return parse_duration(step.options["time_budget"]), "its time budget"
    epochs, source = _planned_epochs(step), ""
    if not speed:
        speed, source = _bench_speed(step.model), " (`zoo bench` here)"
    if not speed or not epochs:
        return None, "speed not measured yet (`zoo bench MODEL` measures it)"
    recipe = get_recipe(step.recipe or default_recipe_name(step.model))
    resize = str(step.options.get("progressive_resize", recipe.progressive_resize) or "")
    full_size_epochs = sum(pixel_shares(resize, epochs, model_info(step.model).input_size[-1]))
    return full_size_epochs * _epoch_images(step) / speed, f"estimate at {speed:.0f} img/s{source}"


def _bench_speed(model: str) -> float | None:
    """`zoo bench`'s newest training img/s of `model` on the device `zoo train` picks here."""
    return recorded_train_speed(model, resolve_device("auto"))


def _time_left(run: RunFolder, speed: float | None, *, running: bool) -> float | None:
    """Seconds until a started run finishes: its epochs left at its own pace (else the model's)."""
    if not run.epochs:
        return None
    # seconds of a full-size epoch: epochs of smaller images (progressive_resize) cost their share
    per_epoch, full_speed = run.full_size_epoch_seconds, run.full_size_img_per_s or speed
    if per_epoch is None and full_speed and run.train_images:
        per_epoch = run.train_images / full_speed
    if per_epoch is None:
        return None
    # a stopped run resumes from its last checkpoint, mid-epoch or not; a running one is timed from
    # the start of its epoch in flight
    left = _full_size_epochs_after(run, run.epoch if running else run.progress) * per_epoch
    if running and run.last_activity:  # the current epoch began when the last one was written
        left -= min(time.time() - run.last_activity, per_epoch * run.pixel_share(run.epoch + 1))
    return max(left, 0.0)


def _full_size_epochs_after(run: RunFolder, position: float) -> float:
    """The work left after `position` (epochs done, 1.35: 35 % of epoch 2), in full-size epochs."""
    done = int(position)
    rest = sum(run.pixel_share(epoch) for epoch in range(done + 1, run.epochs + 1))
    return rest - (position - done) * run.pixel_share(done + 1)
