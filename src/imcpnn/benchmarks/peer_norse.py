"""The Norse peer: the RC-Spike accumulation phase (spec ``MODEL.md`` sections 1-2) as Norse's conductance LIF.

The IMC-aware neuron ``dv/dt = -α v + p+(t) (E+ - v) + p-(t) (E- - v)`` (section 1) is Norse's
``coba_lif`` with excitatory conductance ``g_e = p+ = Σ_{w>=0, on} w / E+``, ``e_rev_E = E+``,
inhibitory conductance ``g_i = p- = Σ_{w<0, on} |w| / |E-|``, ``e_rev_I = E-``, leak ``g_l = α``,
``c_m_inv = 1``, ``v_rest = 0`` and synaptic decay rates ``tau_syn_*_inv = 0`` (an input is a step that
stays on). The threshold is ``+inf``: nothing fires or resets in ``[0, 1]``; the output is ``v(1)`` after
``K = 1/dt`` forward-Euler steps, fired by the package's firing phase (section 2).

Each input spike is raised at the Euler step that contains it, ``k_j = floor(t_j K)``, and its
conductance joins from that step on. ``coba_lif_feed_forward_step`` splits the *summed* input by sign,
so that an excitatory and an inhibitory synapse spiking in the same step would cancel; the peer adds
``W+ z_k / E+`` to the state's ``g_e`` and ``|W-| z_k / |E-|`` to its ``g_i`` itself (one dense product
each per step, as Norse's own ``coba_lif_step`` does) and calls the step with a zero input. Gradients
flow to the weights by autograd through every step, as for a user training with Norse; a spike at its
grid step has no time gradient.

``python -m imcpnn.benchmarks.peer_norse SPEC_JSON`` measures one Norse case in a fresh process, with
the protocol of :mod:`imcpnn.benchmarks.measure` (its :class:`~imcpnn.benchmarks.measure.PeakMemory`).
"""

from __future__ import annotations

import importlib
import json
import math
import os
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch

from .. import functional as fn
from ..params import NeuronParams
from .measure import MMAP_THRESHOLD_BYTES, PeakMemory
from .records import CaseRecord, CaseSpec
from .settings import BenchSettings
from .workload import make_inputs, make_weight

NORSE_VERSION = "1.1.0"
NORSE_INSTALL_HINT = (
    f"the Norse peer needs norse: run `make install` (it installs norse=={NORSE_VERSION} with --no-deps beside "
    "the benchmark extra), or `.venv/bin/python -m pip install -e '.[bench]' && .venv/bin/python -m pip install "
    f"--no-deps norse=={NORSE_VERSION}` (its torchvision dependency is not needed and does not install beside "
    "this torch)"
)
CHILD_MODULE = "imcpnn.benchmarks.peer_norse"
#: ``CaseRecord.method`` of a Norse case.
NORSE_METHOD = "norse"


def coba_lif_module() -> Any:
    """``norse.torch.functional.coba_lif``; a :class:`RuntimeError` saying how to install Norse if it is missing."""
    try:
        return importlib.import_module("norse.torch.functional.coba_lif")
    except ImportError as error:
        raise RuntimeError(f"{NORSE_INSTALL_HINT} ({error})") from error


def norse_version() -> str | None:
    try:
        from importlib.metadata import version

        return version("norse")
    except Exception:  # any failure means: unknown
        return None


def coba_parameters(params: NeuronParams, dtype: torch.dtype, device: torch.device | str) -> Any:
    """Norse's ``CobaLIFParameters`` of the IMC-aware neuron (module docstring; spec section 1)."""
    coba = coba_lif_module()

    def value(x: float) -> torch.Tensor:
        return torch.tensor(x, dtype=dtype, device=device)

    return coba.CobaLIFParameters(
        tau_syn_exc_inv=value(0.0), tau_syn_inh_inv=value(0.0), c_m_inv=value(1.0), g_l=value(params.leak),
        e_rev_I=value(params.e_rev_neg), e_rev_E=value(params.e_rev_pos), v_rest=value(0.0), v_reset=value(0.0),
        v_thresh=value(math.inf),
    )  # fmt: skip


