"""`zoo campaign run`: the steps in order, each a `zoo train` subprocess, in the background by default.

Every step is continued, never restarted: a finished run is skipped, a started one resumed with
`--resume`, a step whose MODEL.TAG the manifest lists already (published from a run folder this
machine no longer has) is skipped too, and a run some other `zoo train` is still training (one
started by hand, or by a campaign process killed since) is waited for. A step that fails (a full
disk, a corrupt checkpoint: `zoo train` exits non-zero) stops the campaign with one line in
campaign.log and in `<step>.failed`; its folder is left exactly as `zoo train` left it, and the
next `run` retries it. A campaign file that cannot be written (a full disk) stops the campaign
too, with one line naming it (zoo.campaign.files); a child's error line reaches the campaign even
where its log cannot hold it.
"""

from __future__ import annotations

import functools
import os
import shutil
import signal
import subprocess
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from .._files import append_text
from ..train.record import plural
from . import commands
from .files import NOT_STARTED, append_line, only_warned, replace_text, writing
from .lock import CampaignLock
from .plan import CampaignError, Plan, Step
from .runs import CampaignDir, RunFolder, campaign_dir
from .status import is_published, published_releases


class CampaignStopped(CampaignError):
    """The campaign stopped at a step that failed (its line says why); exit code 1."""

    exit_code = 1


@dataclass(frozen=True)
class Started:
    """A background campaign process: its pid, the step it starts with, and where it logs."""

    pid: int
    step: Step
    how: str  # "starts it", "resumes it after epoch 3/8", "waits for pid 123 (training it already)..."
    step_log: Path
    log: Path


def _raise_niceness(level: int) -> None:
    """Run at niceness `level` at least (never less nice than already): the user's work comes first."""
    current = os.getpriority(os.PRIO_PROCESS, 0)
    if current < level:
        os.setpriority(os.PRIO_PROCESS, 0, level)


def _spawn(
    plan: Plan, argv: list[str], log, *, stderr=subprocess.STDOUT, env: dict[str, str] | None = None, **popen
) -> subprocess.Popen:
    """A niced zoo subprocess in the plan's folder, its output to `log`, unbuffered so it streams."""
    return subprocess.Popen(
        argv, stdin=subprocess.DEVNULL, stdout=log, stderr=stderr, cwd=plan.root,
        preexec_fn=functools.partial(_raise_niceness, plan.nice),
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}, **popen,
    )  # fmt: skip


class _Journal:
    """campaign.log: one timestamped line per event, echoed to stdout in the foreground; a line that
    cannot be written stops the campaign (`CampaignWriteError`)."""

    def __init__(self, path: Path, echo: bool) -> None:
        self.path, self.echo = path, echo

    def __call__(self, line: str) -> None:
        stamped = f"{time.strftime('%Y-%m-%d %H:%M:%S')} {line}"
        if self.echo:  # first: a full disk must not hide the line from the terminal too
            print(stamped, flush=True)
        append_line(self.path, stamped)


def published_unstarted(plan: Plan, step: Step, folder: CampaignDir) -> bool:
    """Whether `step` is published (its MODEL.TAG is in the plan folder's manifest; for an improve
    step, as the version its run made) and has no run here to continue (none, or one stopped before
    its first checkpoint): training it again would spend hours on weights that exist, so it counts
    as done."""
    run = RunFolder(folder.run(step.name))
    if run.finished or run.has_progress:
        return False
    return is_published(step, folder, published_releases(plan.manifest))


def _done_or_published(plan: Plan, step: Step, folder: CampaignDir) -> bool:
    return RunFolder(folder.run(step.name)).finished or published_unstarted(plan, step, folder)


def growth_origin(plan: Plan, step: Step, folder: CampaignDir) -> str | Path:
    """What `step` grows from: its source step's finished run, else that step's published weights
    (MODEL.TAG), else the plan's MODEL.TAG as written."""
    source = plan.source_step(step)
    if source is None:
        return step.grow_from
    run = folder.run(source.name)
    return run if RunFolder(run).finished else f"{source.model}.{source.tag}"


def describe(plan: Plan, step: Step, folder: CampaignDir) -> str:
    """How `run` takes up `step` now: starts it, resumes it, or waits for the process training it."""
    run = RunFolder(folder.run(step.name))
    if run.trainer:
        return f"waits for pid {run.trainer['pid']} (training it already), then continues"
    if run.started:
        mid = run.progress - run.epoch  # the share of the next epoch a mid-epoch checkpoint saved
        more = f" and {mid * 100:.0f} % of epoch {run.epoch + 1}" if mid > 0 else ""
        return f"resumes it after epoch {run.epoch}/{run.epochs or '?'}{more}"
    return "grows and starts it" if step.grow_from else "starts it"


