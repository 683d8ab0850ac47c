"""Denoising autoencoder layers: gradients, tied weights, masking noise, deep models."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

from affectrep.models import dae


@pytest.mark.parametrize("tied", [True, False])
def test_gradients_match_finite_differences(tied):
    """Reverse-mode gradients of the denoising loss against central differences
    (`jax.test_util.check_grads`), for a fixed mask."""
    rng = np.random.default_rng(0)
    params = dae.init_layer(jax.random.PRNGKey(0), 12, 5, tied=tied)
    params["b"] = jnp.asarray(rng.normal(size=5) * 0.1, dtype=jnp.float32)
    x = jnp.asarray(rng.normal(size=(7, 12)), dtype=jnp.float32)
    keep = jnp.asarray(rng.random((7, 12)) >= 0.2)

    def loss(p):
        return dae.sse(dae.decode_layer(p, dae.encode_layer(p, jnp.where(keep, x, 0.0))), x)

    check_grads(loss, (params,), order=1, modes=["rev"], eps=1e-2, atol=5e-2, rtol=5e-2)
    # check_grads must be able to fail: a wrong gradient is caught.
    wrong = jax.custom_vjp(loss)
    wrong.defvjp(lambda p: (loss(p), p), lambda p, g: (jax.tree.map(lambda a: 2 * a, p),))
    with pytest.raises(AssertionError):
        check_grads(wrong, (params,), order=1, modes=["rev"], eps=1e-2, atol=5e-2, rtol=5e-2)


def test_tied_layer_has_one_weight_matrix():
    tied = dae.init_layer(jax.random.PRNGKey(0), 10, 4, tied=True)
    untied = dae.init_layer(jax.random.PRNGKey(0), 10, 4, tied=False)
    assert set(tied) == {"W", "b", "b_dec"}
    assert set(untied) == {"W", "b", "b_dec", "W_dec"}
    # Changing W changes the decoder of a tied layer: they are one parameter.
    y = jnp.ones((1, 4))
    before = dae.decode_layer(tied, y)
    changed = {**tied, "W": tied["W"] * 2.0}
    np.testing.assert_allclose(
        dae.decode_layer(changed, y) - tied["b_dec"], 2.0 * (before - tied["b_dec"]), rtol=1e-5
    )
    # And the gradient of a tied layer flows into W from both encoder and decoder.
    x = jnp.ones((3, 10))
    grads = jax.grad(lambda p: dae.sse(dae.decode_layer(p, dae.encode_layer(p, x)), x))(tied)
    assert set(grads) == {"W", "b", "b_dec"}


def test_masking_noise_rate():
    x = jnp.ones((1000, 640))
    threshold = dae.mask_threshold(0.2)
    masked = dae.mask(jax.random.PRNGKey(1), x, threshold)
    rate = float(jnp.mean(masked == 0.0))
    assert rate == pytest.approx(threshold / 256, abs=0.003)
    assert rate == pytest.approx(0.2, abs=0.005)
    assert dae.mask(jax.random.PRNGKey(1), x, 0) is x
    # Different keys, different masks; the same key, the same mask.
    other = dae.mask(jax.random.PRNGKey(2), x, threshold)
    assert not np.array_equal(np.asarray(masked), np.asarray(other))
    again = dae.mask(jax.random.PRNGKey(1), x, threshold)
    np.testing.assert_array_equal(np.asarray(masked), np.asarray(again))
    with pytest.raises(ValueError):
        dae.mask_threshold(1.0)


def test_deep_autoencoder_shapes_and_stack_conversion():
    widths = [40, 20, 10, 5]
    deep = dae.init_deep(jax.random.PRNGKey(0), widths)
    assert [p["W"].shape for p in deep["encoder"]] == [(40, 20), (20, 10), (10, 5)]
    assert [p["W"].shape for p in deep["decoder"]] == [(5, 10), (10, 20), (20, 40)]
    x = jnp.ones((3, 40))
    assert dae.deep_reconstruct(deep, x).shape == (3, 40)
    layers = [
        dae.init_layer(jax.random.PRNGKey(i), a, b, tied=i % 2 == 0)
        for i, (a, b) in enumerate(zip(widths[:-1], widths[1:], strict=True))
    ]
    converted = dae.deep_from_stack(layers)
    # With one layer, the deep reconstruction equals the layer's own.
    single = dae.deep_from_stack(layers[:1])
    np.testing.assert_allclose(
        dae.deep_reconstruct(single, x),
        dae.decode_layer(layers[0], dae.encode_layer(layers[0], x)),
        rtol=1e-5,
    )
    np.testing.assert_allclose(
        dae.encode_stack(converted["encoder"], x), dae.encode_stack(layers, x), rtol=1e-6
    )


def test_modules_hold_the_parameter_files_keys_and_compute_as_the_functions():
    """The NNX modules and the functions on plain trees are one model: same draws, same keys
    (those of `layer{k}.npz` and `encoder.npz`), same outputs."""
    from flax import nnx

    from affectrep.models.dae import DaeLayer, DeepAutoencoder, DenoisingLoss

    x = jnp.asarray(np.random.default_rng(0).normal(size=(4, 10)), dtype=jnp.float32)
    for tied in (True, False):
        layer = DaeLayer.init(jax.random.PRNGKey(3), 10, 4, tied=tied)
        tree = dae.init_layer(jax.random.PRNGKey(3), 10, 4, tied=tied)
        assert set(layer.tree()) == set(tree)
        assert set(nnx.to_pure_dict(nnx.state(layer))) == set(tree)  # what training saves
        for name in tree:
            np.testing.assert_array_equal(layer.tree()[name], tree[name])
        np.testing.assert_array_equal(layer(x), dae.decode_layer(tree, dae.encode_layer(tree, x)))
        key = jax.random.PRNGKey(5)
        assert float(DenoisingLoss(51)(layer, x, key)) == float(dae.layer_loss(tree, x, key, 51))
        assert DaeLayer.from_tree(tree).tied == tied
    deep = DeepAutoencoder.init(jax.random.PRNGKey(1), [10, 6, 3])
    flat = {
        f"{part}/{i}/{k}"
        for part, layers in deep.tree().items()
        for i, layer in enumerate(layers)
        for k in layer
    }
    assert flat == {
        "encoder/0/W",
        "encoder/0/b",
        "encoder/1/W",
        "encoder/1/b",
        "decoder/0/W",
        "decoder/0/b",
        "decoder/1/W",
        "decoder/1/b",
    }
    np.testing.assert_array_equal(deep(x), dae.deep_reconstruct(deep.tree(), x))
    # The functions on trees and the modules are the same computation, for gradients too.
    grads = jax.grad(lambda t: dae.deep_loss(t, x, jax.random.PRNGKey(0), 51))(deep.tree())
    graphdef, state = nnx.split(deep)
    module_grads = jax.grad(
        lambda s: DenoisingLoss(51)(nnx.merge(graphdef, s), x, jax.random.PRNGKey(0))
    )(state)
    np.testing.assert_array_equal(
        nnx.to_pure_dict(module_grads)["encoder"][0]["W"], grads["encoder"][0]["W"]
    )
