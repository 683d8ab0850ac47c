"""How a job sets up its process: glibc's malloc keeps freed memory (`keep_freed_memory`).

Each case runs in a fresh interpreter: malloc's settings are per process and cannot be
undone.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="glibc's malloc settings are Linux-only"
)

# Allocates, frees and allocates again a 64 MB block (above glibc's 32 MB ceiling for
# keeping freed blocks by default), and prints whether the settings were made and the page
# faults of the second allocation's first touch.
PROBE = """
import resource, sys
from affectrep.device import keep_freed_memory
import numpy as np
done = keep_freed_memory()
block = np.ones(16 * 2**20, dtype=np.float32)
del block
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
block = np.ones(16 * 2**20, dtype=np.float32)
print(done, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def probe(**environment: str) -> tuple[bool, int]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MALLOC_", "GLIBC_"))}
    env["NUMPY_MADVISE_HUGEPAGE"] = "0"  # NumPy's 2 MB pages would hide the faults
    env.update(environment)
    result = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True
    )
    done, faults = result.stdout.split()
    return done == "True", int(faults)


def test_freed_memory_is_reused_without_page_faults():
    done, faults = probe()
    assert done
    # 64 MB are 16,384 pages of 4 KB; reused heap memory faults on (almost) none of them.
    assert faults < 1_000


def test_settings_in_the_environment_win():
    done, faults = probe(MALLOC_ARENA_MAX="2")
    assert not done
    # glibc's default: the freed block went back to the kernel, its pages fault again.
    assert faults > 10_000