def blocked(plan: Plan, step: Step, folder: CampaignDir) -> str | None:
    """Why `step` cannot start now (it grows from a step that has not finished), or None."""
    if step.grow_from is None or RunFolder(folder.run(step.name)).started:
        return None
    source = plan.source_step(step)
    if source is not None and not _done_or_published(plan, source, folder):
        return f"grows from step {source.name}, which is not finished"
    return None


def next_step(plan: Plan, folder: CampaignDir) -> Step | None:
    """The first step that is neither finished (or published) nor blocked."""
    for step in plan.steps:
        if not _done_or_published(plan, step, folder) and blocked(plan, step, folder) is None:
            return step
    return None


def start(plan: Plan) -> Started | None:
    """Start the campaign in a detached, niced background process and return at once; None (and
    no process) when every step is finished or blocked.

    The lock is taken here and handed down, so a second `run` is refused from the first instant.
    """
    folder = CampaignDir(campaign_dir())
    lock = CampaignLock.acquire(folder.lock, folder.log)
    child = None
    try:
        step = next_step(plan, folder)
        if step is None:
            lock.release()
            return None
        how = describe(plan, step, folder)  # before the child can change what it sees
        with writing(folder.log, NOT_STARTED):
            log = folder.log.open("a")
        with log:  # tracebacks, if any, land in the log too
            argv = commands.zoo_command(
                "campaign", "run", "--foreground", "--plan", plan.path.resolve(), "--lock-fd", lock.fd
            )
            # A session of its own: closing the terminal that started it does not stop it.
            child = _spawn(plan, argv, log, pass_fds=(lock.fd,), start_new_session=True,
                           env={"ZOO_CAMPAIGN_DIR": str(folder.root)})  # fmt: skip
        with writing(folder.lock, NOT_STARTED):
            lock.write(child.pid, folder.log)
    except BaseException:
        if child is not None:  # a campaign the lock does not name would run unseen: stop it
            child.terminate()
            child.wait()
        lock.release()
        raise
    lock.close()  # the child holds the lock now
    return Started(child.pid, step, how, folder.step_log(step.name), folder.log)


def run_foreground(plan: Plan, *, lock_fd: int | None = None, poll_s: float = 5.0) -> list[str]:
    """Run the campaign in this process until every step is finished or blocked; the steps it finished.

    Raises CampaignStopped at a failed step, CampaignError if another campaign holds the lock.
    `lock_fd`: the lock `start` took and passed down. `poll_s`: how often to look whether a run
    another process is training is free yet.
    """
    folder = CampaignDir(campaign_dir())
    journal = _Journal(folder.log, echo=lock_fd is None)
    if lock_fd is None:
        lock = CampaignLock.acquire(folder.lock, folder.log)
    else:
        lock = CampaignLock.inherit(folder.lock, lock_fd)
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        steps = plural(len(plan.steps), "step")
        journal(f"campaign {plan.path.resolve()} started (pid {os.getpid()}, {steps})")
        done = [_Step(plan, step, folder, journal, poll_s).run() for step in plan.steps]
        finished = [name for name in done if name]
        blocked_steps = [s.name for s in plan.steps if s.name not in finished]
        journal(
            f"campaign finished: {len(finished)} of {steps} done"
            + (f"; blocked: {', '.join(blocked_steps)}" if blocked_steps else "")
        )
        return finished
    except KeyboardInterrupt:
        with only_warned():
            journal("campaign stopped (interrupted): `zoo campaign run` continues it")
        raise
    finally:
        signal.signal(signal.SIGTERM, previous)
        lock.release()


def _terminate(signum, frame) -> None:
    raise KeyboardInterrupt  # SIGTERM (a session ending): stop the way Ctrl-C does


