"""Where the time of one S4D encoder training step goes, and what each CPU path saves.

At the issue-14 shape (B, L, H) = (256, 96, 64), N = 64, one torch thread, this times the
forward + backward of each part of one S4D layer, the new path against the plain one in
interleaved rounds of the same process (process CPU time, medians of per-round minima):

- the output mixing ``GLU(Linear(GELU(y) ⊙ mask))``: :func:`s4d_forecast.ssm.mixing.glu_mix`
  against plain autograd through ``F.gelu``/``F.linear``/``F.glu``;
- the FFT convolution: :func:`~s4d_forecast.ssm.fftconv.fft_conv` keeping the input's
  spectrum for the backward pass against recomputing it there;
- the kernel generation, the block's LayerNorm and its residual dropout + sum (no
  alternative; for scale);
- the whole two-layer encoder step (forward, backward, AdamW step) as ``S4D`` runs it on
  CPU (``recompute=False``), against ``recompute=True`` (the chunked, recomputing path that
  CUDA uses).

Usage::

    python benchmarks/encoder_step_parts.py [--rounds 12] [--output FILE]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fit_speed import cpu_ms, emit, encoder_step  # noqa: E402

B, L, H, N = 256, 96, 64, 64


def measure(rounds: int, repeats: int = 3) -> dict[str, float]:
    import torch
    import torch.nn.functional as F

    from s4d_forecast.allocator import tune_cpu_allocator
    from s4d_forecast.ssm.fftconv import fft_conv
    from s4d_forecast.ssm.kernel import vandermonde_real
    from s4d_forecast.ssm.layer import fft_len
    from s4d_forecast.ssm.mixing import glu_mix

    torch.set_num_threads(1)
    tune_cpu_allocator()
    torch.manual_seed(0)
    x = torch.randn(B, L, H, requires_grad=True)
    g = torch.randn(B, L, H)
    k = torch.randn(H, L, requires_grad=True)
    mask = (torch.rand(B, 1, H) > 0.1).float() / 0.9
    lin = torch.nn.Linear(H, 2 * H)
    norm = torch.nn.LayerNorm(H)
    n = fft_len(2 * L)
    steps = {recompute: encoder_step(recompute=recompute) for recompute in (False, True)}
    layer = steps[False][1].blocks[0].layer

    def kernel():
        log_dA, CdB = layer.kernel.discretize(L)
        vandermonde_real(CdB, log_dA, L, layer.kernel.compute_dtype).sum().backward()

    params = [x, lin.weight, lin.bias]
    cases = {
        "mixing, glu_mix": lambda: torch.autograd.grad(
            glu_mix(x, lin.weight, lin.bias, mask), params, g),
        "mixing, plain autograd": lambda: torch.autograd.grad(
            F.glu(lin(F.gelu(x) * mask), dim=-1), params, g),
        "FFT convolution, spectrum kept": lambda: torch.autograd.grad(
            fft_conv(x, k, n, None, True), [x, k], g),
        "FFT convolution, spectrum recomputed": lambda: torch.autograd.grad(
            fft_conv(x, k, n, None, False), [x, k], g),
        "kernel generation": kernel,
        "LayerNorm": lambda: torch.autograd.grad(norm(x), [x, *norm.parameters()], g),
        "residual dropout + sum": lambda: torch.autograd.grad(
            torch.addcmul(x, x, mask), [x], g),
        "encoder step, CPU path (recompute=False)": steps[False][0],
        "encoder step, recompute=True": steps[True][0],
    }
    for fn in cases.values():
        fn()
    results = {name: [] for name in cases}
    for _ in range(rounds):
        for name, fn in cases.items():
            results[name].append(cpu_ms(fn, repeats, stat=min))
    return {name: statistics.median(v) for name, v in results.items()}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=12, help="interleaved rounds (default: 12)")
    p.add_argument("--output", type=Path, default=None, help="also write the table here")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --output")
    args = p.parse_args(argv)
    if args.rounds < 1:
        p.error(f"--rounds={args.rounds} must be a positive integer")
    if args.output is not None and args.output.exists() and not args.overwrite:
        p.error(f"--output {args.output} exists; pass --overwrite to replace it")
    ms = measure(args.rounds)
    pairs = {"mixing, glu_mix": "mixing, plain autograd",
             "FFT convolution, spectrum kept": "FFT convolution, spectrum recomputed",
             "encoder step, CPU path (recompute=False)": "encoder step, recompute=True"}
    lines = [f"(B, L, H) = ({B}, {L}, {H}), N = {N}; one torch thread; process CPU time, "
             f"medians over {args.rounds} interleaved rounds of the minimum of 3 calls",
             "", "| forward + backward of | ms | ratio to the alternative |", "|---|---:|---:|"]
    for name, value in ms.items():
        other = pairs.get(name)
        ratio = f"{value / ms[other]:.2f}" if other else ""
        lines.append(f"| {name} | {value:.1f} | {ratio} |")
    emit("\n".join(lines), args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
