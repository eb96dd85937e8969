"""Data-parallel training under torchrun: 2 CPU processes, gloo backend."""

import json
import os
import subprocess
import sys

import torch


def test_torchrun_two_processes_gloo(tmp_path):
    out = tmp_path / "ddp"
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
        "-m",
        "imcpnn.cli.main",
        "train",
        "--dataset",
        "digits",
        "--arch",
        "64-20-10",
        "--epochs",
        "2",
        "--max-train-samples",
        "256",
        "--batch-size",
        "32",
        "--seed",
        "5",
        "--out",
        str(out),
        "--no-progress",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "IMCPNN_BACKEND": "gloo"}
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["world_size"] == 2 and metrics["epochs"] == 2
    assert 0 <= metrics["test_accuracy"] <= 1
    # Each process saw half of every epoch's batches: 256 samples / (2 x 32) = 4 steps per epoch.
    state = torch.load(out / "last.pt", weights_only=False)
    assert state["optimizer"]["state"][0]["step"].item() == 8
