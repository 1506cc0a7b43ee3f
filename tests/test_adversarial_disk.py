"""A full disk at each writer of the workflows beside training (whose writers are in
test_adversarial_train.py): `zoo bench`'s CSV, a campaign's own files (its lock, campaign.log, step logs,
<step>.failed, a grown model) and what its children say, `zoo campaign publish`'s release folder and
README, and a redirected stdout. Each ends in one `zoo: error: the disk is full: could not write PATH
(No space left on device); <what is kept>` line (exit code 1, no traceback), with nothing written
before lost or cut, and no temporary file left.

Every case runs twice (the `disk` fixture): with an injected ENOSPC (everywhere), and on a really full
3 MiB tmpfs (where one can be mounted: root with CAP_SYS_ADMIN).

Issue 20.
"""

from __future__ import annotations

import functools
import importlib
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from full_disk import Disk, disk_fixture, fill, small_disk_fixture  # noqa: F401 (fixtures)
from helpers import one_error, snapshot

pytest.importorskip("torch")


@dataclass
class Expect:
    """The command a case runs, the one error line (and any warnings) it must end in, the folders it must
    leave byte for byte as they were, and what else must hold afterwards."""

    args: list
    error: str
    warnings: tuple[str, ...] = ()
    kept: tuple[Path, ...] = ()
    stdout: Path | None = None  # run in a subprocess, its stdout written here
    after: Callable[[], None] = lambda: None


NO_SPACE = "the disk is full: could not write {} (No space left on device)"
CAMPAIGN_KEPT = (
    "the campaign stopped, its runs as `zoo train` left them: free space, then `zoo campaign run` goes on"
)
BENCH = "lenet5 --repeats 1 --warmup 0 --min-time 0.001 --batch-size 2 --device cpu".split()


def _bench_csv(disk: Disk, beside: Path, cli) -> Expect:
    import zoo.bench

    out = disk.path / "bench"
    code, _, err = cli("bench", *BENCH, "--out-dir", out)  # the rows of an earlier run, to keep
    assert code == 0, err
    (csv,) = out.iterdir()
    disk.full_from(zoo.bench, "replacing")
    kept = f"{csv} is as it was, without lenet5's rows: free space, then benchmark it again"
    return Expect(
        ["bench", *BENCH, "--out-dir", out], f"zoo: error: {NO_SPACE.format(csv)}; {kept}", kept=(out,)
    )


def _campaign(disk: Disk, beside: Path, grow: bool = False) -> tuple[Path, Path]:
    """(plan, campaign dir on the disk): step `done` is finished, step `lenet` not started (grown from
    `done` with `grow`); `zoo train` and `zoo grow` are stand-ins (FAKE_CHILD) that fail."""
    runs = disk.path / "runs"
    (runs / "done").mkdir(parents=True)
    (runs / "done" / "result.json").write_text('{"final": {"test_acc": 0.5}}')
    (runs / "done.log").write_text("$ zoo train lenet5 ...\n")
    plan = beside / "campaign.toml"
    plan.write_text(
        "[defaults]\ntag = 'disk'\ndata_dir = 'data'\n[[run]]\nname = 'done'\nmodel = 'lenet5'\n"
        "[[run]]\nname = 'lenet'\nmodel = 'lenet5'\ntag = 'grown'\n"
        + ("grow_from = 'done'\n" if grow else "")
    )
    disk.monkeypatch.setenv("ZOO_CAMPAIGN_DIR", str(runs))
    (beside / "fake_child.py").write_text(FAKE_CHILD)
    _children(disk, beside, "zoo: error: --resume continues the saved run, whose options differ", 2)
    return plan, runs


FAKE_CHILD = """
import os, sys
out, line, code = sys.argv[1:]
if out != "-":  # the half-written folder a real child leaves
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "model.safetensors"), "wb") as f:
        f.write(b"x" * 1000)
print(line, file=sys.stderr)
sys.exit(int(code))
"""


def _children(disk: Disk, beside: Path, line: str, code: int) -> None:
    """`zoo train` and `zoo grow` steps run FAKE_CHILD: it prints `line` and exits with `code`."""
    from zoo.campaign import commands

    def fake(out: object) -> list[str]:
        return [sys.executable, str(beside / "fake_child.py"), str(out), line, str(code)]

    disk.monkeypatch.setattr(commands, "train_command", lambda step, out, **_: fake("-"))
    disk.monkeypatch.setattr(commands, "grow_command", lambda step, source, out: fake(out))


def _no_campaign(runs: Path, log_lines: int = 0) -> None:
    """Nothing runs or holds the lock, no step started; campaign.log has `log_lines` whole lines."""
    from zoo.campaign.lock import owner

    assert owner(runs / "campaign.lock") is None and not (runs / "lenet").exists()
    log = (runs / "campaign.log").read_text() if (runs / "campaign.log").exists() else ""
    assert len(log.splitlines()) == log_lines and log.endswith("\n") == bool(log_lines), log


