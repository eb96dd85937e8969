"""Measured I-V curves in: the CSV schema, its checks, and the characterisation made from it without SPICE."""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import numpy as np
import pytest

from imcpnn.circuit import CircuitConfig, characterize
from imcpnn.circuit.characterization import LAMBDA_CURRENT_RANGE, Characterization
from imcpnn.circuit.characterize import IVCurve, measure_iv_curves
from imcpnn.circuit.iv_csv import IVCsvError, characterize_from_csv, read_iv_csv, write_iv_csv
from imcpnn.cli.main import main

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "measured_iv_example.csv"
DRAIN_V = np.round(np.arange(0.43, 1.36 + 1e-9, 0.03), 6)  # 32 points, V0 = 1.3 V among them
CONFIG = CircuitConfig()
#: Per role: gate biases (V), the current at V0 of each (A) and the λ (1/V) of the model curves.
MODEL = {
    "nmos": (np.array([0.40, 0.45, 0.50, 0.55, 0.60]), np.array([2e-9, 8e-9, 30e-9, 100e-9, 300e-9]),
             np.array([0.417, 0.413, 0.407, 0.399, 0.382])),
    "pmos": (np.array([1.05, 1.10, 1.20, 1.30]), np.array([130e-9, 60e-9, 12e-9, 2e-9]),
             np.array([0.66, 0.72, 0.77, 0.80])),
    "discharger": (np.array([0.50, 0.5541, 0.60]), np.array([32e-9, 109e-9, 290e-9]), np.array([0.181, 0.1726, 0.163])),
}  # fmt: skip


def model_curves() -> dict[str, tuple[IVCurve, ...]]:
    """``I = I0 (1 + λ ΔV)`` with ``ΔV = V_D - V0`` (NMOS, discharger) or ``V0 - V_D`` (PMOS): CIRCUIT.md step 1."""
    curves = {}
    for role, (gates, currents, lams) in MODEL.items():
        delta = (CONFIG.v_rest - DRAIN_V) if role == "pmos" else (DRAIN_V - CONFIG.v_rest)
        curves[role] = tuple(
            IVCurve(float(g), DRAIN_V, i0 * (1 + lam * delta)) for g, i0, lam in zip(gates, currents, lams, strict=True)
        )
    return curves


@pytest.fixture
def model_csv(tmp_path: Path) -> Path:
    return write_iv_csv(tmp_path / "model.csv", model_curves())


def test_model_curves_are_recovered_through_the_fit(model_csv):
    char = characterize_from_csv(model_csv)
    low, high = (f * CONFIG.unit_current for f in LAMBDA_CURRENT_RANGE)
    for role, (gates, currents, lams) in MODEL.items():
        table = getattr(char, role)
        assert table.gate_v == pytest.approx(gates)
        assert table.current_a == pytest.approx(currents, rel=1e-12)
        assert table.lam == pytest.approx(lams, rel=1e-9)
        assert table.r2 == pytest.approx(1.0, abs=1e-12)
        if role != "discharger":
            averaged = lams[(currents >= low) & (currents <= high)]
            assert getattr(char, "lambda_n" if role == "nmos" else "lambda_p") == pytest.approx(averaged.mean())
    assert char.lambda_dis == pytest.approx(0.1726)
    assert char.e_rev_pos == pytest.approx(1 / (CONFIG.vth_circ * char.lambda_n))
    assert char.e_rev_neg == pytest.approx(-1 / (CONFIG.vth_circ * char.lambda_p))
    assert char.beta_dis == pytest.approx(CONFIG.vth_circ * 0.1726)
    assert char.discharger_current_a == pytest.approx(109e-9)


def test_the_file_records_its_source_and_what_a_csv_cannot_give(model_csv, tmp_path):
    char = characterize_from_csv(model_csv, tmp_path / "out")
    data = json.loads((tmp_path / "out" / "characterization.json").read_text())
    assert data["source"] == "csv" and data["source_file"] == "model.csv"
    assert data["source_sha256"] == hashlib.sha256(model_csv.read_bytes()).hexdigest()
    assert data["c_eff_f"] is None and math.isnan(char.c_eff_f)
    assert set(data["not_measured"]) == {"c_eff_f", "firing_ramp", "v_switch_effective"}
    assert "--c-eff" in data["not_measured"]["c_eff_f"]
    assert data["firing_ramp"] == [] and data["v_switch_effective"] is None
    assert data["csv_curves"]["nmos"] == {"curves": 5, "points_fitted": 160, "points_outside_fit_range": 0}
    loaded = Characterization.load(tmp_path / "out" / "characterization.json")
    assert loaded.neuron_params == char.neuron_params
    assert loaded.nmos.gate_for_current(30e-9) == pytest.approx(0.50, abs=1e-6)
    given = characterize_from_csv(model_csv, c_eff_f=115e-15)
    assert given.c_eff_f == 115e-15 and "c_eff_f" not in given.details["not_measured"]


