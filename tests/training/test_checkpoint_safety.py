"""No file a user hands in can run code: checkpoints load with weights_only (issue 15, item 1)."""

import os

import pytest
import torch

from imcpnn.cli.main import main
from imcpnn.training.checkpoint import load_checkpoint


class _RunsCode:
    """A pickle that calls os.system when it is loaded."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _malicious(tmp_path):
    marker = tmp_path / "code-ran"
    path = tmp_path / "best.pt"
    torch.save({"config": {}, "model": {}, "payload": _RunsCode(marker)}, path)
    return path, marker


def test_a_checkpoint_that_runs_code_is_refused_and_the_code_never_runs(tmp_path):
    path, marker = _malicious(tmp_path)
    with pytest.raises(ValueError, match="loads safely"):
        load_checkpoint(path)
    assert not marker.exists()


def test_eval_of_a_malicious_checkpoint_is_one_clear_line(tmp_path, capsys):
    path, marker = _malicious(tmp_path)
    assert main(["eval", str(path)]) == 2
    err = capsys.readouterr().err
    assert "loads safely" in err and "Traceback" not in err
    assert not marker.exists()
