"""The ssm package's refusals, one table per kind (constructor arguments; inputs and states),
each case: call -> a stable fragment of the ``ValueError``; and what is accepted: NaN spreading
documented, the optional check_finite, numpy integers and bools, lower precision under
autocast."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from s4d_forecast.ssm import S4D, S4DEncoder, S4DKernel, ssm_param_groups
from s4d_forecast.ssm.kernel import check_init_disc

INF, NAN = float("inf"), float("nan")


@pytest.mark.parametrize("make, fragment", [
    (lambda: S4DKernel(4, 8, init="hippo"), "`init` must be one of 'legs'"),
    (lambda: S4DKernel(4, 8, disc="euler"), "`disc` must be one of 'zoh'"),
    (lambda: S4DKernel(4, 8, init="dfout", disc="bilinear"), "`disc` must be 'zoh' with"),
    (lambda: check_init_disc("dfout", "dss"), "`disc` must be 'zoh' with init='dfout'"),
    (lambda: S4DKernel(4, 7), "`d_state` must be an even integer >= 2, got 7"),
    (lambda: S4DKernel(4, 0), "`d_state` must be an even integer >= 2, got 0"),
    (lambda: S4DKernel(4, -4), "`d_state` must be an even integer >= 2"),
    (lambda: S4DKernel(True, 4), "`d_model` must be an integer >= 1, got True"),
    (lambda: S4DKernel(4, 8, dt_min=0.1, dt_max=0.01), "`dt_max` must be >= dt_min=0.1"),
    (lambda: S4DKernel(4, 8, dt_min=0.0), "`dt_min` must be a number > 0, got 0.0"),
    (lambda: S4DKernel(4, 8, dt_max=INF), "`dt_max` must be a number > 0, got inf"),
    (lambda: S4DKernel(4, 8, dt_min=NAN), "`dt_min` must be a number > 0, got nan"),
    (lambda: S4DKernel(4, 8, dt_min="0.001"), "`dt_min` must be a number > 0, got '0.001'"),
    (lambda: S4DKernel(4, 8, dfout_damping=(1e-3, INF)), "`dfout_damping` must be a pair"),
    (lambda: S4DKernel(4, 8, dfout_damping=(1e-3,)), "`dfout_damping` must be a pair"),
    (lambda: S4DKernel(4, 8, dfout_damping=1e-3), "`dfout_damping` must be a pair"),
    (lambda: S4DKernel(4, 8, dfout_damping="ab"), "`dfout_damping` must be a pair"),
    (lambda: S4DKernel(4, 8, dfout_damping=(0.1, 0.001)), "with 0 < min <= max"),
    (lambda: S4DKernel(4, 8, dfout_half_plane="no"), "`dfout_half_plane` must be True or False"),
    (lambda: S4DKernel(4, 8, dfout_phase_sync=1), "`dfout_phase_sync` must be True or False"),
    (lambda: S4DKernel(4, 8, lr=INF), "`lr` must be a number >= 0 or None, got inf"),
    (lambda: S4DKernel(4, 8, lr=-1e-3), "`lr` must be a number >= 0 or None"),
    (lambda: S4DKernel(4, 8, lr="0.1"), "`lr` must be a number >= 0 or None"),
    (lambda: S4DKernel(4, 8, lr=True), "`lr` must be a number >= 0 or None"),
    (lambda: S4DKernel(4, 8, l_max=True), "`l_max` must be an integer >= 1 or None"),
    (lambda: S4DKernel(2, 4).kernel(0), "`L` must be an integer >= 1, got 0"),
    (lambda: S4DKernel(2, 4).kernel(True), "`L` must be an integer >= 1, got True"),
    (lambda: S4D(3, 4, dropout="0.1"), "`dropout` must be a number in [0, 1), got '0.1'"),
    (lambda: S4D(3, 4, dropout=NAN), "`dropout` must be a number in [0, 1)"),
    (lambda: S4D(3, 4, dropout=1.0), "`dropout` must be a number in [0, 1)"),
    (lambda: S4D(3, 4, bidirectional="no"), "`bidirectional` must be True or False"),
    (lambda: S4D(3, 4, check_finite="yes"), "`check_finite` must be True or False"),
    (lambda: S4D(3, 4, recompute=1), "`recompute` must be True or False or None"),
    (lambda: S4D(3, 4, recompute="yes"), "`recompute` must be True or False or None"),
    (lambda: S4D(3, 4, chunk_elements=0), "`chunk_elements` must be an integer >= 1 or None"),
    (lambda: S4D(3, 4, chunk_elements=2.5), "`chunk_elements` must be an integer >= 1"),
    (lambda: S4D(3, 4, chunk_elements="big"), "`chunk_elements` must be an integer >= 1"),
    (lambda: S4D(3, 4, chunk_elements=np.int64(0)), "`chunk_elements` must be an integer"),
    (lambda: S4D(3, 4).default_state("3"), "`batch_size` must be an integer >= 0"),
    (lambda: S4DEncoder(2, 4, prenorm="no"), "`prenorm` must be True or False"),
    (lambda: S4DEncoder(2, 4, bidirectional="no"), "`bidirectional` must be True or False"),
    (lambda: S4DEncoder(2, 4, pool="max"), "`pool` must be one of None, 'mean', 'last'"),
    (lambda: S4DEncoder(2, 4, n_layers=0), "`n_layers` must be an integer >= 1, got 0"),
    (lambda: S4DEncoder(2, 4, dropout=1.5), "`dropout` must be a number in [0, 1)"),
    (lambda: ssm_param_groups(S4DEncoder(2, 4, 1, 4), lr=0.0), "`lr` must be a number > 0"),
    (lambda: ssm_param_groups(S4DEncoder(2, 4, 1, 4), 1e-3, ssm_lr=-1.0), "`ssm_lr` must be"),
    (lambda: ssm_param_groups(S4DEncoder(2, 4, 1, 4), 1e-3, weight_decay=-0.1),
     "`weight_decay` must be a number >= 0"),
])
def test_constructors_refuse_bad_arguments(make, fragment):
    with pytest.raises(ValueError, match=re.escape(fragment)):
        make()


LAYER = S4D(4, 4).eval()
ENC = S4DEncoder(2, 4, n_layers=2, d_state=4).eval()
BIDI = S4D(2, 4, bidirectional=True).eval()


@pytest.mark.parametrize("call, fragment", [
    (lambda: LAYER(torch.randn(2, 10)), "`x` must be a floating-point tensor (B, L, H) with H=4"),
    (lambda: LAYER(torch.randn(2, 10, 3)), "got shape (2, 10, 3)"),
    (lambda: LAYER(torch.ones(2, 10, 4, dtype=torch.long)), "dtype torch.int64"),
    (lambda: LAYER([[1.0]]), "got list"),
    (lambda: LAYER(torch.randn(2, 0, 4)), "and L >= 1, got shape (2, 0, 4)"),
    (lambda: ENC(torch.randn(2, 0, 2)), "and L >= 1"),  # NaN from pool="mean" otherwise
    (lambda: LAYER(torch.randn(2, 16, 4, dtype=torch.float64)),
     "`x` must be of this S4D layer's dtype torch.float32: convert it with x.to(torch.float32) "
     "or the layer with layer.to(torch.float64)"),
    (lambda: LAYER.step(torch.randn(2, 4, dtype=torch.float64), LAYER.default_state(2)),
     "`x_t` must be of this S4D layer's dtype"),
    (lambda: ENC(torch.randn(3, 5, 2, dtype=torch.float64)), "of this S4D encoder's dtype"),
    (lambda: ENC.step(torch.randn(3, 2, dtype=torch.float64), ENC.default_state(3)),
     "`x_t` must be of this S4D encoder's dtype"),
    (lambda: LAYER.step(torch.randn(3, 4), torch.zeros(4, 2, dtype=torch.complex64)),
     "`state` must be a torch.complex64 tensor of shape (3, 4, 2) = (B, H, N/2)"),
    (lambda: LAYER.step(torch.randn(3, 4), torch.zeros(1, 4, 2, dtype=torch.complex64)),
     "got shape (1, 4, 2)"),
    (lambda: LAYER.step(torch.randn(1, 4), torch.zeros(3, 4, 2, dtype=torch.complex64)),
     "of shape (1, 4, 2)"),
    (lambda: LAYER.step(torch.randn(3, 4), torch.zeros(3, 4, 1, dtype=torch.complex64)),
     "got shape (3, 4, 1)"),
    (lambda: LAYER.step(torch.randn(3, 4), torch.zeros((), dtype=torch.complex64)),
     "got shape ()"),
    (lambda: LAYER.step(torch.randn(3, 4), None), "got NoneType"),
    (lambda: LAYER.step(torch.randn(3, 4), torch.zeros(3, 4, 2)), "dtype torch.float32"),
    (lambda: LAYER.step(torch.randn(3, 4), torch.zeros(3, 4, 2, dtype=torch.complex128)),
     "dtype torch.complex128"),
    (lambda: S4D(4, 4).double().step(torch.randn(3, 4).double(), torch.zeros(
        3, 4, 2, dtype=torch.complex64)), "a torch.complex128 tensor"),
    (lambda: LAYER(torch.randn(3, 5, 4), state=[LAYER.default_state(3)]), "got list"),
    (lambda: ENC.step(torch.randn(3, 2), ENC.default_state(3)[:1]),
     "`state` must be a list of 2 states, one per layer (see default_state), got 1 states"),
    (lambda: ENC.step(torch.randn(3, 2), ENC.default_state(3) * 2), "got 4 states"),
    (lambda: ENC.step(torch.randn(3, 2), torch.stack(ENC.default_state(3))), "got Tensor"),
    (lambda: ENC(torch.randn(3, 5, 2), state=torch.stack(ENC.default_state(3))), "got Tensor"),
    (lambda: BIDI.step(torch.zeros(1, 2), None), "no recurrent state"),
    (lambda: BIDI(torch.zeros(1, 5, 2), return_state=True), "None for a bidirectional"),
    (lambda: BIDI.default_state(1), "no recurrent state"),
])
def test_inputs_and_states_are_refused(call, fragment):
    with pytest.raises(ValueError, match=re.escape(fragment)):
        call()


def test_a_nan_spreads_to_every_output_without_the_check():
    torch.manual_seed(0)
    layer = S4D(4, 8).eval()
    x = torch.randn(2, 32, 4)
    x[0, 20, 1] = float("nan")
    y = layer(x)
    assert torch.isnan(y[0]).all()  # including the steps before the NaN
    assert torch.isfinite(y[1]).all()  # the other sequence is untouched


@pytest.mark.parametrize("bad", [NAN, INF])
def test_check_finite_names_the_first_bad_position(bad):
    layer = S4D(4, 8, check_finite=True).eval()
    x = torch.randn(2, 32, 4)
    x[1, 7, 2] = bad
    with pytest.raises(ValueError, match=r"the first at batch 1, step 7, channel 2"):
        layer(x)
    x_t = torch.randn(2, 4)
    x_t[1, 3] = bad
    with pytest.raises(ValueError, match=r"1 such values, the first at batch 1, channel 3"):
        layer.step(x_t, layer.default_state(2))
    enc = S4DEncoder(3, 4, n_layers=1, d_state=8, check_finite=True).eval()
    with pytest.raises(ValueError, match="free of NaN/inf"):  # reaches the encoder's layers
        enc(torch.full((1, 16, 3), bad))
    assert torch.isfinite(layer(torch.randn(2, 32, 4))).all()


@pytest.mark.parametrize("layer_dtype, x_dtype", [(torch.float32, torch.float64),
                                                  (torch.float64, torch.float32),
                                                  (torch.float64, torch.bfloat16)])
def test_under_autocast_lower_precision_passes_a_float64_mismatch_does_not(layer_dtype,
                                                                          x_dtype):
    """autocast never casts float64 tensors: these would end in a raw matmul error."""
    layer = S4D(4, 8).to(layer_dtype).eval()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        with pytest.raises(ValueError, match="torch.autocast does not cast float64"):
            layer(torch.randn(2, 16, 4).to(x_dtype))
        with pytest.raises(ValueError, match="torch.autocast does not cast float64"):
            layer.step(torch.randn(2, 4).to(x_dtype), layer.default_state(2))
        assert torch.isfinite(layer(torch.randn(2, 16, 4).to(layer_dtype)).float()).all()
        if layer_dtype == torch.float32:
            assert torch.isfinite(layer(torch.randn(2, 16, 4).bfloat16()).float()).all()


def test_numpy_integers_and_bools_are_accepted():
    torch.manual_seed(0)
    layer = S4D(np.int64(3), np.int64(4), l_max=np.int32(8), chunk_elements=np.int64(64))
    torch.manual_seed(0)
    ref = S4D(3, 4, l_max=8, chunk_elements=64)
    assert (layer.H, layer.N, layer.kernel.l_max) == (3, 4, 8) and type(layer.N) is int
    x = torch.randn(2, 8, 3)
    torch.testing.assert_close(layer(x), ref(x))  # the same weights: the same computation
    torch.testing.assert_close(layer.kernel.kernel(np.int64(5)), ref.kernel.kernel(5))
    enc = S4DEncoder(np.int32(2), np.int64(4), n_layers=np.int64(2), d_state=np.int64(4),
                     prenorm=np.False_)
    assert enc.blocks[0].prenorm is False and enc(torch.randn(1, 3, 2)).shape == (1, 3, 4)
    assert S4D(3, 4, bidirectional=np.True_).kernel.H == 6
    assert layer.default_state(np.int64(2)).shape == (2, 3, 2)