def test_points_outside_the_fit_range_are_left_out_and_counted(tmp_path):
    curves = model_curves()
    wide = np.concatenate([[0.1, 0.2], DRAIN_V, [1.6]])  # saturation and above the membrane range
    first = curves["nmos"][0]
    curves["nmos"] = (IVCurve(first.gate_v, wide, np.concatenate([[1e-10, 5e-10], first.current_a, [9e-9]])),
                      *curves["nmos"][1:])  # fmt: skip
    char = characterize_from_csv(write_iv_csv(tmp_path / "wide.csv", curves))
    assert char.nmos.lam[0] == pytest.approx(MODEL["nmos"][2][0], rel=1e-9)
    assert char.details["csv_curves"]["nmos"]["points_outside_fit_range"] == 3


def test_the_example_csv_gives_the_paper_values():
    char = characterize_from_csv(EXAMPLE)  # sky130 tt sweeps, subsampled (docs/circuit.md)
    assert char.lambda_n == pytest.approx(0.408, abs=0.001)
    assert char.lambda_p == pytest.approx(0.739, abs=0.001)
    assert char.lambda_dis == pytest.approx(0.1727, abs=0.0005)
    assert EXAMPLE.stat().st_size < 50_000


@pytest.mark.spice
def test_a_csv_of_the_spice_sweeps_gives_the_spice_characterization(tmp_path, capsys):
    spice = characterize(None, measure_capacitance=False, plot=False)
    path = write_iv_csv(tmp_path / "sweeps.csv", measure_iv_curves(), comment="sky130 tt DC sweeps")
    assert main(["circuit", "characterize", "--from-csv", str(path), "--out", str(tmp_path / "out"),
                 "--c-eff", "115.3e-15"]) == 0  # fmt: skip
    assert "λN = " in capsys.readouterr().out
    data = json.loads((tmp_path / "out" / "characterization.json").read_text())
    expected = spice.to_dict()
    for key in ("lambda_n", "lambda_p", "lambda_dis", "r2", "e_rev_pos", "e_rev_neg", "beta_dis",
                "discharger_current_a", "tables", "reference_points"):  # fmt: skip
        assert data[key] == expected[key], key
    assert data["c_eff_f"] == 115.3e-15


GOOD_HEADER = "role,V_G,V_D,I"


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines()


def _replace_line(path: Path, number: int, text: str) -> Path:
    lines = _lines(path)
    lines[number - 1] = text
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize(
    ("mutate", "match"),
    [
        (lambda p: _replace_line(p, 1, "role,V_G,V_D"), r"line 1: .*lacks the column\(s\) I"),
        (lambda p: _replace_line(p, 1, "role,V_G,V_D,I,T"), r"line 1: .*unknown column\(s\) 'T'"),
        (lambda p: _replace_line(p, 1, "role,V_G,V_D,V_D"), r"line 1: .*names V_D twice"),
        (lambda p: _replace_line(p, 5, "nfet,0.4,0.55,1e-9"), r"line 5: unknown role 'nfet'; the roles are nmos"),
        (lambda p: _replace_line(p, 5, "nmos,0.4,abc,1e-9"), r"line 5: the V_D value 'abc' is not a number"),
        (lambda p: _replace_line(p, 5, "nmos,0.4,0.55,nan"), r"line 5: the I value is 'nan'; .*finite"),
        (lambda p: _replace_line(p, 5, "nmos,inf,0.55,1e-9"), r"line 5: the V_G value is 'inf'"),
        (lambda p: _replace_line(p, 5, "nmos,0.4,0.55,-1e-9"), r"line 5: I = -1e-9 A, but the currents must be > 0"),
        (lambda p: _replace_line(p, 5, "nmos,0.4,0.55,0"), r"line 5: I = 0 A"),
        (lambda p: _replace_line(p, 5, "nmos,0.4,0.55"), r"line 5: 3 fields, but the header has 4"),
        (lambda p: _replace_line(p, 5, _lines(p)[3]), r"line 5 repeats the point of line 4"),
        (lambda p: p.write_text("\n".join(_lines(p)[:-96]) + "\n"), r"no rows for the role\(s\) discharger"),
        (lambda p: p.write_text("# only a comment\n\n"), r"holds no header and no rows"),
        (lambda p: p.write_bytes(b"role,V_G,V_D,I\nnmos,0.4,\xff\xfe,1e-9\n"), r"is not UTF-8 text"),
    ],
)
def test_bad_csv_files_are_named_with_the_line_and_the_fix(model_csv, mutate, match):
    mutate(model_csv)
    with pytest.raises(IVCsvError, match=match) as error:
        read_iv_csv(model_csv)
    assert str(error.value).startswith(str(model_csv))


