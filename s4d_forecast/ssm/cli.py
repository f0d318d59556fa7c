"""``s4d-forecast stream``: stream a real or synthetic signal through an S4D encoder.

Shows the two views of the same model agreeing: the FFT convolution over the whole sequence
and the recurrent ``step`` one sample at a time, and what each costs per new sample.
"""

from __future__ import annotations

import argparse
import time


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
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import math

    import torch

    from s4d_forecast.ssm import S4DEncoder

    if args.length < 2:
        raise SystemExit(f"--length={args.length}: need at least 2 samples")
    torch.manual_seed(args.seed)
    t = torch.arange(args.length, dtype=torch.float32)
    # a chirp with noise: something with structure at several time scales
    x = torch.sin(2 * math.pi * t * (0.002 + 0.02 * t / args.length)) + 0.1 * torch.randn_like(t)
    x = x.view(1, -1, 1)
    enc = S4DEncoder(1, args.d_model, args.n_layers, args.d_state, init=args.init).eval()
    with torch.no_grad():
        t0 = time.perf_counter()
        y_conv = enc(x)
        conv_s = time.perf_counter() - t0
        state, ys = enc.default_state(1), []
        t0 = time.perf_counter()
        for i in range(args.length):
            y, state = enc.step(x[:, i], state)
            ys.append(y)
        step_s = time.perf_counter() - t0
        y_step = torch.stack(ys, dim=1)
        # the non-recurrent way to serve one new sample: re-run the convolution on the window
        t0 = time.perf_counter()
        reps = 5
        for _ in range(reps):
            enc(x)
        rerun_s = (time.perf_counter() - t0) / reps
    rel = ((y_step - y_conv).norm() / y_conv.norm()).item()
    print(f"S4D encoder: init={args.init}, {args.n_layers} layers x H={args.d_model}, "
          f"N={args.d_state}, L={args.length}")
    print(f"relative difference step vs convolution: {rel:.2e}")
    print(f"convolution, whole sequence:     {conv_s * 1e3:9.2f} ms")
    print(f"step, per sample:                {step_s / args.length * 1e3:9.3f} ms "
          f"({args.length / step_s:,.0f} samples/s)")
    print(f"re-running the convolution on a {args.length}-sample window per new sample: "
          f"{rerun_s * 1e3:.2f} ms ({rerun_s / (step_s / args.length):.0f}x a step)")
    return 0 if rel <= 1e-4 else 1
