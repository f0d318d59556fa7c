"""The .ts reader on hand-written files in the archive's format and on files written as
sktime/aeon write them."""

from __future__ import annotations

import numpy as np
import pytest
from data_fakes import write_ts
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from s4d_forecast.data.ts_format import read_ts

REGRESSION = """# TSER archive style, as BIDMC32RR_TRAIN.ts
#   comment lines and mixed-case tags
@problemName BIDMC32RR
@timeStamps false
@missing false
@univariate false
@dimensions 2
@equalLength true
@seriesLength 3
@targetlabel true
@data
0.1,0.2,0.3:1.0,2.0,3.0:14.5
0.4,0.5,0.6:4.0,5.0,6.0:20.25
"""


def test_reads_regression_file(tmp_path):
    p = tmp_path / "r.ts"
    p.write_text(REGRESSION)
    ts = read_ts(p)
    assert ts.X.shape == (2, 3, 2)
    np.testing.assert_allclose(ts.X[1, :, 0], [0.4, 0.5, 0.6])
    np.testing.assert_allclose(ts.X[0, :, 1], [1, 2, 3])
    np.testing.assert_allclose(ts.y, [14.5, 20.25])
    assert ts.meta["problemname"] == "BIDMC32RR" and ts.meta["serieslength"] == 3


def test_reads_classification_and_missing(tmp_path):
    p = tmp_path / "c.ts"
    p.write_text("@problemName x\n@missing true\n@univariate true\n@equalLength true\n"
                 "@classLabel true a b\n@data\n1,?,3:a\n4,5,6:b\n")
    ts = read_ts(p)
    assert ts.X.shape == (2, 3, 1) and np.isnan(ts.X[0, 1, 0])
    assert list(ts.y) == ["a", "b"] and ts.meta["classes"] == ["a", "b"]


@settings(max_examples=25, deadline=None)
@given(arrays(np.float64, st.tuples(st.integers(1, 4), st.integers(1, 20), st.integers(1, 3)),
              elements=st.floats(-1e6, 1e6, allow_nan=False) | st.just(np.nan)),
       st.booleans())
def test_write_read_round_trip(tmp_path_factory, x, regression):
    p = tmp_path_factory.mktemp("ts") / "rt.ts"
    y = np.arange(len(x), dtype=float) + 0.5
    write_ts(p, x, y if regression else y.astype(int).astype(str), regression=regression)
    ts = read_ts(p)
    np.testing.assert_array_equal(ts.X, x)
    if regression:
        np.testing.assert_array_equal(ts.y, y)


@pytest.mark.parametrize("text,match", [
    ("@problemName x\n1,2:3\n", r"expected a @tag header line"),
    ("@problemName x\n@targetLabel true\n", r"no @data line; not a \.ts file or truncated"),
    ("@targetLabel true\n@data\n", r"@data section is empty"),
    ("@targetLabel true\n@data\n1,2,3:4,5,6:1\n1,2:4,5:2\n", r"case has 2 dimension\(s\) of "
                                                              r"length 2, earlier cases 2 of "
                                                              r"length 3"),
    ("@targetLabel true\n@data\n1,2,3:4,5:1\n", r"dimensions of lengths \[2, 3\]"),
    ("@seriesLength 5\n@targetLabel true\n@data\n1,2,3:1\n", r"header says @serieslength 5 "
                                                            r"but the data has 3"),
    ("@targetLabel true\n@data\n1,x,3:1\n", r"not a case of equal-length numeric dimensions"),
    ("@targetLabel true\n@data\n1,2,3:abc\n", r"non-numeric regression target"),
    ("@missing false\n@targetLabel true\n@data\n1,?,3:1\n", r"'\?' values present although"),
    ("@timeStamps true\n@data\n(0,1):1\n", r"without time stamps are supported"),
    ("@equalLength false\n@data\n1:1\n", r"only equal-length series"),
    ("@missing maybe\n@data\n", r"@missing must be true or false, got 'maybe'"),
    ("@seriesLength ten\n@data\n", r"@serieslength must be an integer, got 'ten'"),
])
def test_bad_files(tmp_path, text, match):
    p = tmp_path / "bad.ts"
    p.write_text(text)
    with pytest.raises(ValueError, match=match):
        read_ts(p)


def test_missing_file(tmp_path):
    with pytest.raises(ValueError, match=r"does not exist or is not a file"):
        read_ts(tmp_path / "none.ts")
