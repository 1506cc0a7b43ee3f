"""Builds throwaway installed-looking plugins: a module plus a *.dist-info with a `zoo` entry point.

importlib.metadata finds any dist-info directory on sys.path, so a plugin can be "installed" by
putting one directory on sys.path (in-process) or PYTHONPATH (subprocess), without pip.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

GOOD_SPEC = """
import zoo
from zoo.models.lenet import lenet5

def spec(name, **changes):
    fields = dict(name=name, family="toy", builder=lenet5, params=62_006, macs=651_720,
                  paper=zoo.Paper("t", "https://example.org"), seed="test")
    fields.update(changes)
    return zoo.ModelSpec(**fields)
"""


def make_plugin(root: Path, dist: str, entry: str, module: str, body: str, version: str = "1.0") -> Path:
    """Write `module`.py with `body`, and a distribution `dist` whose entry point `entry` loads it."""
    root.mkdir(parents=True, exist_ok=True)
    (root / f"{module}.py").write_text(textwrap.dedent(GOOD_SPEC) + textwrap.dedent(body))
    info = root / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text(f"[zoo]\n{entry} = {module}\n")
    return root
