"""How JAX uses the machine, set before JAX is imported by a workflow script.

- With one thread per rule, XLA:CPU is told to use one thread: two single-threaded training
  processes beat one two-threaded one on small machines (measured on 2 cores: 109k frames/s
  together against 97k for one two-thread process), and Snakemake then packs
  rules onto the cores it was given.
- On a shared GPU, JAX must not grab most of the memory up front.
- A persistent compilation cache saves the compile on every re-run of a rule.
- Freed memory stays with the process (`keep_freed_memory`): XLA:CPU allocates each
  compiled step's working memory (tens of MB) afresh on every call, and glibc hands blocks
  over 32 MB straight back to the kernel, so every step paid a page fault per 4 KB page.
"""

from __future__ import annotations

import ctypes
import logging
import os
import sys
from pathlib import Path


def configure_jax(threads: int, cache_dir: str | Path | None = ".snakemake/jax-cache") -> None:
    """Call before `import jax`. Settings already in the environment win."""
    if threads <= 1:
        os.environ.setdefault(
            "XLA_FLAGS",
            # (Only --xla flags: XLA stops reading XLA_FLAGS at the first word that is not
            # one, silently dropping every flag after it.)
            "--xla_cpu_multi_thread_eigen=false",
        )
    os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    keep_freed_memory()
    if cache_dir is not None:
        import jax

        jax.config.update("jax_compilation_cache_dir", str(cache_dir))
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
        jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)


# mallopt's parameters (glibc's malloc.h)
_M_TRIM_THRESHOLD, _M_MMAP_MAX, _M_ARENA_MAX = -1, -4, -8


def keep_freed_memory() -> bool:
    """Make glibc's malloc keep freed memory for the next allocation instead of returning it
    to the kernel; True where that was done (Linux with glibc, and no MALLOC_* or
    GLIBC_TUNABLES setting in the environment, which would win).

    Why: XLA:CPU allocates the working memory of a compiled program (one block; 48 MB for
    a BLSTM training step at 32 units per direction) on every call and frees it after.
    glibc serves blocks over 32 MB with mmap and unmaps them when freed, so each call
    touched fresh pages: 11,700 page faults per step, which on a virtual machine cost more
    than the step's arithmetic. Served from the heap (no mmap, one arena, no trimming), the
    block is reused and the step time drops by a third (README, Speed). The process keeps
    its peak heap until it exits, which a workflow job does.
    """
    if not sys.platform.startswith("linux") or "GLIBC_TUNABLES" in os.environ:
        return False
    if any(name.startswith("MALLOC_") for name in os.environ):
        return False
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):
        return False
    # One arena: a block over 64 MB allocated by a thread with an arena of its own would
    # still be served with mmap, whatever M_MMAP_MAX says.
    settings = [(_M_MMAP_MAX, 0), (_M_TRIM_THRESHOLD, 2**31 - 1), (_M_ARENA_MAX, 1)]
    return all(mallopt(parameter, value) == 1 for parameter, value in settings)


def describe_device(logger: logging.Logger) -> str:
    """Log and return which device JAX computes on (so a log says if the GPU was used)."""
    import jax

    device = jax.devices()[0]
    text = f"{device.platform}:{device.device_kind} ({jax.device_count()} device(s))"
    logger.info("JAX device: %s", text)
    return text
