"""``s4d-forecast stream``: sizes checked and memory and time estimated before anything is
allocated, one error line for what cannot fit or finish, and Ctrl-C stops it cleanly."""

from __future__ import annotations

import pytest

from s4d_forecast.cli import main
from s4d_forecast.ssm import S4DEncoder


def test_a_small_run_agrees_with_the_convolution(capsys):
    assert main(["stream", "--length", "64", "--d-model", "4", "--n-layers", "1",
                 "--d-state", "4"]) == 0
    out = capsys.readouterr().out
    assert "relative difference step vs convolution" in out and "samples/s" in out


@pytest.mark.parametrize("options, fragment", [
    (["--length", "1"], "`--length` must be an integer >= 2, got 1"),
    (["--d-model", "0"], "`--d-model` must be an integer >= 1"),
    (["--n-layers", "0"], "`--n-layers` must be an integer >= 1"),
    (["--d-state", "3"], "`--d-state` must be an even integer >= 2"),
    (["--init", "hippo"], "`--init` must be one of 'legs'"),
    (["--seed", "-1"], "`--seed` must be an integer >= 0"),
    (["--time-limit", "0"], "`--time-limit` must be a number > 0"),
    (["--time-limit", "inf"], "`--time-limit` must be a number > 0"),
    (["--length", "1000000000"], "would need about"),
    (["--d-model", "1000000"], "would need about"),
    (["--n-layers", "100000", "--d-model", "4096"], "would need about"),
    (["--length", "100000", "--time-limit", "0.001"], "would take about"),
])
def test_requests_that_cannot_run_or_finish_are_one_error_line(capsys, options, fragment):
    assert main(["stream", "--d-model", "4", "--n-layers", "1", "--d-state", "4",
                 *options]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("s4d-forecast stream: error:") and fragment in err[0]


def test_ctrl_c_stops_the_stream_with_what_it_measured(capsys, monkeypatch):
    calls = {"n": 0}
    step = S4DEncoder.step

    def interrupted(self, x_t, state):
        calls["n"] += 1
        if calls["n"] > 45:  # after the 40 steps of the time estimate
            raise KeyboardInterrupt
        return step(self, x_t, state)

    monkeypatch.setattr(S4DEncoder, "step", interrupted)
    assert main(["stream", "--length", "200", "--d-model", "4", "--n-layers", "1",
                 "--d-state", "4"]) == 130
    assert "interrupted after 5 of 200 samples" in capsys.readouterr().err
