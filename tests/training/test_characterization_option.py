"""``--characterization``: train the physical RC-Spike model with a characterisation file's E± and β_dis."""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

import pytest

from imcpnn.circuit.characterization import Characterization
from imcpnn.circuit.iv_csv import characterize_from_csv
from imcpnn.cli.main import main
from imcpnn.cli.train import config_from_args
from imcpnn.training import TrainConfig
from imcpnn.training.flags import add_train_flags

EXAMPLE_CSV = Path(__file__).resolve().parents[2] / "docs" / "measured_iv_example.csv"


@pytest.fixture(scope="module")
def characterization_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Characterization]:
    """A characterization.json made from the example I-V curves (no SPICE)."""
    out = tmp_path_factory.mktemp("characterization")
    return out / "characterization.json", characterize_from_csv(EXAMPLE_CSV, out)


def test_the_file_sets_e_rev_and_beta_dis_and_the_record_names_it(characterization_file):
    path, char = characterization_file
    config = TrainConfig.from_flags(dataset="iris", characterization=str(path))
    params = config.neuron.params
    assert (params.e_rev_pos, params.e_rev_neg, params.beta_dis) == (char.e_rev_pos, char.e_rev_neg, char.beta_dis)
    record = config.to_record()
    assert record["characterization"] == {
        "path": str(path), "sha256": hashlib.sha256(path.read_bytes()).hexdigest(), "made_from": "csv",
        "e_rev_pos": char.e_rev_pos, "e_rev_neg": char.e_rev_neg, "beta_dis": char.beta_dis,
    }  # fmt: skip
    assert (record["e_rev_pos"], record["e_rev_neg"], record["beta_dis"]) == (params.e_rev_pos, params.e_rev_neg,
                                                                              params.beta_dis)  # fmt: skip
    assert TrainConfig.from_record(json.loads(json.dumps(record))) == config
    assert TrainConfig.from_flags(dataset="iris").to_record()["characterization"] is None
    # the same values given explicitly do not contradict the file
    same = TrainConfig.from_flags(
        dataset="iris", characterization=str(path), e_rev=[char.e_rev_pos, char.e_rev_neg], beta_dis=char.beta_dis
    )
    assert same == config


@pytest.mark.parametrize(
    ("flags", "match"),
    [
        ({"model": "ttfs"}, "applies to --model rcspike only, not ttfs"),
        ({"e_rev": 2.0}, r"contradicts the explicit --e-rev 2 -2"),
        ({"e_rev": [2.8, -1.53]}, r"contradicts the explicit --e-rev 2.8 -1.53"),
        ({"beta_dis": 0.0}, r"contradicts the explicit --beta-dis 0"),
    ],
)
def test_contradicting_settings_and_other_families_are_refused(characterization_file, flags, match):
    path, _ = characterization_file
    with pytest.raises(ValueError, match=match):
        TrainConfig.from_flags(dataset="iris", characterization=str(path), **flags)


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ("[1, 2]", "not a JSON object of a characterisation"),
        ('{"lambda_n": 0.4}', "lacks discharger_current_a"),
        ("role,V_G,V_D,I\n", r"is not JSON .*--from-csv"),
        (b"\x80\x81", "is not JSON"),
    ],
)
def test_a_file_that_is_not_a_characterization_is_named(tmp_path, content, match):
    path = tmp_path / ("bad.csv" if "role" in str(content) else "bad.json")
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(ValueError, match=match) as error:
        TrainConfig.from_flags(dataset="iris", characterization=str(path))
    assert str(path) in str(error.value) and "--characterization" in str(error.value)


def test_a_characterization_without_valid_lambdas_is_refused(characterization_file, tmp_path):
    path, _ = characterization_file
    data = json.loads(path.read_text())
    data["lambda_p"] = 0.0
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(data))
    with pytest.raises(ValueError, match=r"λ must be finite and > 0.*lambda_p"):
        TrainConfig.from_flags(dataset="iris", characterization=str(broken))
    with pytest.raises(FileNotFoundError, match="does not exist"):
        TrainConfig.from_flags(dataset="iris", characterization=str(tmp_path / "none.json"))


def test_the_flag_and_the_toml_key_agree(characterization_file, tmp_path):
    path, _ = characterization_file
    parser = argparse.ArgumentParser()
    parser.add_argument("--config")
    add_train_flags(parser)
    toml = tmp_path / "run.toml"
    toml.write_text(f'[train]\ndataset = "iris"\ncharacterization = "{path}"\n')
    from_toml = config_from_args(parser.parse_args(["--config", str(toml)]))
    from_flags = config_from_args(parser.parse_args(["--dataset", "iris", "--characterization", str(path)]))
    assert from_toml == from_flags and from_flags.characterization is not None


def test_imcpnn_train_records_what_it_trained_with(characterization_file, tmp_path, capsys):
    path, char = characterization_file
    out = tmp_path / "run"
    args = ["train", "--dataset", "iris", "--epochs", "1", "--characterization", str(path), "--out", str(out)]
    assert main([*args, "--no-progress", "--threads", "1"]) == 0
    assert f"training with {path} (from csv" in capsys.readouterr().out
    config = json.loads((out / "metrics.json").read_text())["config"]
    assert config["characterization"]["path"] == str(path)
    assert (config["e_rev_pos"], config["e_rev_neg"], config["beta_dis"]) == (char.e_rev_pos, char.e_rev_neg,
                                                                              char.beta_dis)  # fmt: skip
    assert main(["train", "--dataset", "iris", "--e-rev", "2", "--characterization", str(path), "--out",
                 str(tmp_path / "refused")]) == 2  # fmt: skip
    assert "contradicts the explicit --e-rev 2 -2" in capsys.readouterr().err