def _campaign_file(disk: Disk, beside: Path, cli, failing: str, call: int = 1) -> Expect:
    """The lock's record (campaign.lock), or the `call`-th line appended to campaign.log or a step log."""
    from zoo.campaign import files
    from zoo.campaign.lock import CampaignLock

    plan, runs = _campaign(disk, beside)
    if failing == "campaign.lock":
        disk.full_from(CampaignLock, "write")
        kept, lines = "no campaign was started: free space, then run `zoo campaign run` again", 0
    else:
        disk.full_from(files, "append_text", call)  # 1, 2: campaign.log's lines; 3: the step log's first
        kept, lines = CAMPAIGN_KEPT, call - 1
    return Expect(
        ["campaign", "run", "--foreground", "--plan", plan],
        f"zoo: error: {NO_SPACE.format(runs / failing)}; {kept}",
        kept=(runs / "done",), after=lambda: _no_campaign(runs, log_lines=lines),
    )  # fmt: skip


def _failed_marker(disk: Disk, beside: Path, cli) -> Expect:
    from zoo.campaign import files

    plan, runs = _campaign(disk, beside)
    disk.full_from(files, "write_text_atomic")
    why = "--resume continues the saved run, whose options differ"
    return Expect(
        ["campaign", "run", "--foreground", "--plan", plan],
        f"zoo: error: lenet: stopped: `zoo train` failed (exit code 2): {why}; see {runs / 'lenet.log'}; "
        "its run folder is as it was, `zoo campaign run` retries",
        warnings=(f"zoo: warning: {NO_SPACE.format(runs / 'lenet.failed')}; {CAMPAIGN_KEPT}",),
        kept=(runs / "done",), after=lambda: _no_campaign(runs, log_lines=3),
    )  # fmt: skip


def _child_on_a_full_disk(disk: Disk, beside: Path, cli, grow: bool = False) -> Expect:
    """A step's `zoo train` (or `zoo grow`) that fails on the full disk: its line reaches the campaign's,
    though the step log cannot hold it; a half-grown model is removed."""
    import zoo.campaign.runner

    plan, runs = _campaign(disk, beside, grow=grow)
    failing = runs / (
        "lenet.grown.partial/model.safetensors" if grow else "lenet/checkpoint/model.safetensors"
    )
    said = f"{NO_SPACE.format(failing)}; nothing was saved yet: free space, then run the same command again"
    _children(disk, beside, f"zoo: error: {said}", 1)
    disk.full_from(zoo.campaign.runner, "append_text")  # the child's stderr, on its way to the step log

    def after() -> None:
        assert not (runs / "lenet.grown.partial").exists() and not (runs / "lenet.grown").exists()

    child = "zoo grow" if grow else "zoo train"
    return Expect(
        ["campaign", "run", "--foreground", "--plan", plan],
        f"zoo: error: lenet: stopped: `{child}` failed (exit code 1): {said}; see {runs / 'lenet.log'}; "
        "its run folder is as it was, `zoo campaign run` retries",
        kept=(runs / "done",), after=after,
    )  # fmt: skip


FAKE_EXPORT = """
import errno, os, sys
value = lambda flag: sys.argv[sys.argv.index(flag) + 1]
folder = os.path.join(value("--releases"), value("--repo-id").rsplit("/", 1)[-1])
os.makedirs(folder)
with open(os.path.join(folder, "model.safetensors"), "wb") as f:
    f.write(b"x" * 65536)  # half a release
    if os.environ.get("ZOO_TEST_INJECT_ENOSPC"):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), f.name)
    f.write(b"x" * 2**22)  # more than the small disk holds
"""


def _publishing(disk: Disk, beside: Path) -> tuple[list, Path, Path]:
    """(`zoo campaign publish` arguments, the README on the disk, the manifest): step `done` to publish;
    scripts/export_release.py is FAKE_EXPORT."""
    plan, _ = _campaign(disk, beside)
    (beside / "scripts").mkdir()
    (beside / "scripts" / "export_release.py").write_text(FAKE_EXPORT)
    readme, manifest = disk.path / "checkout" / "README.md", beside / "manifest.json"
    readme.parent.mkdir()
    readme.write_text("# zoo\n<!-- model-table:start -->\n<!-- model-table:end -->\n")
    releases = disk.path / "releases"
    where = ["--plan", plan, "--manifest", manifest, "--readme", readme, "--releases", releases]
    return ["campaign", "publish", *where], readme, manifest


def _release_folder(disk: Disk, beside: Path, cli) -> Expect:
    publish = importlib.import_module("zoo.campaign.publish")  # zoo.campaign.publish is the function

    args, readme, _ = _publishing(disk, beside)
    folder = disk.path / "releases" / "lenet5-disk"
    if disk.injected:  # the export script itself meets the full disk
        disk.monkeypatch.setenv("ZOO_TEST_INJECT_ENOSPC", "1")
    else:
        disk.full_from(publish, "_script")
    kept = (
        "exporting step done stopped and that folder was removed; the releases exported before it are "
        "kept: free space, then `zoo campaign publish` exports the rest"
    )

    def after() -> None:
        assert not folder.exists()  # half a release would block the next export

    return Expect(args, f"zoo: error: {NO_SPACE.format(folder)}; {kept}", kept=(readme.parent,), after=after)


