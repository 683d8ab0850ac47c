"""Learning representations of affect from speech (denoising and BLSTM autoencoders)."""

__version__ = "0.1.0"
