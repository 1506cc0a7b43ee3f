"""The README stays true: its test command is what CI runs, its model table is current."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _quick_start_commands() -> list[str]:
    section = REPO.joinpath("README.md").read_text().split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.+?)\n```", section, flags=re.S)


def test_ci_runs_the_readme_test_command():
    commands = _quick_start_commands()
    assert len(commands) == 2, "the quick start is two commands: main job, tests"
    assert "pytest" in commands[1]
    assert commands[1].strip() in REPO.joinpath(".ci", "run").read_text()


def test_readme_model_table_is_current():
    done = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "update_readme_table.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr


def test_readme_and_study_reports_link_files_that_exist():
    """The committed study reports (docs/studies/) and the README's links into them resolve."""
    pages = [REPO / "README.md", REPO / "docs" / "studies" / "README.md"]
    pages += sorted((REPO / "docs" / "studies").glob("*/report.md"))
    assert len(pages) >= 6, "the reduced-scale reports of mlp-depth, bn-accuracy, bn-landscape and ics"
    for page in pages:
        for target in re.findall(r"\]\(([^)#\s]+)\)", page.read_text()):
            if not re.match(r"[a-z]+://", target):
                assert (page.parent / target).is_file(), f"{page.relative_to(REPO)} links {target!r}"


def test_readme_recipe_table_lists_every_builtin_recipe():
    import zoo

    readme = (REPO / "README.md").read_text()
    table = readme.split("| recipe | source |", 1)[1].split("\n\n", 1)[0]
    listed = set(re.findall(r"^\| `([a-z0-9_-]+)`", table, re.M))
    owner = zoo.registry().owner
    builtin = {name for name in zoo.train.list_recipes() if owner("recipes", name) == "zoo.plugins.recipes"}
    assert listed == builtin
    words = {3: "three", 4: "four", 5: "five", 6: "six", 7: "seven", 8: "eight"}
    assert f"the {words[len(builtin)]} below are registered" in readme