def _readme(disk: Disk, beside: Path, cli) -> Expect:
    publish = importlib.import_module("zoo.campaign.publish")  # zoo.campaign.publish is the function

    args, readme, manifest = _publishing(disk, beside)
    exported = publish.Published("done", "lenet5.disk", disk.path / "releases", "float32", 50.0, 1000)
    disk.monkeypatch.setattr(publish, "_export", lambda *a: exported)
    disk.full_from(publish, "replacing")
    script = beside / "scripts" / "update_readme_table.py"
    kept = (
        f"{readme} is as it was, and {manifest} has the releases exported (lenet5.disk): free space, "
        f"then `python {script} --readme {readme}` brings the table up to date"
    )
    return Expect(args, f"zoo: error: {NO_SPACE.format(readme)}; {kept}", kept=(readme.parent,))


def _stdout(disk: Disk, beside: Path, cli) -> Expect:
    plan, runs = _campaign(disk, beside)
    if disk.injected:
        target = Path("/dev/full")  # every write to it fails with ENOSPC
    else:
        target = Path(os.path.realpath(disk.path)) / "status.json"
        fill(disk.path)
    return Expect(
        ["campaign", "status", "--json", "--plan", plan],
        f"zoo: error: {NO_SPACE.format(target)}; what the command printed there is cut short",
        kept=(runs,), stdout=target,
    )  # fmt: skip


WRITERS = {
    "bench CSV": _bench_csv,
    "campaign lock": functools.partial(_campaign_file, failing="campaign.lock"),
    "campaign.log": functools.partial(_campaign_file, failing="campaign.log"),
    "step log": functools.partial(_campaign_file, failing="lenet.log", call=3),
    "step.failed": _failed_marker,
    "child's error": _child_on_a_full_disk,
    ".grown": functools.partial(_child_on_a_full_disk, grow=True),
    "release folder": _release_folder,
    "README table": _readme,
    "redirected stdout": _stdout,
}


# 20. A full disk at each writer of `zoo bench` and `zoo campaign`: one line naming the file and what is
# kept, exit code 1, no traceback, nothing that was there before changed, no temporary file left.
@pytest.mark.parametrize("writer", list(WRITERS))
def test_a_full_disk_at_a_workflow_writer_is_one_line(writer, disk, tmp_path, cli):
    beside = tmp_path / "beside"  # the plan, scripts and manifest: never on the full disk
    beside.mkdir()
    expect = WRITERS[writer](disk, beside, cli)
    before = {path: snapshot(path) for path in expect.kept}
    if expect.stdout is None:
        code, _, err = cli(*expect.args)
    else:
        with expect.stdout.open("wb") as stdout:
            done = subprocess.run(
                [sys.executable, "-m", "zoo", *map(str, expect.args)], stdout=stdout,
                stderr=subprocess.PIPE, text=True, timeout=120,
            )  # fmt: skip
        code, err = done.returncode, done.stderr

    assert code == 1, err
    assert one_error(err) == expect.error
    warnings = [line for line in err.splitlines() if line.startswith("zoo: warning:")]
    assert set(expect.warnings) <= set(warnings), err
    assert {path: snapshot(path) for path in expect.kept} == before
    assert not [p for p in disk.path.rglob("*") if ".tmp-" in p.name]
    expect.after()


SLEEP = "import time; time.sleep(120)"


# 20. The lock's record of the background campaign, written once it is started: on a full disk it takes no
# new space (it is written over the first record); where it fails all the same, the campaign is stopped.
def test_the_background_campaign_is_named_in_the_lock_or_stopped(disk, tmp_path, cli):
    import zoo.campaign.runner as runner
    from zoo.campaign.lock import CampaignLock, owner

    plan, runs = _campaign(disk, tmp_path)
    children, real_spawn = [], runner._spawn

    def spawn(*args, **kwargs):  # the background campaign: a process that waits
        children.append(real_spawn(*args, **kwargs))
        return children[-1]

    disk.monkeypatch.setattr(runner, "_spawn", spawn)
    disk.monkeypatch.setattr(runner.commands, "zoo_command", lambda *_: [sys.executable, "-c", SLEEP])
    disk.full_from(CampaignLock, "write", 2)  # the record naming the background process
    code, _, err = cli("campaign", "run", "--plan", plan)
    (child,) = children
    try:
        if disk.injected:  # not named, so it is stopped: no campaign runs unseen
            assert code == 1 and child.poll() is not None and owner(runs / "campaign.lock") is None
            assert one_error(err) == f"zoo: error: {NO_SPACE.format(runs / 'campaign.lock')}; " + (
                "no campaign was started: free space, then run `zoo campaign run` again"
            )
        else:  # the record is written over the first one: it needs no new space
            assert code == 0, err
            assert owner(runs / "campaign.lock")["pid"] == child.pid
    finally:
        child.kill()
        child.wait()
