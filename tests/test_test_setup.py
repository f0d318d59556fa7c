"""The suite's own set-up (tests/conftest.py, tests/data_sources.py) does what it promises."""

import pytest
import torch
from data_sources import fixture_path, shared_path


def test_the_suite_runs_on_one_torch_thread():
    assert torch.get_num_threads() == 1


@pytest.mark.torch_threads(2)
def test_a_marked_test_gets_its_threads():
    assert torch.get_num_threads() == 2


def test_missing_shared_data_skips_with_the_path_or_fails_under_ci(monkeypatch):
    monkeypatch.setenv("S4D_SHARED_DATA", "/nonexistent")
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="/nonexistent/series/x.csv not found"):
        shared_path("series", "x.csv")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true and real data sample"):
        shared_path("series", "x.csv")


def test_air_passengers_ships_with_the_tests():
    lines = fixture_path("AirPassengers.csv").read_text().splitlines()
    assert lines[0] == "Month,#Passengers" and len(lines) == 145
    assert lines[1] == "1949-01,112" and lines[-1] == "1960-12,432"
