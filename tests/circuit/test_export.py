"""A netlist to take away (``imcpnn circuit netlist``): the hierarchical export runs alone and matches the flat one."""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
from collections import Counter
from dataclasses import replace

import numpy as np
import pytest

from imcpnn.circuit import CircuitConfig, SampleJob, simulate_sample
from imcpnn.circuit.export import (
    LIBRARY_FILE,
    NETLIST_FILE,
    NEURON_PORTS,
    NEURON_SUBCIRCUIT,
    RAW_FILE,
    README_FILE,
    SPICEINIT_FILE,
    SUMMARY_FILE,
    SYNAPSE_PORTS,
    SYNAPSE_SUBCIRCUIT,
    WAVEFORM_FILE,
    build_hierarchical_netlist,
    export_netlist,
    load_exportable_network,
)
from imcpnn.circuit.mapping import weights_to_biases
from imcpnn.circuit.netlist import LayerBiases, build_network_netlist
from imcpnn.circuit.runner import extract_spike_times
from imcpnn.circuit.spice import find_ngspice, read_wrdata
from imcpnn.cli.main import main

#: A test sample of the trained network below whose hidden and output neurons fire well inside their windows.
SAMPLE = 1
#: Hierarchical against flat netlist: the same circuit, so the same spike times (measured: identical, 0 ns).
HIERARCHY_TOLERANCE_NS = 0.05
#: Model against circuit at the default scale C_eff / C_m, a check of the mapping (measured on this network and
#: sample: hidden layer +0.4 and +3.0 ns, output layer -10.2 to -10.8 ns; no scale search here).
MODEL_TOLERANCE_NS = 25.0


