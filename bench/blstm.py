"""Speed of the BLSTM autoencoder's training (not a test: it prints figures).

Issue 14 measured the project's BLSTM training step against PyTorch eager on 2 CPU cores
(batch 32, 250-300 frames, 80-d input, Adam; utterances/s, one run): 1,443 against 1,194 at
8 units per direction, 694 against 1,170 at 16 and 387 against 772 at 32: the project's
step time doubled with every doubling of a tiny hidden size. This measures it again, on
whatever JAX runs on (a GPU included), through the project's own training loop:
`affectrep.train.blstm.train_blstm` with Adam (`affectrep.train.loop.fit`'s compiled step:
`sequence_loss`, value_and_grad, optax update, buffer donation), its batching
(`UtteranceBatches`: length-sorted batches of 32) and its bucketed padding (250-300 frames
pad to 320). Data: random 80-d "codes" of utterances of 250-300 frames. The first epoch
(which compiles) is left out; the best of the timed epochs is printed as utterances/s.

With --torch (and PyTorch installed) the same model in PyTorch eager, on CUDA when there is
one: two one-way `nn.LSTM`s, the backward one fed each utterance reversed within its length,
a linear read-out, SSE over the real frames per utterance, Adam, on the same batches (padded
to each batch's longest utterance, as eager code would), and the JAX/PyTorch ratio. Both run
with the workflow's allocator settings (`affectrep.device.keep_freed_memory`; README, Speed).

    python bench/blstm.py [--sizes 8 16 32 64] [--batches 20] [--epochs 3] [--torch] [--threads 1]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np


def make_data(n_utts: int, dim: int, seed: int = 0):
    """Random codes of `n_utts` utterances of 250-300 frames, and their index."""
    from affectrep.data.featureset import FeatureIndex

    rng = np.random.default_rng(seed)
    lengths = rng.integers(250, 301, n_utts)
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    codes = rng.standard_normal((int(lengths.sum()), dim), dtype=np.float32)
    index = FeatureIndex([str(i) for i in range(n_utts)], ["s"] * n_utts, offsets, lengths)
    return codes, index


def bench_jax(codes, index, units: int, batch: int, epochs: int) -> dict:
    """The project's training loop, 1 + `epochs` epochs; the first is the compile."""
    import jax

    from affectrep.train import blstm

    settings = blstm.BlstmSettings(
        hidden=2 * units, optimizer="adam", learning_rate=1e-3, epochs=1 + epochs, batch_size=batch
    )
    _, history = blstm.train_blstm(codes, index, settings, label=f"blstm-{units}")
    timed = history.records[1:]
    best = max(record["utterances_per_s"] for record in timed)
    typical = float(np.median([record["seconds"] for record in timed]))
    return {
        "utt_per_s": best,
        "compile_s": history.records[0]["seconds"] - typical,
        "device": f"{jax.devices()[0].platform}:{jax.devices()[0].device_kind}",
    }


def bench_torch(codes, index, units: int, batch: int, epochs: int) -> float | None:
    """The same model and batches in PyTorch eager; best utterances/s over `epochs` epochs
    after one warm-up epoch. None without PyTorch."""
    try:
        import torch
    except ImportError:
        return None
    from affectrep.train import blstm
    from affectrep.train.loop import gather_rows

    device = "cuda" if torch.cuda.is_available() else "cpu"
    if os.environ.get("OMP_NUM_THREADS"):
        torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
    torch.manual_seed(0)
    dim = codes.shape[1]
    forward = torch.nn.LSTM(dim, units, batch_first=True).to(device)
    backward = torch.nn.LSTM(dim, units, batch_first=True).to(device)
    readout = torch.nn.Linear(2 * units, dim).to(device)
    parameters = [*forward.parameters(), *backward.parameters(), *readout.parameters()]
    optimizer = torch.optim.Adam(parameters, lr=1e-3)
    data = torch.from_numpy(codes).to(device)
    source = blstm.batches(codes, index, blstm.BlstmSettings(batch_size=batch))

    def step(starts: np.ndarray, lengths: np.ndarray) -> torch.Tensor:
        n_steps = int(lengths.max())
        x = data[torch.from_numpy(gather_rows(starts, lengths, n_steps)).long().to(device)]
        length = torch.from_numpy(lengths).to(device)[:, None]
        steps = torch.arange(n_steps, device=device)[None, :]
        real = steps < length
        # t -> length-1-t on real frames; its own inverse, so it also restores frame order.
        reverse = torch.where(real, length - 1 - steps, steps)[:, :, None]
        h_fwd, _ = forward(x)
        h_bwd, _ = backward(torch.gather(x, 1, reverse.expand(-1, -1, dim)))
        h_bwd = torch.gather(h_bwd, 1, reverse.expand(-1, -1, units))
        error = (readout(torch.cat([h_fwd, h_bwd], dim=-1)) - x) ** 2
        loss = (error.sum(-1) * real).sum() / x.shape[0]
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return loss.detach()

    rates = []
    for epoch in range(1 + epochs):
        batches = source.batches(epoch)
        started = time.perf_counter()
        losses = [step(starts, lengths) for starts, lengths in batches]
        torch.stack(losses).cpu()  # waits for the device
        if epoch:
            rates.append(len(batches) * batch / (time.perf_counter() - started))
    return max(rates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes",
        type=int,
        nargs="+",
        default=[8, 16, 32, 64],
        help="LSTM units per direction (the project's `hidden` is twice this)",
    )
    parser.add_argument("--batches", type=int, default=20, help="batches per epoch")
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs (after one more)")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--dim", type=int, default=80)
    parser.add_argument("--torch", action="store_true", help="also time PyTorch eager")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="CPU threads for both (1: as the workflow's training jobs run on a CPU; 0: each "
        "library's default)",
    )
    args = parser.parse_args()
    from affectrep.device import configure_jax, keep_freed_memory

    # As every job of the workflow (configure_jax does it too): freed memory is kept for the
    # next step, for PyTorch as well, which runs in this process.
    if args.threads:
        configure_jax(args.threads, cache_dir=None)
        os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    else:
        keep_freed_memory()
    codes, index = make_data(args.batches * args.batch, args.dim)
    print(
        f"batch {args.batch}, {args.batches} batches/epoch, {args.dim}-d input, "
        f"250-300 frames, Adam; best of {args.epochs} epochs; "
        f"{args.threads or 'default'} CPU thread(s)"
    )
    header = f"{'units/dir':>9s} {'JAX utt/s':>10s} {'compile s':>9s}"
    if args.torch:
        header += f" {'torch utt/s':>11s} {'JAX/torch':>9s}"
    print(header, flush=True)
    torch_device = None
    for units in args.sizes:
        result = bench_jax(codes, index, units, args.batch, args.epochs)
        line = f"{units:9d} {result['utt_per_s']:10.0f} {result['compile_s']:9.2f}"
        if args.torch:
            rate = bench_torch(codes, index, units, args.batch, args.epochs)
            if rate is None:
                line += f" {'(no torch)':>11s}"
            else:
                import torch

                torch_device = "cuda" if torch.cuda.is_available() else "cpu"
                line += f" {rate:11.0f} {result['utt_per_s'] / rate:9.2f}"
        print(line, flush=True)
    print(f"JAX device: {result['device']}" + (f"; PyTorch {torch_device}" if torch_device else ""))


if __name__ == "__main__":
    main()
