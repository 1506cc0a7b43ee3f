"""Start-up cost of `import zoo` and `zoo list`, relative to `import torch`, in one interleaved run.

Targets (issue 2): import zoo <= 1.1x import torch; zoo list <= 1.5x import torch.
Each command runs in a fresh process; the three are interleaved so machine noise hits all alike.

    python benchmarks/import_time.py [--repeats 9]
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time

COMMANDS = {
    "import torch": [sys.executable, "-c", "import torch"],
    "import zoo": [sys.executable, "-c", "import zoo"],
    "zoo list": [shutil.which("zoo", path=os.path.dirname(sys.executable)) or "zoo", "list"],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=9)
    args = parser.parse_args()
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for name, cmd in COMMANDS.items():  # warm the file cache once
        subprocess.run(cmd, check=True, capture_output=True)
    for _ in range(args.repeats):
        for name, cmd in COMMANDS.items():
            start = time.perf_counter()
            subprocess.run(cmd, check=True, capture_output=True)
            times[name].append(time.perf_counter() - start)
    base = statistics.median(times["import torch"])
    print(f"machine: {platform.machine()}, {os.cpu_count()} cpus, python {platform.python_version()}")
    print(f"{'command':<14} {'median s':>9} {'min s':>7} {'ratio':>6}  target")
    targets = {"import torch": "", "import zoo": "<= 1.10", "zoo list": "<= 1.50"}
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{name:<14} {median:9.3f} {min(values):7.3f} {median / base:6.2f}  {targets[name]}")


if __name__ == "__main__":
    main()
