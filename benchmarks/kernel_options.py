"""Weigh alternatives for the S4D kernel and convolution against what the package does.

Each section times the package's choice (the baseline, ratio 1.00) and its alternatives in the
same process, forward + backward, median of many runs after warm-up, and reports the largest
deviation of each alternative's result from the baseline's:

* kernel K (H, L): the package's blockwise real matrix product with float64 powers; the
  reference's complex Vandermonde einsum over an (H, N/2, L) tensor; the same chunked over L;
  the real form 2·e^{al}(C_r cos bl − C_i sin bl) over the full tensor; the reference einsum
  under ``torch.compile``.
* kernel spectrum (H, n/2+1): rfft of the package's K, or straight from the poles by the
  geometric-series (Cauchy-like) sum Σ_n c_n (1 − (λ_n w^k)^L) / (1 − λ_n w^k) + conjugate,
  which skips the kernel's FFT.
* FFT length of the convolution: 2·3·5-smooth ≥ 2L (the package), power of two ≥ 2L, 2L.
* the whole layer under ``torch.compile`` (compile time reported separately).

    python benchmarks/kernel_options.py            # CPU shapes
    python benchmarks/kernel_options.py --device cuda
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from layer_speed import CPU_SHAPES, GPU_SHAPES, _time  # noqa: E402

from s4d_forecast.ssm import S4D  # noqa: E402
from s4d_forecast.ssm.fftconv import fft_conv  # noqa: E402
from s4d_forecast.ssm.layer import fft_len  # noqa: E402


def reference_kernel(log_dA, CdB, L):
    """2·Re einsum(C, exp(log dA · l)) over the (H, N/2, L) tensor (the S4D paper's code)."""
    V = torch.exp(log_dA.unsqueeze(-1) * torch.arange(L, device=log_dA.device))
    return 2 * torch.einsum("hn,hnl->hl", CdB, V).real


def chunked_kernel(log_dA, CdB, L, chunk=256):
    """The reference formula over chunks of ``chunk`` time steps: (H, N/2, chunk) at a time."""
    parts = []
    for l0 in range(0, L, chunk):
        steps = torch.arange(l0, min(L, l0 + chunk), device=log_dA.device)
        parts.append(2 * torch.einsum("hn,hnl->hl", CdB,
                                      torch.exp(log_dA.unsqueeze(-1) * steps)).real)
    return torch.cat(parts, -1)


def real_kernel(log_dA, CdB, L):
    """2·Σ_n e^{a l}(c_r cos bl − c_i sin bl), real arithmetic over (H, N/2, L)."""
    steps = torch.arange(L, device=log_dA.device, dtype=log_dA.real.dtype)
    mag = torch.exp(log_dA.real.unsqueeze(-1) * steps)
    phase = log_dA.imag.unsqueeze(-1) * steps
    return 2 * (mag * (CdB.real.unsqueeze(-1) * torch.cos(phase)
                       - CdB.imag.unsqueeze(-1) * torch.sin(phase))).sum(-2)


def cauchy_spectrum(log_dA, CdB, L, n):
    """rfft(K, n) from the poles: Σ_l (λ w^k)^l = (1 − (λ w^k)^L) / (1 − λ w^k), plus conj."""
    k = torch.arange(n // 2 + 1, device=log_dA.device, dtype=log_dA.real.dtype)
    log_w = torch.complex(torch.zeros_like(k), -2 * math.pi * k / n)  # log of w^k
    total = 0
    for lam, c in ((log_dA, CdB), (log_dA.conj(), CdB.conj())):
        z = lam.unsqueeze(-1) + log_w  # log(λ w^k), (H, N/2, n/2+1)
        total = total + (c.unsqueeze(-1) * (-torch.expm1(z * L)) / (-torch.expm1(z))).sum(-2)
    return total


def _grad_run(fn, params):
    def run():
        for p in params:
            p.grad = None
        out = fn()
        (out.real.sum() + (out.imag.sum() if out.is_complex() else 0)).backward()
    return run


def _compiled(fn, call, params, **compile_kwargs):
    """``torch.compile(fn)`` and the seconds of its first forward+backward (the compiling)."""
    compiled = torch.compile(fn, **compile_kwargs)
    t0 = time.perf_counter()
    _grad_run(lambda: call(compiled), params)()
    return compiled, time.perf_counter() - t0


def _compare(options: dict, params, exact, device, repeats, warmup) -> list[str]:
    """Time each option's forward+backward (the first is the baseline) and its error."""
    lines, base = [], None
    for name, fn in options.items():
        t = _time(_grad_run(fn, params), device, repeats, warmup)
        with torch.no_grad():
            err = ((fn().to(exact.dtype) - exact).abs().max() / exact.abs().max()).item()
        base = base or t
        lines.append(f"| {name} | {t * 1e3:.2f} | {t / base:.2f} | {err:.1e} |")
    return lines


def kernel_section(layer, L, device, repeats, warmup, use_compile=True):
    kern = layer.kernel
    params = list(kern.parameters())

    def discrete32():
        log_dA, CdB = kern.discretize(L)
        return log_dA.to(torch.complex64), CdB.to(torch.complex64)

    options = {
        "package: blockwise real matmul, float64 powers": lambda: kern.kernel(L),
        "reference: complex einsum over (H, N/2, L)": lambda: reference_kernel(*discrete32(), L),
        "reference chunked over L (256 steps)": lambda: chunked_kernel(*discrete32(), L),
        "real arithmetic over (H, N/2, L)": lambda: real_kernel(*discrete32(), L),
    }
    if use_compile:
        compiled, compile_s = _compiled(reference_kernel, lambda f: f(*discrete32(), L),
                                        params, dynamic=False)
        options[f"reference under torch.compile (compile {compile_s:.1f} s)"] = (
            lambda: compiled(*discrete32(), L))
    with torch.no_grad():
        log_dA, CdB = kern.discretize(L)
        exact = reference_kernel(log_dA, CdB, L)  # float64 formula
    return _compare(options, params, exact, device, repeats, warmup)


def spectrum_section(layer, L, device, repeats, warmup):
    kern, n = layer.kernel, fft_len(2 * L)
    params = list(kern.parameters())

    def via_fft():
        return torch.fft.rfft(kern.kernel(L), n=n)

    def via_poles():
        log_dA, CdB = kern.discretize(L)
        return cauchy_spectrum(log_dA.to(torch.complex64), CdB.to(torch.complex64), L, n)

    with torch.no_grad():
        exact = torch.fft.rfft(reference_kernel(*kern.discretize(L), L), n=n)
    options = {"package: rfft of K": via_fft,
               "Cauchy-like sum from the poles (no kernel FFT)": via_poles}
    return _compare(options, params, exact, device, repeats, warmup)


def fft_size_section(B, H, L, device, repeats, warmup):
    x = torch.randn(B, L, H, device=device, requires_grad=True)
    k = torch.randn(H, L, device=device, requires_grad=True)
    sizes = {"package: m·2^k ≥ 2L, m in (1, 3, 5, 9)": fft_len(2 * L),
             "power of two ≥ 2L": 1 << (2 * L - 1).bit_length(), "exactly 2L": 2 * L}
    exact = fft_conv(x.double(), k.double(), 2 * L).detach()
    options = {f"{name} (n = {n})": (lambda n=n: fft_conv(x, k, n)) for name, n in sizes.items()}
    return _compare(options, [x, k], exact, device, repeats, warmup)


def compile_section(layer, B, L, device, repeats, warmup):
    x = torch.randn(B, L, layer.H, device=device, requires_grad=True)
    params = list(layer.parameters()) + [x]
    compiled, compile_s = _compiled(layer, lambda f: f(x), params)
    with torch.no_grad():
        exact = layer(x)
    options = {"package: eager": lambda: layer(x),
               f"torch.compile(layer) (compile {compile_s:.1f} s)": lambda: compiled(x)}
    return _compare(options, params, exact, device, repeats, warmup)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    p.add_argument("--repeats", type=int, default=None)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--shapes", default=None,
                   help="semicolon-separated B,H,N,L tuples (default: layer_speed's shapes)")
    p.add_argument("--no-compile", action="store_true", help="skip the torch.compile rows")
    args = p.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: no CUDA device is available")
    shapes = ([tuple(int(v) for v in s.split(",")) for s in args.shapes.split(";")]
              if args.shapes else (GPU_SHAPES if args.device == "cuda" else CPU_SHAPES))
    repeats = args.repeats or (50 if args.device == "cuda" else 7)
    dev = (torch.cuda.get_device_name() if args.device == "cuda"
           else f"CPU, {torch.get_num_threads()} threads")
    print(f"device: {dev}; torch {torch.__version__}; forward+backward, median of {repeats} "
          f"runs after {args.warmup} warm-up; error = max |x - x64| / max |x64| against the "
          "float64 formula (kernel, spectrum) or float64 convolution (FFT size)")
    for B, H, N, L in shapes:
        torch.manual_seed(0)
        layer = S4D(H, N, init="legs").to(args.device)
        print(f"\n### (B, H, N, L) = ({B}, {H}, {N}, {L})\n")
        print("| option | ms | ratio to package | error |\n|---|---:|---:|---:|")
        lines = kernel_section(layer, L, args.device, repeats, args.warmup,
                               not args.no_compile)
        for line in (lines + spectrum_section(layer, L, args.device, repeats, args.warmup)
                     + fft_size_section(B, H, L, args.device, repeats, args.warmup)
                     + ([] if args.no_compile else
                        compile_section(layer, B, L, args.device, repeats, args.warmup))):
            print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
