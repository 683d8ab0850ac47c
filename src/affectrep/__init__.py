"""Learning representations of affect from speech (denoising and BLSTM autoencoders).

`from affectrep import Bundle` gives the exported-model reader; it is imported on first use,
so `import affectrep` (the workflow's DAG process, `affectrep --version`) does not load JAX.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

__version__ = "0.1.0"
__all__ = ["Bundle", "__version__"]

if TYPE_CHECKING:
    from affectrep.use.bundle import Bundle


def __getattr__(name: str):
    if name == "Bundle":
        from affectrep.use.bundle import Bundle

        return Bundle
    raise AttributeError(f"module 'affectrep' has no attribute {name!r}")
