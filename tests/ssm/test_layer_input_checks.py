"""S4D layer: NaN spreading documented, optional check_finite, clear dtype mismatch errors,
checked recurrent states and constructor arguments."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from s4d_forecast.ssm import S4D, S4DEncoder, S4DKernel


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


# -- recurrent states: step() checks them as forward() does ---------------------------------

@pytest.mark.parametrize("batch, state_shape", [
    (3, (4, 2)),  # (H, N/2): no batch dimension
    (3, (1, 4, 2)),  # a batch-1 state for a batch of 3
    (1, (3, 4, 2)),  # a batch-3 state for a batch of 1 (returned y of shape (3, 4))
    (3, (3, 4, 1)),  # N/2 wrong
    (3, ()),  # 0-d
])
def test_step_refuses_a_state_of_the_wrong_shape(batch, state_shape):
    layer = S4D(4, 4).eval()
    state = torch.zeros(state_shape, dtype=torch.complex64)
    with pytest.raises(ValueError, match=re.escape(f"state has shape {state_shape}; expected "
                                                   f"{(batch, 4, 2)}")):
        layer.step(torch.randn(batch, 4), state)


@pytest.mark.parametrize("double, state, error, match", [
    (False, None, TypeError, "state must be a complex tensor of shape \\(3, 4, 2\\), got "
                             "NoneType"),
    (False, torch.zeros(3, 4, 2), TypeError, "state has dtype torch.float32; this S4D layer's "
                                             "state is torch.complex64"),
    (False, torch.zeros(3, 4, 2, dtype=torch.complex128), TypeError,
     "state has dtype torch.complex128; this S4D layer's state is torch.complex64"),
    (True, torch.zeros(3, 4, 2, dtype=torch.complex64), TypeError,
     "state has dtype torch.complex64; this S4D layer's state is torch.complex128"),
])
def test_step_refuses_a_state_that_is_not_a_complex_tensor_of_the_layers_dtype(
        double, state, error, match):
    layer = S4D(4, 4).eval()
    if double:
        layer = layer.double()
    x_t = torch.randn(3, 4, dtype=torch.float64 if double else torch.float32)
    with pytest.raises(error, match=match):
        layer.step(x_t, state)
    y, new = layer.step(x_t, layer.default_state(3))  # the default state is right
    assert new.dtype == layer.state_dtype and y.shape == (3, 4)


def test_forward_refuses_a_state_that_is_not_a_tensor_or_has_the_wrong_dtype():
    layer = S4D(4, 4).eval()
    x = torch.randn(3, 5, 4)
    with pytest.raises(TypeError, match="state must be a complex tensor of shape \\(3, 4, 2\\), "
                                        "got list"):
        layer(x, state=[layer.default_state(3)])
    with pytest.raises(TypeError, match="state has dtype torch.complex128"):
        layer(x, state=layer.default_state(3).to(torch.complex128), return_state=True)


@pytest.mark.parametrize("n_states", [1, 3])
def test_encoder_step_needs_one_state_per_layer(n_states):
    enc = S4DEncoder(d_input=2, d_model=4, n_layers=2, d_state=4).eval()
    state = [enc.blocks[0].layer.default_state(3) for _ in range(n_states)]
    with pytest.raises(ValueError, match=f"state has {n_states} entries; expected one per "
                                         "layer \\(2\\)"):
        enc.step(torch.randn(3, 2), state)
    y, new = enc.step(torch.randn(3, 2), tuple(enc.default_state(3)))  # a tuple is fine
    assert y.shape == (3, 4) and len(new) == 2


@pytest.mark.parametrize("method", ["step", "forward"])
def test_encoder_state_must_be_a_list_or_tuple(method):
    enc = S4DEncoder(d_input=2, d_model=4, n_layers=2, d_state=4).eval()
    stacked = torch.stack(enc.default_state(3))
    with pytest.raises(TypeError, match="state must be a list with one state per layer \\(2\\), "
                                        "got Tensor"):
        if method == "step":
            enc.step(torch.randn(3, 2), stacked)
        else:
            enc(torch.randn(3, 5, 2), state=stacked)


# -- input dtypes: step() as forward(), the encoder as its layers, and under autocast --------

def test_float64_step_input_into_a_float32_layer_says_how_to_convert():
    layer = S4D(4, 8).eval()
    with pytest.raises(TypeError, match=r"x_t has dtype torch\.float64 but this S4D layer's "
                                        r"weights are torch\.float32.*x_t\.float\(\)"):
        layer.step(torch.randn(2, 4, dtype=torch.float64), layer.default_state(2))


@pytest.mark.parametrize("method", ["step", "forward"])
def test_float64_input_into_a_float32_encoder_says_how_to_convert(method):
    enc = S4DEncoder(2, 4, n_layers=1, d_state=4).eval()
    with pytest.raises(TypeError, match=r"has dtype torch\.float64 but this S4D encoder's "
                                        r"weights are torch\.float32.*encoder\.double\(\)"):
        if method == "step":
            enc.step(torch.randn(3, 2, dtype=torch.float64), enc.default_state(3))
        else:
            enc(torch.randn(3, 5, 2, dtype=torch.float64))


@pytest.mark.parametrize("layer_dtype, x_dtype", [(torch.float32, torch.float64),
                                                  (torch.float64, torch.float32),
                                                  (torch.float64, torch.bfloat16)])
def test_float64_mismatch_is_refused_under_autocast(layer_dtype, x_dtype):
    """autocast never casts float64 tensors: these end in a raw matmul error otherwise."""
    layer = S4D(4, 8).to(layer_dtype).eval()
    match = r"this S4D layer's weights are .*torch\.autocast does not cast float64 tensors"
    with torch.autocast("cpu", dtype=torch.bfloat16):
        with pytest.raises(TypeError, match=match):
            layer(torch.randn(2, 16, 4).to(x_dtype))
        with pytest.raises(TypeError, match=match):
            layer.step(torch.randn(2, 4).to(x_dtype), layer.default_state(2))
        # a float32 input to a float32 layer is what autocast is for; a float64 pair works too
        y = layer(torch.randn(2, 16, 4).to(layer_dtype))
        assert torch.isfinite(y.float()).all()


def test_check_finite_covers_step():
    layer = S4D(4, 8, check_finite=True).eval()
    x_t = torch.randn(2, 4)
    x_t[1, 3] = float("inf")
    with pytest.raises(ValueError, match=r"x_t has 1 NaN/inf values, the first at batch 1, "
                                         r"channel 3"):
        layer.step(x_t, layer.default_state(2))


@pytest.mark.parametrize("make", [lambda: S4D(4, 4),
                                  lambda: S4DEncoder(4, 4, n_layers=1, d_state=4, pool="mean")])
def test_an_empty_sequence_is_refused(make):
    """An empty output otherwise, and NaN from pool="mean"."""
    with pytest.raises(ValueError, match=re.escape("x has shape (2, 0, 4): an empty sequence")):
        make()(torch.randn(2, 0, 4))


# -- constructor arguments -------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, match", [
    ({"dt_max": float("inf")}, "dt_max=inf must be a finite positive number"),
    ({"dt_min": float("nan")}, "dt_min=nan must be a finite positive number"),
    ({"init": "dfout", "dfout_damping": (1e-3, float("inf"))},
     re.escape("dfout_damping=(0.001, inf) must be a pair (min, max) of finite numbers")),
    ({"lr": float("inf")}, re.escape("lr=inf must be None (the optimiser's ssm_lr), 0.0 "
                                     "(frozen) or a positive finite learning rate")),
    ({"lr": float("nan")}, "lr=nan must be None"),
])
def test_non_finite_ssm_arguments_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        S4D(3, 4, **kwargs)


@pytest.mark.parametrize("kwargs, match", [
    ({"dt_min": "0.001"}, "dt_min='0.001' must be a finite positive number"),
    ({"dropout": "0.1"}, re.escape("dropout='0.1' must be a number in [0, 1)")),
    ({"dropout": float("nan")}, re.escape("dropout=nan must be a number in [0, 1)")),
    ({"dfout_damping": (1e-3,)}, re.escape("dfout_damping=(0.001,) must be a pair (min, max)")),
    ({"dfout_damping": 1e-3}, re.escape("dfout_damping=0.001 must be a pair (min, max)")),
    ({"dfout_damping": "ab"}, re.escape("dfout_damping='ab' must be a pair (min, max)")),
    ({"init": "dfout", "dfout_damping": (1e-1, 1e-3)},
     re.escape("dfout_damping=(0.1, 0.001): need 0 < min <= max")),
])
def test_wrongly_typed_arguments_get_a_named_error(kwargs, match):
    with pytest.raises(ValueError, match=match):
        S4D(3, 4, **kwargs)


@pytest.mark.parametrize("make, match", [
    (lambda: S4D(3, 4, bidirectional="no"), "bidirectional='no' must be True or False"),
    (lambda: S4DEncoder(2, 4, prenorm="no"), "prenorm='no' must be True or False"),
    (lambda: S4DEncoder(2, 4, bidirectional="no"), "bidirectional='no' must be True or False"),
    (lambda: S4D(3, 4, init="dfout", dfout_half_plane="no"),
     "dfout_half_plane='no' must be True or False"),
    (lambda: S4D(3, 4, init="dfout", dfout_phase_sync=1),
     "dfout_phase_sync=1 must be True or False"),
])
def test_flags_must_be_bools(make, match):
    with pytest.raises(TypeError, match=match):
        make()


def test_numpy_bools_are_accepted_as_flags():
    layer = S4D(3, 4, bidirectional=np.True_)
    assert layer.bidirectional is True and layer.kernel.H == 6
    enc = S4DEncoder(2, 4, n_layers=1, d_state=4, prenorm=np.False_)
    assert enc.blocks[0].prenorm is False


@pytest.mark.parametrize("make, match", [
    (lambda: S4D(3, 4, l_max=True), "l_max=True must be a positive integer or None"),
    (lambda: S4D(True, 4), "d_model=True must be a positive integer"),
    (lambda: S4D(3, 4, chunk_elements=np.int64(0)), "chunk_elements=np.int64\\(0\\) must be"),
    (lambda: S4DKernel(2, 4).kernel(True), "L=True must be a positive integer"),
    (lambda: S4DKernel(2, 4).kernel(0), "L=0 must be a positive integer"),
    (lambda: S4D(3, 4).default_state("3"), "batch_size='3' must be a non-negative integer"),
])
def test_integer_arguments_refuse_bools_and_non_integers(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_numpy_integers_are_accepted():
    torch.manual_seed(0)
    layer = S4D(np.int64(3), np.int64(4), l_max=np.int32(8), chunk_elements=np.int64(64))
    torch.manual_seed(0)
    ref = S4D(3, 4, l_max=8, chunk_elements=64)
    assert (layer.H, layer.N, layer.kernel.l_max) == (3, 4, 8)
    assert type(layer.H) is int and type(layer.N) is int
    x = torch.randn(2, 8, 3)
    torch.testing.assert_close(layer(x), ref(x))
    torch.testing.assert_close(layer.kernel.kernel(np.int64(5)), ref.kernel.kernel(5))
    enc = S4DEncoder(np.int32(2), np.int64(4), n_layers=np.int64(2), d_state=np.int64(4))
    assert len(enc.blocks) == 2 and enc(torch.randn(1, 3, 2)).shape == (1, 3, 4)
    assert layer.default_state(np.int64(2)).shape == (2, 3, 2)
