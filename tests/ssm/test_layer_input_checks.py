"""S4D layer: NaN spreading documented, optional check_finite, clear dtype mismatch errors."""

from __future__ import annotations

import pytest
import torch

from s4d_forecast.ssm import S4D, S4DEncoder


def test_a_nan_spreads_to_every_output_without_the_check():
    torch.manual_seed(0)
    layer = S4D(4, 8).eval()
    x = torch.randn(2, 32, 4)
    x[0, 20, 1] = float("nan")
    y = layer(x)
    assert torch.isnan(y[0]).all()  # including the steps before the NaN
    assert torch.isfinite(y[1]).all()  # the other sequence is untouched


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_check_finite_names_the_first_bad_position(bad):
    layer = S4D(4, 8, check_finite=True).eval()
    x = torch.randn(2, 32, 4)
    x[1, 7, 2] = bad
    with pytest.raises(ValueError, match=r"batch 1, step 7, channel 2"):
        layer(x)
    assert torch.isfinite(layer(torch.randn(2, 32, 4))).all()


def test_check_finite_reaches_every_layer_of_the_encoder():
    enc = S4DEncoder(3, 4, n_layers=1, d_state=8, check_finite=True).eval()
    x = torch.randn(1, 16, 3)
    x[0, 3, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN/inf"):
        enc(x)


def test_check_finite_must_be_a_bool():
    with pytest.raises(TypeError, match="check_finite"):
        S4D(4, 8, check_finite="yes")


def test_float64_input_into_a_float32_layer_says_how_to_convert():
    layer = S4D(4, 8).eval()
    with pytest.raises(TypeError, match=r"torch\.float64 but this S4D layer's weights are "
                                        r"torch\.float32.*x\.float\(\).*layer\.double\(\)"):
        layer(torch.randn(2, 16, 4, dtype=torch.float64))
    assert layer.double()(torch.randn(2, 16, 4, dtype=torch.float64)).dtype == torch.float64


def test_lower_precision_input_is_fine_under_autocast():
    layer = S4D(4, 8).eval()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = layer(torch.randn(2, 16, 4).bfloat16())
    assert torch.isfinite(y.float()).all()