class _Step:
    """One step of `run_foreground`: skip, wait, grow, train, and judge the outcome."""

    def __init__(self, plan: Plan, step: Step, folder: CampaignDir, journal: _Journal, poll_s: float) -> None:
        self.plan, self.step, self.folder, self.journal, self.poll_s = plan, step, folder, journal, poll_s
        self.out = folder.run(step.name)
        self.log = folder.step_log(step.name)

    def run(self) -> str | None:
        """The step's name once its run is finished; None when it is blocked."""
        name, run = self.step.name, RunFolder(self.out)
        if run.finished:
            return name
        if published_unstarted(self.plan, self.step, self.folder):
            self.journal(f"{name}: skipped: {self.step.model}.{self.step.tag} is published already")
            return name
        reason = blocked(self.plan, self.step, self.folder)
        if reason:
            self.journal(f"{name}: skipped: {reason}")
            return None
        self._wait_for_trainer()
        if RunFolder(self.out).finished:
            return self._done()
        self.folder.failed(name).unlink(missing_ok=True)
        run = RunFolder(self.out)
        init_from = None if run.started else self._grow()
        self._child(
            "zoo train", commands.train_command(self.step, self.out, resume=run.started, init_from=init_from)
        )
        if not RunFolder(self.out).finished:
            self._fail(f"`zoo train` ended without finishing the run; see {self.log}")
        return self._done()

    def _done(self) -> str:
        run = RunFolder(self.out)
        top1 = f"top-1 {run.top1:.2f} %" if run.top1 is not None else "no top-1 recorded"
        self.journal(f"{self.step.name}: done, {top1} after {plural(run.epoch, 'epoch')}")
        return self.step.name

    def _wait_for_trainer(self) -> None:
        trainer = RunFolder(self.out).trainer
        if trainer:
            self.journal(
                f"{self.step.name}: waiting for pid {trainer['pid']}, which is training {self.out} already"
            )
        while trainer:
            time.sleep(self.poll_s)
            trainer = RunFolder(self.out).trainer

    def _grow(self) -> Path | None:
        """Grow the step's model into ``<step>.grown`` (once); the folder, or None for a plain step."""
        if self.step.grow_from is None:
            return None
        grown = self.folder.grown(self.step.name)
        if not grown.is_dir():
            partial = grown.with_name(grown.name + ".partial")
            shutil.rmtree(partial, ignore_errors=True)  # what a killed `zoo grow` left
            origin = growth_origin(self.plan, self.step, self.folder)
            try:
                self._child("zoo grow", commands.grow_command(self.step, origin, partial))
            except BaseException:
                shutil.rmtree(partial, ignore_errors=True)  # useless, and on a full disk in the way
                raise
            os.replace(partial, grown)  # whole or not at all: a half-grown model is never trained
        return grown

    def _child(self, what: str, argv: list[str]) -> None:
        """Run one zoo subprocess, its output appended to the step's log; fail the step if it fails.

        Its stderr passes through this process on its way to the log, so that its error line reaches
        campaign.log and the terminal even when the log cannot hold it (a full disk)."""
        self.journal(f"{self.step.name}: {' '.join(argv[2:])}  (log: {self.log})")
        append_line(self.log, f"$ {' '.join(argv)}")
        with writing(self.log):
            log = self.log.open("ab")  # the child's stdout; its stderr comes through `_relay`
        with log:
            child = _spawn(self.plan, argv, log, stderr=subprocess.PIPE)
            said: deque[str] = deque(maxlen=50)
            relay = threading.Thread(target=_relay, args=(child.stderr, self.log, said), daemon=True)
            relay.start()
            try:
                code = child.wait()
            except KeyboardInterrupt:  # Ctrl-C reached the child too; SIGTERM (raised as this) did not
                try:
                    child.wait(timeout=2)
                except subprocess.TimeoutExpired:
                    # `zoo train` then checkpoints at its next step, stops and says so in the log (SIGINT
                    # would lose the steps since its last checkpoint, and is ignored by a process a shell
                    # started in the background)
                    child.send_signal(signal.SIGTERM)
                    child.wait()
                relay.join(timeout=5)
                with only_warned():
                    self.journal(f"{self.step.name}: {_last_error(said)}")
                raise
            relay.join(timeout=5)  # a grandchild holding the pipe open must not hang the campaign
        if code != 0:
            self._fail(f"`{what}` failed ({_exit(code)}): {_last_error(said)}; see {self.log}")

    def _fail(self, why: str) -> None:
        reason = f"stopped: {why}; its run folder is as it was, `zoo campaign run` retries"
        line = f"{self.step.name}: {reason}"
        with only_warned():
            self.journal(line)
        with only_warned():
            replace_text(self.folder.failed(self.step.name), reason + "\n")
        raise CampaignStopped(line)


def _exit(code: int) -> str:
    return f"killed by {signal.Signals(-code).name}" if code < 0 else f"exit code {code}"


def _relay(pipe, log: Path, said: deque[str]) -> None:
    """Append a child's stderr to its log line by line (each whole or not at all), keeping the last
    lines in `said`."""
    with pipe:
        for line in pipe:
            said.append(line.decode(errors="replace").strip())
            try:
                append_text(log, line.decode(errors="replace"))
            except OSError:  # a full disk: `said` still holds what matters
                pass


def _last_error(said) -> str:
    """The last `zoo: error:` line a subprocess wrote to stderr (else its last line)."""
    lines = [line for line in list(said) if line]  # list(): one step, even if the relay still appends
    errors = [line.removeprefix("zoo: error: ") for line in lines if line.startswith("zoo: error:")]
    return (errors or lines or ["it printed nothing"])[-1]
