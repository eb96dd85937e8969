"""Argument checks at the public boundary: clear ``ValueError``s naming the argument and the range.

Only :mod:`imcpnn.functional`, :mod:`imcpnn.params` and the typed configurations call these;
:mod:`imcpnn.physics` and :mod:`imcpnn.kernels` never do (they trust checked inputs).
"""

from __future__ import annotations

import math

import torch

METHODS = ("exact", "dstd")
#: The smallest supported |E±| (normalised): below it ``1/|E±|`` overflows sums of float32 conductances.
MIN_REVERSAL = 1e-2
#: The largest supported leak rate α (1/time): a membrane time constant of a millionth of a phase.
MAX_LEAK = 1e6


def check_method(method: str) -> str:
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}; got {method!r}")
    return method


def check_steps(steps: int) -> int:
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be an integer >= 1 (the number of DSTD grid intervals M); got {steps!r}")
    return steps


def check_window(window: float) -> float:
    if not (isinstance(window, (int, float)) and math.isfinite(window) and window > 0):
        raise ValueError(f"window must be a finite positive number (normalised time); got {window!r}")
    return float(window)


def check_offset(offset: float, window: float, steps: int) -> float:
    """The DSTD grid offset must lie in ``[0, window / steps)`` (spec section 4)."""
    width = window / steps
    if not (isinstance(offset, (int, float)) and 0.0 <= offset < width):
        raise ValueError(
            f"offset must lie in [0, window / steps) = [0, {width:g}) for window={window:g}, steps={steps}; "
            f"got {offset!r}"
        )
    return float(offset)


def check_reversal_potentials(e_rev_pos: float, e_rev_neg: float) -> tuple[float, float]:
    """``E- < 0 < E+``; ``±inf`` is the ideal limit (spec section 1)."""
    for name, value in (("e_rev_pos", e_rev_pos), ("e_rev_neg", e_rev_neg)):
        if not isinstance(value, (int, float)) or math.isnan(value):
            raise ValueError(f"{name} must be a number; got {value!r}")
    if 0 < abs(e_rev_pos) < MIN_REVERSAL or 0 < abs(e_rev_neg) < MIN_REVERSAL:
        raise ValueError(
            f"|E±| must be at least {MIN_REVERSAL:g} (the conductance 1/|E±| overflows below that); got "
            f"e_rev_pos={e_rev_pos!r}, e_rev_neg={e_rev_neg!r}"
        )
    if not e_rev_pos > 0:
        raise ValueError(
            f"e_rev_pos must be > 0 (the positive reversal potential E+, float('inf') for the ideal limit); "
            f"got {e_rev_pos!r}"
        )
    if not e_rev_neg < 0:
        raise ValueError(
            f"e_rev_neg must be < 0 (the negative reversal potential E-, -float('inf') for the ideal limit); "
            f"got {e_rev_neg!r}"
        )
    return float(e_rev_pos), float(e_rev_neg)


def check_threshold(threshold: float) -> float:
    if not (isinstance(threshold, (int, float)) and math.isfinite(threshold) and threshold > 0):
        raise ValueError(f"threshold must be a finite number > 0 (the firing threshold Vth); got {threshold!r}")
    return float(threshold)


def check_nonnegative(name: str, value: float, meaning: str) -> float:
    if isinstance(value, bool) or not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
        raise ValueError(f"{name} must be a finite number >= 0 ({meaning}); got {value!r}")
    return float(value)


def check_leak(leak: float) -> float:
    leak = check_nonnegative("leak", leak, "the leak rate α of the membrane, 1/time")
    if leak > MAX_LEAK:
        raise ValueError(f"leak must be at most {MAX_LEAK:g} (a membrane time constant of 1e-6 phases); got {leak!r}")
    return leak


def check_beta_dis(beta_dis: float) -> float:
    if not (isinstance(beta_dis, (int, float)) and 0.0 <= beta_dis < 1.0):
        raise ValueError(
            f"beta_dis must lie in [0, 1) (the discharger non-ideality; 0 is the ideal ramp); got {beta_dis!r}"
        )
    return float(beta_dis)


