"""Speed of one denoising-autoencoder layer per architecture (not a test: it prints figures).

For the first layer of each of the paper's architectures, trains on random frames through the
real training path (`affectrep.train.compiled_steps`: context windows gathered in the step,
masking noise, SGD, a whole chunk of steps in one `lax.scan`) and prints frames/s, achieved
GFLOP/s (3x the forward pass's 2*B*n_in*n_out*2 flops per step), this machine's float32
matmul GFLOP/s, their ratio, and the compile time. With --torch (and PyTorch installed) the
same tied layer in PyTorch eager.

    python bench/pretrain.py [--frames 200000] [--torch]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

ARCHITECTURES = [  # (name, spectrogram dims, context, first hidden width)
    ("513-256 (fft513-c1)", 513, 1, 256),
    ("128-64 (fft128-c1)", 128, 1, 64),
    ("640-320 (fft128-c5)", 128, 5, 320),
    ("200-100 (logmel40-c5)", 40, 5, 100),
]


def matmul_peak_gflops(size: int = 4096, repeats: int = 3) -> float:
    """float32 matmul rate of the device the benchmark runs on: NumPy on a CPU, JAX on a
    GPU (a CPU figure would make every GPU layer look far above its peak)."""
    import jax

    if jax.default_backend() != "cpu":
        import jax.numpy as jnp

        size, repeats = 8192, 20
        a = jnp.asarray(np.random.default_rng(0).standard_normal((size, size), np.float32))
        product = jax.jit(lambda x: x @ x)
        product(a).block_until_ready()
        started = time.perf_counter()
        for _ in range(repeats):
            out = product(a)
        out.block_until_ready()
        return 2 * size**3 * repeats / (time.perf_counter() - started) / 1e9
    a = np.random.default_rng(0).standard_normal((size, size), dtype=np.float32)
    a @ a
    started = time.perf_counter()
    for _ in range(repeats):
        a @ a
    return 2 * size**3 * repeats / (time.perf_counter() - started) / 1e9


def bench_jax(
    n_frames: int, dims: int, context: int, hidden: int, batch: int, tied: bool = True
) -> dict:
    """The compiled chunk of steps that `affectrep.train.fit` runs for a greedy layer, timed
    over a whole epoch of steps in one call (the best of 3, after one warm-up)."""
    import jax
    import jax.numpy as jnp
    from flax import nnx

    from affectrep.data.featureset import FeatureIndex
    from affectrep.models.context import TrainingData
    from affectrep.models.dae import DaeLayer, DenoisingLoss, mask_threshold
    from affectrep.train.autoencoders import EncodedWindows, TrainSettings
    from affectrep.train.loop import compiled_steps, make_optimizer

    rng = np.random.default_rng(0)
    frames = rng.standard_normal((n_frames, dims), dtype=np.float32)
    lengths = np.full(n_frames // 300, 300)
    index = FeatureIndex(
        [str(i) for i in range(len(lengths))],
        ["s"] * len(lengths),
        np.arange(len(lengths)) * 300,
        lengths,
    )
    data = TrainingData.from_features(frames[: lengths.sum()], index)
    settings = TrainSettings(batch_size=batch)
    model = DaeLayer.init(jax.random.PRNGKey(0), dims * context, hidden, tied=tied)
    graphdef, params = nnx.split(model)
    runner = compiled_steps(
        graphdef,
        DenoisingLoss(mask_threshold(settings.noise)),
        EncodedWindows(context),
        settings.optimizer_settings(),
        1000,
    )
    steps = data.n_frames // batch
    rows = jnp.asarray(
        rng.permutation(data.n_frames)[: steps * batch].reshape(steps, batch).astype(np.int32)
    )
    packed = (data.frames, data.starts, data.ends, [])
    key = jax.random.PRNGKey(0)
    opt_state = make_optimizer(settings, 1000).init(params)
    started = time.perf_counter()
    compiled = runner.lower(params, opt_state, packed, rows, key, jnp.int32(0)).compile()
    compile_s = time.perf_counter() - started
    params, opt_state, losses = compiled(params, opt_state, packed, rows, key, jnp.int32(0))
    losses.block_until_ready()
    times = []
    for _ in range(3):
        started = time.perf_counter()
        params, opt_state, losses = compiled(params, opt_state, packed, rows, key, jnp.int32(0))
        losses.block_until_ready()
        times.append(time.perf_counter() - started)
    seconds = min(times)
    flops = 12.0 * batch * dims * context * hidden * steps
    return {
        "frames_per_s": steps * batch / seconds,
        "gflops": flops / seconds / 1e9,
        "compile_s": compile_s,
        "device": jax.devices()[0].device_kind,
    }


def bench_torch(n_frames: int, n_in: int, hidden: int, batch: int) -> float | None:
    """The same tied layer (masking noise, SSE, SGD) in PyTorch eager; frames/s."""
    try:
        import torch
    except ImportError:
        return None
    device = "cuda" if torch.cuda.is_available() else "cpu"
    torch.manual_seed(0)
    data = torch.randn(n_frames, n_in, device=device)
    weight = (torch.rand(n_in, hidden, device=device) * 2 - 1).mul_(np.sqrt(6 / (n_in + hidden)))
    weight.requires_grad_()
    bias = torch.zeros(hidden, requires_grad=True, device=device)
    bias_dec = torch.zeros(n_in, requires_grad=True, device=device)
    optimizer = torch.optim.SGD([weight, bias, bias_dec], lr=1e-4, weight_decay=1e-4)
    steps = n_frames // batch

    def epoch():
        order = torch.randperm(n_frames, device=device)
        for step in range(steps):
            x = data[order[step * batch : (step + 1) * batch]]
            noisy = x * (torch.rand_like(x) >= 0.2)
            z = torch.tanh(noisy @ weight + bias) @ weight.T + bias_dec
            loss = ((z - x) ** 2).sum() / batch
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()

    def synchronise():
        if device == "cuda":
            torch.cuda.synchronize()

    epoch()
    synchronise()
    started = time.perf_counter()
    epoch()
    synchronise()
    return steps * batch / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--torch", action="store_true", help="also time PyTorch eager")
    args = parser.parse_args()
    peak = matmul_peak_gflops()
    print(f"float32 matmul peak of the device: {peak:.0f} GFLOP/s")
    print(f"{'layer':24s} {'frames/s':>10s} {'GFLOP/s':>8s} {'of peak':>8s} {'compile s':>9s}")
    for name, dims, context, hidden in ARCHITECTURES:
        result = bench_jax(args.frames, dims, context, hidden, args.batch)
        print(
            f"{name:24s} {result['frames_per_s']:10.0f} {result['gflops']:8.1f} "
            f"{result['gflops'] / peak:8.2f} {result['compile_s']:9.2f}"
        )
    print(f"device: {result['device']}")
    if args.torch:
        rate = bench_torch(args.frames, 640, 320, args.batch)
        if rate is None:
            print("PyTorch is not installed (pip install torch) - skipped")
        else:
            print(
                f"PyTorch eager, 640-320 tied: {rate:.0f} frames/s "
                f"({12 * args.batch * 640 * 320 * rate / args.batch / 1e9:.1f} GFLOP/s)"
            )


if __name__ == "__main__":
    main()
