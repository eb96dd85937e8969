"""Iris test accuracy against energy per inference, from the model's estimate alone (issue 14, deliverable 1.3).

No SPICE per point: the energy is :func:`imcpnn.circuit.energy.estimate_energy` (VARIATION.md section 6) with
the constants a comparison measured once in SPICE (``RUN/energy_constants.json``; measured there first when
missing, a minute of ngspice). Two axes:

- **|E±|**: the Iris 5-5-5 RC-Spike network trained with ``E± = f × (E+, E-)`` of the characterisation for each
  ``--e-factors`` f (the characterised ``β_dis``; f = 1 is the PNN), and the ideal ANN (``E± = ±100``,
  ``β_dis = 0``); cached trainings (``OUT/models``, :func:`imcpnn.circuit.train_iris_models`). Accuracy: the
  model's own exact solution on the 50 test samples (3 classes, earliest spike wins).
- **bias currents**: the membrane capacitance, and with it every synaptic and discharger current
  (``I = a C_m Vth_circ w / T_circ``, the mapping's current scale ``a``), scaled by each ``--cap-scales`` k:
  the charge the synapses, the discharger and the reset move scales with k, the sensing inverter's static
  current and the logic do not. The normalised dynamics, hence the accuracy, do not change with k.

Writes ``OUT/energy_sweep.csv`` (one row per network and k; a rerun skips the rows already there) and
``OUT/energy_sweep.png``.

    PYTHONPATH=src python scripts/energy_sweep.py --run runs/energy_fixed --out runs/energy_sweep
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
from pathlib import Path

import numpy as np

from imcpnn.circuit import CircuitConfig, train_iris_models
from imcpnn.circuit.compare import load_or_measure_energy_constants
from imcpnn.circuit.energy import FEMTO, PARTS, estimate_energy
from imcpnn.circuit.flows import IDEAL_PARAMS
from imcpnn.circuit.model import clip_times, model_spike_times
from imcpnn.circuit.run_folder import load_or_characterize
from imcpnn.params import NeuronParams

N_CLASSES = 3
FIELDS = [
    "network", "e_rev_pos", "e_rev_neg", "beta_dis", "cap_scale", "c_membrane_ff", "test_accuracy",
    "energy_fj", "energy_per_synaptic_event_fj", "synaptic_events", *[f"{p}_fj" for p in PARTS],
]  # fmt: skip


def _accuracy(output: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean(np.argmin(clip_times(output)[:, :N_CLASSES], axis=1) == labels))


def _read_rows(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        return []
    with path.open(newline="") as handle:
        return [row for row in csv.DictReader(handle) if set(FIELDS) <= set(row)]


def _plot(rows: list[dict[str, str]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5))
    for network in dict.fromkeys(row["network"] for row in rows):
        points = sorted((float(r["energy_fj"]) / 1e3, float(r["test_accuracy"]) * 100, float(r["cap_scale"]))
                        for r in rows if r["network"] == network)  # fmt: skip
        first = next(r for r in rows if r["network"] == network)
        label = f"{network}: E+ {float(first['e_rev_pos']):.3g}, E- {float(first['e_rev_neg']):.3g}"
        line = ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=label)[0]
        for energy, accuracy, scale in points:
            ax.annotate(f"k={scale:g}", (energy, accuracy), textcoords="offset points", xytext=(3, 4), fontsize=7,
                        color=line.get_color())  # fmt: skip
    ax.set_xlabel("energy per inference, model estimate [pJ]")
    ax.set_ylabel("Iris test accuracy, model [%]")
    ax.set_title("Accuracy against energy: |E±| of the trained model, membrane capacitance x k (currents x k)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, required=True, help="a comparison folder (characterisation, constants)")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--e-factors", type=float, nargs="+", default=[0.5, 1.0, 2.0, 4.0])
    parser.add_argument("--cap-scales", type=float, nargs="+", default=[0.25, 0.5, 1.0, 2.0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=None)
    args = parser.parse_args()

    config = CircuitConfig()
    characterization = load_or_characterize(args.run, config)
    constants = load_or_measure_energy_constants(args.run, config, characterization, 600.0, print)
    if constants is None:
        raise SystemExit("the comparison's characterisation has no c_eff_f: the energy model needs it")
    args.out.mkdir(parents=True, exist_ok=True)
    csv_path = args.out / "energy_sweep.csv"
    rows = _read_rows(csv_path)
    done = {(row["network"], float(row["cap_scale"])) for row in rows}
    char_params = characterization.neuron_params
    networks = [("ANN", IDEAL_PARAMS)] + [
        (f"PNN x{f:g}", NeuronParams(e_rev_pos=f * char_params.e_rev_pos, e_rev_neg=f * char_params.e_rev_neg,
                                     beta_dis=char_params.beta_dis))
        for f in args.e_factors
    ]  # fmt: skip
    base_scale = characterization.c_eff_f / config.c_m  # the mapping's scale that matches the membrane
    for name, params in networks:
        todo = [k for k in args.cap_scales if (name, k) not in done]
        if not todo:
            continue
        ideal = params == IDEAL_PARAMS
        trained = char_params if ideal else params  # train_iris_models trains the ANN beside every PNN
        models = train_iris_models(args.out, trained.e_rev_pos, trained.e_rev_neg, trained.beta_dis, seed=args.seed,
                                   epochs=args.epochs)  # fmt: skip
        weights = models.ann_weights if ideal else models.pnn_weights
        times, labels = np.asarray(models.test_times), np.asarray(models.test_labels)
        accuracy = _accuracy(model_spike_times(weights, times, params)[-1], labels)
        for k in todo:
            scaled = dataclasses.replace(constants, c_eff_f=k * constants.c_eff_f)
            estimate = estimate_energy(weights, times, params, config, scaled, (k * base_scale, k * base_scale))
            total = float(np.mean(estimate.total))
            events = float(np.mean(estimate.synaptic_events.sum(axis=1)))
            parts = {p: float(np.mean([layer[p] for layer in estimate.parts], axis=1).sum()) for p in PARTS}
            row = {
                "network": name, "e_rev_pos": params.e_rev_pos, "e_rev_neg": params.e_rev_neg,
                "beta_dis": params.beta_dis, "cap_scale": k, "c_membrane_ff": k * constants.c_eff_f / FEMTO,
                "test_accuracy": accuracy, "energy_fj": total / FEMTO,
                "energy_per_synaptic_event_fj": total / events / FEMTO if events else "",
                "synaptic_events": events, **{f"{p}_fj": parts[p] / FEMTO for p in PARTS},
            }  # fmt: skip
            rows.append({key: str(value) for key, value in row.items()})
            with csv_path.open("w", newline="") as handle:  # rewritten whole after each row: resumable
                writer = csv.DictWriter(handle, fieldnames=FIELDS)
                writer.writeheader()
                writer.writerows(rows)
            print(f"{name} k={k:g}: accuracy {accuracy:.3f}, {total / FEMTO:.0f} fJ per inference")
    _plot(rows, args.out / "energy_sweep.png")
    print(f"wrote {csv_path} and {args.out / 'energy_sweep.png'}")


if __name__ == "__main__":
    main()