def spike_steps(spike_times: torch.Tensor, steps: int) -> torch.Tensor:
    """The Euler step ``floor(t K)`` that contains each input spike (``K - 1`` for ``t = 1``; ``K``, never,
    for ``+inf``), as integers."""
    finite = torch.isfinite(spike_times)
    step = torch.floor(torch.where(finite, spike_times, 0.0) * steps).clamp(0, steps - 1)
    return torch.where(finite, step, float(steps)).long()


def norse_end_potential(
    spike_times: torch.Tensor, weight: torch.Tensor, params: NeuronParams, steps: int
) -> torch.Tensor:
    """``v(1)`` ``[B, N_out]`` of the layer after ``steps`` Euler steps of Norse's ``coba_lif_feed_forward_step``.

    ``spike_times`` ``[B, N_in]`` in ``[0, 1]`` (``+inf``: no spike), ``weight`` ``[N_out, N_in]``;
    differentiable with respect to ``weight``.
    """
    if steps < 1:
        raise ValueError(f"the Norse peer needs at least one Euler step; got {steps}")
    coba = coba_lif_module()
    p = coba_parameters(params, weight.dtype, weight.device)
    excitatory = torch.relu(weight) / params.e_rev_pos  # p+ = Σ w+ / E+
    inhibitory = torch.relu(-weight) / -params.e_rev_neg  # p- = Σ |w-| / |E-|
    spike_step = spike_steps(spike_times, steps)
    zero = torch.zeros(spike_times.shape[0], weight.shape[0], dtype=weight.dtype, device=weight.device)
    state = coba.CobaLIFFeedForwardState(v=zero, g_e=zero, g_i=zero)
    for k in range(steps):
        events = (spike_step == k).to(weight.dtype)  # z_k: the inputs that spike in step k
        g_e = state.g_e + torch.nn.functional.linear(events, excitatory)
        g_i = state.g_i + torch.nn.functional.linear(events, inhibitory)
        state = coba.CobaLIFFeedForwardState(v=state.v, g_e=g_e, g_i=g_i)
        _, state = coba.coba_lif_feed_forward_step(zero, state, p, 1.0 / steps)
    return state.v


def norse_forward_backward(
    spike_times: torch.Tensor, weight: torch.Tensor, params: NeuronParams, steps: int
) -> torch.Tensor:
    """One mini-batch as :func:`imcpnn.benchmarks.workload.forward_backward`: output spike times (the
    package's firing phase on Norse's ``v(1)``), loss = their sum, weight gradients. Returns the outputs."""
    weight = weight.detach().requires_grad_()
    out = fn.rc_spike_fire(norse_end_potential(spike_times.detach(), weight, params, steps), beta_dis=params.beta_dis)
    out.sum().backward()
    return out.detach()


@dataclass(frozen=True)
class NorseCaseSpec:
    """One Norse case for a child process: the layer, ``steps`` Euler steps (``dt = 1/steps``), and
    ``samples`` / ``batch`` (``None``: the settings')."""

    n_in: int
    steps: int
    n_out: int | None = None
    samples: int | None = None
    batch: int | None = None

    def case_spec(self) -> CaseSpec:
        """The same layer as a :class:`CaseSpec` (for a failed case's record)."""
        return CaseSpec(model="rcspike", method=NORSE_METHOD, n_in=self.n_in, n_out=self.n_out, samples=self.samples)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "norse", "n_in": self.n_in, "steps": self.steps, "n_out": self.n_out,
                "samples": self.samples, "batch": self.batch}  # fmt: skip

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> NorseCaseSpec:
        return cls(n_in=int(values["n_in"]), steps=int(values["steps"]), n_out=values.get("n_out"),
                   samples=values.get("samples"), batch=values.get("batch"))  # fmt: skip


