"""The networks, as Flax NNX modules that only compute (no training, no files).

- `dense`: the affine layer every model is made of, and its Glorot initialisation.
- `dae`: the denoising autoencoder layer (tied or untied decoder), greedy stacks of them and
  the deep autoencoder (paper sections 3.1-3.2).
- `blstm`: the BLSTM sequence autoencoder over frame codes (sections 3.3, 5.2).
- `mlp`: the frame-level emotion classifier that may start from a pretrained encoder (6).
- `masked`: the masked spectrogram model (beyond the paper): residual dilated convolutions
  that predict masked spans of spectrogram frames, its span masking and its loss.

A module's parameters are `nnx.Param`s named as in the parameter files (`W`, `b`, `b_dec`,
`W_dec`; `encoder/0/W`; `forward/U`, ...): `tree()` gives the plain nested dict/list of
arrays that `affectrep.data.pytree_io` saves and `from_tree` builds a module from one, so files
need no framework to read. Training (`affectrep.train.loop`) splits a module with `nnx.split` and
runs a pure `jax.jit` step over its state.
"""

import jax

# One random generator for every draw (initial weights, masking noise, batch keys): the
# non-partitionable threefry, whose 8-bit draws are about 3x cheaper (the masking noise,
# see `affectrep.models.dae.mask`) and whose streams are the same on CPU and GPU. Set on
# import of any model, so that a seed draws the same weights wherever a model is made.
jax.config.update("jax_threefry_partitionable", False)
