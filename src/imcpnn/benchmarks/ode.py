"""The generic ODE baseline: the same layer integrated by torchdiffeq (the paper's "ODE-based PNN").

The right-hand side is the IMC-aware neuron (spec ``MODEL.md`` section 1) as a generic solver sees it:
``dv/dt = g(t) - f(t) v`` with ``[g; f](t) = θ(t - t_j) [w; βw]^T``, one dense product per evaluation.
The solver is told nothing about the input spike times (no ``jump_t``): being told them is the exact
event-driven solver. Adaptive Dormand-Prince (``dopri5``), gradients by backpropagation through the
solver (``adjoint=False``) or by the adjoint method (``odeint_adjoint``).

- RC-Spike: ``v(1)`` from ``odeint`` on ``[0, 1]``, then the firing-phase formula.
- TTFS: torchdiffeq's event handling (``odeint_event``) takes one scalar event function and stops
  at the first event, so it would need one solve per neuron and sample (``10^5`` per batch here).
  Instead: dense output (the solver's interpolant at ``n_eval`` evenly spaced times on ``[0, T]``) and
  crossing detection, the crossing time linearly interpolated between the two samples around it
  (differentiable through them).

:func:`tolerance_sweep` finds the loosest ``rtol`` (with ``atol = rtol``) whose spike-time error
against the exact solver is at most DSTD's at ``M = 10``; :func:`run_ode_baseline` then times it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from .. import functional as fn
from ..physics.neuron import reversal_weight

DEFAULT_RTOLS = (1e-1, 3e-2, 1e-2, 3e-3, 1e-3, 3e-4, 1e-4, 3e-5, 1e-5, 3e-6, 1e-6)
FLOAT64_RTOLS = (3e-7, 1e-7, 3e-8, 1e-8)  # tried in float64 when float32 does not reach the target


class LayerODE(nn.Module):
    """``dv/dt = g(t) - f(t) v`` of a dense layer, for torchdiffeq; counts its evaluations (``nfe``).

    ``times``: ``[B, N_in]`` input spike times (no gradient: the Heaviside step has none);
    ``weight``: ``[N_out, N_in]``. ``[w; βw]`` is formed inside :meth:`forward` so that the adjoint
    method can differentiate it with respect to ``weight``.
    """

    def __init__(self, times: torch.Tensor, weight: torch.Tensor, e_rev: float, leak: float = 0.0) -> None:
        super().__init__()
        self.times = times.detach()
        self.weight = weight
        self.e_rev = e_rev
        self.leak = leak
        self.nfe = 0

    def forward(self, t: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        self.nfe += 1
        stacked = torch.cat([self.weight, reversal_weight(self.weight, self.e_rev, -self.e_rev)], dim=0)
        on = (self.times <= t).to(v.dtype)  # [B, N_in]: inputs that have spiked by time t
        g, f = torch.matmul(on, stacked.t()).split(self.weight.shape[0], dim=-1)
        return g - (f + self.leak) * v


def _solve(
    func: LayerODE,
    t_eval: torch.Tensor,
    rtol: float,
    atol: float,
    adjoint: bool,
    method: str,
    jump_times: torch.Tensor | None = None,
) -> torch.Tensor:
    """``v`` at ``t_eval`` from ``v(0) = 0``. ``jump_times`` (dopri5 ``jump_t``) tells the solver where the
    right-hand side jumps: used by the tests as an independent reference, never by the benchmark."""
    from torchdiffeq import odeint, odeint_adjoint

    batch, n_out = func.times.shape[0], func.weight.shape[0]
    v0 = torch.zeros(batch, n_out, dtype=func.weight.dtype, device=func.weight.device)
    options = None if jump_times is None else {"jump_t": jump_times}
    if adjoint:
        return odeint_adjoint(
            func, v0, t_eval, rtol=rtol, atol=atol, method=method, options=options, adjoint_params=(func.weight,)
        )
    return odeint(func, v0, t_eval, rtol=rtol, atol=atol, method=method, options=options)


def rc_spike_times(
    times: torch.Tensor,
    weight: torch.Tensor,
    e_rev: float,
    *,
    rtol: float = 1e-3,
    atol: float = 1e-3,
    adjoint: bool = False,
    method: str = "dopri5",
    stats: dict[str, Any] | None = None,
) -> torch.Tensor:
    """RC-Spike output times ``[B, N_out]`` from ``v(1)`` integrated by torchdiffeq (``E+ = -E- = e_rev``)."""
    func = LayerODE(times, weight, e_rev)
    t_eval = torch.tensor([0.0, 1.0], dtype=weight.dtype, device=weight.device)
    v_end = _solve(func, t_eval, rtol, atol, adjoint, method)[-1]
    if stats is not None:
        stats["nfe"] = func.nfe
    return fn.rc_spike_fire(v_end)


def first_crossing_dense(potentials: torch.Tensor, t_eval: torch.Tensor, threshold: float = 1.0) -> torch.Tensor:
    """First time the potential sampled as ``[T, B, N]`` reaches ``threshold`` (interpolated), else ``+inf``."""
    above = potentials >= threshold
    fired = above.any(dim=0)
    index = torch.clamp(above.to(torch.int8).argmax(dim=0), min=1)  # first sample at or above; v(0) = 0 < Vth
    after = torch.gather(potentials, 0, index.unsqueeze(0)).squeeze(0)
    before = torch.gather(potentials, 0, (index - 1).unsqueeze(0)).squeeze(0)
    t_before = t_eval[index - 1]
    step = t_eval[index] - t_before
    rise = torch.where(fired, after - before, torch.ones_like(after))
    crossing = t_before + step * torch.clamp((threshold - before) / rise, 0.0, 1.0)
    return torch.where(fired, crossing, torch.full_like(crossing, math.inf))


def ttfs_spike_times(
    times: torch.Tensor,
    weight: torch.Tensor,
    e_rev: float,
    window: float,
    *,
    rtol: float = 1e-3,
    atol: float = 1e-3,
    adjoint: bool = False,
    method: str = "dopri5",
    n_eval: int = 401,
    threshold: float = 1.0,
    stats: dict[str, Any] | None = None,
) -> torch.Tensor:
    """TTFS first spike times ``[B, N_out]`` on ``[0, window]`` from torchdiffeq's dense output (``n_eval`` samples)."""
    func = LayerODE(times, weight, e_rev)
    t_eval = torch.linspace(0.0, window, n_eval, dtype=weight.dtype, device=weight.device)
    potentials = _solve(func, t_eval, rtol, atol, adjoint, method)  # [n_eval, B, N_out]
    if stats is not None:
        stats["nfe"] = func.nfe
    return first_crossing_dense(potentials, t_eval, threshold)


