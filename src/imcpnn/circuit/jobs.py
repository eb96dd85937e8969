"""One simulation job and its result: what is simulated, what came back, and when a result may be reused.

A job's digest (:meth:`SampleJob.digest`) hashes everything that determines the simulation: input times,
gate biases, extra netlist lines, the job's ``context`` (the characterisation), the circuit config with
its corner and temperature, the netlist revision and the sky130 models' version.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

import numpy as np

from .cache import stable_digest
from .config import CircuitConfig
from .energy import EnergyBreakdown
from .netlist import NETLIST_REVISION, LayerBiases, check_name, check_netlist_line

#: Failure causes that the same inputs reproduce: a rerun keeps them (unless ``retry_failed``).
DETERMINISTIC_CAUSES = frozenset({"netlist error", "non-convergence", "ValueError"})
#: The cause recorded for a simulation whose process died or raised outside the simulation's own checks.
CRASHED = "worker crashed"


@functools.lru_cache(maxsize=1)
def _models_version() -> str:
    try:
        return metadata.version("sky130")
    except metadata.PackageNotFoundError:
        return "unknown"


def _exact(values: np.ndarray) -> list[Any]:
    """Floats as exact hex strings (``inf``, ``nan`` included), nested like ``values``."""
    return np.vectorize(float.hex, otypes=[object])(np.asarray(values, dtype=float)).tolist()


@dataclass(frozen=True)
class SampleJob:
    """One sample to simulate: a unique ``key``, normalised input spike times, gate biases per layer.

    ``extra_lines`` are appended to the netlist (test fixtures such as an ideal current source);
    ``context`` names what else the job stands for in the cache key (e.g. the digest of the
    characterisation its biases were mapped with). The key is a name of ``[A-Za-z0-9_.+-]``: it
    becomes a file and netlist name.
    """

    key: str
    input_times: tuple[float, ...]
    biases: tuple[LayerBiases, ...]
    extra_lines: tuple[str, ...] = ()
    context: str = ""

    def __post_init__(self) -> None:
        check_name(self.key, "a job key")
        object.__setattr__(self, "input_times", tuple(float(t) for t in self.input_times))
        object.__setattr__(self, "biases", tuple(self.biases))
        object.__setattr__(self, "extra_lines", tuple(check_netlist_line(x, "extra_lines") for x in self.extra_lines))
        if not isinstance(self.context, str):
            raise ValueError(f"context must be a string (e.g. a digest); got {self.context!r}")

    def digest(self, config: CircuitConfig) -> str:
        """A hash of everything the simulation's result depends on (module doc): the cache key."""
        return stable_digest(
            {
                "netlist_revision": NETLIST_REVISION,
                "config": config.to_dict(),
                "sky130": _models_version(),
                "input_times": _exact(np.asarray(self.input_times)),
                "biases": [{"nmos": _exact(b.nmos), "pmos": _exact(b.pmos)} for b in self.biases],
                "extra_lines": list(self.extra_lines),
                "context": self.context,
            }
        )


@dataclass
class SampleResult:
    """The outcome of one job; ``spike_times[l]`` holds layer ``l+1``'s normalised firing times.

    A neuron that does not fire in its window has ``+inf``. ``waveforms`` (when kept) maps
    ``"time"`` (s) and the probed node names (``mem_l_i``, ``spike_l_i``, ``spike_0_j``) to volts.
    ``digest`` is the job's (:meth:`SampleJob.digest`); a failure keeps the last lines of ngspice's log
    in ``log_tail`` and the ngspice time limit it ran under in ``timeout_s``. ``energy``: the energy the
    sample's inference took, from the metered sources (:func:`imcpnn.circuit.energy.spice_energy`); None in a
    failure and in records written before the netlist was metered (revision 4).
    """

    key: str
    ok: bool
    spike_times: list[list[float]] = field(default_factory=list)
    cause: str = ""
    message: str = ""
    wall_s: float = 0.0
    waveforms: dict[str, np.ndarray] | None = None
    digest: str = ""
    log_tail: str = ""
    timeout_s: float | None = None
    energy: EnergyBreakdown | None = None

    def to_record(self) -> dict[str, Any]:
        """A JSON-serialisable record (``+inf`` written as ``null``), without the waveforms."""
        times = [[None if not math.isfinite(t) else t for t in layer] for layer in self.spike_times]
        record: dict[str, Any] = {
            "key": self.key,
            "digest": self.digest,
            "ok": self.ok,
            "spike_times": times,
            "cause": self.cause,
            "message": self.message,
            "wall_s": round(self.wall_s, 3),
        }
        if self.energy is not None:
            record["energy"] = self.energy.to_dict()
        if not self.ok:
            record["log_tail"] = self.log_tail
            record["timeout_s"] = self.timeout_s
        return record

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> SampleResult:
        """The result of a record; a ValueError when it is not one (missing key, wrong types)."""
        if not isinstance(record, dict) or not isinstance(record.get("key"), str):
            raise ValueError("not a record with a 'key'")
        if not isinstance(record.get("ok"), bool):
            raise ValueError("its 'ok' is not true or false")
        layers = record.get("spike_times", [])
        try:
            times = [[math.inf if t is None else float(t) for t in layer] for layer in layers]
        except (TypeError, ValueError):
            raise ValueError("its 'spike_times' are not lists of numbers") from None
        timeout = record.get("timeout_s")
        energy = record.get("energy")  # absent from records of before the energy meters
        return cls(
            key=record["key"],
            ok=record["ok"],
            spike_times=times,
            cause=str(record.get("cause", "")),
            message=str(record.get("message", "")),
            wall_s=float(record.get("wall_s", 0.0) or 0.0),
            digest=str(record.get("digest", "")),
            log_tail=str(record.get("log_tail", "")),
            timeout_s=float(timeout) if isinstance(timeout, (int, float)) else None,
            energy=EnergyBreakdown.from_dict(energy) if energy is not None else None,
        )

    def reusable_for(self, digest: str, timeout_s: float, retry_failed: bool = False) -> bool:
        """Whether a rerun of the job of ``digest`` under ``timeout_s`` may take this result instead of
        simulating: a success of the same digest, or a failure the same inputs reproduce (a netlist error,
        a non-convergence, a timeout under a limit at least as long), unless ``retry_failed``."""
        if not self.digest or self.digest != digest:
            return False
        if self.ok:
            return True
        if retry_failed:
            return False
        if self.cause in DETERMINISTIC_CAUSES:
            return True
        return self.cause == "timeout" and self.timeout_s is not None and self.timeout_s >= timeout_s
