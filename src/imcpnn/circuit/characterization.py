"""The characterisation's results: the fitted non-idealities, the weight -> bias tables, and the spec's formulas.

CIRCUIT.md, "Model ↔ circuit flow", step 1, and Table 2. Each I-V curve is fitted with
``I = I0 (1 + λ ΔV)`` (:func:`fit_channel_length_modulation`), where ``ΔV = V - V0`` for the NMOS
roles and ``ΔV = V0 - V`` for the PMOS (so that λ > 0 for all). Then (:class:`Characterization`, the
one place of these formulas) ``E+ = 1 / (Vth_circ λN)``, ``E- = -1 / (Vth_circ λP)``,
``E_dis = 1 / (Vth_circ λdis)`` and ``β_dis = 1 / E_dis``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..params import NeuronParams

#: λN and λP are averaged over the table rows whose current at V0 lies in this range, in units of
#: the unit-weight current C_m Vth_circ / T_circ (122 nA): the currents trained weights use.
LAMBDA_CURRENT_RANGE = (0.05, 1.0)
#: The keys of ``characterization.json`` that :meth:`Characterization.to_dict` derives from its fields;
#: the others are its ``details``.
_FITTED_KEYS = frozenset({
    "lambda_n", "lambda_p", "lambda_dis", "r2", "e_rev_pos", "e_rev_neg", "e_dis", "beta_dis", "vth_circ", "v_rest",
    "discharger_current_a", "c_eff_f", "tables", "mismatch",
})  # fmt: skip
#: The keys :meth:`Characterization.from_dict` needs.
_REQUIRED_KEYS = frozenset({
    "lambda_n", "lambda_p", "lambda_dis", "r2", "vth_circ", "v_rest", "discharger_current_a", "tables",
})  # fmt: skip


@dataclass(frozen=True)
class BiasTable:
    """Per gate bias: current at V0 (A), fitted λ (1/V) and R² of the linear fit."""

    gate_v: np.ndarray
    current_a: np.ndarray
    lam: np.ndarray
    r2: np.ndarray

    def to_dict(self) -> dict[str, list[float]]:
        return {
            "gate_v": self.gate_v.round(6).tolist(),
            "current_a": self.current_a.tolist(),
            "lambda": self.lam.round(6).tolist(),
            "r2": self.r2.round(8).tolist(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, list[float]]) -> BiasTable:
        return cls(*(np.asarray(data[k], dtype=float) for k in ("gate_v", "current_a", "lambda", "r2")))

    def _monotone_curve(self) -> tuple[np.ndarray, np.ndarray]:
        """``(log I, V_G)`` ordered by current, strictly increasing in log I (what PCHIP needs either way)."""
        order = np.argsort(self.current_a)
        log_i, gate = np.log(self.current_a[order]), self.gate_v[order]
        keep = np.concatenate([[True], np.diff(log_i) > 1e-9])
        return log_i[keep], gate[keep]

    def current_at_gate(self, gate_v: np.ndarray | float) -> np.ndarray:
        """Current at V0 (A) for gate biases ``gate_v`` (V), clipped to the table's gate span: the inverse of
        :meth:`gate_for_current`, by the same monotone (PCHIP) interpolation in log I."""
        from scipy.interpolate import PchipInterpolator

        log_i, gate = self._monotone_curve()
        order = np.argsort(gate)  # NMOS: the current's order; PMOS: reversed
        gate_v = np.clip(np.asarray(gate_v, dtype=float), gate[order][0], gate[order][-1])
        return np.exp(PchipInterpolator(gate[order], log_i[order])(gate_v))

    def gate_for_current(self, current_a: np.ndarray | float) -> np.ndarray:
        """Gate bias (V) giving ``current_a`` (A, > 0) at V0, by monotone (PCHIP) interpolation in log I."""
        from scipy.interpolate import PchipInterpolator

        current = np.asarray(current_a, dtype=float)
        log_i, gate = self._monotone_curve()
        low, high = float(np.exp(log_i[0])), float(np.exp(log_i[-1]))
        bad = (current < low) | (current > high) | ~np.isfinite(current)
        if bad.any():
            worst = current[bad].flat[0]
            raise ValueError(
                f"current {worst:.4g} A is outside the characterised range [{low:.3g}, {high:.3g}] A; "
                "use smaller weights or scales, or widen the gate grid of the characterisation"
            )
        return PchipInterpolator(log_i, gate)(np.log(current))


def _floats(values: Any) -> np.ndarray:
    return np.asarray(values, dtype=float)


@dataclass(frozen=True)
class DeviceMismatch:
    """Monte-Carlo DC statistics of one transistor role at one size, per gate bias (VARIATION.md section 3).

    ``role``: ``nmos`` / ``pmos`` (the synapse's memory transistors) or ``discharger``; ``w_um``, ``l_um``: its
    size (µm). Per gate bias ``gate_v`` (V, to ground) [g], at V_D = V0: ``nominal_current_a`` (A, mismatch off)
    and ``nominal_lambda`` (1/V); over the instances: ``mean_current_a`` (A), ``sigma_current_rel`` (std(I) /
    mean(I)), ``mean_lambda`` and ``sigma_lambda`` (1/V, the per-instance fit ``I = I0 (1 + λ ΔV)`` over the
    membrane range, as the nominal characterisation fits it) and ``sigma_vth_v`` (V: the std of each instance's
    gate-referred offset, the gate shift that gives the nominal device its current).
    """

    role: str
    w_um: float
    l_um: float
    gate_v: np.ndarray
    nominal_current_a: np.ndarray
    nominal_lambda: np.ndarray
    mean_current_a: np.ndarray
    sigma_current_rel: np.ndarray
    mean_lambda: np.ndarray
    sigma_lambda: np.ndarray
    sigma_vth_v: np.ndarray

    _ARRAYS = (
        "gate_v", "nominal_current_a", "nominal_lambda", "mean_current_a", "sigma_current_rel", "mean_lambda",
        "sigma_lambda", "sigma_vth_v",
    )  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        return {"role": self.role, "w_um": self.w_um, "l_um": self.l_um} | {
            name: getattr(self, name).tolist() for name in self._ARRAYS
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DeviceMismatch:
        arrays = {name: _floats(data[name]) for name in cls._ARRAYS}
        if len({a.shape for a in arrays.values()}) != 1 or arrays["gate_v"].ndim != 1:
            raise ValueError(f"mismatch.devices ({data['role']}) has columns of different lengths")
        return cls(role=str(data["role"]), w_um=float(data["w_um"]), l_um=float(data["l_um"]), **arrays)


@dataclass(frozen=True)
class PelgromFit:
    """The area law ``σ(Vth) = A_VT / sqrt(W L)`` of one role, fitted over its sizes at one gate bias
    (VARIATION.md section 3): ``w_um``, ``l_um`` [s] (µm), the measured ``sigma_vth_v`` [s] (V) and
    ``sigma_current_rel`` [s] there, the Pelgrom constant ``a_vt_v_um`` (V·µm; least squares through the origin
    in ``1/sqrt(W L)``) and the fit's ``r2``."""

    role: str
    gate_v: float
    w_um: np.ndarray
    l_um: np.ndarray
    sigma_vth_v: np.ndarray
    sigma_current_rel: np.ndarray
    a_vt_v_um: float
    r2: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "role": self.role, "gate_v": self.gate_v, "w_um": self.w_um.tolist(), "l_um": self.l_um.tolist(),
            "sigma_vth_v": self.sigma_vth_v.tolist(), "sigma_current_rel": self.sigma_current_rel.tolist(),
            "a_vt_v_um": self.a_vt_v_um, "r2": self.r2,
        }  # fmt: skip

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PelgromFit:
        return cls(
            role=str(data["role"]), gate_v=float(data["gate_v"]), w_um=_floats(data["w_um"]),
            l_um=_floats(data["l_um"]), sigma_vth_v=_floats(data["sigma_vth_v"]),
            sigma_current_rel=_floats(data["sigma_current_rel"]), a_vt_v_um=float(data["a_vt_v_um"]),
            r2=float(data["r2"]),
        )  # fmt: skip