# --------------------------------------------------------------------------------------------------
# Accuracy: DSTD's spike-time error at M = 10, and the ODE's against the tolerance.


def spike_time_error(estimate: torch.Tensor, exact: torch.Tensor) -> dict[str, float]:
    """Mean and max ``|t - t_exact|`` over neurons that fire in both, and the fraction that disagree on firing."""
    both = torch.isfinite(estimate) & torch.isfinite(exact)
    diff = (estimate.double() - exact.double())[both].abs()
    return {
        "mean_abs": float(diff.mean()) if diff.numel() else math.nan,
        "max_abs": float(diff.max()) if diff.numel() else math.nan,
        "firing_mismatch": float((torch.isfinite(estimate) != torch.isfinite(exact)).double().mean()),
    }


def _exact_times(model: str, times: torch.Tensor, weight: torch.Tensor, e_rev: float, window: float) -> torch.Tensor:
    """Exact output spike times in float64, in chunks of 10 samples (memory ``O(10 N_in N_out)``)."""
    kw = {"e_rev_pos": e_rev, "e_rev_neg": -e_rev}
    out = []
    with torch.no_grad():
        for chunk in times.double().split(10):
            if model == "rcspike":
                out.append(fn.rc_spike_fire(fn.rc_spike_potential(chunk, weight.double(), **kw)))
            else:
                out.append(fn.ttfs_spike_times(chunk, weight.double(), window=window, **kw))
    return torch.cat(out)


