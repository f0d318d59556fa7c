"""Time and memory of one S4D layer (forward, forward+backward): ours vs the reference.

Both layers contain the same parts (kernel generation, FFT convolution with the D term,
GELU, output mixing Linear/Conv1d(H→2H)+GLU), each in its native layout, measured in one run,
median of many runs after warm-up. Prints a markdown table of times and ratios.

    python benchmarks/layer_speed.py --device cpu
    python benchmarks/layer_speed.py --device cuda
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from reference_s4d import ReferenceS4D  # noqa: E402

from s4d_forecast.ssm import S4D  # noqa: E402
from s4d_forecast.ssm.fftconv import CHUNK_ELEMENTS  # noqa: E402

GPU_SHAPES = [(64, 256, 64, 1000), (32, 128, 256, 4000), (64, 128, 64, 720),
              (8, 256, 64, 16384)]
# the same shapes scaled down for a 2-core CPU (batch and width divided)
CPU_SHAPES = [(8, 64, 64, 1000), (4, 32, 256, 4000), (8, 32, 64, 720), (1, 64, 64, 16384)]


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def _time(fn, device: str, repeats: int, warmup: int) -> float:
    for _ in range(warmup):
        fn()
    _sync(device)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _peak_mib(fn, device: str) -> float:
    """Peak of the tensor memory allocated while ``fn`` runs, above what was live before.

    CUDA: the caching allocator's counters. CPU: the profiler's tensor lifetime timeline
    (the data behind ``torch.profiler.profile.export_memory_timeline``): every tensor's
    creation and destruction, summed in order. Both count tensor bytes, not allocator caches.
    """
    gc.collect()
    if device == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        fn()
        _sync(device)
        return (torch.cuda.max_memory_allocated() - base) / 2**20
    from torch.profiler import ProfilerActivity, profile
    from torch.profiler._memory_profiler import Action

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True, record_shapes=True,
                 with_stack=True) as prof:
        fn()
    live = peak = 0
    for _, action, _, size in prof._memory_profile().timeline:
        if action == Action.CREATE:
            live += size
        elif action == Action.DESTROY:
            live -= size
        peak = max(peak, live)
    return peak / 2**20


def measure(shape, device: str, repeats: int, warmup: int,
            chunk_elements: int | None = None) -> dict:
    B, H, N, L = shape
    torch.manual_seed(0)
    ours = S4D(H, N, init="lin", chunk_elements=chunk_elements, recompute=True).to(device)
    ref = ReferenceS4D(H, N).to(device)
    x = torch.randn(B, L, H, device=device, requires_grad=True)
    x_ref = x.detach().transpose(1, 2).contiguous().requires_grad_(True)

    def fwd(model, inp):
        def run():
            with torch.no_grad():
                model(inp)
        return run

    def fwd_bwd(model, inp):
        def run():
            model.zero_grad(set_to_none=True)
            model(inp).sum().backward()
        return run

    row = {"shape": shape}
    for name, model, inp in (("ours", ours, x), ("ref", ref, x_ref)):
        fwd_bwd(model, inp)()  # warm-up outside the memory measurement
        row[f"{name}_mem"] = _peak_mib(fwd_bwd(model, inp), device)
        if repeats:
            row[f"{name}_fwd"] = _time(fwd(model, inp), device, repeats, warmup)
            row[f"{name}_fb"] = _time(fwd_bwd(model, inp), device, repeats, warmup)
    if repeats:  # the kernel alone, as a check of where the time goes
        row["ours_kernel"] = _time(lambda: ours.kernel.kernel(L).sum().backward(), device,
                                   repeats, warmup)
        row["ref_kernel"] = _time(lambda: ref.kernel(L).sum().backward(), device, repeats,
                                  warmup)
    return row


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    p.add_argument("--repeats", type=int, default=None,
                   help="timed runs per measurement; 0 measures peak memory only")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--shapes", default=None,
                   help="semicolon-separated B,H,N,L tuples (default: the issue's shapes)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--chunk-elements", type=int, default=None,
                   help="S4D(chunk_elements=...) for our layer (default: the device default)")
    args = p.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: no CUDA device is available")
    if args.threads:
        torch.set_num_threads(args.threads)
    shapes = ([tuple(int(v) for v in s.split(",")) for s in args.shapes.split(";")]
              if args.shapes else (GPU_SHAPES if args.device == "cuda" else CPU_SHAPES))
    repeats = args.repeats if args.repeats is not None else (50 if args.device == "cuda"
                                                             else 7)
    dev = (torch.cuda.get_device_name() if args.device == "cuda"
           else f"CPU, {torch.get_num_threads()} threads")
    chunk = args.chunk_elements or CHUNK_ELEMENTS.get(args.device)
    times = f"; times: median of {repeats} runs after {args.warmup} warm-up" if repeats else ""
    print(f"device: {dev}; torch {torch.__version__}; float32; chunk_elements={chunk}; "
          f"peak memory of one forward+backward{times}\n")
    head = ["(B,H,N,L)", "ref peak MiB", "ours peak MiB", "mem ratio"]
    if repeats:
        head += ["ref fwd ms", "ours fwd ms", "fwd ratio", "ref fwd+bwd ms", "ours fwd+bwd ms",
                 "fwd+bwd ratio", "ref kernel ms", "ours kernel ms"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for shape in shapes:
        r = measure(shape, args.device, repeats, args.warmup, args.chunk_elements)
        cells = [",".join(map(str, shape)), f"{r['ref_mem']:.4g}", f"{r['ours_mem']:.4g}",
                 f"{r['ours_mem'] / r['ref_mem']:.2f}"]
        if repeats:
            cells += [f"{r['ref_fwd'] * 1e3:.2f}", f"{r['ours_fwd'] * 1e3:.2f}",
                      f"{r['ours_fwd'] / r['ref_fwd']:.2f}", f"{r['ref_fb'] * 1e3:.2f}",
                      f"{r['ours_fb'] * 1e3:.2f}", f"{r['ours_fb'] / r['ref_fb']:.2f}",
                      f"{r['ref_kernel'] * 1e3:.2f}", f"{r['ours_kernel'] * 1e3:.2f}"]
        print("| " + " | ".join(cells) + " |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
