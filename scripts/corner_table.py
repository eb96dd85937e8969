"""The characterisation at each sky130 corner and temperature, and the mismatch statistics (VARIATION.md 1, 3).

For every corner (tt, ss, ff, sf, fs) and temperature (-40, 27, 85 °C; ``--temps``), ``imcpnn.circuit.characterize``
with its calibrations of Vb_sense (the effective switching point to 0.428 V) and then Vb_dis (the neuron without
input fires at its window's end): λN, λP, λdis (1/V), E+, E-, β_dis, the trimmed Vb_sense and Vb_dis (V), the
effective switching point (V), C_eff (fF) and the worst firing-ramp error (ns). A corner where a calibration fails is
a row with its message. With ``--mismatch N``, also the Monte-Carlo DC statistics at tt, 27 °C, N instances per
device (σ(I)/I, σ(λ), σ(Vth) against gate bias; the Pelgrom constants).

Writes ``OUT/corner_table.csv``, ``OUT/corner_table.md``, ``OUT/<corner>_<temp>C/characterization.json`` and, with
``--mismatch``, ``OUT/mismatch_table.md`` and ``OUT/mismatch_tt_27C/characterization.json``.

    OMP_NUM_THREADS=1 nice -n 19 .venv/bin/python scripts/corner_table.py --out runs/corner_table --mismatch 200
"""

from __future__ import annotations

import argparse
import csv
import math
import time
from dataclasses import replace
from pathlib import Path

from imcpnn.circuit.characterization import MismatchStatistics
from imcpnn.circuit.characterize import DischargerTrimError, SenseTrimError, characterize
from imcpnn.circuit.config import SKY130_CORNERS, CircuitConfig
from imcpnn.circuit.mismatch import MismatchOptions, measure_mismatch

COLUMNS = (
    "corner", "temperature_c", "lambda_n_per_v", "lambda_p_per_v", "lambda_dis_per_v", "e_rev_pos", "e_rev_neg",
    "beta_dis", "vb_sense_v", "vb_sense_trimmed", "sense_rounds", "sense_transients", "vb_dis_v", "vb_dis_trimmed",
    "trim_error_ns", "v_switch_effective_v", "c_eff_ff", "worst_ramp_error_ns", "wall_s", "error",
)  # fmt: skip


def _row(corner: str, temperature: float, out: Path) -> dict[str, object]:
    started = time.perf_counter()
    config = CircuitConfig(corner=corner, temperature=temperature)
    folder = out / f"{corner}_{temperature:g}C"
    try:
        char = characterize(folder, config, plot=False)
    except (SenseTrimError, DischargerTrimError) as error:
        return {"corner": corner, "temperature_c": temperature, "wall_s": time.perf_counter() - started,
                "error": str(error)}  # fmt: skip
    trim, sense = char.details["discharger_trim"], char.details["sense_trim"]
    ramp = [
        abs(row["t_circuit"] - row["t_model"]) * config.t_circ * 1e9
        for row in char.details["firing_ramp"]
        if row["t_circuit"] is not None
    ]
    missed = sum(row["t_circuit"] is None for row in char.details["firing_ramp"])
    return {
        "corner": corner, "temperature_c": temperature, "lambda_n_per_v": char.lambda_n,
        "lambda_p_per_v": char.lambda_p, "lambda_dis_per_v": char.lambda_dis, "e_rev_pos": char.e_rev_pos,
        "e_rev_neg": char.e_rev_neg, "beta_dis": char.beta_dis, "vb_sense_v": sense["vb_sense"],
        "vb_sense_trimmed": sense["trimmed"], "sense_rounds": sense["rounds"],
        "sense_transients": len(sense["evaluations"]), "vb_dis_v": trim["vb_dis"],
        "vb_dis_trimmed": trim["trimmed"], "trim_error_ns": trim["error_ns"],
        "v_switch_effective_v": char.details["v_switch_effective"], "c_eff_ff": char.c_eff_f * 1e15,
        "worst_ramp_error_ns": max(ramp) if not missed else math.inf, "wall_s": time.perf_counter() - started,
        "error": "" if not missed else f"{missed} ramp neurons did not fire",
    }  # fmt: skip


def _cell(value: object, digits: int = 4) -> str:
    if isinstance(value, float):
        return f"{value:.{digits}f}" if math.isfinite(value) else "inf"
    return str(value) if value is not None else ""


