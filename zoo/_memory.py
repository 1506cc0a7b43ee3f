"""Keep freed CPU memory for reuse: the allocator setting zoo's CPU training and evaluation run with.

PyTorch's CPU tensors come from the C library's malloc. glibc hands every allocation above its mmap
threshold (128 KiB at start, rising to at most 32 MiB) to the kernel with mmap and returns it with
munmap on free, so a training step that allocates the same activation tensors every step
page-faults each of their pages in anew: measured on a 2-core AVX2 VM, a ReLU over a 67 MB tensor
took 26-30 ms this way and 5 ms with the memory kept, and a whole resnext29_2x32d training step ran
1.3-1.5x faster (the `x kept` column of benchmarks/cpu_training.py measures it side by side).
Raising the mmap and trim thresholds (mallopt, the runtime form of MALLOC_MMAP_THRESHOLD_ /
MALLOC_TRIM_THRESHOLD_) keeps freed blocks in the heap: the process then holds its peak memory
until it exits, which a training or evaluation process wants, and which is why zoo does not do it
on import.

    ZOO_CPU_MALLOC=system   leave malloc as it is (e.g. when LD_PRELOAD brings jemalloc or tcmalloc)
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import platform
import warnings
from typing import Any

ENV = "ZOO_CPU_MALLOC"
CHOICES = ("keep", "system")

_M_TRIM_THRESHOLD = -1  # glibc's malloc.h
_M_MMAP_THRESHOLD = -3
_THRESHOLD = 2**31 - 1  # mallopt takes an int: blocks up to 2 GiB come from the heap and stay there

_state: str | None = None  # "kept" once applied in this process, else the reason it was not


def cpu_malloc_choice() -> str:
    """``keep`` (the default) or ``system``, from ``$ZOO_CPU_MALLOC``; an unknown value warns and keeps."""
    value = os.environ.get(ENV, "keep").strip().lower() or "keep"
    if value not in CHOICES:
        warnings.warn(
            f"{ENV}={os.environ[ENV]!r} is not one of {', '.join(CHOICES)}; using keep", stacklevel=2
        )
        return "keep"
    return value


def keep_freed_memory(device: Any = "cpu") -> str | None:
    """Make glibc's malloc keep freed blocks for reuse when work runs on the CPU (once per process;
    later calls return the first answer): ``"kept"``, or why not (``"system: ZOO_CPU_MALLOC=system"``,
    ``"system: not glibc"``, ...); None for another `device` (a GPU's memory has its own allocator)."""
    global _state
    if getattr(device, "type", device) != "cpu":
        return None
    if _state is None:
        _state = _apply()
    return _state


def _apply() -> str:
    if cpu_malloc_choice() == "system":
        return f"system: {ENV}=system"
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return "system: not glibc"  # macOS, Windows, musl: their allocators decide
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return "system: no mallopt"
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    # mmap first: once blocks stay in the heap, the trim threshold keeps the heap from shrinking
    done = [mallopt(option, _THRESHOLD) == 1 for option in (_M_MMAP_THRESHOLD, _M_TRIM_THRESHOLD)]
    return "kept" if all(done) else "system: mallopt refused"