def _train(out, model: str, **flags):
    from imcpnn.training.config import TrainConfig
    from imcpnn.training.trainer import train

    config = TrainConfig.from_flags(dataset="iris", model=model, seed=0, out=str(out), **flags)
    train(config, progress=False, log=lambda _: None)
    return out / "best.pt"


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A 5-4-3 RC-Spike network trained on Iris for 30 epochs (3 s) with about the characterised E± and β_dis."""
    out = tmp_path_factory.mktemp("rcspike")
    return _train(out, "rcspike", arch="5-4-3", epochs=30, e_rev=(2.815, -1.547), beta_dis=0.1505)


@pytest.fixture(scope="module")
def exported(checkpoint, characterized, tmp_path_factory):
    """``imcpnn circuit netlist CHECKPOINT --sample 1 --characterization ... --out DIR``: DIR."""
    out = tmp_path_factory.mktemp("export") / "netlist"
    code = main([
        "circuit", "netlist", str(checkpoint), "--out", str(out), "--sample", str(SAMPLE),
        "--characterization", str(characterized[0] / "characterization.json"),
    ])  # fmt: skip
    assert code == 0
    return out


@pytest.mark.spice
def test_the_exported_netlist_runs_alone_and_gives_the_flat_netlists_spike_times(exported, checkpoint, tmp_path):
    """The folder, moved elsewhere, runs with plain `ngspice -b` (no imcpnn code in the run); its spikes are the
    flat netlist's (simulated by the runner) and the model's."""
    moved = tmp_path / "moved elsewhere"
    shutil.copytree(exported, moved)
    home = tmp_path / "home"  # no ~/.spiceinit of the user's
    home.mkdir()
    env = {**os.environ, "HOME": str(home), "OMP_NUM_THREADS": "1"}
    run = subprocess.run(
        [find_ngspice(), "-b", NETLIST_FILE], cwd=moved, env=env, stdin=subprocess.DEVNULL, capture_output=True,
        text=True, timeout=300, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert (moved / RAW_FILE).stat().st_size > 0
    data = read_wrdata(moved / WAVEFORM_FILE)
    summary = json.loads((moved / SUMMARY_FILE).read_text())
    config = replace(CircuitConfig(), layer_sizes=tuple(summary["layer_sizes"]))
    waveforms = {"time": data["time"], **{name[2:-1]: values for name, values in data.items() if name != "time"}}
    hierarchical = extract_spike_times(waveforms, config)

    from imcpnn.circuit import Characterization

    network = load_exportable_network(checkpoint)
    characterization = Characterization.load(summary["characterization"]["file"])
    scales = summary["scales"]["a_pos"], summary["scales"]["a_neg"]
    biases = weights_to_biases(network.weights, characterization, config, *scales)
    flat = simulate_sample(SampleJob("flat", tuple(network.sample_input_times(SAMPLE)), tuple(biases)), config)
    assert flat.ok, flat.message
    ns = config.t_circ * 1e9
    for layer, (ours, theirs) in enumerate(zip(hierarchical, flat.spike_times, strict=True), start=1):
        ours, theirs = np.array(ours), np.array(theirs)
        assert np.isfinite(ours).any(), f"no neuron of layer {layer} fires: the comparison would be empty"
        assert np.array_equal(np.isfinite(ours), np.isfinite(theirs))
        fired = np.isfinite(ours)
        assert np.abs(ours[fired] - theirs[fired]).max() * ns < HIERARCHY_TOLERANCE_NS
        model = np.array([math.inf if e["normalised"] is None else e["normalised"] for e in
                          summary["layers"][layer - 1]["model_spike_times"]])  # fmt: skip
        both = fired & np.isfinite(model)
        assert both.any()
        assert np.abs(ours[both] - model[both]).max() * ns < MODEL_TOLERANCE_NS
    assert np.array_equal(network.sample_input_times(SAMPLE), np.array(summary["sample"]["input_times"]))


@pytest.mark.spice
def test_the_folder_holds_its_models_included_by_a_relative_path(exported, checkpoint):
    netlist = (exported / NETLIST_FILE).read_text()
    includes = [line for line in netlist.splitlines() if line.lower().startswith(".include")]
    assert includes == [f'.include "{LIBRARY_FILE}"']
    library = (exported / LIBRARY_FILE).read_text()
    assert not re.search(r"^\s*\.(include|lib)\b", library, re.IGNORECASE | re.MULTILINE)  # self-contained
    assert ".subckt sky130_fd_pr__nfet_01v8 " in library.lower().replace("  ", " ")
    assert "ngbehavior=hsa" in (exported / SPICEINIT_FILE).read_text()
    assert NETLIST_FILE in (exported / README_FILE).read_text()
    lines = netlist.splitlines()
    assert lines[-4:] == [f"write {RAW_FILE}", "quit", ".endc", ".end"]
    assert any(line.startswith(f"wrdata {WAVEFORM_FILE} ") for line in lines)
    # one X line per synapse and per neuron at the top level, every transistor inside the two subcircuits
    top = _top_level(netlist)
    instances = Counter(tokens[-1] for tokens in top if tokens[0].startswith("X"))
    assert instances == {SYNAPSE_SUBCIRCUIT: 5 * 4 + 4 * 3, NEURON_SUBCIRCUIT: 4 + 3}
    assert f".subckt {SYNAPSE_SUBCIRCUIT} {' '.join(SYNAPSE_PORTS)}" in lines
    assert f".subckt {NEURON_SUBCIRCUIT} {' '.join(NEURON_PORTS)}" in lines
    summary = json.loads((exported / SUMMARY_FILE).read_text())
    assert summary["layer_sizes"] == [5, 4, 3] and summary["sample"]["index"] == SAMPLE


def _top_level(text: str) -> list[list[str]]:
    """The element lines outside ``.subckt`` blocks and before ``.control``, as tokens."""
    lines, inside = [], False
    for line in text.splitlines():
        word = (line.split() or [""])[0].lower()
        if word in (".subckt", ".control"):
            inside = True
        elif word == ".ends":
            inside = False
        elif not inside and line[:1].isalpha():
            lines.append(line.split())
    return lines


def _expanded(text: str) -> Counter[str]:
    """Every device of a hierarchical netlist, its subcircuits expanded, with the nodes local to a subcircuit
    instance written ``*`` and without element names: the circuit up to the naming of internal nodes."""
    subcircuits: dict[str, tuple[list[str], list[list[str]]]] = {}
    current = None
    for line in text.splitlines():
        tokens = line.split()
        if tokens and tokens[0] == ".subckt":
            current = tokens[1]
            subcircuits[current] = (tokens[2:], [])
        elif tokens and tokens[0] == ".ends":
            current = None
        elif current is not None and line[:1] in "XC":
            subcircuits[current][1].append(tokens)
    devices: Counter[str] = Counter()

    def add(tokens: list[str], node: dict[str, str] | None) -> None:
        """One device; ``node`` maps a subcircuit's ports to the instance's nodes (None: a top-level device)."""
        count = 4 if tokens[0][0] == "X" else 2
        nodes = [n if node is None or n == "0" else node.get(n, "*") for n in tokens[1 : 1 + count]]
        devices[" ".join([tokens[0][0], *nodes, *tokens[1 + count :]])] += 1

    for tokens in _top_level(text):
        if tokens[-1] in subcircuits:
            ports, body = subcircuits[tokens[-1]]
            for device in body:
                add(device, dict(zip(ports, tokens[1:-1], strict=True)))
        elif tokens[0][0] in "XC":
            add(tokens, None)
    return devices


def _flat_devices(text: str, shared: set[str]) -> Counter[str]:
    """The devices of a flat netlist as :func:`_expanded` writes them: nodes not in ``shared`` written ``*``."""
    devices: Counter[str] = Counter()
    for tokens in _top_level(text):
        if tokens[0][0] in "XC":
            count = 4 if tokens[0][0] == "X" else 2
            nodes = [n if n in shared or n == "0" else "*" for n in tokens[1 : 1 + count]]
            devices[" ".join([tokens[0][0], *nodes, *tokens[1 + count :]])] += 1
    return devices


@pytest.mark.parametrize(
    "changes",
    [{}, {"selector_dummy_nmos": None, "selector_dummy_pmos": None}, {"c_membrane_wire": 0.0, "c_spike_coupling": 0.0}],
)
def test_the_hierarchical_netlist_is_the_flat_circuit(changes):
    """Expanded, the subcircuits give the flat netlist's devices on the same nodes (internal nodes aside), and
    both have the same sources, analysis and probes."""
    config = replace(CircuitConfig(layer_sizes=(3, 4, 2)), **changes)
    rng = np.random.default_rng(7)
    biases = []
    for n_out, n_in in ((4, 3), (2, 4)):
        sign = rng.integers(-1, 2, size=(n_out, n_in))
        nmos = np.where(sign > 0, rng.uniform(0.45, 0.6, sign.shape), np.nan)
        biases.append(LayerBiases(nmos, np.where(sign < 0, rng.uniform(1.05, 1.25, sign.shape), np.nan)))
    times = [0.1, math.inf, 0.6]
    flat = build_network_netlist(config, biases, times, "/models/lib.spice")
    hierarchical = build_hierarchical_netlist(config, biases, times, "lib.spice")
    assert hierarchical.vectors == flat.vectors and hierarchical.t_stop == flat.t_stop
    sources = [line for line in hierarchical.text.splitlines() if line.startswith(("V", ".tran", ".temp", ".opt"))]
    assert sources == [line for line in flat.text.splitlines() if line.startswith(("V", ".tran", ".temp", ".opt"))]
    expanded = _expanded(hierarchical.text)
    shared = {node for tokens in _top_level(hierarchical.text) for node in tokens[1:-1]}
    assert expanded == _flat_devices(flat.text, shared)
    assert sum(expanded.values()) == sum(1 for line in flat.text.splitlines() if line[:1] in "XC")


@pytest.mark.spice
def test_the_export_refuses_to_overwrite_anything(exported, checkpoint, characterized, tmp_path, capsys):
    before = {path.name: path.read_bytes() for path in exported.iterdir() if path.is_file()}
    code = main(["circuit", "netlist", str(checkpoint), "--out", str(exported), "--characterization",
                 str(characterized[0] / "characterization.json")])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and "overwrites nothing" in err and NETLIST_FILE in err and "Traceback" not in err
    assert {path.name: path.read_bytes() for path in exported.iterdir() if path.is_file()} == before
    # a folder that holds only one of the names (here ngspice's output of an earlier run) is refused too
    folder = tmp_path / "earlier"
    folder.mkdir()
    (folder / WAVEFORM_FILE).write_text("the user's results\n")
    with pytest.raises(ValueError, match=WAVEFORM_FILE):
        export_netlist(checkpoint, folder, characterization=characterized[1], log=lambda _: None)
    assert sorted(p.name for p in folder.iterdir()) == [WAVEFORM_FILE]
    assert (folder / WAVEFORM_FILE).read_text() == "the user's results\n"


def test_bad_input_is_one_line_and_touches_no_folder(checkpoint, tmp_path, capsys):
    not_a_checkpoint = tmp_path / "notes.pt"
    not_a_checkpoint.write_text("not a checkpoint")
    ttfs = _train(tmp_path / "ttfs", "ttfs", epochs=1)
    out = tmp_path / "out"
    cases = [
        ([str(checkpoint), "--sample", "50"], ["--sample", "50 samples (0 to 49)"]),
        ([str(tmp_path / "missing.pt")], ["missing.pt", "does not exist"]),
        ([str(not_a_checkpoint)], ["notes.pt", "not an imcpnn checkpoint"]),
        ([str(ttfs)], ["ttfs network", "RC-Spike"]),
        ([str(checkpoint), "--characterization", str(tmp_path / "none.json")], ["--characterization", "none.json"]),
    ]
    for argv, words in cases:
        code = main(["circuit", "netlist", *argv, "--out", str(out)])
        err = capsys.readouterr().err
        assert code == 2, argv
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
        for word in words:
            assert word in err, (argv, err)
        assert not out.exists()
    for argv, word in (
        (["--corner", "xx"], "invalid choice"), (["--sample", "-1"], ">= 0"), (["--scale", "0", "1"], "> 0"),
    ):  # fmt: skip
        with pytest.raises(SystemExit) as caught:
            main(["circuit", "netlist", str(checkpoint), "--out", str(out), *argv])
        assert caught.value.code == 2 and word in capsys.readouterr().err
        assert not out.exists()
    with pytest.raises(ValueError, match="corner"):
        export_netlist(checkpoint, out, corner="typical")
    with pytest.raises(ValueError, match="sample index"):
        export_netlist(checkpoint, out, sample=True)
    assert not out.exists()


@pytest.mark.spice
def test_a_characterization_in_the_folder_is_reused_for_its_own_corner_only(checkpoint, characterized, tmp_path):
    folder = tmp_path / "with_characterization"
    folder.mkdir()
    shutil.copy(characterized[0] / "characterization.json", folder / "characterization.json")
    with pytest.raises(ValueError, match="another circuit config"):
        export_netlist(checkpoint, folder, corner="ss", log=lambda _: None)
    assert sorted(p.name for p in folder.iterdir()) == ["characterization.json"]
    exported = export_netlist(checkpoint, folder, sample=2, scales=(0.9, 0.8), log=lambda _: None)
    assert exported.characterization == folder / "characterization.json"
    summary = json.loads(exported.summary.read_text())
    assert summary["scales"] == {"a_pos": 0.9, "a_neg": 0.8, "source": "given"}
    assert summary["sample"]["index"] == 2 and summary["characterization"]["file"] == str(exported.characterization)
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        ["characterization.json", NETLIST_FILE, LIBRARY_FILE, SPICEINIT_FILE, SUMMARY_FILE, README_FILE]
    )