def check_spike_times(spike_times: torch.Tensor, window: float, name: str = "spike_times") -> None:
    """Times must be finite in ``[0, window]`` or ``+inf`` (no spike); never NaN or ``-inf``."""
    if not isinstance(spike_times, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor; got {type(spike_times).__name__}")
    if not spike_times.is_floating_point():
        raise ValueError(f"{name} must be a floating-point tensor (float32 or float64); got {spike_times.dtype}")
    check_supported_dtype(spike_times, name)
    if spike_times.numel() == 0:
        return
    with torch.no_grad():
        nan_count = int(torch.isnan(spike_times).sum())
        if nan_count:
            raise ValueError(
                f"{name} contains {nan_count} NaN value(s); spike times must lie in [0, {window:g}] "
                "or be +inf for 'no spike'"
            )
        finite = spike_times[torch.isfinite(spike_times)]
        bad_low = bool((spike_times == -math.inf).any()) or (finite.numel() > 0 and float(finite.min()) < 0)
        bad_high = finite.numel() > 0 and float(finite.max()) > window
        if bad_low or bad_high:
            low = float(spike_times.min())
            high = float(finite.max()) if finite.numel() else math.inf
            raise ValueError(
                f"{name} must lie in [0, {window:g}] or be +inf (no spike); got values from {low:g} to "
                f"{high:g} (clip or rescale the input times)"
            )


def check_potential(potential: torch.Tensor, name: str = "potential") -> None:
    """Membrane potentials: a floating-point tensor without NaN (``±inf`` are limits and allowed)."""
    if not isinstance(potential, torch.Tensor) or not potential.is_floating_point():
        raise ValueError(f"{name} must be a floating-point torch.Tensor; got {type(potential).__name__}")
    check_supported_dtype(potential, name)
    with torch.no_grad():
        nan_count = int(torch.isnan(potential).sum())
    if nan_count:
        raise ValueError(f"{name} contains {nan_count} NaN value(s); pass the end-of-accumulation potentials v(1)")


def check_supported_dtype(tensor: torch.Tensor, name: str) -> None:
    """float32 and float64 only: half precision loses the spike-time resolution the solvers rely on."""
    if tensor.dtype not in (torch.float32, torch.float64):
        raise ValueError(
            f"{name} has dtype {tensor.dtype}; imcpnn supports float32 and float64 (half precision loses the "
            "spike-time resolution the solvers need): cast with .float()"
        )


def check_dense_shapes(spike_times: torch.Tensor, weight: torch.Tensor) -> None:
    if not isinstance(weight, torch.Tensor):
        raise ValueError(f"weight must be a torch.Tensor; got {type(weight).__name__}")
    if spike_times.dim() != 2:
        raise ValueError(f"spike_times must have shape [batch, n_in]; got shape {tuple(spike_times.shape)}")
    if weight.dim() != 2:
        raise ValueError(f"weight must have shape [n_out, n_in]; got shape {tuple(weight.shape)}")
    if weight.shape[0] == 0 or weight.shape[1] == 0:
        raise ValueError(
            f"a layer needs at least one input and one neuron: weight has shape {tuple(weight.shape)} (n_out, n_in)"
        )
    if weight.shape[1] != spike_times.shape[1]:
        raise ValueError(
            f"weight has n_in={weight.shape[1]} columns but spike_times has n_in={spike_times.shape[1]} inputs "
            f"(shapes {tuple(weight.shape)} and {tuple(spike_times.shape)})"
        )
    check_same_kind(spike_times, weight)


def check_same_kind(spike_times: torch.Tensor, weight: torch.Tensor) -> None:
    if weight.dtype != spike_times.dtype:
        raise ValueError(
            f"spike_times ({spike_times.dtype}) and weight ({weight.dtype}) must have the same dtype; "
            "cast one with .to(...)"
        )
    if weight.device != spike_times.device:
        raise ValueError(
            f"spike_times is on {spike_times.device} but weight is on {weight.device}; move both to one device"
        )
    with torch.no_grad():
        if not bool(torch.isfinite(weight).all()):
            raise ValueError("weight contains NaN or infinite values")