def _corner_markdown(rows: list[dict[str, object]]) -> str:
    head = ("corner | T (°C) | λN (1/V) | λP (1/V) | λdis (1/V) | E+ | E− | β_dis | Vb_sense (V) | Vb_dis (V) | "
            "trim error (ns) | Vswitch eff. (V) | C_eff (fF) | worst ramp error (ns) | wall (s)")  # fmt: skip
    lines = [f"| {head} |", "|" + "---|" * (head.count("|") + 1)]
    for row in rows:
        if row.get("error") and "lambda_n_per_v" not in row:
            lines.append(f"| {row['corner']} | {row['temperature_c']:g} | {row['error']} |" + " |" * 12)
            continue
        vb = f"{row['vb_dis_v']:.5f}" + ("" if row["vb_dis_trimmed"] else " (design)")
        vs = f"{row['vb_sense_v']:.5f}" + ("" if row["vb_sense_trimmed"] else " (design)")
        lines.append(
            f"| {row['corner']} | {row['temperature_c']:g} | {_cell(row['lambda_n_per_v'])} | "
            f"{_cell(row['lambda_p_per_v'])} | {_cell(row['lambda_dis_per_v'])} | {_cell(row['e_rev_pos'], 3)} | "
            f"{_cell(row['e_rev_neg'], 3)} | {_cell(row['beta_dis'])} | {vs} | {vb} | "
            f"{_cell(row['trim_error_ns'], 2)} | {_cell(row['v_switch_effective_v'])} | {_cell(row['c_eff_ff'], 1)} | "
            f"{_cell(row['worst_ramp_error_ns'], 2)} | {_cell(row['wall_s'], 1)} |"
        )
    return "\n".join(lines) + "\n"


def _mismatch_markdown(stats: MismatchStatistics, config: CircuitConfig) -> str:
    lines = [
        f"Monte-Carlo DC, sky130 `{stats.library_section}` (MC_MM_SWITCH=1), {stats.temperature_c:g} °C, seed "
        f"{stats.seed}, {stats.instances} instances per device, {stats.wall_time_s:.0f} s; at V_D = V0 = "
        f"{config.v_rest} V; σ(Vth): std of the gate-referred offsets.",
        "",
        "| role | W x L (µm) | V_G (V) | I nominal (nA) | σ(I)/I (%) | λ nominal (1/V) | σ(λ) (1/V) | σ(Vth) (mV) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for d in stats.devices:
        for k, gate in enumerate(d.gate_v):
            lines.append(
                f"| {d.role} | {d.w_um:g} x {d.l_um:g} | {gate:.3f} | {d.nominal_current_a[k] * 1e9:.2f} | "
                f"{d.sigma_current_rel[k] * 100:.1f} | {d.nominal_lambda[k]:.4f} | {d.sigma_lambda[k]:.4f} | "
                f"{d.sigma_vth_v[k] * 1e3:.2f} |"
            )
    lines += ["", "| role | V_G (V) | W x L (µm): σ(Vth) (mV), σ(Vth)·sqrt(WL) (mV·µm) | A_VT (mV·µm) | R² |",
              "|---|---|---|---|---|"]  # fmt: skip
    for p in stats.pelgrom:
        sizes = "; ".join(
            f"{w:g}x{length:g}: {s * 1e3:.2f}, {s * 1e3 * math.sqrt(w * length):.2f}"
            for w, length, s in zip(p.w_um, p.l_um, p.sigma_vth_v, strict=True)
        )
        lines.append(f"| {p.role} | {p.gate_v:.3f} | {sizes} | {p.a_vt_v_um * 1e3:.2f} | {p.r2:.3f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("runs/corner_table"))
    parser.add_argument("--corners", nargs="+", default=list(SKY130_CORNERS), choices=SKY130_CORNERS)
    parser.add_argument("--temps", nargs="+", type=float, default=[-40.0, 27.0, 85.0], help="°C")
    parser.add_argument("--mismatch", type=int, default=0, metavar="N", help="Monte-Carlo instances (0: none)")
    parser.add_argument("--seed", type=int, default=1, help="ngspice's seed of the Monte-Carlo")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    for corner in args.corners:
        for temperature in args.temps:
            rows.append(_row(corner, temperature, args.out))
            shown = ("corner", "temperature_c", "vb_sense_v", "vb_dis_v", "worst_ramp_error_ns", "wall_s", "error")
            print({k: rows[-1].get(k) for k in shown}, flush=True)
            with (args.out / "corner_table.csv").open("w", newline="") as handle:
                writer = csv.DictWriter(handle, COLUMNS)
                writer.writeheader()
                writer.writerows(rows)
            (args.out / "corner_table.md").write_text(_corner_markdown(rows))
    if args.mismatch:
        config = CircuitConfig()
        char = characterize(None, config, plot=False)
        stats = measure_mismatch(char.circuit_config(), {"nmos": char.nmos, "pmos": char.pmos},
                                 MismatchOptions(instances=args.mismatch, seed=args.seed))  # fmt: skip
        folder = args.out / "mismatch_tt_27C"
        folder.mkdir(exist_ok=True)
        from imcpnn.atomic import write_json

        write_json(folder / "characterization.json", replace(char, mismatch=stats).to_dict(), indent=1, default=None)
        (args.out / "mismatch_table.md").write_text(_mismatch_markdown(stats, config))
        print(f"mismatch: {stats.wall_time_s:.0f} s", flush=True)


if __name__ == "__main__":
    main()
