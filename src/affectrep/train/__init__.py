"""Training: the one fit loop and the trainers of the representations that call it.

- `loop`: `fit` (compiled steps over a batch source, per-epoch hooks, checkpoint/resume,
  non-finite stop), the batch sources for frames and bucketed utterances, and the one
  optimiser-settings type.
- `autoencoders`: the denoising autoencoders: greedy layers, deep models, their codes.
- `blstm`: the BLSTM autoencoder over codes, and one vector per utterance with it.
- `masked`: the masked spectrogram model on crops of spectrogram frames, and one vector per
  utterance with it (its outputs on the whole utterance, pooled).

Imports data and models. (The MLP of Table 2 trains with the same loop; it is part of the
evaluation protocol, `affectrep.protocol.mlp`.)
"""