def _dstd_times(model: str, times: torch.Tensor, weight: torch.Tensor, e_rev: float, window: float, steps: int):
    kw = {"e_rev_pos": e_rev, "e_rev_neg": -e_rev, "method": "dstd", "steps": steps}
    with torch.no_grad():
        if model == "rcspike":
            return fn.rc_spike_fire(fn.rc_spike_potential(times, weight, **kw))
        return fn.ttfs_spike_times(times, weight, window=window, **kw)


def tolerance_sweep(
    model: str,
    times: torch.Tensor,
    weight: torch.Tensor,
    *,
    e_rev: float,
    window: float,
    target_steps: int = 10,
    rtols: Sequence[float] = DEFAULT_RTOLS,
    float64_rtols: Sequence[float] = FLOAT64_RTOLS,
    n_eval: int = 401,
    say: Callable[[str], None] = print,
) -> dict[str, Any]:
    """DSTD's spike-time error at ``target_steps`` and the ODE's for each ``rtol`` (``atol = rtol``).

    The ODE runs in the dtype of ``times`` with ``rtols``, then (if the target is not reached; float32
    stalls near ``1e-6``) in float64 with ``float64_rtols``. It stops at the first (loosest) tolerance
    whose mean error is at most DSTD's: ``chosen_rtol`` and ``chosen_dtype`` (the tightest tried, with
    ``reached=False``, if none). DSTD runs in the dtype of ``times``. Forward passes only.
    """
    exact = _exact_times(model, times, weight, e_rev, window)
    dstd_error = spike_time_error(_dstd_times(model, times, weight, e_rev, window, target_steps), exact)
    say(f"  ODE sweep {model}: DSTD M={target_steps} spike-time error {dstd_error['mean_abs']:.3e} (mean abs)")
    stages = [(times.dtype, rtols)]
    if times.dtype != torch.float64:
        stages.append((torch.float64, float64_rtols))
    sweep = []
    chosen = None
    for dtype, stage_rtols in stages:
        stage_times, stage_weight = times.to(dtype), weight.to(dtype)
        for rtol in stage_rtols:
            stats: dict[str, Any] = {}
            start = time.perf_counter()
            with torch.no_grad():
                if model == "rcspike":
                    out = rc_spike_times(stage_times, stage_weight, e_rev, rtol=rtol, atol=rtol, stats=stats)
                else:
                    out = ttfs_spike_times(
                        stage_times, stage_weight, e_rev, window, rtol=rtol, atol=rtol, n_eval=n_eval, stats=stats
                    )
            error = spike_time_error(out, exact)
            entry = {
                "rtol": rtol,
                "atol": rtol,
                "dtype": str(dtype).removeprefix("torch."),
                "nfe": stats["nfe"],
                "seconds": time.perf_counter() - start,
                **error,
            }
            sweep.append(entry)
            say(f"    {entry['dtype']} rtol=atol={rtol:.0e}: error {error['mean_abs']:.3e}, {stats['nfe']} evaluations")
            if (
                error["mean_abs"] <= dstd_error["mean_abs"]
                and error["firing_mismatch"] <= dstd_error["firing_mismatch"]
            ):
                chosen = entry
                break
        if chosen is not None:
            break
    best = chosen or sweep[-1]
    return {
        "model": model,
        "samples": times.shape[0],
        "n_in": times.shape[1],
        "n_out": weight.shape[0],
        "target_steps": target_steps,
        "dstd_error": dstd_error,
        "sweep": sweep,
        "chosen_rtol": best["rtol"],
        "chosen_dtype": best["dtype"],
        "chosen_error": {k: best[k] for k in ("mean_abs", "max_abs", "firing_mismatch")},
        "chosen_nfe_forward": best["nfe"],
        "reached": chosen is not None,
        "n_eval": n_eval if model == "ttfs" else None,
    }


