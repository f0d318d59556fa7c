"""S4DKernel: diagonal SSM parameters, their discretisation, and the convolution kernel K.

The kernel is generated without the ``(H, N/2, L)`` Vandermonde tensor of the reference
implementation: writing ``l = m·T + t`` splits ``dA^l = dA^{mT} · dA^t``, so

    K[h, mT + t] = 2·Re Σ_n (C·dB·dA^{mT})[h, n, m] · dA^t[h, n, t]

is one real batched matrix product of an ``(H, M, N)`` and an ``(H, N, T)`` matrix (real and
imaginary parts stacked along the contraction), with ``M·T ≥ L`` and ``T ≈ √L``. Only
``O(H·N·√L)`` complex powers are evaluated and autograd stores nothing of size
``H·N·L``.

Precision: the discretisation and the powers are computed in float64 whatever the parameter
dtype. They are cheap (``O(H·N·√L)``), and a float32 phase ``Im(dt·A)·l`` loses about
``1e-7·|Im(dt·A)|·l`` radians — for S4D-LegS (``|Im A|`` up to ~1300) that alone put a float32
kernel 1e-4 away from the float64 formula. Only the matrix product runs in the output dtype.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from s4d_forecast._checks import check_bool, check_choice, check_float, check_int, fail
from s4d_forecast.ssm.init import INITS, dfout_frequencies, init_A_B

DISCS = ("zoh", "bilinear", "dss")


def check_init_disc(init: str, disc: str) -> None:
    """The rule of S4D-DFouT: its poles sit on the DFT grid, and only the exact ``disc="zoh"``
    (``dA = λ``) keeps them there."""
    if init == "dfout" and disc != "zoh":
        fail("disc", "'zoh' with init='dfout' (DFouT places the discrete poles on the DFT grid "
             "directly; only the exact zoh discretisation keeps them there)", disc)


def _damping(value) -> tuple[float, float]:
    """DFouT's damping range ``(min, max)``: two finite numbers with ``0 < min <= max``."""
    try:
        lo, hi = (check_float("dfout_damping", v, 0, lo_open=True) for v in value)
        if isinstance(value, str) or lo > hi:
            raise ValueError
    except (TypeError, ValueError):
        fail("dfout_damping", "a pair (min, max) of finite numbers with 0 < min <= max", value)
    return lo, hi


