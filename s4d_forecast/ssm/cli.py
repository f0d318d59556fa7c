"""``s4d-forecast stream``: stream a chirp through an S4D encoder with ``step`` and compare it
with the convolution over the whole sequence, and what each costs per new sample.

The memory and time of a request are estimated before it starts; one that needs more memory
than is available, or more time than ``--time-limit``, is refused with the estimate. Ctrl-C
stops the streaming loop with what it measured.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

# Bytes per sample and channel of the run (measured peak: 81 at H = 128, L = 50,000 on CPU)
# and per streamed step (the bookkeeping of one tensor).
BYTES_PER_SAMPLE_CHANNEL, BYTES_PER_STEP = 100, 400


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "stream", help="stream a signal through an S4D encoder with step() and compare it "
        "with the convolution",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--length", type=int, default=2000, help="samples to stream (default 2000)")
    p.add_argument("--d-model", type=int, default=64)
    p.add_argument("--n-layers", type=int, default=2)
    p.add_argument("--d-state", type=int, default=64)
    p.add_argument("--init", default="legs", help="legs, inv, lin, real, dss or dfout")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--time-limit", type=float, default=600.0, metavar="SECONDS",
                   help="refuse a run estimated to take longer (default 600)")
    p.set_defaults(func=run)


def available_memory() -> int | None:
    """Bytes of memory available to a new allocation (Linux: ``MemAvailable``), or None."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def _sizes(args: argparse.Namespace) -> None:
    """Check the sizes and that the run fits in memory, before anything is allocated."""
    from s4d_forecast._checks import check_choice, check_float, check_int
    from s4d_forecast.ssm.backbone import encoder_size
    from s4d_forecast.ssm.init import INITS

    check_int("--length", args.length, 2)
    check_int("--d-model", args.d_model, 1)
    check_int("--n-layers", args.n_layers, 1)
    check_int("--d-state", args.d_state, 2, even=True)
    check_choice("--init", args.init, INITS)
    check_int("--seed", args.seed, 0)
    check_float("--time-limit", args.time_limit, 0, lo_open=True)
    need = 4 * encoder_size(1, args.d_model, args.n_layers, args.d_state) + args.length * (
        BYTES_PER_SAMPLE_CHANNEL * args.d_model + BYTES_PER_STEP)  # float32 weights, activations
    free = available_memory()
    if free is not None and need > free:
        raise ValueError(
            f"`s4d-forecast stream` would need about {need / 2**30:.3g} GiB of memory (weights "
            f"~ n_layers x 2 x d_model^2, activations ~ length x d_model), but "
            f"{free / 2**30:.3g} GiB are available; lower --length, --d-model or --n-layers")


def run(args: argparse.Namespace) -> int:
    _sizes(args)
    import math

    import torch
    from tqdm.auto import tqdm

    from s4d_forecast.ssm import S4DEncoder

    torch.manual_seed(args.seed)
    L, t = args.length, torch.arange(args.length, dtype=torch.float32)
    # a chirp with noise: something with structure at several time scales
    x = (torch.sin(2 * math.pi * t * (0.002 + 0.02 * t / L)) + 0.1 * torch.randn_like(t))[
        None, :, None]
    enc = S4DEncoder(1, args.d_model, args.n_layers, args.d_state, init=args.init).eval()
    with torch.no_grad():
        state, probe, n_probe = enc.default_state(1), min(L, 2048), min(L, 20)
        t0 = time.perf_counter()
        enc(x[:, :probe])
        conv_probe = time.perf_counter() - t0
        for i in range(n_probe):  # the first steps pay for the cached discretisation
            enc.step(x[:, i], state)
        t0 = time.perf_counter()
        for i in range(n_probe):
            enc.step(x[:, i], state)
        step_probe = (time.perf_counter() - t0) / n_probe
        # convolution ~ L log L; the step loop ~ L; the re-runs below ~ once more
        conv_est = conv_probe * L / probe * max(1.0, math.log2(L) / math.log2(probe))
        estimate = 2 * conv_est + L * step_probe
        if estimate > args.time_limit:
            raise ValueError(
                f"`s4d-forecast stream` would take about {estimate:,.0f} s ({step_probe * 1e3:.3f}"
                f" ms per streamed sample, measured), over --time-limit {args.time_limit:g} s; "
                "lower --length (or --d-model, --n-layers), or raise --time-limit")
        t0 = time.perf_counter()
        y_conv = enc(x)
        conv_s = time.perf_counter() - t0
        y_step, done = torch.empty_like(y_conv), 0
        t0 = time.perf_counter()
        try:
            for i in tqdm(range(L), desc="streaming", unit="sample", disable=None,
                          leave=False, mininterval=1.0):
                y_step[:, i], state = enc.step(x[:, i], state)
                done = i + 1
        except KeyboardInterrupt:
            print(f"interrupted after {done:,} of {L:,} samples "
                  f"({(time.perf_counter() - t0) / max(done, 1) * 1e3:.3f} ms per sample)",
                  file=sys.stderr)
            return 130
        step_s = time.perf_counter() - t0
        # the non-recurrent way to serve one new sample: re-run the convolution on the window
        reps = 5 if conv_s < 0.2 else 1
        t0 = time.perf_counter()
        for _ in range(reps):
            enc(x)
        rerun_s = (time.perf_counter() - t0) / reps
    rel = ((y_step - y_conv).norm() / y_conv.norm()).item()
    print(f"S4D encoder: init={args.init}, {args.n_layers} layers x H={args.d_model}, "
          f"N={args.d_state}, L={L}")
    print(f"relative difference step vs convolution: {rel:.2e}")
    print(f"convolution, whole sequence:     {conv_s * 1e3:9.2f} ms")
    print(f"step, per sample:                {step_s / L * 1e3:9.3f} ms "
          f"({L / step_s:,.0f} samples/s)")
    print(f"re-running the convolution on a {L}-sample window per new sample: "
          f"{rerun_s * 1e3:.2f} ms ({rerun_s / (step_s / L):.0f}x a step)")
    return 0 if rel <= 1e-4 else 1
