"""FFT lengths for the S4D convolution: the previous rule, the package's rule, the best.

The causal convolution of a length-``L`` input with a length-``L`` kernel is exact with any
FFT length ``n ≥ 2L``; the choice only changes speed. The previous rule took the smallest
2·3·5-smooth ``n`` (e.g. ``375 = 3·5³`` for ``L = 187``); the package's rule
(:func:`s4d_forecast.ssm.layer.fft_len`) takes the smallest ``m·2^k`` with ``m`` in
``(1, 3, 5, 9)``. Two tables, each measured within one run (one torch thread, wall-clock
medians, every candidate interleaved over the rounds, the fastest round kept):

1. ``rfft`` + ``irfft`` of a ``(rows, L)`` batch (about 213,000 input values at every L) at the
   previous rule's length, the package's, and every even 2·3·5-smooth length from ``2L`` to
   the next power of two (the best of those is "best");
2. the package's ``fft_conv`` forward + backward at ``(B, L, H) = (32, L, 32)`` with the
   previous and the package's length, at the dev suite's lookbacks.

Usage::

    python benchmarks/fft_sizes.py [--rounds 3]

Prints markdown tables; writes nothing.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from layer_speed import _time as _median_s  # noqa: E402

SCAN_LOOKBACKS = (24, 34, 42, 60, 73, 88, 106, 127, 154, 187, 227, 275, 333, 365, 404, 490,
                  594, 720, 873, 1058, 1283, 1555, 2000, 2500, 3000)
SUITE_LOOKBACKS = (24, 96, 104, 120, 132, 365)


def smooth_235(n: int) -> int:
    """The previous rule: the smallest 2^a·3^b·5^c ≥ n."""
    m = n
    while True:
        r = m
        for p in (2, 3, 5):
            while r % p == 0:
                r //= p
        if r == 1:
            return m
        m += 1


def _candidates(L: int) -> list[int]:
    top = 1 << (2 * L - 1).bit_length()
    return [n for n in range(2 * L, top + 1, 2) if smooth_235(n) == n]


def _time(fn, repeats: int) -> float:
    """Median wall-clock ms of ``repeats`` calls after 2 warm-up calls."""
    return _median_s(fn, "cpu", repeats, warmup=2) * 1e3


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args(argv)
    for name in ("rounds", "repeats"):
        if getattr(args, name) < 1:
            parser.error(f"--{name}={getattr(args, name)} must be a positive integer")

    import torch

    from s4d_forecast.ssm.fftconv import fft_conv
    from s4d_forecast.ssm.layer import fft_len

    torch.set_num_threads(1)
    print("1. rfft + irfft, ms (one thread; about 213,000 input values per call)\n")
    print("| L | previous n | ms | package n | ms | best n | ms | package / previous | "
          "package / best |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for L in SCAN_LOOKBACKS:
        x = torch.randn(max(1, 213_000 // L), L)
        old, new = smooth_235(2 * L), fft_len(2 * L)
        sizes = sorted(set(_candidates(L)) | {old, new})
        best = {n: float("inf") for n in sizes}
        for _ in range(args.rounds):
            for n in sizes:
                ms = _time(lambda n=n, x=x: torch.fft.irfft(torch.fft.rfft(x, n=n), n=n),
                           args.repeats)
                best[n] = min(best[n], ms)
        top = min(sizes, key=best.get)
        print(f"| {L} | {old} | {best[old]:.3f} | {new} | {best[new]:.3f} | {top} | "
              f"{best[top]:.3f} | {best[new] / best[old]:.2f} | {best[new] / best[top]:.2f} |")

    print("\n2. fft_conv forward + backward at (B, L, H) = (32, L, 32), ms\n")
    print("| L | previous n | ms | package n | ms | package / previous |")
    print("|---:|---:|---:|---:|---:|---:|")
    for L in SUITE_LOOKBACKS:
        x = torch.randn(32, L, 32, requires_grad=True)
        k = torch.randn(32, L, requires_grad=True)
        old, new = smooth_235(2 * L), fft_len(2 * L)
        best = {old: float("inf"), new: float("inf")}
        for _ in range(args.rounds):
            for n in best:
                ms = _time(lambda n=n, x=x, k=k: fft_conv(x, k, n).sum().backward(),
                           args.repeats)
                best[n] = min(best[n], ms)
        print(f"| {L} | {old} | {best[old]:.3f} | {new} | {best[new]:.3f} | "
              f"{best[new] / best[old]:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