def _block_split(L: int) -> tuple[int, int]:
    """``(M, T)`` with ``M·T ≥ L`` and ``T ≈ √L``."""
    T = math.isqrt(L - 1) + 1 if L > 1 else 1
    return -(-L // T), T


def power_blocks(log_dA: torch.Tensor, L: int) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Powers ``dA^l``, ``l < M·T`` (``M·T ≥ L``), from ``log dA`` (complex ``(..., N/2)``, any
    branch) as ``(outer dA^{m·T} (..., N/2, M), inner dA^t (..., N/2, T), T)``."""
    M, T = _block_split(L)
    rng = torch.arange(max(M, T), device=log_dA.device, dtype=log_dA.real.dtype)
    inner = torch.exp(log_dA.unsqueeze(-1) * rng[:T])
    outer = torch.exp(log_dA.unsqueeze(-1) * (rng[:M] * T))
    return outer, inner, T


def _real_powers(a: torch.Tensor, b: torch.Tensor, steps: torch.Tensor):
    """Real and imaginary parts of ``exp((a + ib)·steps)``, shape ``(..., N/2, len(steps))``."""
    mag = torch.exp(a.unsqueeze(-1) * steps)
    phase = b.unsqueeze(-1) * steps
    return mag * torch.cos(phase), mag * torch.sin(phase)


def vandermonde_real(coef: torch.Tensor, log_dA: torch.Tensor, L: int,
                     out_dtype: torch.dtype | None = None) -> torch.Tensor:
    """``2·Re Σ_n coef[..., n] · dA[..., n]^l`` for ``l < L``, shape ``(..., L)``, real.

    Computed blockwise (see the module docstring) in real arithmetic,
    ``2·e^{al}(c_r cos bl - c_i sin bl)``, without an ``(..., N/2, L)`` tensor; ``coef`` may
    carry extra leading (batch) dimensions over ``log_dA``'s. Powers are taken in the inputs'
    precision, the final matrix product in ``out_dtype`` (default: the inputs' real dtype).
    """
    M, T = _block_split(L)
    a, b = log_dA.real, log_dA.imag
    rng = torch.arange(max(M, T), device=a.device, dtype=a.dtype)
    in_r, in_i = _real_powers(a, b, rng[:T])  # (..., N/2, T)
    out_r, out_i = _real_powers(a, b, rng[:M] * T)  # (..., N/2, M)
    c_r, c_i = coef.real.unsqueeze(-1), coef.imag.unsqueeze(-1)
    # coef·dA^{mT}, then Re(x·y) = x_r y_r - x_i y_i as one matmul over the stacked parts
    left = torch.cat([c_r * out_r - c_i * out_i, -(c_r * out_i + c_i * out_r)], dim=-2)
    right = torch.cat([in_r, in_i], dim=-2)  # (..., N, T)
    if out_dtype is not None:
        left, right = left.to(out_dtype), right.to(out_dtype)
    K = 2 * torch.matmul(left.transpose(-1, -2), right)  # (..., M, T)
    return K.flatten(-2)[..., :L]


class S4DKernel(nn.Module):
    """Diagonal state space kernel: parameters ``A, B, C, dt`` and ``K = kernel(L)``.

    The continuous system ``x' = A x + B u, y = 2·Re(C x)`` with diagonal complex ``A`` (one
    mode per conjugate pair) is discretised with step ``dt`` and unrolled into the causal
    convolution kernel ``K[h, l] = 2·Re Σ_n C·dB·dA^l``.

    Parameters
    ----------
    d_model : int
        Number of independent channels ``H``.
    d_state : int
        State size ``N`` counting conjugate pairs (even, positive): ``N/2`` modes are stored.
    init : {"legs", "inv", "lin", "real", "dss", "dfout"}
        Initialisation of ``A`` and ``B`` (see :mod:`s4d_forecast.ssm.init`).
    disc : {"zoh", "bilinear", "dss"}
        Discretisation. ``"zoh"``: ``dA = exp(dt·A)``, ``dB = (exp(dt·A) - 1)/A · B``.
        ``"bilinear"``: ``dA = (1 + dt·A/2)/(1 - dt·A/2)``, ``dB = dt/(1 - dt·A/2) · B``.
        ``"dss"``: the DSS-softmax kernel ``K = 2·Re Σ_n C·B/A · softmax_l(dt·A·l)`` whose
        normaliser ``Σ_{l<L'} exp(dt·A·l)`` runs over ``L' = l_max`` if given, else over the
        requested length (then streaming needs ``l_max``).
        ``init="dfout"`` defines the discrete poles directly and accepts only ``"zoh"``:
        with ``dt = 1`` and ``A = log λ``, ``dA = λ`` exactly and the ZOH formula above holds
        as written, ``K[h, l] = 2·Re Σ_n C·B·(λ - 1)/log λ · λ^l``.
    dt_min, dt_max : float
        ``dt`` is drawn log-uniformly in ``[dt_min, dt_max]`` per channel (not for DFouT).
    lr : float or None
        Learning rate of this kernel's SSM parameters (``A``, ``B``, ``dt``), read by
        :func:`~s4d_forecast.ssm.optim.ssm_param_groups`: ``None``, the optimiser's ``ssm_lr``;
        ``0.0``, frozen (stored as buffers); a positive value, their own group at that rate.
    l_max : int or None
        Fixed normalisation length for ``disc="dss"``.
    dfout_damping : tuple of float
        Range ``[ξ_min, ξ_max]`` from which DFouT's damping ``ξ`` is drawn log-uniformly per
        channel (poles ``λ = exp(-ξ/2 + iω)``).
    dfout_half_plane, dfout_phase_sync : bool
        DFouT pole placement, see :func:`s4d_forecast.ssm.init.dfout_frequencies`.
    """

    # Stored parameters: log_dt (H,), log_A_real = log(-Re A) and A_imag (H, N/2), and B_ri, C_ri
    # (H, N/2, 2): real and imaginary parts of B and C (exposed as complex by .B and .C).
    ssm_names = ("log_dt", "log_A_real", "A_imag", "B_ri")

    def __init__(self, d_model: int, d_state: int = 64, init: str = "legs", disc: str = "zoh",
                 dt_min: float = 1e-3, dt_max: float = 1e-1, lr: float | None = None,
                 l_max: int | None = None, dfout_damping: tuple[float, float] = (1e-3, 1e-1),
                 dfout_half_plane: bool = True, dfout_phase_sync: bool = False):
        super().__init__()
        check_choice("init", init, INITS)
        check_choice("disc", disc, DISCS)
        check_init_disc(init, disc)
        d_model = check_int("d_model", d_model, 1)
        d_state = check_int("d_state", d_state, 2, even=True)  # N/2 complex modes are stored
        dt_min, dt_max = (check_float(n, v, 0, lo_open=True)
                          for n, v in (("dt_min", dt_min), ("dt_max", dt_max)))
        if dt_min > dt_max:
            fail("dt_max", f">= dt_min={dt_min!r}", dt_max)
        lo, hi = _damping(dfout_damping)
        dfout_half_plane = check_bool("dfout_half_plane", dfout_half_plane)
        dfout_phase_sync = check_bool("dfout_phase_sync", dfout_phase_sync)
        l_max = check_int("l_max", l_max, 1, none_ok=True)
        lr = check_float("lr", lr, 0, none_ok=True)
        self.H, self.N, self.lr = d_model, d_state, lr
        self.init, self.disc, self.l_max = init, disc, l_max
        H, N2 = d_model, d_state // 2

        if init == "dfout":
            xi = torch.exp(torch.rand(H, 1, dtype=torch.float64)
                           * (math.log(hi) - math.log(lo)) + math.log(lo))
            A_real = (-xi / 2).expand(H, N2)
            A_imag = torch.from_numpy(dfout_frequencies(d_state, H, dfout_half_plane,
                                                        dfout_phase_sync))
            B = torch.ones(H, N2, dtype=torch.complex128)
            log_dt = None
        else:
            A, B = (torch.from_numpy(v) for v in init_A_B(init, d_state))
            A_real, A_imag = A.real.expand(H, N2), A.imag.expand(H, N2)
            B = B.expand(H, N2)
            log_dt = (torch.rand(H, dtype=torch.float64) * (math.log(dt_max) - math.log(dt_min))
                      + math.log(dt_min))
        dtype = torch.get_default_dtype()
        # Re A = -exp(log_A_real) stays strictly negative whatever the optimiser does.
        self._register("log_A_real", torch.log(-A_real).to(dtype), lr)
        if init == "real":
            self.register_buffer("A_imag", A_imag.to(dtype).contiguous())
        else:
            self._register("A_imag", A_imag.to(dtype).contiguous(), lr)
        self._register("B_ri", torch.view_as_real(B.contiguous()).to(dtype), lr)
        if log_dt is not None:
            self._register("log_dt", log_dt.to(dtype), lr)
        else:
            self.register_buffer("log_dt", torch.zeros(H, dtype=dtype))
        C = torch.randn(H, N2, dtype=torch.complex128)  # C ~ CN(0, 1), as in S4D
        self.C_ri = nn.Parameter(torch.view_as_real(C).to(dtype))

    def _register(self, name: str, tensor: torch.Tensor, lr: float | None) -> None:
        if lr == 0.0:
            self.register_buffer(name, tensor)
        else:
            self.register_parameter(name, nn.Parameter(tensor))

    @property
    def dt(self) -> torch.Tensor:
        """Step sizes ``(H,)``; identically 1 for DFouT."""
        return torch.exp(self.log_dt)

    @property
    def A(self) -> torch.Tensor:
        """Diagonal state matrix ``(H, N/2)``, complex, ``Re A < 0``."""
        return torch.complex(-torch.exp(self.log_A_real), self.A_imag)

    @property
    def B(self) -> torch.Tensor:
        """Input matrix ``(H, N/2)``, complex."""
        return torch.view_as_complex(self.B_ri)

    @property
    def C(self) -> torch.Tensor:
        """Output matrix ``(H, N/2)``, complex."""
        return torch.view_as_complex(self.C_ri)

    def ssm_parameters(self) -> list[nn.Parameter]:
        """The trainable parameters of ``A``, ``B`` and ``dt`` (SSM optimiser group)."""
        return [self._parameters[n] for n in self.ssm_names if n in self._parameters]

    def discretize(self, L: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Discrete system ``(log dA, C·dB)``, complex128 ``(H, N/2)``, always in float64; ``L``,
        the kernel length, is used only by ``disc="dss"`` without ``l_max``."""
        rd = torch.float64
        with torch.autocast(device_type=self.log_dt.device.type, enabled=False):
            dt = torch.exp(self.log_dt.to(rd)).unsqueeze(-1)
            A = torch.complex(-torch.exp(self.log_A_real.to(rd)), self.A_imag.to(rd))
            CB = (torch.view_as_complex(self.C_ri.to(rd).contiguous())
                  * torch.view_as_complex(self.B_ri.to(rd).contiguous()))
            dtA = dt * A
            if self.disc == "bilinear":
                log_dA = torch.log((1 + dtA / 2) / (1 - dtA / 2))
                CdB = CB * dt / (1 - dtA / 2)
            else:
                log_dA = dtA
                CdB = CB * torch.expm1(dtA) / A
                if self.disc == "dss":
                    L_norm = self.l_max or L
                    if L_norm is None:
                        raise ValueError("disc='dss' normalises the kernel over its length: "
                                         "pass l_max=... to S4DKernel to stream with step()")
                    # softmax_l(dtA·l) = exp(dtA·l)·(exp(dtA) - 1)/(exp(dtA·L') - 1)
                    CdB = CdB / torch.expm1(dtA * L_norm)
        return log_dA, CdB

    @property
    def compute_dtype(self) -> torch.dtype:
        """Real dtype of kernels and states: float32, or float64 for a float64 module."""
        return torch.promote_types(self.log_A_real.dtype, torch.float32)

    def step_params(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(dA, C·dB)`` for the recurrence in the compute dtype, cached while gradients are off
        (keyed on the parameters' version counters: an optimiser step invalidates it)."""
        tensors = [self.log_dt, self.log_A_real, self.A_imag, self.B_ri, self.C_ri]
        key = tuple((id(t), t._version, t.device, t.dtype) for t in tensors)
        cached = self.__dict__.get("_step_cache")
        if cached is not None and cached[0] == key and not torch.is_grad_enabled():
            return cached[1]
        log_dA, CdB = self.discretize(None)
        cdtype = torch.complex128 if self.compute_dtype == torch.float64 else torch.complex64
        value = (torch.exp(log_dA).to(cdtype), CdB.to(cdtype))
        if not torch.is_grad_enabled():
            self.__dict__["_step_cache"] = (key, value)
        return value

    def kernel(self, L: int) -> torch.Tensor:
        """The real convolution kernel ``K`` of shape ``(H, L)`` (float32 or float64)."""
        L = check_int("L", L, 1)
        log_dA, CdB = self.discretize(L)
        with torch.autocast(device_type=CdB.device.type, enabled=False):
            return vandermonde_real(CdB, log_dA, L, self.compute_dtype)

    def forward(self, L: int) -> torch.Tensor:
        return self.kernel(L)

    def extra_repr(self) -> str:
        return f"H={self.H}, N={self.N}, init={self.init!r}, disc={self.disc!r}"

