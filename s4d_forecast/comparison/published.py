"""Published lookback-96 results on the ETT files, printed beside a ``--protocol ltsf`` run:
MSE and MAE at horizons 96/192/336/720 and their average, multivariate, standardised, as the
papers print them; sources in :data:`~s4d_forecast.comparison.published.SOURCES` and
docs/benchmark_protocols.md.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

HORIZONS = (96, 192, 336, 720)
SOURCES = {
    "timemixer": "TimeMixer (Wang et al., ICLR 2024), unified-hyperparameter long-term "
                 "results, read from figures/long_results.png of kwuking/TimeMixer "
                 "(= TimeMixer++ Table 16's rows)",
    "timemixerpp": "TimeMixer++ (Wang et al., ICLR 2025), Table 16 (public transcriptions; "
                   "not checked against the paper)",
    "itransformer": "iTransformer (Liu et al., ICLR 2024), as TimeMixer++ Table 16 reprints "
                    "it (public transcription; not checked against the paper)",
    "tide": "TiDE as re-run by iTransformer (Liu et al., ICLR 2024), averages only (public "
            "transcription; not checked against the paper)",
}
# dataset, model, source | MSE at 96/192/336/720 and average | MAE likewise ("-": not verified)
_TABLE = """
etth1 TimeMixer++ timemixerpp | 0.361 0.416 0.430 0.467 0.419 | 0.403 0.441 0.434 0.451 0.432
etth1 TimeMixer timemixer | 0.375 0.429 0.484 0.498 0.447 | 0.400 0.421 0.458 0.482 0.440
etth1 iTransformer itransformer | 0.386 0.441 0.487 0.503 0.454 | 0.405 0.436 0.458 0.491 0.447
etth1 DLinear timemixer | 0.397 0.446 0.489 0.513 0.461 | 0.412 0.441 0.467 0.510 0.457
etth1 PatchTST timemixer | 0.460 0.512 0.546 0.544 0.516 | 0.447 0.477 0.496 0.517 0.484
etth1 TiDE tide | - - - - 0.541 | - - - - 0.507
etth2 TimeMixer++ timemixerpp | 0.276 0.342 0.346 0.392 0.339 | 0.328 0.379 0.398 0.415 0.380
etth2 TimeMixer timemixer | 0.289 0.372 0.386 0.412 0.364 | 0.341 0.392 0.414 0.434 0.395
etth2 iTransformer itransformer | 0.297 0.380 0.428 0.427 0.383 | 0.349 0.400 0.432 0.445 0.407
etth2 PatchTST timemixer | 0.308 0.393 0.427 0.436 0.391 | 0.355 0.405 0.436 0.450 0.411
etth2 DLinear timemixer | 0.340 0.482 0.591 0.839 0.563 | 0.394 0.479 0.541 0.661 0.519
etth2 TiDE tide | - - - - 0.611 | - - - - 0.550
ettm1 TimeMixer++ timemixerpp | 0.310 0.348 0.376 0.440 0.369 | 0.334 0.362 0.391 0.423 0.378
ettm1 TimeMixer timemixer | 0.320 0.361 0.390 0.454 0.381 | 0.357 0.381 0.404 0.441 0.395
ettm1 DLinear timemixer | 0.346 0.382 0.415 0.473 0.404 | 0.374 0.391 0.415 0.451 0.408
ettm1 PatchTST timemixer | 0.352 0.390 0.421 0.462 0.406 | 0.374 0.393 0.414 0.449 0.407
ettm1 iTransformer itransformer | 0.334 0.377 0.426 0.491 0.407 | 0.368 0.391 0.420 0.459 0.410
ettm1 TiDE tide | - - - - 0.419 | - - - - 0.419
ettm2 TimeMixer++ timemixerpp | 0.170 0.229 0.303 0.373 0.269 | 0.245 0.291 0.343 0.399 0.320
ettm2 TimeMixer timemixer | 0.175 0.237 0.298 0.391 0.275 | 0.258 0.299 0.340 0.396 0.323
ettm2 iTransformer itransformer | 0.180 0.250 0.311 0.412 0.288 | 0.264 0.309 0.348 0.407 0.332
ettm2 PatchTST timemixer | 0.183 0.255 0.309 0.412 0.290 | 0.270 0.314 0.347 0.404 0.334
ettm2 DLinear timemixer | 0.193 0.284 0.382 0.558 0.354 | 0.293 0.361 0.429 0.525 0.402
ettm2 TiDE tide | - - - - 0.358 | - - - - 0.404
"""
PUBLISHED = {}  # dataset: model: (source, MSE (5,), MAE (5,)), None where not verified
for _line in _TABLE.strip().splitlines():
    _names, _mse, _mae = _line.split(" | ")
    _dataset, _model, _source = _names.split()
    PUBLISHED.setdefault(_dataset, {})[_model] = (_source, *(
        tuple(None if v == "-" else float(v) for v in part.split()) for part in (_mse, _mae)))


def comparison_markdown(dataset: str, table: pd.DataFrame) -> str | None:
    """Markdown: this run's MSE/MAE per horizon (``table``: ``model``, ``horizon``, ``mse``,
    ``mae``; the average when all four ran) beside the published numbers for ``dataset``,
    with the sources; ``None`` when nothing is published for it."""
    if dataset not in PUBLISHED:
        return None
    head = ("| model | " + " | ".join(f"MSE {h} | MAE {h}" for h in HORIZONS)
            + " | MSE avg | MAE avg | source |")
    lines = [f"Against the published lookback-96 results on {dataset} (standardised scale; "
             "'avg' is the mean of the four horizons):", "", head,
             "|---|" + "---:|" * (2 * len(HORIZONS) + 2) + "---|"]
    for model, group in table.groupby("model", sort=False):
        by_h = group.set_index("horizon")
        mse = [by_h["mse"].get(h, np.nan) for h in HORIZONS]
        mae = [by_h["mae"].get(h, np.nan) for h in HORIZONS]
        lines.append(_line(f"{model} (this run)", mse + [np.mean(mse)], mae + [np.mean(mae)],
                           "this run"))
    for model, (source, mse, mae) in PUBLISHED[dataset].items():
        lines.append(_line(model, list(mse), list(mae), f"[{source}]"))
    lines += ["", *[f"- [{key}] {text}" for key, text in SOURCES.items()]]
    return "\n".join(lines)


def _line(model: str, mse: list, mae: list, source: str) -> str:
    cells = [v for pair in zip(mse, mae) for v in pair]
    text = ["-" if v is None or not np.isfinite(v) else f"{v:.3f}" for v in cells]
    return f"| {model} | " + " | ".join(text) + f" | {source} |"
