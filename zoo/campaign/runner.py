"""`zoo campaign run`: the steps in order, each a `zoo train` subprocess, in the background by default.

Every step is continued, never restarted: a finished run is skipped, a started one resumed with
`--resume`, and a run some other `zoo train` is still training (one started by hand, or by a
campaign process killed since) is waited for. A step that fails (a full disk, a corrupt
checkpoint: `zoo train` exits non-zero) stops the campaign with one line in campaign.log and in
`<step>.failed`; its folder is left exactly as `zoo train` left it, and the next `run` retries it.
"""

from __future__ import annotations

import functools
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from ..train.record import plural
from . import commands
from .lock import CampaignLock
from .plan import CampaignError, Plan, Step
from .runs import CampaignDir, RunFolder, campaign_dir


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
    plan: Plan, argv: list[str], log, *, env: dict[str, str] | None = None, **popen
) -> subprocess.Popen:
    """A niced zoo subprocess in the plan's folder, all its output to `log`, unbuffered so it streams."""
    return subprocess.Popen(
        argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, cwd=plan.root,
        preexec_fn=functools.partial(_raise_niceness, plan.nice),
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}, **popen,
    )  # fmt: skip


class _Journal:
    """campaign.log: one timestamped line per event, echoed to stdout in the foreground."""

    def __init__(self, path: Path, echo: bool) -> None:
        self.path, self.echo = path, echo

    def __call__(self, line: str) -> None:
        stamped = f"{time.strftime('%Y-%m-%d %H:%M:%S')} {line}"
        try:
            with self.path.open("a") as log:
                log.write(stamped + "\n")
        except OSError as error:  # a full disk must not hide why the campaign stopped
            print(f"zoo: campaign: cannot write {self.path} ({error.strerror}): {line}", file=sys.stderr)
        if self.echo:
            print(stamped, flush=True)


def describe(plan: Plan, step: Step, folder: CampaignDir) -> str:
    """How `run` takes up `step` now: starts it, resumes it, or waits for the process training it."""
    run = RunFolder(folder.run(step.name))
    if run.trainer:
        return f"waits for pid {run.trainer['pid']} (training it already), then continues"
    if run.started:
        return f"resumes it after epoch {run.epoch}/{run.epochs or '?'}"
    return "grows and starts it" if step.grow_from else "starts it"


def blocked(plan: Plan, step: Step, folder: CampaignDir) -> str | None:
    """Why `step` cannot start now (it grows from a step that has not finished), or None."""
    if step.grow_from is None or RunFolder(folder.run(step.name)).started:
        return None
    source = plan.source_step(step)
    if source is not None and not RunFolder(folder.run(source.name)).finished:
        return f"grows from step {source.name}, which is not finished"
    return None


def next_step(plan: Plan, folder: CampaignDir) -> Step | None:
    """The first step that is neither finished nor blocked."""
    for step in plan.steps:
        if not RunFolder(folder.run(step.name)).finished and blocked(plan, step, folder) is None:
            return step
    return None


def start(plan: Plan) -> Started | None:
    """Start the campaign in a detached, niced background process and return at once; None (and
    no process) when every step is finished or blocked.

    The lock is taken here and handed down, so a second `run` is refused from the first instant.
    """
    folder = CampaignDir(campaign_dir())
    lock = CampaignLock.acquire(folder.lock, folder.log)
    try:
        step = next_step(plan, folder)
        if step is None:
            lock.release()
            return None
        how = describe(plan, step, folder)  # before the child can change what it sees
        with folder.log.open("a") as log:  # tracebacks, if any, land in the log too
            argv = commands.zoo_command(
                "campaign", "run", "--foreground", "--plan", plan.path.resolve(), "--lock-fd", lock.fd
            )
            # A session of its own: closing the terminal that started it does not stop it.
            child = _spawn(plan, argv, log, pass_fds=(lock.fd,), start_new_session=True,
                           env={"ZOO_CAMPAIGN_DIR": str(folder.root)})  # fmt: skip
        lock.write(child.pid, folder.log)
    except BaseException:
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
            source = self.plan.source_step(self.step)
            partial = grown.with_name(grown.name + ".partial")
            shutil.rmtree(partial, ignore_errors=True)  # what a killed `zoo grow` left
            origin = self.folder.run(source.name) if source else self.step.grow_from
            self._child("zoo grow", commands.grow_command(self.step, origin, partial))
            os.replace(partial, grown)  # whole or not at all: a half-grown model is never trained
        return grown

    def _child(self, what: str, argv: list[str]) -> None:
        """Run one zoo subprocess, its output appended to the step's log; fail the step if it fails."""
        self.journal(f"{self.step.name}: {' '.join(argv[2:])}  (log: {self.log})")
        try:
            log = self.log.open("a")
            log.write(f"$ {' '.join(argv)}\n")
            log.flush()
        except OSError as error:  # a full disk, say: nothing has started, nothing is lost
            self._fail(f"cannot write {self.log} ({error.strerror or error})")
        with log:
            start = log.tell()
            child = _spawn(self.plan, argv, log)
            try:
                code = child.wait()
            except KeyboardInterrupt:  # Ctrl-C reached the child too; SIGTERM (raised as this) did not
                try:
                    child.wait(timeout=2)
                except subprocess.TimeoutExpired:
                    child.send_signal(signal.SIGINT)  # `zoo train` then says what it saved, in the log
                    child.wait()
                self.journal(f"{self.step.name}: {_last_error(self.log, start)}")
                raise
        if code != 0:
            self._fail(f"`{what}` failed ({_exit(code)}): {_last_error(self.log, start)}; see {self.log}")

    def _fail(self, why: str) -> None:
        reason = f"stopped: {why}; its run folder is as it was, `zoo campaign run` retries"
        line = f"{self.step.name}: {reason}"
        self.journal(line)
        try:
            self.folder.failed(self.step.name).write_text(reason + "\n")
        except OSError:
            pass  # campaign.log (or stderr) has the line
        raise CampaignStopped(line)


def _exit(code: int) -> str:
    return f"killed by {signal.Signals(-code).name}" if code < 0 else f"exit code {code}"


def _last_error(log: Path, start: int) -> str:
    """The `zoo: error:` line (else the last line) a subprocess wrote to `log` after offset `start`."""
    try:
        with log.open("rb") as f:
            f.seek(start)
            lines = [line.strip() for line in f.read().decode(errors="replace").splitlines() if line.strip()]
    except OSError:
        return "its log is unreadable"
    errors = [line.removeprefix("zoo: error: ") for line in lines if line.startswith("zoo: error:")]
    return (errors or lines or ["it printed nothing"])[-1]
