"""The frame-level emotion classifier (paper section 6): tanh hidden layers and a softmax.

Its input is a context window of spectrogram frames, like the autoencoder it may start from
(TIED-128-5: 5 frames of fft128 = 640 dims; hidden 320-160-80, the paper's 640-320-160-80-4
network). The hidden layers are copies of a pretrained encoder ("Pretrained MLP") or
Glorot-uniform ("MLP without pre-training"); the softmax layer is always Glorot-uniform.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from affectrep.models.dae import mask
from affectrep.models.dense import Dense, tanh_stack


class Mlp(nnx.Module):
    """`hidden` tanh layers and a linear `output` layer (logits)."""

    def __init__(self, hidden: Sequence[Dense], output: Dense) -> None:
        self.hidden = nnx.List(hidden)
        self.output = output

    @classmethod
    def init(
        cls,
        key: jax.Array,
        widths: Sequence[int],
        n_classes: int,
        pretrained: Sequence[Mapping] | None = None,
    ) -> Mlp:
        """`widths[0] -> ... -> widths[-1] -> n_classes`; hidden layers copied from
        `pretrained` ({W, b} each, shapes checked) or drawn, each from a key of its own."""
        widths = [int(w) for w in widths]
        if not widths or min(widths) < 1 or n_classes < 2:
            raise ValueError(f"widths {widths} and n_classes {n_classes} make no network")
        keys = jax.random.split(key, len(widths))
        if pretrained is not None:
            check_pretrained(pretrained, widths)
            # Copies: training donates its buffers, and the caller's arrays stay as they are.
            hidden = [
                Dense(jnp.array(p["W"], jnp.float32), jnp.array(p["b"], jnp.float32))
                for p in pretrained
            ]
        else:
            hidden = [
                Dense.init(k, n_in, n_out)
                for k, n_in, n_out in zip(keys[:-1], widths[:-1], widths[1:], strict=True)
            ]
        return cls(hidden, Dense.init(keys[-1], widths[-1], n_classes))

    def __call__(self, x: jax.Array) -> jax.Array:
        """(batch, n_in) -> (batch, n_classes) unnormalised log-probabilities."""
        return self.output(tanh_stack(self.hidden, x))

    @property
    def widths(self) -> list[int]:
        """[n_in, hidden..., n_classes], e.g. [640, 320, 160, 80, 4]."""
        layers = [*self.hidden, self.output]
        return [int(layers[0].W.shape[0])] + [int(layer.W.shape[1]) for layer in layers]

    def tree(self) -> dict:
        """{"hidden": [{W, b}, ...], "output": {W, b}}."""
        return {"hidden": [layer.tree() for layer in self.hidden], "output": self.output.tree()}

    @classmethod
    def from_tree(cls, tree: Mapping) -> Mlp:
        return cls([Dense.from_tree(p) for p in tree["hidden"]], Dense.from_tree(tree["output"]))


def check_pretrained(layers: Sequence[Mapping], widths: Sequence[int]) -> None:
    """Refuse, naming the layer and both shapes, an encoder that does not fit `widths`."""
    if len(layers) != len(widths) - 1:
        raise ValueError(
            f"pretrained encoder has {len(layers)} layers, the MLP {len(widths) - 1} hidden "
            f"layers (widths {list(widths)})"
        )
    for number, (layer, n_in, n_out) in enumerate(
        zip(layers, widths[:-1], widths[1:], strict=True), start=1
    ):
        shapes = (tuple(np.shape(layer["W"])), tuple(np.shape(layer["b"])))
        if shapes != ((n_in, n_out), (n_out,)):
            raise ValueError(
                f"pretrained layer {number} has W {shapes[0]} and b {shapes[1]}, the MLP needs "
                f"W ({n_in}, {n_out}) and b ({n_out},)"
            )


def weighted_cross_entropy(model: Mlp, batch: tuple, key: jax.Array) -> jax.Array:
    """Mean over the batch of each frame's weight times its negative log-likelihood;
    batch = (x (batch, n_in), y (batch,) class indices, weight (batch,)). No noise."""
    del key
    x, y, weight = batch
    log_p = jax.nn.log_softmax(model(x))
    nll = -jnp.take_along_axis(log_p, y[:, None], axis=1)[:, 0]
    return jnp.sum(weight * nll) / x.shape[0]


@dataclass(frozen=True)
class NoisyCrossEntropy:
    """`weighted_cross_entropy` of inputs under masking noise (beyond the paper): each input
    element is set to zero with probability `threshold` / 256 (`affectrep.models.dae.mask`,
    the corruption the denoising autoencoders were pretrained with), fresh at every step. A
    frame classifier fine-tuned on a few thousand utterances sees the same frames every
    epoch; the noise is a regulariser that keeps the pretrained encoder's inputs as they
    were during pretraining. A value (frozen dataclass), so the compiled step is cached."""

    threshold: int

    def __call__(self, model: Mlp, batch: tuple, key: jax.Array) -> jax.Array:
        x, y, weight = batch
        return weighted_cross_entropy(model, (mask(key, x, self.threshold), y, weight), key)


def mlp_widths(tree: Mapping) -> list[int]:
    """The widths of a parameter tree, [n_in, hidden..., n_classes]."""
    layers = [*tree["hidden"], tree["output"]]
    return [int(np.shape(layers[0]["W"])[0])] + [int(np.shape(p["W"])[1]) for p in layers]
