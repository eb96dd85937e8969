"""Corners and temperature end to end (issue 13; VARIATION.md section 1): what a characterisation records, the
calibrations of Vb_sense and Vb_dis, and the refusal of a characterisation of another corner, temperature or bias."""

from __future__ import annotations

import importlib
import json
import math
from dataclasses import replace

import pytest

from imcpnn.circuit.characterization import Characterization
from imcpnn.circuit.characterize import (
    SENSE_TRIM_TOLERANCE_V,
    DischargerTrimError,
    SenseTrim,
    SenseTrimError,
    characterize,
    ramp_run,
    trim_biases,
    trim_discharger_bias,
    trim_sense_bias,
)
from imcpnn.circuit.config import CircuitConfig
from imcpnn.circuit.run_folder import (
    CircuitMismatchError,
    check_characterization_circuit,
    circuit_of,
    comparison_circuit,
    load_or_characterize,
)
from imcpnn.circuit.spice import model_library
from imcpnn.cli.main import main

pytestmark = pytest.mark.spice
#: the module (``imcpnn.circuit.characterize`` is also the package's name of the function)
characterize_module = importlib.import_module("imcpnn.circuit.characterize")


def _recorded_as(path, tmp_path, **config):
    """A copy of the characterisation at ``path`` whose recorded config has ``config``'s values."""
    data = json.loads(path.read_text())
    data["config"].update(config)
    copy = tmp_path / "other_corner.json"
    copy.write_text(json.dumps(data))
    return copy


def test_a_characterization_records_its_corner_and_temperature():
    config = CircuitConfig(corner="ff", temperature=85.0)
    char = characterize(None, config, roles=("nmos",), measure_capacitance=False, plot=False)
    data = json.loads(json.dumps(char.to_dict()))
    assert (data["corner"], data["temperature_c"]) == ("ff", 85.0)
    loaded = Characterization.from_dict(data)
    assert (loaded.corner, loaded.temperature_c) == ("ff", 85.0)
    assert loaded.circuit_config() == config
    # the corner moves the devices: ff carries more current than tt at the same bias
    tt = characterize(None, roles=("nmos",), measure_capacitance=False, plot=False)
    assert (
        char.details["reference_points"]["nmos"]["current_a"]
        > 1.2 * tt.details["reference_points"]["nmos"]["current_a"]
    )


def test_compare_refuses_a_characterization_of_another_corner_or_temperature(characterized, tmp_path, capsys):
    out, _ = characterized
    path = out / "characterization.json"
    with pytest.raises(CircuitMismatchError, match=r"corner tt and 27 °C.*corner ss and 27 °C"):
        load_or_characterize(tmp_path, CircuitConfig(corner="ss"), path)
    hot = _recorded_as(path, tmp_path, temperature=85.0)
    with pytest.raises(CircuitMismatchError, match=r"corner tt and 85 °C.*corner tt and 27 °C"):
        circuit_of(Characterization.load(hot), CircuitConfig(), str(hot))
    # the command line refuses it before touching its folder, naming both
    folder = tmp_path / "compare"
    assert main(["circuit", "compare", "--characterization", str(path), "--corner", "ss", "--out", str(folder)]) != 0
    error = capsys.readouterr().err
    assert "corner tt and 27 °C" in error and "corner ss and 27 °C" in error
    assert not folder.exists()
    # a characterisation made with another Vb_dis than the simulated circuit's is refused too
    with pytest.raises(CircuitMismatchError, match="Vb_dis"):
        load_or_characterize(tmp_path, CircuitConfig(vb_dis=0.56), path)


def test_the_circuit_simulated_carries_the_characterizations_trimmed_vb_dis(characterized, tmp_path):
    out, _ = characterized
    trimmed = _recorded_as(out / "characterization.json", tmp_path, corner="ss", vb_dis=0.57704, vb_sense=0.968)
    config = comparison_circuit(tmp_path / "run", CircuitConfig(corner="ss"), trimmed)
    assert (config.corner, config.vb_dis, config.vb_sense) == ("ss", 0.57704, 0.968)
    # the folder's own characterisation (tt, the design's bias kept) is reused without a calibration
    assert comparison_circuit(out, CircuitConfig()) == CircuitConfig()


def test_the_design_bias_is_kept_at_tt_and_trimmed_to_fire_at_ss(tmp_path):
    tt = trim_discharger_bias(CircuitConfig())
    assert not tt.trimmed and tt.vb_dis == CircuitConfig().vb_dis and len(tt.evaluations) == 1
    assert -1.0 <= tt.error_ns <= 0.0
    config = CircuitConfig(corner="ss")
    library = model_library(corner="ss")
    ss = trim_discharger_bias(config, library)
    assert ss.trimmed and ss.vb_dis > config.vb_dis + 0.01  # ss devices are slower: more bias
    assert -1.0 <= ss.error_ns <= 0.0  # the neuron without input fires in its window's last ns (the model's t = 1)
    assert ss.to_dict()["evaluations"][0] == {"vb_dis": config.vb_dis, "t_circuit": None}  # the design: no spike
    check = ramp_run(replace(config, vb_dis=ss.vb_dis), library, tmp_path, 0.0)
    assert check.t_circuit == pytest.approx(ss.t_circuit, abs=1e-6)