def run_ode_baseline(
    settings: Any,
    result: dict[str, Any],
    *,
    say: Callable[[str], None] = print,
    save: Callable[[], None] = lambda: None,
) -> dict[str, Any]:
    """The ODE comparison of :func:`imcpnn.benchmarks.speed.run_benchmark`.

    ``settings.ode`` may set ``n_in`` (default ``settings.summary_n_in``), ``n_out`` (``settings.n_out``),
    ``samples`` (timed, default 200), ``sweep_samples`` (50), each also per model (``ttfs_n_out``, ...),
    ``rtols``, ``n_eval`` (401), ``adjoint``
    (False), ``ttfs`` (True) and ``target_steps`` (10). For each model: a tolerance sweep in this
    process, then the ODE case and a DSTD case of the same size, each in a fresh subprocess.
    """
    from .speed import format_case, make_inputs, make_weight, run_case

    options = dict(settings.ode)
    n_in = int(options.get("n_in", settings.summary_n_in))
    n_out = int(options.get("n_out", settings.n_out))
    samples = int(options.get("samples", 200))
    sweep_samples = int(options.get("sweep_samples", 50))
    n_eval = int(options.get("n_eval", 401))
    adjoint = bool(options.get("adjoint", False))
    target_steps = int(options.get("target_steps", 10))
    models = ["rcspike"] + (["ttfs"] if options.get("ttfs", True) else [])
    out: dict[str, Any] = {"n_in": n_in, "n_out": n_out, "samples": samples, "adjoint": adjoint, "models": {}}
    result["ode"] = out
    for model in models:
        # Per-model overrides, e.g. ``ttfs_n_out``: the TTFS solve (window 4, dense output) is the slow one.
        n_out = int(options.get(f"{model}_n_out", out["n_out"]))
        samples = int(options.get(f"{model}_samples", out["samples"]))
        sweep_samples = int(options.get(f"{model}_sweep_samples", options.get("sweep_samples", 50)))
        times = make_inputs(sweep_samples, n_in, settings, settings.seed + 7).cpu()
        weight = make_weight(model, n_in, n_out, settings, settings.seed + 7).cpu()
        sweep = tolerance_sweep(
            model,
            times,
            weight,
            e_rev=settings.e_rev,
            window=settings.ttfs_window,
            target_steps=target_steps,
            rtols=tuple(options.get("rtols", DEFAULT_RTOLS)),
            n_eval=n_eval,
            say=say,
        )
        rtol = sweep["chosen_rtol"]
        ode_kw: dict[str, Any] = {"rtol": rtol, "atol": rtol, "adjoint": adjoint}
        if model == "ttfs":
            ode_kw["n_eval"] = n_eval
        common = {"kind": "case", "model": model, "n_in": n_in, "n_out": n_out, "samples": samples}
        ode_case = run_case({**common, "method": "ode", "ode_kw": ode_kw, "dtype": sweep["chosen_dtype"]}, settings)
        dstd_case = run_case({**common, "method": "dstd"}, settings)
        for case in (ode_case, dstd_case):
            case["comparison"] = "ode"
            say(format_case(case))
        result["cases"].append(ode_case)
        entry = {**sweep, "timed_samples": samples, "ode_case": ode_case, "dstd_case": dstd_case}
        if ode_case.get("status") == "ok" and dstd_case.get("status") == "ok":
            entry["time_ratio"] = ode_case["seconds"] / dstd_case["seconds"]
            entry["memory_ratio"] = ode_case["peak_bytes"] / max(dstd_case["peak_bytes"], 1)
        out["models"][model] = entry
        save()
    return out
