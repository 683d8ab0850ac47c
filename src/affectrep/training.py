"""Moved: the training loop is `affectrep.train` (`fit`, `OptimizerSettings`, checkpoints) and
the autoencoders' settings are `affectrep.autoencoders.TrainSettings`. This name stays until
every importer (workflow scripts, `affectrep.stages`) uses the new ones."""

from affectrep.autoencoders import TrainResult, TrainSettings  # noqa: F401
from affectrep.train import (  # noqa: F401
    OptimizerSettings,
    make_optimizer,
    resume_checkpoint,
    save_checkpoint,
    set_aside,
)