def test_a_ramp_neuron_that_cannot_fire_stops_the_calibration_with_a_clear_message(monkeypatch):
    monkeypatch.setattr(characterize_module, "VB_DIS_TRIM_RANGE_V", (0.40, 0.56))
    with pytest.raises(DischargerTrimError, match=r"corner ss at 27 °C: the ramp neuron cannot fire.*0\.560 V"):
        trim_discharger_bias(CircuitConfig(corner="ss"))


def test_old_characterizations_without_the_new_records_still_load(characterized):
    out, char = characterized
    data = json.loads((out / "characterization.json").read_text())
    for key in ("corner", "temperature_c", "vb_dis", "vb_sense", "discharger_trim", "sense_trim", "mismatch"):
        data.pop(key, None)
    old = Characterization.from_dict(data)
    assert old.mismatch is None and old.lambda_n == char.lambda_n and old.corner == "tt"
    assert old.sense_trim is None and old.discharger_trim is None
    assert math.isclose(old.beta_dis, char.beta_dis)


def test_tt_keeps_its_design_biases_and_records_both_trims(characterized):
    out, char = characterized
    design = CircuitConfig()
    sense, discharger = trim_biases(design)
    assert not sense.trimmed and not discharger.trimmed and sense.rounds == 1
    assert (sense.vb_sense, discharger.vb_dis) == (design.vb_sense, design.vb_dis)  # exactly: 0.95 V, 0.5541 V
    assert len(sense.evaluations) == 1 and len(discharger.evaluations) == 1  # one probe, one ramp neuron
    assert abs(sense.error_mv) <= SENSE_TRIM_TOLERANCE_V * 1e3
    # the characterisation records the sense trim, typed like the discharger's, and reads it back
    assert char.circuit_config() == design
    loaded = Characterization.load(out / "characterization.json")
    assert isinstance(loaded.sense_trim, SenseTrim) and loaded.sense_trim.to_dict() == char.details["sense_trim"]
    assert loaded.sense_trim.vb_sense == design.vb_sense and not loaded.sense_trim.trimmed
    assert loaded.discharger_trim.to_dict() == char.details["discharger_trim"]


def test_the_sense_trim_brings_the_switching_point_back_to_0428_v_at_ss(tmp_path):
    config = CircuitConfig(corner="ss")
    library = model_library(corner="ss")
    sense, discharger = trim_biases(config, library, tmp_path)
    assert sense.trimmed and sense.vb_sense > config.vb_sense  # ss: the untrimmed inverter switches at 0.47 V
    assert sense.evaluations[0][2] > config.v_switch + 0.02
    assert abs(sense.v_switch - 0.428) <= SENSE_TRIM_TOLERANCE_V and sense.vb_dis == discharger.vb_dis
    assert discharger.trimmed and -1.0 <= discharger.error_ns <= 0.0 and discharger.vb_sense == sense.vb_sense
    # the neuron without input at both trimmed biases: switching point within tolerance, fires at the window's end
    check = ramp_run(replace(config, vb_sense=sense.vb_sense, vb_dis=discharger.vb_dis), library, tmp_path, 0.0)
    assert abs(check.v_switch - 0.428) <= SENSE_TRIM_TOLERANCE_V
    assert check.t_circuit == pytest.approx(discharger.t_circuit, abs=1e-6)


def test_no_sense_bias_in_range_stops_the_calibration_with_a_clear_message(monkeypatch):
    monkeypatch.setattr(characterize_module, "VB_SENSE_TRIM_RANGE_V", (0.90, 0.96))
    with pytest.raises(SenseTrimError, match=r"corner ss at 27 °C: even at the range's top, Vb_sense = 0\.960 V"):
        trim_sense_bias(CircuitConfig(corner="ss"))


def test_a_characterization_with_another_vb_sense_is_refused_and_its_own_is_carried(characterized, tmp_path):
    out, _ = characterized
    path = out / "characterization.json"
    other = Characterization.load(_recorded_as(path, tmp_path, vb_sense=0.96))
    with pytest.raises(CircuitMismatchError, match=r"Vb_sense = 0\.96000 V.*Vb_sense = 0\.95000 V"):
        check_characterization_circuit(other, CircuitConfig(), "other.json")
    with pytest.raises(CircuitMismatchError, match="Vb_sense"):
        load_or_characterize(tmp_path, CircuitConfig(vb_sense=0.96), path)
    assert circuit_of(other, CircuitConfig(), "other.json") == CircuitConfig(vb_sense=0.96)
