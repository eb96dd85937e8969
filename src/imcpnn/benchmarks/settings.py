"""What one benchmark run measures: :class:`BenchSettings`, the ODE baseline's :class:`OdeBaselineSettings`
and the ``--quick`` preset. Plain values only: the settings travel to every child process as JSON."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from ..params import NeuronParams

#: Tolerances (``rtol = atol``) of the ODE baseline's sweep, loosest first, in the data's dtype.
DEFAULT_RTOLS = (1e-1, 3e-2, 1e-2, 3e-3, 1e-3, 3e-4, 1e-4, 3e-5, 1e-5, 3e-6, 1e-6)
#: Tried in float64 when float32 does not reach the target (it stalls near ``1e-6``).
FLOAT64_RTOLS = (3e-7, 1e-7, 3e-8, 1e-8)


@dataclass(frozen=True)
class OdeBaselineSettings:
    """Sizes and tolerances of the torchdiffeq baseline (:func:`imcpnn.benchmarks.ode_baseline.run_ode_baseline`).

    A size left ``None`` falls back to a general one: ``n_in`` to ``BenchSettings.summary_n_in``,
    ``n_out`` to ``BenchSettings.n_out``, and a family's own ``*_n_out``, ``*_samples`` and
    ``*_sweep_samples`` to ``n_out``, ``samples`` and ``sweep_samples``.

    Attributes:
        n_in: inputs of the layer.
        samples: samples timed, in the ODE case and in the DSTD case it is compared with.
        n_out: neurons of the layer.
        sweep_samples: samples of the tolerance sweep (forward only, against the exact solver).
        rtols: tolerances tried (``atol = rtol``), loosest first; float64 ones follow if none reaches DSTD.
        n_eval: dense-output samples on ``[0, T]`` of a family solved by crossing detection (TTFS).
        adjoint: gradients by ``odeint_adjoint`` instead of backpropagation through the solver.
        target_steps: DSTD's ``M`` whose mean spike-time error the chosen tolerance must reach.
        ttfs: run the TTFS baseline too (RC-Spike's always runs).
        rcspike_n_out, rcspike_samples, rcspike_sweep_samples: RC-Spike's own sizes.
        ttfs_n_out, ttfs_samples, ttfs_sweep_samples: TTFS's own sizes (its dense-output solve is the slow one).
    """

    n_in: int | None = None
    samples: int = 200
    n_out: int | None = None
    sweep_samples: int = 50
    rtols: tuple[float, ...] = DEFAULT_RTOLS
    n_eval: int = 401
    adjoint: bool = False
    target_steps: int = 10
    ttfs: bool = True
    rcspike_n_out: int | None = None
    rcspike_samples: int | None = None
    rcspike_sweep_samples: int | None = None
    ttfs_n_out: int | None = None
    ttfs_samples: int | None = None
    ttfs_sweep_samples: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "rtols", tuple(float(rtol) for rtol in self.rtols))

    def to_dict(self) -> dict[str, Any]:
        """The settings that differ from the fields' defaults (what the JSON file has always shown)."""
        out: dict[str, Any] = {}
        for item in fields(self):
            value = getattr(self, item.name)
            if value != item.default:
                out[item.name] = list(value) if isinstance(value, tuple) else value
        return out

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> OdeBaselineSettings:
        """The inverse of :meth:`to_dict`; an unknown key is a :class:`TypeError`."""
        return cls(**values)


def _default_ode() -> OdeBaselineSettings:
    # TTFS on a 100-neuron layer: its dense-output solves at the tolerances DSTD's error asks for take
    # minutes per batch at 1000.
    return OdeBaselineSettings(ttfs_n_out=100, ttfs_samples=100, ttfs_sweep_samples=10)


@dataclass(frozen=True)
class BenchSettings:
    """What one benchmark run measures. Times are normalised (one circuit phase = 1).

    ``max_case_seconds`` caps the time spent on one slow case: at least one batch is always run, and
    when fewer than ``samples`` samples fit, ``seconds`` is extrapolated linearly from the measured
    batches to ``samples`` (the case records ``samples_measured``). ``ode`` may be given as a mapping
    of :class:`OdeBaselineSettings` fields (``ode={"adjoint": True}``).
    """

    n_ins: tuple[int, ...] = (100, 300, 1000, 3000)
    n_out: int = 1000
    samples: int = 1000
    batch: int = 100
    rc_steps: int = 10
    ttfs_steps: int = 20
    e_rev: float = 2.0  # E+ = -E- (normalised potential)
    ttfs_window: float = 4.0  # TTFS window T; inputs stay in [0, 1]
    ttfs_t_ref: float = 3.2  # the initialisation's target firing time (imcpnn.families.ttfs_weight_bound)
    device: str = "cpu"
    dtype: str = "float32"
    seed: int = 0
    max_case_seconds: float | None = None
    bound_repeats: int = 7
    summary_n_in: int = 1000
    include_ode: bool = True
    ode: OdeBaselineSettings = field(default_factory=_default_ode)  # the torchdiffeq baseline
    case_timeout: float = 3600.0  # seconds before a child is killed
    threads: int | None = None  # torch intra-op threads in the children (None: torch's default)
    exact_batch: int | None = None  # run exact cases on this smaller batch, peak scaled to ``batch`` (quick)

    def __post_init__(self) -> None:
        object.__setattr__(self, "n_ins", tuple(self.n_ins))
        if isinstance(self.ode, Mapping):
            object.__setattr__(self, "ode", OdeBaselineSettings.from_dict(self.ode))

    @property
    def params(self) -> NeuronParams:
        """The neurons' parameters: ``E± = ±e_rev``, window ``ttfs_window`` (RC-Spike's is fixed at 1)."""
        return NeuronParams.symmetric(self.e_rev, window=self.ttfs_window)

    def to_dict(self) -> dict[str, Any]:
        """Plain values for JSON (the result's ``settings`` and the child processes' argument)."""
        out = {item.name: getattr(self, item.name) for item in fields(self)}
        out["n_ins"] = list(self.n_ins)
        out["ode"] = self.ode.to_dict()
        return out

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> BenchSettings:
        """The inverse of :meth:`to_dict`."""
        return cls(**values)


def quick_settings(**changes: Any) -> BenchSettings:
    """``--quick``: only ``N_in = 1000``, 200 samples, one torch thread, a small ODE run (RC-Spike only, 100
    neurons), and the exact cases on batches of 25 (time per sample extrapolated to 200 samples after 20 s,
    peak scaled by 4)."""
    base = BenchSettings(
        n_ins=(1000,),
        samples=200,
        max_case_seconds=20.0,
        exact_batch=25,
        bound_repeats=3,
        threads=1,
        ode=OdeBaselineSettings(samples=100, n_out=100, sweep_samples=20, ttfs=False),
    )
    return replace(base, **changes)
