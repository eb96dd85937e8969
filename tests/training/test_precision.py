"""``--precision fp32 | tf32 | bf16``: the setting, its checks, TF32 flags, and DSTD under bf16 autocast."""

from __future__ import annotations

import json

import pytest
import torch

from imcpnn import functional as fn
from imcpnn.cli.main import main
from imcpnn.layers import build_network
from imcpnn.training import TrainConfig, train
from imcpnn.training.flags import read_toml
from imcpnn.training.precision import PRECISIONS, check_precision, matmul_precision, step_autocast

CPU, CUDA = torch.device("cpu"), torch.device("cuda")


def test_the_setting_defaults_to_fp32_and_is_recorded():
    config = TrainConfig.from_flags(dataset="digits")
    assert config.precision == "fp32" and config.to_record()["precision"] == "fp32"
    bf16 = TrainConfig.from_flags(dataset="digits", precision="bf16")
    assert TrainConfig.from_record(bf16.to_record()) == bf16


def test_a_record_from_before_the_setting_reads_as_fp32():
    record = TrainConfig.from_flags(dataset="digits", precision="bf16").to_record()
    del record["precision"]
    assert TrainConfig.from_record(record).precision == "fp32"


@pytest.mark.parametrize("bad", ["fp16", "BF16", "", None, 32])
def test_an_unknown_precision_is_refused_with_the_choices(bad):
    with pytest.raises(ValueError, match="precision must be one of fp32, tf32, bf16"):
        TrainConfig.from_flags(dataset="digits").replace(precision=bad)


def test_flag_and_toml_key(tmp_path, capsys):
    toml = tmp_path / "run.toml"
    toml.write_text('precision = "bf16"\n')
    assert read_toml(toml) == {"precision": "bf16"}
    with pytest.raises(SystemExit):
        main(["train", "--precision", "fp16"])
    assert "invalid choice: 'fp16'" in capsys.readouterr().err


def test_tf32_is_refused_off_cuda_and_bf16_runs_on_cpu():
    with pytest.raises(ValueError, match="no effect on cpu"):
        check_precision("tf32", CPU)
    check_precision("bf16", CPU)
    check_precision("fp32", CPU)
    with pytest.raises(ValueError, match="precision must be one of"):
        check_precision("fp16", CPU)


def test_cli_refuses_tf32_on_cpu_in_one_line(tmp_path, capsys):
    argv = ["train", "--dataset", "digits", "--precision", "tf32", "--epochs", "1", "--out", str(tmp_path / "x")]
    assert main([*argv, "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "precision tf32" in err and "Traceback" not in err
    assert not (tmp_path / "x" / "last.pt").exists()


@pytest.mark.parametrize("precision", PRECISIONS)
def test_tf32_flags_are_set_for_the_run_and_restored(precision):
    """The flags are process-wide settings that exist in CPU builds as well, so this needs no GPU."""
    before = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    with matmul_precision(precision, CUDA):
        inside = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    assert inside == ((True, True) if precision == "tf32" else (False, False))
    assert (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32) == before
    with matmul_precision(precision, CPU):  # on a CPU nothing changes
        assert (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32) == before


def test_autocast_only_for_bf16():
    a, b = torch.rand(4, 8), torch.rand(8, 3)
    for precision in PRECISIONS:
        with step_autocast(precision, CPU):
            product = a @ b
        assert product.dtype == (torch.bfloat16 if precision == "bf16" else torch.float32)


def _layer_inputs(seed=0, n_in=200, n_out=30):
    generator = torch.Generator().manual_seed(seed)
    times = torch.rand(64, n_in, generator=generator)
    weight = 2.0 / n_in**0.5 * torch.randn(n_out, n_in, generator=generator)
    return times, weight


@pytest.mark.parametrize("e_rev", [2.0, 10.0])
def test_dstd_under_bf16_autocast_integrates_in_float32(e_rev):
    """Autocast lowers the DSTD product to bf16; the integration after it must stay float32 (the
    potential's dtype), so the potential is off the fp32 one by no more than bf16's rounding of the
    product (relative 2^-8, one bf16 step) and stays below DSTD's own error at M = 10."""
    times, weight = _layer_inputs()
    kw = {"e_rev_pos": e_rev, "e_rev_neg": -e_rev, "method": "dstd", "steps": 10}
    fp32 = fn.rc_spike_potential(times, weight, **kw)
    exact = fn.rc_spike_potential(times.double(), weight.double(), e_rev_pos=e_rev, e_rev_neg=-e_rev)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        bf16 = fn.rc_spike_potential(times, weight, **kw)
    assert bf16.dtype == torch.float32 and torch.isfinite(bf16).all()
    bf16_error = float((bf16.double() - fp32.double()).abs().mean())
    assert bf16_error < 2**-8 * float(fp32.abs().mean()), bf16_error
    assert bf16_error < float((fp32.double() - exact).abs().mean())


@pytest.mark.parametrize("family", ["rcspike", "ttfs"])
def test_networks_under_bf16_autocast_give_float32_spike_times(family):
    """Dense and convolutional layers of both families: float32 out, no NaN, near the fp32 times."""
    torch.manual_seed(0)
    net = build_network("1x8x8:C6-P-16-4", family=family, e_rev_pos=2.0, steps=8).eval()
    x = torch.rand(32, 1, 8, 8)
    fp32 = net(x)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        bf16 = net(x)
    assert bf16.dtype == torch.float32 and not torch.isnan(bf16).any()
    both = torch.isfinite(fp32) & torch.isfinite(bf16)
    assert both.float().mean() > 0.5  # most outputs fire in both
    assert (bf16[both] - fp32[both]).abs().mean() < 0.02 * net.config.time_window


def test_bf16_training_runs_and_resumes_in_another_precision(tmp_path):
    quick = {"dataset": "digits", "arch": "64-20-10", "max_train_samples": 200, "seed": 3, "out": str(tmp_path / "r")}
    metrics = train(TrainConfig.from_flags(**quick, epochs=1, precision="bf16"), progress=False, log=lambda s: None)
    assert metrics["precision"] == "bf16" and metrics["config"]["precision"] == "bf16"
    assert 0 <= metrics["test_accuracy"] <= 1
    history = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert history["epochs_trained"] == 1
    # the precision is how the step is computed (like the device): a run may go on in another one
    resumed = train(TrainConfig.from_flags(**quick, epochs=2), resume=True, progress=False, log=lambda s: None)
    assert resumed["epochs_trained"] == 2 and resumed["precision"] == "fp32"
