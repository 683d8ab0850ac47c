"""Moved: the denoising autoencoders are `affectrep.models.dae` (Flax NNX modules and the
same functions on parameter trees). This name stays until every importer uses the new one."""

from affectrep.models.dae import (  # noqa: F401
    DaeLayer,
    DeepAutoencoder,
    DenoisingLoss,
    decode_layer,
    deep_from_stack,
    deep_loss,
    deep_reconstruct,
    encode_layer,
    encode_stack,
    init_deep,
    init_layer,
    layer_loss,
    mask,
    mask_threshold,
    sse,
)
