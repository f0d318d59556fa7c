"""Where each dataset is downloaded from, and how its integrity is checked."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DatasetSource:
    """One downloadable dataset.

    Attributes
    ----------
    name : str
        ``ptbxl``, ``bidmc`` or ``weather``.
    url : str
        The file to fetch.
    version : str
    landing : str
        Human-readable page (licence, citation).
    sha256sums_url : str or None
        PhysioNet's ``SHA256SUMS.txt`` of the project's files (checked after download).
    md5 : str or None
        Digest of the downloaded file itself, when published.
    extract : bool
        Unzip after download (PTB-XL: the loader reads WFDB files from a folder).
    """

    name: str
    url: str
    version: str
    landing: str
    sha256sums_url: str | None = None
    md5: str | None = None
    extract: bool = False


SOURCES = {
    "ptbxl": DatasetSource(
        "ptbxl",
        "https://physionet.org/static/published-projects/ptb-xl/"
        "ptb-xl-a-large-publicly-available-electrocardiography-dataset-1.0.3.zip",
        "1.0.3",
        "https://physionet.org/content/ptb-xl/1.0.3/",
        sha256sums_url="https://physionet.org/files/ptb-xl/1.0.3/SHA256SUMS.txt",
        extract=True,
    ),
    "bidmc": DatasetSource(
        "bidmc",
        "https://physionet.org/static/published-projects/bidmc/"
        "bidmc-ppg-and-respiration-dataset-1.0.0.zip",
        "1.0.0",
        "https://physionet.org/content/bidmc/1.0.0/",
        sha256sums_url="https://physionet.org/files/bidmc/1.0.0/SHA256SUMS.txt",
    ),
    "weather": DatasetSource(
        "weather",
        "https://raw.githubusercontent.com/unit8co/darts/master/datasets/weather.csv",
        "2020 (darts copy of the long-horizon benchmark file)",
        "https://www.bgc-jena.mpg.de/wetter/",
        md5="a2942a05638ba311bc7935bcc087a30f",
    ),
}
