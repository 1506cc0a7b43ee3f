"""zoo._memory: glibc's malloc keeps freed blocks once zoo trains or evaluates on the CPU, so a big
tensor's pages are reused instead of unmapped and faulted in again; ZOO_CPU_MALLOC=system opts out."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

glibc_only = pytest.mark.skipif(
    platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc's mallopt"
)

# Resident memory before, while and after holding a 256 MB tensor, after `setup`.
_PROBE = """
import os, sys
import torch
{setup}
def rss_mb():
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6
before = rss_mb()
x = torch.ones(64 * 2**20)  # 256 MB, far above glibc's largest dynamic mmap threshold (32 MiB)
held = rss_mb()
del x
print(before, held, rss_mb())
"""


def _rss_after_free(setup: str, **env: str) -> tuple[float, float, float]:
    code = _PROBE.format(setup=setup)
    environment = {**os.environ, **env}
    environment.pop("MALLOC_MMAP_THRESHOLD_", None)  # the system default is what is compared
    environment.pop("MALLOC_TRIM_THRESHOLD_", None)
    out = subprocess.run([sys.executable, "-c", code], env=environment, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    before, held, after = map(float, out.stdout.split())
    assert held - before > 200  # the tensor was really resident
    return before, held, after


@glibc_only
def test_kept_memory_stays_resident_after_a_free_and_the_system_default_returns_it():
    setup = "from zoo._memory import keep_freed_memory; assert keep_freed_memory() == 'kept'"
    _, held, after = _rss_after_free(setup)
    assert held - after < 10  # kept in the heap for the next step's tensors
    _, held, after = _rss_after_free("")
    assert held - after > 200  # glibc's default: unmapped on free, faulted in again next time


@glibc_only
def test_zoo_cpu_malloc_system_leaves_malloc_alone():
    setup = (
        "from zoo._memory import keep_freed_memory\n"
        "assert keep_freed_memory() == 'system: ZOO_CPU_MALLOC=system', keep_freed_memory()"
    )
    _, held, after = _rss_after_free(setup, ZOO_CPU_MALLOC="system")
    assert held - after > 200


def test_an_unknown_choice_warns_and_keeps(monkeypatch):
    from zoo import _memory

    monkeypatch.setenv("ZOO_CPU_MALLOC", "jemalloc")
    with pytest.warns(UserWarning, match=r"ZOO_CPU_MALLOC='jemalloc' is not one of keep, system"):
        assert _memory.cpu_malloc_choice() == "keep"
    monkeypatch.setenv("ZOO_CPU_MALLOC", " System ")
    assert _memory.cpu_malloc_choice() == "system"


@glibc_only
@pytest.mark.parametrize("entry", ["train", "evaluate"])
def test_cpu_training_and_evaluation_run_with_freed_memory_kept(entry, tmp_path, shared_data):
    run = tmp_path / "run"
    calls = {
        "train": f"from zoo.train import train\n"
        f"train('mlp5', out={str(run)!r}, data_dir={str(shared_data)!r}, epochs=1, "
        f"limit_train=128, limit_test=64)\n"
        f"assert json.loads(open({str(run / 'config.json')!r}).read())['cpu_malloc'] == 'kept'",
        "evaluate": f"import zoo\nfrom zoo.data import load_dataset\nfrom zoo.evaluate import evaluate\n"
        f"evaluate(zoo.create('mlp5'), load_dataset('mnist', 'test', data_dir={str(shared_data)!r}))",
    }
    prelude = "import json\nfrom zoo import _memory\nassert _memory._state is None"  # not applied on import
    code = f"{prelude}\n{calls[entry]}\nprint(_memory._state)"
    environment = {**os.environ, "ZOO_CACHE_DIR": str(tmp_path / "cache")}
    out = subprocess.run([sys.executable, "-c", code], env=environment, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[-1] == "kept"