def measure_norse_case(spec: NorseCaseSpec, settings: BenchSettings) -> CaseRecord:
    """Time and peak memory of the Norse peer with :func:`imcpnn.benchmarks.measure.measure_case`'s protocol (same
    data and seeds, warm-up on 2 samples, :class:`PeakMemory`, ``max_case_seconds``); run it in a fresh process."""
    n_out = spec.n_out or settings.n_out
    samples = spec.samples or settings.samples
    if spec.batch:
        settings = replace(settings, batch=spec.batch)
    if settings.threads:
        torch.set_num_threads(settings.threads)
    torch.manual_seed(settings.seed)
    params = settings.params
    times = make_inputs(samples, spec.n_in, settings, settings.seed)
    weight = make_weight("rcspike", spec.n_in, n_out, settings, settings.seed)
    norse_forward_backward(times[:2], weight, params, spec.steps)  # warm-up
    memory = PeakMemory(settings.device)
    batch_seconds: list[float] = []
    measured = 0
    for b in range(math.ceil(samples / settings.batch)):
        chunk = times[b * settings.batch : (b + 1) * settings.batch]
        if settings.device.startswith("cuda"):
            torch.cuda.synchronize()
        start = time.perf_counter()
        norse_forward_backward(chunk, weight, params, spec.steps)
        if settings.device.startswith("cuda"):
            torch.cuda.synchronize()
        batch_seconds.append(time.perf_counter() - start)
        measured += chunk.shape[0]
        if settings.max_case_seconds is not None and sum(batch_seconds) + batch_seconds[-1] > settings.max_case_seconds:
            break
    peak = memory.peak_bytes()
    return CaseRecord(
        model="rcspike", method=NORSE_METHOD, n_in=spec.n_in, n_out=n_out,
        seconds=sum(batch_seconds) * samples / measured, peak_bytes=peak, samples=samples, samples_measured=measured,
        extrapolated=measured < samples,
        batch=settings.batch, batch_seconds_min=min(batch_seconds),
        batch_seconds_median=sorted(batch_seconds)[len(batch_seconds) // 2], fired_fraction=1.0,
        dtype=settings.dtype, threads=torch.get_num_threads(), load_average=os.getloadavg(), peak_reset=memory.reset,
    )  # fmt: skip


def run_norse_case(spec: NorseCaseSpec, settings: BenchSettings) -> CaseRecord:
    """:func:`measure_norse_case` in a fresh Python process, with the environment of
    :func:`imcpnn.benchmarks.measure.run_case` (glibc's mmap threshold, this package first on the path).
    A child that fails or times out gives a ``"failed"`` record with the reason."""
    payload = json.dumps({**spec.to_dict(), "settings": settings.to_dict()})
    env = dict(os.environ)
    env.setdefault("MALLOC_MMAP_THRESHOLD_", str(MMAP_THRESHOLD_BYTES))
    src = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = src + os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else src
    command = [sys.executable, "-m", CHILD_MODULE, payload]
    try:
        proc = subprocess.run(
            command, capture_output=True, text=True, timeout=settings.case_timeout, env=env, check=False
        )
    except subprocess.TimeoutExpired:
        return CaseRecord.failed(spec.case_spec(), f"timed out after {settings.case_timeout:g} s")
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith("RESULT "):
            return CaseRecord.from_dict(json.loads(line[len("RESULT ") :]))
    tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
    reason = f"exit status {proc.returncode}" + (" (killed: out of memory?)" if proc.returncode in (-9, 137) else "")
    return CaseRecord.failed(spec.case_spec(), reason + (": " + " | ".join(tail) if tail else ""))


def child_main(argv: Sequence[str]) -> int:
    """The child process: measure the Norse case of ``argv[0]`` (JSON) and print ``RESULT {record}``."""
    payload = json.loads(argv[0])
    record = measure_norse_case(NorseCaseSpec.from_dict(payload), BenchSettings.from_dict(payload["settings"]))
    print("RESULT " + json.dumps(record.to_dict()), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(child_main(sys.argv[1:]))
