"""Model ids: the paper's names of autoencoder configurations, parsed without importing JAX.

`tied-fft128-c5` is TIED-128-5 (greedy stack with tied weights, 128-bin FFT frames, a context
of 5 frames), `deep-logmel40-c5` is DEEP-MEL-5. The same id is used in config keys, file
names, tables and figure titles; the workflow parses ids while it builds the DAG, so this
module stays free of the training code.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

KINDS = ("tied", "untied", "deep")
_MODEL_ID = re.compile(r"^(?P<kind>tied|untied|deep)-(?P<spec>[A-Za-z0-9]+)-c(?P<context>\d+)$")


@dataclass(frozen=True)
class ModelId:
    kind: str
    spec: str
    context: int

    @classmethod
    def parse(cls, text: str) -> ModelId:
        match = _MODEL_ID.match(text)
        if match is None:
            raise ValueError(
                f"model id {text!r} is not <tied|untied|deep>-<spectrogram>-c<context>, "
                "e.g. tied-fft128-c5"
            )
        return cls(match["kind"], match["spec"], int(match["context"]))

    def __str__(self) -> str:
        return f"{self.kind}-{self.spec}-c{self.context}"

    @property
    def input_key(self) -> str:
        """The key of the hidden widths in config: spectrogram and context, `fft128-c5`."""
        return f"{self.spec}-c{self.context}"

    @property
    def stacked(self) -> bool:
        return self.kind in ("tied", "untied")

    @property
    def title(self) -> str:
        """The paper's name: `TIED-128-5`, `DEEP-MEL-5`, `UNTIED-513-1`."""
        spec = self.spec.lower()
        if spec.startswith("fft"):
            name = spec.removeprefix("fft")
        elif "mel" in spec:
            name = "MEL"
        else:
            name = spec.upper()
        return f"{self.kind.upper()}-{name}-{self.context}"


def pyramid(n_in: int, n_layers: int) -> list[int]:
    """Hidden widths halving layer by layer: 640, 3 -> [320, 160, 80]; 513, 3 -> [256, 128, 64]."""
    widths = []
    width = n_in
    for _ in range(n_layers):
        width //= 2
        widths.append(width)
    return widths


def code_layers(encoder: Sequence[Mapping], code_layer: int, name: str = "the encoder") -> list:
    """The encoder layers whose last output is the code: all of them (`code_layer` 0, the
    bottleneck, the paper's code) or the first `code_layer` (`representations.code_layer`:
    a lower layer keeps more of the spectrogram's detail than the bottleneck does)."""
    if code_layer < 0 or code_layer > len(encoder):
        raise ValueError(
            f"representations.code_layer is {code_layer}, but {name} has "
            f"{len(encoder)} layers (0 = the bottleneck, 1..{len(encoder)} = that layer)"
        )
    return list(encoder[:code_layer] if code_layer else encoder)