def _write_with(tmp_path: Path, change) -> Path:
    curves = model_curves()
    change(curves)
    return write_iv_csv(tmp_path / "changed.csv", curves)


def _keep_points(curves, role, keep):
    first = curves[role][0]
    curves[role] = (IVCurve(first.gate_v, first.drain_v[keep], first.current_a[keep]), *curves[role][1:])


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda c: _keep_points(c, "nmos", np.array([20, 29])), r"line 2: the nmos curve at V_G = 0.4 V has 2 point"),
        (lambda c: _keep_points(c, "pmos", np.arange(0, 28)), r"no point at V0 = 1.3 V \(the nearest is V_D = 1.24"),
        (lambda c: c.update(discharger=c["discharger"][::2]), r"no discharger curve at .* Vb_dis = 0.5541 V"),
        (lambda c: c.update(nmos=c["nmos"][-1:]), r"no nmos curve has its current at V0 = 1.3 V within 6.1-122 nA"),
        (lambda c: c.update(pmos=tuple(IVCurve(x.gate_v, x.drain_v, x.current_a[::-1]) for x in c["pmos"])),
         r"the fitted λP is -0.\d+ /V, but it must be > 0"),
    ],
)  # fmt: skip
def test_curves_that_the_fit_cannot_use_are_refused(tmp_path, change, match):
    with pytest.raises(IVCsvError, match=match):
        characterize_from_csv(_write_with(tmp_path, change))


def test_the_cli_reports_a_bad_file_in_one_line_and_writes_nothing(model_csv, tmp_path, capsys):
    _replace_line(model_csv, 7, "nmos,0.4,0.61,NaN")
    out = tmp_path / "out"
    assert main(["circuit", "characterize", "--from-csv", str(model_csv), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"{model_csv}, line 7: the I value is 'NaN'" in err and "Traceback" not in err
    assert not out.exists()


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (["--c-eff", "1e-13"], "--c-eff: for --from-csv only"),
        (["--vb-dis", "0.55"], "--vb-dis: for --from-csv only"),
        (["--from-csv", "{csv}", "--corner", "ss"], "--corner picks the sky130 models"),
        (["--from-csv", "{missing}"], "does not exist or is not a file"),
    ],
)
def test_the_cli_options_that_do_not_go_together_are_refused(model_csv, tmp_path, capsys, args, match):
    args = [a.format(csv=model_csv, missing=tmp_path / "missing.csv") for a in args]
    assert main(["circuit", "characterize", "--out", str(tmp_path / "out"), *args]) == 2
    assert match in capsys.readouterr().err


def test_the_cli_takes_another_discharger_bias(tmp_path, capsys):
    path = _write_with(tmp_path, lambda c: c.update(discharger=c["discharger"][::2]))  # 0.50 and 0.60 V
    assert main(["circuit", "characterize", "--from-csv", str(path), "--out", str(tmp_path / "out"),
                 "--vb-dis", "0.6"]) == 0  # fmt: skip
    data = json.loads((tmp_path / "out" / "characterization.json").read_text())
    assert data["lambda_dis"] == pytest.approx(0.163) and data["config"]["vb_dis"] == 0.6
    assert "discharger 2 curves" in capsys.readouterr().out
