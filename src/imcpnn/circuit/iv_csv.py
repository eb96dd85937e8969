"""Measured I-V curves in: the CSV schema, its reader, and the characterisation made from it without SPICE.

A lab measurement or another simulator's export of the three transistor roles becomes a
``characterization.json`` through the same fit as the SPICE sweeps
(:func:`~.characterize.fit_characterization`; CIRCUIT.md, "Model ↔ circuit flow", step 1, and Table 2).
The schema (docs/circuit.md, "Measured I-V curves"): UTF-8 text, comma-separated, a header row naming the
columns ``role``, ``V_G``, ``V_D`` and ``I`` (in any order, no others), then one row per measured point:

- ``role``: ``nmos`` (the synapse's NMOS memory transistor, its selector on), ``pmos`` (the synapse's
  PMOS memory transistor, its selector on) or ``discharger`` (the neuron's discharger, its phase switch on):
  the names of ``characterization.json``'s tables;
- ``V_G``: the gate voltage, volts to ground (the PMOS's source is at Vdd);
- ``V_D``: the drain (membrane) voltage, volts to ground;
- ``I``: the drain current's magnitude, amperes, > 0: what the NMOS and the discharger sink from the
  membrane, what the PMOS sources into it.

Blank lines and lines starting with ``#`` are skipped. The rows of one curve share one ``V_G`` value. The
file is data only: it is parsed with :mod:`csv` and :class:`float`, nothing is evaluated.
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import atomic_write_text, write_json
from ..outdir import check_output_folder
from .characterization import LAMBDA_CURRENT_RANGE, Characterization
from .characterize import FIT_RANGE_V, ROLES, IVCurve, fit_characterization, fit_details
from .config import CircuitConfig

#: The columns of the schema, in the order :func:`write_iv_csv` writes them.
COLUMNS = ("role", "V_G", "V_D", "I")
#: The units of the columns (docs/circuit.md, "Measured I-V curves").
UNITS = {"role": "", "V_G": "V", "V_D": "V", "I": "A"}
#: What each role is (the transistor the characterisation sweeps; CIRCUIT.md, "Model ↔ circuit flow", step 1).
ROLE_DESCRIPTIONS = {
    "nmos": "the synapse's NMOS memory transistor, selector on",
    "pmos": "the synapse's PMOS memory transistor, selector on",
    "discharger": "the neuron's discharger, phase switch on",
}
#: The fewest distinct V_D values in the fit range a curve needs: two fix the line, a third gives its R².
MIN_POINTS_PER_CURVE = 3
#: How close (V) a curve's point must lie to V0, and the discharger's gate bias to ``vb_dis``.
BIAS_TOLERANCE_V = 1e-3
#: Slack (V) of the fit range's ends, for voltages written with rounding.
_RANGE_SLACK_V = 1e-6
_SCHEMA = (
    "a header row role,V_G,V_D,I, then one row per point: role (nmos, pmos or discharger), V_G and V_D in volts "
    "to ground, I the drain current's magnitude in amperes (docs/circuit.md, 'Measured I-V curves')"
)


class IVCsvError(ValueError):
    """A CSV file of I-V curves that does not follow the schema; the message names the file, the line and
    what to do."""


@dataclass(frozen=True)
class MeasuredCurves:
    """The curves of a CSV file, checked against the schema (:func:`read_iv_csv`).

    ``curves``: per role, one :class:`IVCurve` per gate bias (ascending), holding the points in the fit
    range :data:`~.characterize.FIT_RANGE_V` by ascending V_D; ``first_lines``: the file's line of each
    curve's first row; ``points_outside_fit_range``: per role, the points left out of the fits.
    """

    path: Path
    sha256: str
    curves: dict[str, tuple[IVCurve, ...]]
    first_lines: dict[str, tuple[int, ...]]
    points_outside_fit_range: dict[str, int]


def read_iv_csv(path: Path | str, config: CircuitConfig | None = None) -> MeasuredCurves:
    """Read and check a CSV file of I-V curves (the module's schema) for the characterisation of ``config``.

    Besides the schema itself (the columns, the roles, finite numbers, currents > 0, no point given twice,
    all three roles), each curve needs :data:`MIN_POINTS_PER_CURVE` distinct V_D values in the fit range and
    a point within :data:`BIAS_TOLERANCE_V` of V0 (``config.v_rest``: the table's current is read there); the
    discharger needs a curve at ``config.vb_dis``; the synapse roles need a curve whose current at V0 lies in
    the range λN and λP are averaged over. Anything else raises :class:`IVCsvError` (a missing file:
    FileNotFoundError), naming the file, the line and the fix.
    """
    config = config or CircuitConfig()
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist or is not a file; give a CSV file of I-V curves: {_SCHEMA}")
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise IVCsvError(f"{path} is not UTF-8 text ({error}); save it as a UTF-8 CSV file: {_SCHEMA}") from None
    rows = list(_rows(path, text))
    if not rows:
        raise IVCsvError(f"{path} holds no header and no rows (only blank or # lines); give {_SCHEMA}")
    header_line, header = rows[0]
    _check_header(path, header_line, header)
    points = _points(path, header, rows[1:])
    missing = [role for role in ROLES if not any(key[0] == role for key in points)]
    if missing:
        raise IVCsvError(
            f"{path} has no rows for the role(s) {', '.join(missing)}; the characterisation needs all three: "
            + "; ".join(f"{role} ({ROLE_DESCRIPTIONS[role]})" for role in ROLES)
            + " (λN gives E+, λP gives E-, λdis gives β_dis)"
        )
    curves: dict[str, list[IVCurve]] = {role: [] for role in ROLES}
    first_lines: dict[str, list[int]] = {role: [] for role in ROLES}
    outside = dict.fromkeys(ROLES, 0)
    for (role, gate), rows_of_curve in sorted(points.items(), key=lambda item: (ROLES.index(item[0][0]), item[0][1])):
        curve, n_outside = _curve(path, config, role, gate, rows_of_curve)
        curves[role].append(curve)
        first_lines[role].append(min(line for _, _, line in rows_of_curve))
        outside[role] += n_outside
    measured = MeasuredCurves(
        path=path,
        sha256=hashlib.sha256(data).hexdigest(),
        curves={role: tuple(c) for role, c in curves.items()},
        first_lines={role: tuple(lines) for role, lines in first_lines.items()},
        points_outside_fit_range=outside,
    )
    _check_discharger_bias(measured, config)
    for role in ("nmos", "pmos"):
        _check_lambda_range(measured, config, role)
    return measured


def characterize_from_csv(
    csv_path: Path | str,
    out_dir: Path | str | None = None,
    config: CircuitConfig | None = None,
    *,
    c_eff_f: float | None = None,
) -> Characterization:
    """The :class:`Characterization` of the measured I-V curves in ``csv_path`` (no SPICE); writes
    ``out_dir/characterization.json`` when ``out_dir`` is given.

    The curves (:func:`read_iv_csv`) go through :func:`~.characterize.fit_characterization`, the fit of the
    SPICE characterisation, so E+, E- and β_dis follow CIRCUIT.md Table 2 in the same way; V0, Vth_circ and
    ``vb_dis`` are ``config``'s. A CSV of DC curves cannot give the effective membrane capacitance nor the
    firing-ramp check (neuron transients): ``c_eff_f`` (F) supplies the former, else it is NaN (``null``);
    ``details["not_measured"]`` says what is missing and why. ``details`` also records the source
    (``"source": "csv"``, the file's name and the SHA-256 of its bytes) and the points per role.
    """
    config = config or CircuitConfig()
    if c_eff_f is not None and not (isinstance(c_eff_f, (int, float)) and math.isfinite(c_eff_f) and c_eff_f > 0):
        raise ValueError(f"c_eff_f must be a finite capacitance > 0 in farads (e.g. 115e-15); got {c_eff_f!r}")
    if out_dir is not None:
        check_output_folder(out_dir, "out_dir")
    measured = read_iv_csv(csv_path, config)
    c_eff = math.nan if c_eff_f is None else float(c_eff_f)
    tables, fitted = fit_characterization(measured.curves, config, c_eff)
    _check_fits(measured, tables, fitted)
    result = replace(fitted, details=_csv_details(measured, tables, config, c_eff))
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        write_json(out / "characterization.json", result.to_dict(), indent=1, default=None)
    return result


def write_iv_csv(path: Path | str, curves: Mapping[str, Sequence[IVCurve]], comment: str | None = None) -> Path:
    """Write I-V curves in the module's schema (e.g. the SPICE sweeps of
    :func:`~.characterize.measure_iv_curves`), each value as the shortest text that reads back to the same
    float; ``comment`` becomes leading ``#`` lines. Returns ``path``."""
    unknown = sorted(set(curves) - set(ROLES))
    if unknown:
        raise ValueError(f"unknown roles {unknown}; the roles are {', '.join(ROLES)}")
    lines = [f"# {line}".rstrip() for line in comment.splitlines()] if comment else []
    lines.append(",".join(COLUMNS))
    for role in (r for r in ROLES if r in curves):
        for curve in curves[role]:
            for drain, current in zip(curve.drain_v, curve.current_a, strict=True):
                lines.append(f"{role},{float(curve.gate_v)!r},{float(drain)!r},{float(current)!r}")
    return atomic_write_text(path, "\n".join(lines) + "\n")


def _rows(path: Path, text: str) -> Iterator[tuple[int, list[str]]]:
    """``(line, stripped cells)`` of each row that is neither blank nor a ``#`` comment."""
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        for cells in reader:
            stripped = [cell.strip() for cell in cells]
            if any(stripped) and not stripped[0].startswith("#"):
                yield reader.line_num, stripped
    except csv.Error as error:
        raise IVCsvError(
            f"{path}, line {reader.line_num}: not readable as CSV ({error}); give plain comma-separated values: "
            f"{_SCHEMA}"
        ) from None


def _check_header(path: Path, line: int, header: list[str]) -> None:
    missing = [name for name in COLUMNS if name not in header]
    duplicated = sorted({name for name in header if header.count(name) > 1})
    unexpected = [name for name in header if name not in COLUMNS]
    problems = []
    if missing:
        problems.append(f"lacks the column(s) {', '.join(missing)}")
    if duplicated:
        problems.append(f"names {', '.join(duplicated)} twice")
    if unexpected:
        problems.append(f"has the unknown column(s) {', '.join(repr(name) for name in unexpected)}")
    if problems:
        raise IVCsvError(
            f"{path}, line {line}: the header {','.join(header)!r} {' and '.join(problems)}; it must name exactly "
            "the columns role, V_G, V_D, I (case-sensitive, any order; V_G and V_D in volts, I in amperes): "
            f"{_SCHEMA}"
        )


def _points(
    path: Path, header: list[str], rows: list[tuple[int, list[str]]]
) -> dict[tuple[str, float], list[tuple[float, float, int]]]:
    """The data rows by curve: ``(role, V_G) -> [(V_D, I, line)]``, each row checked."""
    column = {name: header.index(name) for name in COLUMNS}
    points: dict[tuple[str, float], list[tuple[float, float, int]]] = {}
    seen: dict[tuple[str, float, float], int] = {}
    for line, cells in rows:
        if len(cells) != len(header):
            raise IVCsvError(
                f"{path}, line {line}: {len(cells)} fields, but the header has {len(header)} "
                f"({','.join(header)}); give one value per column"
            )
        role = cells[column["role"]].lower()
        if role not in ROLES:
            raise IVCsvError(
                f"{path}, line {line}: unknown role {cells[column['role']]!r}; the roles are "
                + "; ".join(f"{name} ({ROLE_DESCRIPTIONS[name]})" for name in ROLES)
            )
        gate, drain, current = (_number(path, line, name, cells[column[name]]) for name in ("V_G", "V_D", "I"))
        if current <= 0:
            raise IVCsvError(
                f"{path}, line {line}: I = {cells[column['I']]} A, but the currents must be > 0: I is the drain "
                "current's magnitude (the weight -> bias table works in log I). Flip the sign of an export that "
                "counts a sinking current as negative; leave out points at the instrument's noise floor"
            )
        key = (role, gate, drain)
        if key in seen:
            raise IVCsvError(
                f"{path}, line {line} repeats the point of line {seen[key]} (role {role}, V_G = {gate:g} V, "
                f"V_D = {drain:g} V); keep one row per point (average repeated measurements first)"
            )
        seen[key] = line
        points.setdefault((role, gate), []).append((drain, current, line))
    return points


def _number(path: Path, line: int, name: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise IVCsvError(
            f"{path}, line {line}: the {name} value {text!r} is not a number; give {name} in "
            f"{'amperes' if name == 'I' else 'volts'} as a plain number (e.g. {'1.03e-07' if name == 'I' else '1.3'})"
        ) from None
    if not math.isfinite(value):
        raise IVCsvError(
            f"{path}, line {line}: the {name} value is {text!r}; every value must be a finite number: fill in the "
            "measured value or remove the row"
        )
    return value


def _curve(
    path: Path, config: CircuitConfig, role: str, gate: float, rows: list[tuple[float, float, int]]
) -> tuple[IVCurve, int]:
    """One curve's points in the fit range (by V_D), checked for the λ fit and the current at V0; and the
    number of points left out."""
    low, high = FIT_RANGE_V
    first = min(line for _, _, line in rows)
    where = f"{path}, line {first}: the {role} curve at V_G = {gate:g} V"
    inside = sorted((d, i) for d, i, _ in rows if low - _RANGE_SLACK_V <= d <= high + _RANGE_SLACK_V)
    if len(inside) < MIN_POINTS_PER_CURVE:
        raise IVCsvError(
            f"{where} has {len(inside)} point(s) with V_D in the fit range {low:g}-{high:g} V ({len(rows)} in all); "
            f"the λ fit needs at least {MIN_POINTS_PER_CURVE} distinct drain voltages there: measure the curve "
            "over the membrane range, or leave the gate bias out"
        )
    drain = np.array([d for d, _ in inside])
    current = np.array([i for _, i in inside])
    nearest = float(drain[int(np.argmin(np.abs(drain - config.v_rest)))])
    if abs(nearest - config.v_rest) > BIAS_TOLERANCE_V:
        raise IVCsvError(
            f"{where} has no point at V0 = {config.v_rest:g} V (the nearest is V_D = {nearest:g} V); the table's "
            f"current is read at V0: add a point at V_D = {config.v_rest:g} V (within {BIAS_TOLERANCE_V * 1e3:g} mV)"
        )
    return IVCurve(gate_v=gate, drain_v=drain, current_a=current), len(rows) - len(inside)


def _check_discharger_bias(measured: MeasuredCurves, config: CircuitConfig) -> None:
    gates = np.array([c.gate_v for c in measured.curves["discharger"]])
    k = int(np.argmin(np.abs(gates - config.vb_dis)))
    if abs(gates[k] - config.vb_dis) > BIAS_TOLERANCE_V:
        raise IVCsvError(
            f"{measured.path}: no discharger curve at the circuit's discharger bias Vb_dis = {config.vb_dis:g} V "
            f"(the nearest is V_G = {gates[k]:g} V, line {measured.first_lines['discharger'][k]}); λdis is the fit "
            f"at Vb_dis: add that curve (within {BIAS_TOLERANCE_V * 1e3:g} mV), or give the bias the discharger "
            "runs at (--vb-dis; Python: CircuitConfig(vb_dis=...))"
        )


def _current_at_v0(curve: IVCurve, v0: float) -> float:
    return float(curve.current_a[int(np.argmin(np.abs(curve.drain_v - v0)))])


def _check_lambda_range(measured: MeasuredCurves, config: CircuitConfig, role: str) -> None:
    """At least one curve of a synapse role within the current range that λ is averaged over."""
    low, high = (f * config.unit_current for f in LAMBDA_CURRENT_RANGE)
    currents = np.array([_current_at_v0(c, config.v_rest) for c in measured.curves[role]])
    if not np.any((currents >= low) & (currents <= high)):
        name = "λN" if role == "nmos" else "λP"
        raise IVCsvError(
            f"{measured.path}: no {role} curve has its current at V0 = {config.v_rest:g} V within "
            f"{low * 1e9:.3g}-{high * 1e9:.3g} nA, the currents of trained weights over which {name} is averaged "
            f"(the {role} currents at V0 span {currents.min() * 1e9:.3g}-{currents.max() * 1e9:.3g} nA): add "
            "curves at gate biases that give currents in that range"
        )


def _check_fits(measured: MeasuredCurves, tables: dict[str, Any], fitted: Characterization) -> None:
    """Every row's fit finite; λN, λP > 0 and 0 < β_dis < 1, without which E+, E- and β_dis (Table 2) mean
    nothing."""
    for role in ROLES:
        table = tables[role]
        bad = np.flatnonzero(~(np.isfinite(table.lam) & np.isfinite(table.r2)))
        if bad.size:
            k = int(bad[0])
            raise IVCsvError(
                f"{measured.path}, line {measured.first_lines[role][k]}: the fit of the {role} curve at "
                f"V_G = {table.gate_v[k]:g} V gives λ = {table.lam[k]:g} /V, R² = {table.r2[k]:g}; check its "
                "currents (I is the drain current's magnitude in amperes, V_D the drain voltage in volts)"
            )
    for name, value, role in (("λN", fitted.lambda_n, "nmos"), ("λP", fitted.lambda_p, "pmos")):
        if not value > 0:
            raise IVCsvError(
                f"{measured.path}: the fitted {name} is {value:.4g} /V, but it must be > 0 (E± = ±1/(Vth_circ λ)): "
                f"the {role} current must grow as the membrane moves away from V0 (NMOS: V_D up, PMOS: V_D down); "
                "check that V_D is the drain voltage and I the current of that curve"
            )
    if not 0 < fitted.beta_dis < 1:
        raise IVCsvError(
            f"{measured.path}: the fitted λdis is {fitted.lambda_dis:.4g} /V, so β_dis = Vth_circ λdis = "
            f"{fitted.beta_dis:.4g}, but the model needs 0 < β_dis < 1; check the discharger curve at Vb_dis"
        )


def _csv_details(
    measured: MeasuredCurves, tables: dict[str, Any], config: CircuitConfig, c_eff: float
) -> dict[str, Any]:
    """``characterization.json``'s details for a CSV source: where the curves came from, the fit's
    definitions, what a CSV cannot give and why."""
    not_measured = {
        "firing_ramp": "a CSV of DC I-V curves holds no neuron transient; `imcpnn circuit characterize` (SPICE) "
        "runs the firing-ramp check",
        "v_switch_effective": "needs the same transient; the model uses the design value, Vth_circ = V0 - Vswitch "
        "(config)",
    }
    if not math.isfinite(c_eff):
        not_measured["c_eff_f"] = (
            "a CSV of DC I-V curves cannot give the membrane capacitance (a transient); give it with --c-eff F "
            "(Python: c_eff_f=...), e.g. from `imcpnn circuit characterize` or a measurement; without it the "
            "current-scale search of `imcpnn circuit compare` starts from 1"
        )
    return {
        "source": "csv",
        "source_file": measured.path.name,
        "source_sha256": measured.sha256,
        **fit_details(tables, config),
        "c_eff_over_c_m": c_eff / config.c_m if math.isfinite(c_eff) else None,
        "c_eff_source": "given (c_eff_f, --c-eff)" if math.isfinite(c_eff) else None,
        "v_switch_effective": None,
        "firing_ramp": [],
        "not_measured": not_measured,
        "csv_curves": {
            role: {
                "curves": len(curves),
                "points_fitted": int(sum(c.drain_v.size for c in curves)),
                "points_outside_fit_range": measured.points_outside_fit_range[role],
            }
            for role, curves in measured.curves.items()
        },
        "config": config.to_dict(),
    }
