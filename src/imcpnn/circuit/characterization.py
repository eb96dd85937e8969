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
    "discharger_current_a", "c_eff_f", "tables",
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

    def gate_for_current(self, current_a: np.ndarray | float) -> np.ndarray:
        """Gate bias (V) giving ``current_a`` (A, > 0) at V0, by monotone (PCHIP) interpolation in log I."""
        from scipy.interpolate import PchipInterpolator

        current = np.asarray(current_a, dtype=float)
        order = np.argsort(self.current_a)
        log_i, gate = np.log(self.current_a[order]), self.gate_v[order]
        keep = np.concatenate([[True], np.diff(log_i) > 1e-9])  # strictly increasing for PCHIP
        log_i, gate = log_i[keep], gate[keep]
        low, high = float(np.exp(log_i[0])), float(np.exp(log_i[-1]))
        bad = (current < low) | (current > high) | ~np.isfinite(current)
        if bad.any():
            worst = current[bad].flat[0]
            raise ValueError(
                f"current {worst:.4g} A is outside the characterised range [{low:.3g}, {high:.3g}] A; "
                "use smaller weights or scales, or widen the gate grid of the characterisation"
            )
        return PchipInterpolator(log_i, gate)(np.log(current))


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
            **self.details,
        }

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
