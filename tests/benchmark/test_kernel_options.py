"""benchmarks/kernel_options.py: every alternative computes the same thing as the package."""

from __future__ import annotations

import kernel_options as ko
import torch

from s4d_forecast.ssm import S4D
from s4d_forecast.ssm.layer import fft_len


def test_alternative_kernels_and_spectrum_agree_in_float64():
    torch.manual_seed(0)
    kern = S4D(4, 16, init="legs").double().kernel
    L = 300
    log_dA, CdB = kern.discretize(L)
    K = kern.kernel(L)
    for alt in (ko.reference_kernel(log_dA, CdB, L), ko.chunked_kernel(log_dA, CdB, L, 64),
                ko.real_kernel(log_dA, CdB, L)):
        torch.testing.assert_close(alt, K, rtol=1e-9, atol=1e-9)
    n = fft_len(2 * L)
    torch.testing.assert_close(ko.cauchy_spectrum(log_dA, CdB, L, n),
                               torch.fft.rfft(K, n=n), rtol=1e-8, atol=1e-8)


def test_prints_one_table_per_shape(capsys):
    assert ko.main(["--shapes", "2,4,8,50", "--repeats", "1", "--warmup", "0",
                    "--no-compile"]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| ")]
    names = [r.split("|")[1].strip() for r in rows[1:]]
    assert names[0].startswith("package: blockwise")
    assert len(names) == 4 + 2 + 3  # kernel, spectrum and FFT-size rows
    errors = [float(r.split("|")[4]) for r in rows[1:]]
    assert max(errors) < 1e-3  # float32 alternatives against the float64 formula