@dataclass(frozen=True)
class MismatchStatistics:
    """The Monte-Carlo DC characterisation of device mismatch (VARIATION.md sections 1 and 3): the sky130
    library section (``<corner>_mm``: ``MC_MM_SWITCH=1``), corner, temperature (°C), ngspice's ``seed`` and the
    number of instances per device, the statistics of each role and size (:class:`DeviceMismatch`) and the
    area law per role (:class:`PelgromFit`)."""

    library_section: str
    corner: str
    temperature_c: float
    seed: int
    instances: int
    devices: tuple[DeviceMismatch, ...]
    pelgrom: tuple[PelgromFit, ...]
    wall_time_s: float

    def device(self, role: str, w_um: float, l_um: float) -> DeviceMismatch:
        """The statistics of ``role`` at ``W x L`` (µm); a KeyError when it was not measured."""
        for item in self.devices:
            if item.role == role and math.isclose(item.w_um, w_um) and math.isclose(item.l_um, l_um):
                return item
        raise KeyError(f"no mismatch statistics of the {role} role at W={w_um} µm, L={l_um} µm")

    def to_dict(self) -> dict[str, Any]:
        return {
            "library_section": self.library_section, "corner": self.corner, "temperature_c": self.temperature_c,
            "seed": self.seed, "instances": self.instances, "devices": [d.to_dict() for d in self.devices],
            "pelgrom": [p.to_dict() for p in self.pelgrom], "wall_time_s": self.wall_time_s,
        }  # fmt: skip

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MismatchStatistics:
        return cls(
            library_section=str(data["library_section"]), corner=str(data["corner"]),
            temperature_c=float(data["temperature_c"]), seed=int(data["seed"]), instances=int(data["instances"]),
            devices=tuple(DeviceMismatch.from_dict(d) for d in data["devices"]),
            pelgrom=tuple(PelgromFit.from_dict(p) for p in data["pelgrom"]), wall_time_s=float(data["wall_time_s"]),
        )  # fmt: skip


