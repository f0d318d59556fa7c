"""benchmarks/layer_speed.py: it runs, and the memory it reports responds to the chunking."""

from __future__ import annotations

import layer_speed
import torch
from reference_s4d import ReferenceS4D

from s4d_forecast.ssm import S4D


def _rows(text: str) -> list[list[str]]:
    return [[c.strip() for c in line.strip("|").split("|")]
            for line in text.splitlines() if line.startswith("| ")]


def test_prints_time_and_memory_columns(capsys):
    assert layer_speed.main(["--device", "cpu", "--repeats", "1", "--warmup", "0",
                             "--shapes", "2,8,8,64;1,4,8,100"]) == 0
    head, *rows = _rows(capsys.readouterr().out)
    assert head[:4] == ["(B,H,N,L)", "ref peak MiB", "ours peak MiB", "mem ratio"]
    assert [r[0] for r in rows] == ["2,8,8,64", "1,4,8,100"]
    for r in rows:
        assert len(r) == len(head) == 12
        values = [float(v) for v in r[1:]]
        assert all(v > 0 for v in values)
        assert abs(values[2] - values[1] / values[0]) < 0.01  # ratio = ours / ref


def test_memory_only_mode_and_chunk_option(capsys):
    layer_speed.main(["--device", "cpu", "--repeats", "0", "--chunk-elements", "4096",
                      "--shapes", "2,8,8,64"])
    out = capsys.readouterr().out
    assert "chunk_elements=4096" in out
    head, row = _rows(out)
    assert len(head) == len(row) == 4


def _fwd_bwd_peak(model, x) -> float:
    def run():
        model(x).sum().backward()
    run()
    return layer_speed._peak_mib(run, "cpu")


def test_chunking_cuts_the_training_peak():
    # B·L·H = 2^20 elements: 4 MiB per float32 activation
    B, H, N, L = 32, 64, 64, 512
    torch.manual_seed(0)
    x = torch.randn(B, L, H, requires_grad=True)
    lean = _fwd_bwd_peak(S4D(H, N, chunk_elements=1 << 17, recompute=True), x)
    whole = _fwd_bwd_peak(S4D(H, N, chunk_elements=1 << 30, recompute=True), x)
    ref = _fwd_bwd_peak(ReferenceS4D(H, N), x.detach().transpose(1, 2).contiguous()
                        .requires_grad_(True))
    activation = B * L * H * 4 / 2**20
    # one piece holds about a dozen activations at its peak; eight chunks about four
    assert whole > 8 * activation, (whole, activation)
    assert lean < 5 * activation, (lean, activation)
    assert lean < 0.4 * ref, (lean, ref)
