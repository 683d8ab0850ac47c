"""How JAX uses the machine, set before JAX is imported by a workflow script.

- With one thread per rule, XLA:CPU is told to use one thread: two single-threaded training
  processes beat one two-threaded one on small machines (measured on 2 cores: 109k frames/s
  together against 97k for one two-thread process), and Snakemake then packs
  rules onto the cores it was given.
- On a shared GPU, JAX must not grab most of the memory up front.
- A persistent compilation cache saves the compile on every re-run of a rule.
"""

from __future__ import annotations

import logging
import os
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
    if cache_dir is not None:
        import jax

        jax.config.update("jax_compilation_cache_dir", str(cache_dir))
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
        jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)


def describe_device(logger: logging.Logger) -> str:
    """Log and return which device JAX computes on (so a log says if the GPU was used)."""
    import jax

    device = jax.devices()[0]
    text = f"{device.platform}:{device.device_kind} ({jax.device_count()} device(s))"
    logger.info("JAX device: %s", text)
    return text