@dataclass(frozen=True)
class Characterization:
    """The fitted non-idealities and the weight -> bias tables (what ``characterization.json`` holds)."""

    lambda_n: float  # 1/V
    lambda_p: float
    lambda_dis: float
    r2_n: float  # worst R² over the rows averaged into λ
    r2_p: float
    r2_dis: float
    vth_circ: float  # V
    v_rest: float  # V
    nmos: BiasTable
    pmos: BiasTable
    discharger: BiasTable
    discharger_current_a: float  # A, discharger current at V0 and vb_dis
    c_eff_f: float  # F, effective membrane capacitance measured in transient (NaN if not measured)
    details: dict[str, Any]
    mismatch: MismatchStatistics | None = None  # the Monte-Carlo DC statistics (None: not measured)

    # The spec's formulas (CIRCUIT.md, Table 2), each in one place.
    @property
    def e_rev_pos(self) -> float:
        """``E+ = 1 / (Vth_circ λN)``."""
        return 1.0 / (self.vth_circ * self.lambda_n)

    @property
    def e_rev_neg(self) -> float:
        """``E- = -1 / (Vth_circ λP)``."""
        return -1.0 / (self.vth_circ * self.lambda_p)

    @property
    def beta_dis(self) -> float:
        """``β_dis = 1 / E_dis = Vth_circ λdis``."""
        return self.vth_circ * self.lambda_dis

    @property
    def e_dis(self) -> float:
        """``E_dis = 1 / (Vth_circ λdis) = 1 / β_dis``."""
        return 1.0 / self.beta_dis

    @property
    def neuron_params(self) -> NeuronParams:
        """The physical model of the PNN-to-IMC flow: the characterised ``E±`` and ``β_dis``."""
        return NeuronParams(e_rev_pos=self.e_rev_pos, e_rev_neg=self.e_rev_neg, beta_dis=self.beta_dis)

    def to_dict(self) -> dict[str, Any]:
        return {
            "lambda_n": self.lambda_n,
            "lambda_p": self.lambda_p,
            "lambda_dis": self.lambda_dis,
            "r2": {"nmos": self.r2_n, "pmos": self.r2_p, "discharger": self.r2_dis},
            "e_rev_pos": self.e_rev_pos,
            "e_rev_neg": self.e_rev_neg,
            "e_dis": self.e_dis,
            "beta_dis": self.beta_dis,
            "vth_circ": self.vth_circ,
            "v_rest": self.v_rest,
            "discharger_current_a": self.discharger_current_a,
            "c_eff_f": self.c_eff_f,
            "tables": {
                "nmos": self.nmos.to_dict(),
                "pmos": self.pmos.to_dict(),
                "discharger": self.discharger.to_dict(),
            },
            **({"mismatch": self.mismatch.to_dict()} if self.mismatch is not None else {}),
            **self.details,
        }

    @property
    def corner(self) -> str | None:
        """The sky130 corner the devices were characterised at (None: not recorded, e.g. measured curves)."""
        config = self.details.get("config")
        return config.get("corner") if isinstance(config, dict) else None

    @property
    def temperature_c(self) -> float | None:
        """The temperature (°C) the devices were characterised at (None: not recorded)."""
        config = self.details.get("config")
        value = config.get("temperature") if isinstance(config, dict) else None
        return float(value) if value is not None else None

    @property
    def discharger_trim(self) -> Any:
        """The calibration of Vb_dis (:class:`~.characterize.DischargerTrim`; None when not recorded)."""
        from .characterize import DischargerTrim

        data = self.details.get("discharger_trim")
        return DischargerTrim.from_dict(data) if isinstance(data, dict) else None

    @property
    def sense_trim(self) -> Any:
        """The calibration of Vb_sense (:class:`~.characterize.SenseTrim`; None when not recorded, e.g. files made
        before it existed)."""
        from .characterize import SenseTrim

        data = self.details.get("sense_trim")
        return SenseTrim.from_dict(data) if isinstance(data, dict) else None

    def circuit_config(self) -> Any:
        """The :class:`~.config.CircuitConfig` the characterisation was made with, its trimmed ``vb_sense`` and
        ``vb_dis`` included (None when the file records none)."""
        from .config import CircuitConfig

        config = self.details.get("config")
        return CircuitConfig.from_dict(config) if isinstance(config, dict) else None

    def digest(self) -> str:
        """A hash of :meth:`to_dict` (the same for this object and its ``characterization.json`` read back):
        the part of a simulation's cache key that names the characterisation its biases were mapped with."""
        from .cache import stable_digest

        return stable_digest(self.to_dict())

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "the characterisation") -> Characterization:
        """The characterisation of a ``characterization.json``'s content (:meth:`to_dict`); a ValueError
        naming ``source`` and the missing or malformed entry when it is not one."""
        if not isinstance(data, dict):
            raise ValueError(
                f"{source} is not a JSON object of a characterisation (it holds a {type(data).__name__}); make one "
                "with `imcpnn circuit characterize --out DIR`"
            )
        missing = sorted(_REQUIRED_KEYS - set(data))
        if missing:
            raise ValueError(
                f"{source} lacks {', '.join(missing)}: it is not a complete characterization.json; make one with "
                "`imcpnn circuit characterize --out DIR`"
            )
        try:
            return cls._from_dict(data)
        except (KeyError, TypeError, ValueError, IndexError) as error:
            raise ValueError(
                f"{source} has a malformed entry ({type(error).__name__}: {error}); make a new one with "
                "`imcpnn circuit characterize --out DIR`"
            ) from None

    @classmethod
    def _from_dict(cls, data: dict[str, Any]) -> Characterization:
        tables = {role: BiasTable.from_dict(data["tables"][role]) for role in ("nmos", "pmos", "discharger")}
        for role, table in tables.items():
            sizes = {len(table.gate_v), len(table.current_a), len(table.lam), len(table.r2)}
            if len(sizes) != 1 or table.gate_v.ndim != 1:
                raise ValueError(f"tables.{role} has columns of different lengths")
        return cls(
            lambda_n=float(data["lambda_n"]),
            lambda_p=float(data["lambda_p"]),
            lambda_dis=float(data["lambda_dis"]),
            r2_n=float(data["r2"]["nmos"]),
            r2_p=float(data["r2"]["pmos"]),
            r2_dis=float(data["r2"]["discharger"]),
            vth_circ=float(data["vth_circ"]),
            v_rest=float(data["v_rest"]),
            nmos=tables["nmos"],
            pmos=tables["pmos"],
            discharger=tables["discharger"],
            discharger_current_a=float(data["discharger_current_a"]),
            c_eff_f=float(data["c_eff_f"]) if data.get("c_eff_f") is not None else math.nan,
            details={k: v for k, v in data.items() if k not in _FITTED_KEYS},
            mismatch=MismatchStatistics.from_dict(data["mismatch"]) if data.get("mismatch") is not None else None,
        )

    @classmethod
    def load(cls, path: Path | str) -> Characterization:
        """Read a ``characterization.json`` written by :func:`~imcpnn.circuit.characterize.characterize`.

        A missing file raises FileNotFoundError, one that is not JSON or not a characterisation a
        ValueError; both name the file and how to make a new one.
        """
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(
                f"{path} does not exist or is not a file; make one with "
                f"`imcpnn circuit characterize --out {path.parent}`"
            )
        try:
            data = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise ValueError(
                f"{path} is not JSON ({error}); make a new one with `imcpnn circuit characterize --out {path.parent}`"
            ) from None
        return cls.from_dict(data, source=str(path))


def fit_channel_length_modulation(
    drain_v: np.ndarray, current_a: np.ndarray, v0: float, pmos: bool
) -> tuple[float, float, float]:
    """Least-squares ``I = I0 (1 + λ ΔV)``: returns ``(I0 [A], λ [1/V], R²)``.

    ``ΔV = V - V0`` (NMOS: the current grows with the drain voltage) or ``V0 - V`` (PMOS).
    """
    delta = (v0 - drain_v) if pmos else (drain_v - v0)
    design = np.stack([np.ones_like(delta), delta], axis=1)
    (intercept, slope), *_ = np.linalg.lstsq(design, current_a, rcond=None)
    residual = current_a - design @ np.array([intercept, slope])
    total = np.sum((current_a - current_a.mean()) ** 2)
    r2 = 1.0 - float(np.sum(residual**2) / total) if total > 0 else 1.0
    return float(intercept), float(slope / intercept), r2
