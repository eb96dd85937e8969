"""Accuracy and spike-time error against the bias DAC's resolution (issue 14, deliverable 4).

The Iris 5-5-5 networks of the circuit comparison (ANN-to-IMC: the ideal model; PNN-to-IMC: the
characterised one), their gate biases mapped at fixed current scales and put on the levels of an
n-bit DAC per polarity (:mod:`imcpnn.circuit.dac`). One DAC for both networks: its ranges just span
every gate bias either network needs at its scales (a DAC designed for this chip), unless
``--dac-range-n/--dac-range-p`` are given.

- model side, every ``--bits`` (cheap): the weights the DAC realises, the model's test accuracy with them
  (exact solver, 3 classes, earliest spike wins) and their output spike-time RMSE (ns) against the
  trained network's;
- SPICE side, every ``--spice-bits`` (and exact biases): ``compare`` on the test samples at the fixed
  scales (``OUT/spice_<bits>``, resumable: a rerun reuses every simulation), the circuit's accuracy and
  its RMSE against the trained network.

Writes ``OUT/dac_sweep.csv``, ``OUT/dac_sweep.json`` and ``OUT/dac_sweep.png``.

    PYTHONPATH=src python scripts/dac_sweep.py --out runs/dac_sweep --workers 2 \\
        --scale-ann 0.97 0.89 --scale-pnn 0.82 --bits 2 3 4 5 6 7 8 10 --spice-bits 4 6 8
"""

from __future__ import annotations

import argparse
import csv
import json
import math
from pathlib import Path

import numpy as np

from imcpnn.circuit import ANN_TO_IMC, PNN_TO_IMC, CircuitConfig, build_flows, compare, train_iris_models
from imcpnn.circuit.dac import BiasDAC, realized_weights
from imcpnn.circuit.mapping import weights_to_biases
from imcpnn.circuit.model import clip_times, model_spike_times
from imcpnn.circuit.run_folder import load_or_characterize, prepare_run_folder

N_CLASSES = 3


def _accuracy(output: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean(np.argmin(clip_times(output)[:, :N_CLASSES], axis=1) == labels))


