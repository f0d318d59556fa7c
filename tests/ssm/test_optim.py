import pytest
import torch

from s4d_forecast.ssm import S4DEncoder, ssm_param_groups


@pytest.mark.parametrize("init", ["legs", "real", "dfout"])
def test_every_parameter_in_exactly_one_group(init):
    enc = S4DEncoder(3, 8, n_layers=2, d_state=8, init=init, bidirectional=True)
    groups = ssm_param_groups(enc, lr=1e-2, weight_decay=0.05, ssm_lr=1e-3)
    ids = [id(p) for g in groups for p in g["params"]]
    assert len(ids) == len(set(ids))
    assert set(ids) == {id(p) for p in enc.parameters()}
    by_name = {g["name"]: g for g in groups}
    assert by_name["ssm"]["lr"] == 1e-3 and by_name["ssm"]["weight_decay"] == 0.0
    assert by_name["default"]["lr"] == 1e-2 and by_name["default"]["weight_decay"] == 0.05
    ssm_ids = {id(q) for q in by_name["ssm"]["params"]}
    names = {n for n, p in enc.named_parameters() if id(p) in ssm_ids}
    suffixes = {n.rsplit(".", 1)[-1] for n in names}
    assert suffixes <= {"log_dt", "log_A_real", "A_imag", "B_ri"}
    assert "log_A_real" in suffixes and "B_ri" in suffixes
    assert not any(n.endswith(("C_ri", ".D")) for n in names)
    torch.optim.AdamW(groups)  # a valid optimiser spec


def test_frozen_parameters_are_left_out():
    enc = S4DEncoder(3, 8, n_layers=1, d_state=8)
    enc.encoder.weight.requires_grad_(False)
    ids = {id(p) for g in ssm_param_groups(enc, 1e-3) for p in g["params"]}
    assert id(enc.encoder.weight) not in ids


def test_a_kernel_lr_is_honoured_and_survives_a_copy():
    import copy

    enc = S4DEncoder(3, 8, n_layers=2, d_state=8, lr=5e-4)
    enc.blocks[1].layer.kernel.lr = 2e-4  # one layer asks for its own rate
    enc = copy.deepcopy(enc)
    groups = {g["name"]: g for g in ssm_param_groups(enc, lr=1e-2, ssm_lr=1e-3)}
    assert set(groups) == {"default", "ssm_lr=0.0005", "ssm_lr=0.0002"}
    assert groups["ssm_lr=0.0005"]["lr"] == 5e-4 and groups["ssm_lr=0.0002"]["lr"] == 2e-4
    assert all(g["weight_decay"] == 0.0 for n, g in groups.items() if n != "default")
    first = {id(p) for p in enc.blocks[0].layer.kernel.ssm_parameters()}
    assert first == {id(p) for p in groups["ssm_lr=0.0005"]["params"]}
    # a kernel whose rate equals ssm_lr shares the "ssm" group
    same = ssm_param_groups(S4DEncoder(3, 8, n_layers=1, d_state=8, lr=1e-3), 1e-2, ssm_lr=1e-3)
    assert [g["name"] for g in same] == ["default", "ssm"]
