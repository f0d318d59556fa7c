"""Write docs/images/poles.png: each initialisation's discrete poles and frequency response.

Run from the repository root after changing an initialisation::

    python docs/make_figures.py

The PNG is committed (the README opens with it) and is deterministic for a given torch and
matplotlib: fixed seed, no timestamps in the file. No network, a few seconds on one CPU.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from s4d_forecast.ssm import INITS, S4DKernel  # noqa: E402

N = 64      # state size, counting conjugate pairs: N/2 stored poles
L = 1024    # kernel length for the frequency response
DT = 0.05   # one step for every channel so the inits compare alike (DFouT: dt = 1)


def poles_and_responses(n: int = N, length: int = L, dt: float = DT):
    """Return ``{init: (poles, freqs, |K^|/max)}`` for channel 0 of each initialisation."""
    torch.manual_seed(0)
    out = {}
    for init in INITS:
        extra = {} if init == "dfout" else {"dt_min": dt, "dt_max": dt}
        kernel = S4DKernel(d_model=1, d_state=n, init=init, **extra)
        with torch.no_grad():
            log_dA, _ = kernel.discretize(length)
            lam = torch.exp(log_dA[0]).numpy()
            k = kernel.kernel(length)[0].double().numpy()
        spectrum = np.abs(np.fft.rfft(k, n=2 * length))
        freqs = np.fft.rfftfreq(2 * length) * 2 * np.pi
        out[init] = (lam, freqs, spectrum / spectrum.max())
    return out


def poles_figure(path: Path, dpi: int = 80) -> Path:
    """Draw the 2 x 6 figure (poles on the unit circle; |K^(ω)|) and save it as a PNG."""
    data = poles_and_responses()
    fig, axes = plt.subplots(2, len(data), figsize=(2.1 * len(data), 4.4),
                             gridspec_kw={"height_ratios": [1.15, 1]})
    circle = np.exp(1j * np.linspace(0, 2 * np.pi, 400))
    for j, (init, (lam, freqs, resp)) in enumerate(data.items()):
        ax = axes[0, j]
        ax.plot(circle.real, circle.imag, color="grey", lw=0.7)
        ax.scatter(lam.real, lam.imag, s=7, color="C0")
        ax.scatter(lam.real, -lam.imag, s=7, color="C0", alpha=0.3)
        ax.set_title(f"S4D-{init}" if init != "dss" else "DSS", fontsize=10)
        ax.set_aspect("equal")
        ax.set_xlim(-1.15, 1.15)
        ax.set_ylim(-1.15, 1.15)
        ax.set_xticks([])
        ax.set_yticks([])
        ax2 = axes[1, j]
        ax2.semilogy(freqs, resp + 1e-12, lw=0.9, color="C1")
        ax2.set_ylim(1e-4, 2)
        ax2.set_xlim(0, np.pi)
        ax2.set_xticks([0, np.pi / 2, np.pi], ["0", "π/2", "π"], fontsize=8)
        ax2.tick_params(axis="y", labelsize=7)
        ax2.grid(alpha=0.3)
        if j:
            ax2.set_yticklabels([])
        else:
            ax2.set_ylabel("|K̂(ω)| / max", fontsize=8)
    axes[0, 0].set_ylabel("poles λ", fontsize=8)
    fig.suptitle(f"Discrete poles on the unit circle (N = {N}, dt = {DT}; DFouT on the DFT grid) "
                 "and the kernel's frequency response", fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi, metadata={"Software": None})
    plt.close(fig)
    return path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path,
                        default=Path(__file__).resolve().parent / "images" / "poles.png")
    args = parser.parse_args(argv)
    print(poles_figure(args.output))


if __name__ == "__main__":
    main()