def _rmse_ns(a: np.ndarray, b: np.ndarray, config: CircuitConfig) -> float:
    return float(np.sqrt(np.mean((clip_times(a) - clip_times(b)) ** 2)) * config.t_circ * 1e9)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--bits", type=int, nargs="+", default=[2, 3, 4, 5, 6, 7, 8, 10])
    parser.add_argument("--spice-bits", type=int, nargs="*", default=[4, 6, 8])
    parser.add_argument("--samples", type=int, default=50)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--scale-ann", type=float, nargs=2, default=(0.97, 0.89), metavar=("A_POS", "A_NEG"))
    parser.add_argument("--scale-pnn", type=float, default=0.82)
    parser.add_argument("--dac-range-n", type=float, nargs=2, default=None)
    parser.add_argument("--dac-range-p", type=float, nargs=2, default=None)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    config = CircuitConfig()
    out = prepare_run_folder(args.out, config)
    char = load_or_characterize(out, config)
    models = train_iris_models(out, char.e_rev_pos, char.e_rev_neg, char.beta_dis, seed=args.seed)
    flows = build_flows(models.ann_weights, models.pnn_weights, char)
    scales = {ANN_TO_IMC: tuple(args.scale_ann), PNN_TO_IMC: (args.scale_pnn, args.scale_pnn)}
    test_times = np.asarray(models.test_times)[: args.samples]
    labels = np.asarray(models.test_labels)[: args.samples]
    biases = [b for f in flows for b in weights_to_biases(f.weights, char, config, *scales[f.name])]
    spanning = BiasDAC.spanning(8, biases)
    ranges = {
        "nmos": tuple(args.dac_range_n) if args.dac_range_n else spanning.nmos_range,
        "pmos": tuple(args.dac_range_p) if args.dac_range_p else spanning.pmos_range,
    }
    print(f"DAC ranges: NMOS {ranges['nmos']} V, PMOS {ranges['pmos']} V")
    trained = {f.name: model_spike_times(f.weights, test_times, f.params)[-1] for f in flows}

    rows = []
    for bits in sorted(set(args.bits) | set(args.spice_bits)):
        dac = BiasDAC(bits, ranges["nmos"], ranges["pmos"])
        for flow in flows:
            realized = realized_weights(flow.weights, char, config, dac, *scales[flow.name])
            output = model_spike_times(realized, test_times, flow.params)[-1]
            steps = {
                name: (r[1] - r[0]) / (2**bits - 1) * 1e3 for name, r in ranges.items() if r is not None
            }  # mV per LSB
            rows.append({
                "bits": bits, "flow": flow.name, "lsb_mv_nmos": round(steps.get("nmos", math.nan), 3),
                "lsb_mv_pmos": round(steps.get("pmos", math.nan), 3),
                "model_accuracy": _accuracy(output, labels),
                "model_rmse_vs_trained_ns": _rmse_ns(output, trained[flow.name], config),
                "max_weight_error": max(float(np.abs(r - w).max()) for r, w in zip(realized, flow.weights,
                                                                                      strict=True)),
                "circuit_accuracy": None, "circuit_rmse_vs_trained_ns": None,
            })  # fmt: skip
    for flow in flows:
        rows.append({
            "bits": "exact", "flow": flow.name, "lsb_mv_nmos": 0.0, "lsb_mv_pmos": 0.0,
            "model_accuracy": _accuracy(trained[flow.name], labels), "model_rmse_vs_trained_ns": 0.0,
            "max_weight_error": 0.0, "circuit_accuracy": None, "circuit_rmse_vs_trained_ns": None,
        })  # fmt: skip

    fixed = {name: scales[name] for name in scales}
    for bits in [*sorted(args.spice_bits), "exact"] if args.spice_bits else []:  # no --spice-bits: model side only
        dac = None if bits == "exact" else BiasDAC(bits, ranges["nmos"], ranges["pmos"])
        report = compare(
            out / f"spice_{bits}", ann_weights=models.ann_weights, pnn_weights=models.pnn_weights,
            calibration_times=np.asarray(models.calibration_times)[:1], test_times=test_times, characterization=char,
            config=config, workers=args.workers, fixed_scales=fixed, test_labels=labels, dac=dac, progress=True,
        )  # fmt: skip
        for row in rows:
            if row["bits"] == bits:
                result = report.flow(row["flow"])
                row["circuit_rmse_vs_trained_ns"] = result.rmse_ns
                row["circuit_accuracy"] = result.accuracy.circuit if result.accuracy else None

    with (out / "dac_sweep.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    (out / "dac_sweep.json").write_text(json.dumps({
        "ranges_v": ranges, "scales": scales, "samples": int(test_times.shape[0]), "rows": rows,
    }, indent=1))  # fmt: skip
    _plot(rows, out / "dac_sweep.png")
    for row in rows:
        print(row)


def _plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    for flow, colour in ((ANN_TO_IMC, "tab:red"), (PNN_TO_IMC, "tab:blue")):
        label = "ANN-to-IMC" if flow == ANN_TO_IMC else "PNN-to-IMC"
        mine = [r for r in rows if r["flow"] == flow and r["bits"] != "exact"]
        bits = [r["bits"] for r in mine]
        left.plot(bits, [100 * r["model_accuracy"] for r in mine], "o-", color=colour, label=f"{label}, model")
        right.plot(bits, [r["model_rmse_vs_trained_ns"] for r in mine], "o-", color=colour,
                   label=f"{label}, model with the DAC's weights")  # fmt: skip
        spice = [r for r in mine if r["circuit_accuracy"] is not None]
        if spice:
            left.plot([r["bits"] for r in spice], [100 * r["circuit_accuracy"] for r in spice], "s--", color=colour,
                      label=f"{label}, SPICE")  # fmt: skip
            right.plot([r["bits"] for r in spice], [r["circuit_rmse_vs_trained_ns"] for r in spice], "s--",
                       color=colour, label=f"{label}, SPICE")  # fmt: skip
        exact = next(r for r in rows if r["flow"] == flow and r["bits"] == "exact")
        if exact["circuit_rmse_vs_trained_ns"] is not None:
            right.axhline(exact["circuit_rmse_vs_trained_ns"], color=colour, linestyle=":",
                          label=f"{label}, SPICE, exact biases")  # fmt: skip
    left.set(xlabel="DAC resolution (bits)", ylabel="Iris test accuracy (%)", title="Accuracy against DAC bits")
    right.set(xlabel="DAC resolution (bits)", ylabel="output spike-time RMSE\nvs the trained model (ns)",
              yscale="log", title="Spike-time error against DAC bits")  # fmt: skip
    for axis in (left, right):
        axis.grid(alpha=0.3)
        axis.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    main()
