"""The composed training config: defaults, records of earlier versions, flags and TOML keys."""

import argparse

import pytest
import torch

from imcpnn.cli.train import config_from_args
from imcpnn.layers import build_network
from imcpnn.training import TrainConfig, load_trained_model
from imcpnn.training.checkpoint import save_checkpoint
from imcpnn.training.config import setting_names
from imcpnn.training.flags import FLAG_NAMES, add_train_flags

# metrics.json["config"] of a run written before the restructure (imcpnn 0.1.0, flat fields)
LEGACY_RECORD = {
    "dataset": "digits", "model": "rcspike", "arch": "64-100-10", "e_rev_pos": 2.0, "e_rev_neg": -2.0,
    "beta_dis": 0.0, "leak": 0.0, "window": 4.0, "solver": "dstd", "steps": 4, "random_offset": True,
    "eval_steps": 30, "epochs": 8, "batch_size": 32, "lr": 0.001, "spike_noise": 0.01, "tau_soft": 0.2,
    "gamma_temporal": 2.6, "t_ref": 0.9, "gamma_q": 0.0, "weight_l2": 0.0, "early_spike_penalty": 0.0,
    "augment": False, "grad_clip": None, "seed": 1, "device": "cpu", "data_dir": None, "val_fraction": None,
    "max_train_samples": None, "out": "runs/demo/digits_erev2", "extra": {},
}  # fmt: skip


def test_legacy_record_reads_as_the_same_run():
    legacy = TrainConfig.from_record(LEGACY_RECORD)
    flags = TrainConfig.from_flags(
        dataset="digits", model="rcspike", arch="64-100-10", e_rev=2.0, steps=4, epochs=8, seed=1,
        out="runs/demo/digits_erev2",
    )  # fmt: skip
    assert legacy == flags
    assert TrainConfig.from_record(legacy.to_record()) == legacy


def test_legacy_checkpoint_loads(tmp_path):
    network = build_network("64-100-10", e_rev_pos=2.0)
    save_checkpoint(tmp_path / "best.pt", {"config": LEGACY_RECORD, "model": network.state_dict()})
    model, config = load_trained_model(tmp_path / "best.pt")
    assert config.neuron.params.e_rev_neg == -2.0 and config.optimiser.epochs == 8
    assert all(
        torch.equal(a, b) for a, b in zip(model.state_dict().values(), network.state_dict().values(), strict=True)
    )


def test_presets_and_family_defaults_fill_the_gaps():
    iris = TrainConfig.from_flags(dataset="iris")
    assert iris.arch == "5-5-5" and iris.optimiser.lr == 3e-2 and iris.neuron.eval_steps == 30
    ttfs = TrainConfig.from_flags(dataset="digits", model="ttfs")
    assert ttfs.neuron.steps == 20 and ttfs.optimiser.grad_clip == 1.0 and ttfs.time_window == 4.0
    assert TrainConfig.from_flags(dataset="digits").time_window == 1.0


def test_flags_are_the_config_settings_and_toml_takes_the_pair(tmp_path):
    assert FLAG_NAMES == setting_names()
    parser = argparse.ArgumentParser()
    parser.add_argument("--config")
    add_train_flags(parser)
    toml = tmp_path / "run.toml"
    toml.write_text('[train]\ndataset = "iris"\ne-rev = [2.8, -1.53]\nbeta-dis = 0.155\nmax-train-samples = 50\n')
    from_toml = config_from_args(parser.parse_args(["--config", str(toml)]))
    from_flags = config_from_args(
        parser.parse_args(["--dataset", "iris", "--e-rev", "2.8", "-1.53", "--beta-dis", "0.155",
                           "--max-train-samples", "50"])
    )  # fmt: skip
    assert from_toml == from_flags
    params = from_toml.neuron.params
    assert (params.e_rev_pos, params.e_rev_neg, params.beta_dis) == (2.8, -1.53, 0.155)


@pytest.mark.parametrize(
    ("flags", "match"),
    [
        ({"e_rev": -2.0}, "must be > 0"),
        ({"e_rev": [1, 2, 3]}, "one value"),
        ({"grad_clip": -1.0}, "grad_clip"),
        ({"tau_soft": float("nan")}, "tau_soft"),
        ({"max_train_samples": 0}, "max_train_samples"),
        ({"nonsense": 1}, "unknown training settings"),
    ],
)
def test_bad_settings_are_named(flags, match):
    with pytest.raises(ValueError, match=match):
        TrainConfig.from_flags(dataset="digits", **flags)


def test_changing_only_e_plus_of_an_asymmetric_pair_is_refused():
    network = build_network("5-5-5", e_rev_pos=2.8, e_rev_neg=-1.53)
    with pytest.raises(ValueError, match="give e_rev_neg too"):
        network.set_config(e_rev_pos=3.0)
    symmetric = build_network("5-5-5", e_rev_pos=2.0)
    assert symmetric.set_config(e_rev_pos=3.0).params.e_rev_neg == -3.0


def test_a_data_folder_for_a_bundled_data_set_is_an_error():
    with pytest.raises(ValueError, match="bundled"):
        TrainConfig.from_flags(dataset="digits", data_dir="/tmp")


def test_a_cifar_batch_that_fails_in_any_way_is_a_clear_error(tmp_path, monkeypatch):
    from imcpnn.data import cifar10

    path = tmp_path / "data_batch_1"
    path.write_bytes(b"\x80\x04K\x01.")

    def exhausts_memory(self):
        raise MemoryError

    monkeypatch.setattr(cifar10._NumpyOnlyUnpickler, "load", exhausts_memory)
    with pytest.raises(ValueError, match="not a readable CIFAR-10 python batch"):
        cifar10.read_cifar10_py_batch(path)


@pytest.mark.parametrize(
    ("flags", "match"),
    [
        ({"window": 3.0}, "window is fixed at 1"),
        ({"seed": -1}, "seed must be an integer"),
    ],
)
def test_settings_that_would_be_ignored_or_crash_are_refused(flags, match):
    with pytest.raises(ValueError, match=match):
        TrainConfig.from_flags(dataset="digits", **flags)


def test_threads_zero_is_refused(capsys):
    from imcpnn.cli.main import main

    assert main(["train", "--dataset", "digits", "--threads", "0", "--out", "/nonexistent/never"]) == 2
    assert "--threads must be" in capsys.readouterr().err


def test_ttfs_trains_with_the_silent_surrogate_and_older_records_keep_it_off():
    config = TrainConfig.from_flags(dataset="digits", model="ttfs")
    assert config.loss.silent_surrogate == 1.0
    assert TrainConfig.from_flags(dataset="digits", model="rcspike").loss.silent_surrogate == 0.0
    record = config.to_record()
    assert TrainConfig.from_record(record) == config
    del record["silent_surrogate"]  # a checkpoint written before the setting existed
    assert TrainConfig.from_record(record).loss.silent_surrogate == 0.0
