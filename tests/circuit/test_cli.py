"""``imcpnn circuit ...``: bad input gets a clear error before any work, output folders are claimed."""

from __future__ import annotations

import json

import numpy as np
import pytest

from imcpnn.cli.main import main
from imcpnn.outdir import claim_output_folder


def _synthetic_json(path):
    from test_mapping_and_extraction import _synthetic_characterization

    path.write_text(json.dumps(_synthetic_characterization().to_dict()))
    return path


def _weights_npz(path, n_test: int = 1):
    rng = np.random.default_rng(3)
    hidden, output = rng.uniform(-0.5, 0.9, size=(5, 5)), rng.uniform(-0.6, 0.9, size=(5, 5))
    times = np.concatenate([rng.uniform(0.0, 0.8, size=(n_test + 1, 4)), np.zeros((n_test + 1, 1))], axis=1)
    np.savez(path, ann_0=hidden, ann_1=output, pnn_0=hidden, pnn_1=output, calibration_times=times[:1],
             test_times=times[1:])  # fmt: skip
    return path


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["--timeout", "0"], ["--timeout", "> 0"]),
        (["--timeout", "-1"], ["--timeout", "> 0"]),
        (["--timeout", "nan"], ["--timeout", "finite"]),
        (["--timeout", "soon"], ["--timeout", "number"]),
        (["--workers", "0"], ["--workers", ">= 1"]),
        (["--workers", "-2"], ["--workers", ">= 1"]),
        (["--samples", "0"], ["--samples", ">= 1"]),
        (["--calibration", "0"], ["--calibration", ">= 1"]),
        (["--seed", "-1"], ["--seed", ">= 0"]),
        (["--scale-pnn", "0"], ["--scale-pnn", "> 0"]),
        (["--scale-pnn", "nan"], ["--scale-pnn", "finite"]),
        (["--scale-ann", "0.9", "-1"], ["--scale-ann", "> 0"]),
        (["--scale-ann", "inf", "0.9"], ["--scale-ann", "finite"]),
    ],
)
def test_bad_numbers_are_argparse_errors(tmp_path, capsys, argv, words):
    with pytest.raises(SystemExit) as caught:
        main(["circuit", "compare", "--out", str(tmp_path / "out"), *argv])
    assert caught.value.code == 2
    message = capsys.readouterr().err
    for word in words:
        assert word in message
    assert "Traceback" not in message and not (tmp_path / "out").exists()


def _compare(tmp_path, capsys, *argv):
    code = main(["circuit", "compare", "--out", str(tmp_path / "out"), "--samples", "1", "--calibration", "1", *argv])
    return code, capsys.readouterr().err


def test_a_bad_characterization_file_fails_before_any_work(tmp_path, capsys):
    """A missing --characterization was silently ignored (and the devices characterised), one without
    keys raised a KeyError."""
    cases = {
        "missing.json": None,
        "not_json.json": "{oops",
        "no_keys.json": json.dumps({"lambda_n": 0.41}),
        "list.json": "[1, 2, 3]",
    }
    for name, text in cases.items():
        path = tmp_path / name
        if text is not None:
            path.write_text(text)
        code, err = _compare(tmp_path, capsys, "--characterization", str(path))
        assert code == 2, name
        assert "--characterization" in err and name in err and "imcpnn circuit characterize" in err, err
        assert not (tmp_path / "out").exists()


def test_bad_weight_files_fail_before_any_work(tmp_path, capsys):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "no_times.npz", ann_0=rng.random((5, 5)), ann_1=rng.random((5, 5)),
             pnn_0=rng.random((5, 5)), pnn_1=rng.random((5, 5)))  # fmt: skip
    np.savez(tmp_path / "gap.npz", ann_0=rng.random((5, 5)), ann_2=rng.random((5, 5)), pnn_0=rng.random((5, 5)),
             pnn_2=rng.random((5, 5)), calibration_times=rng.random((1, 5)), test_times=rng.random((1, 5)))  # fmt: skip
    np.savez(tmp_path / "shapes.npz", ann_0=rng.random((5, 5)), ann_1=rng.random((5, 4)), pnn_0=rng.random((5, 5)),
             pnn_1=rng.random((5, 4)), calibration_times=rng.random((1, 5)), test_times=rng.random((1, 5)))  # fmt: skip
    np.savez(tmp_path / "nan.npz", ann_0=np.full((5, 5), np.nan), ann_1=rng.random((5, 5)), pnn_0=rng.random((5, 5)),
             pnn_1=rng.random((5, 5)), calibration_times=rng.random((1, 5)), test_times=rng.random((1, 5)))  # fmt: skip
    (tmp_path / "text.npz").write_text("not an npz")
    for name in ("missing.npz", "text.npz", "no_times.npz", "gap.npz", "shapes.npz", "nan.npz"):
        code, err = _compare(tmp_path, capsys, "--weights", str(tmp_path / name))
        assert code == 2, name
        assert "--weights" in err and name in err and "Traceback" not in err, err
        assert not (tmp_path / "out").exists()


def test_output_folders_are_claimed(tmp_path, capsys):
    """A second process into the same folder, or an --out that is a file, fails before any work."""
    a_file = tmp_path / "a_file"
    a_file.write_text("")
    assert main(["circuit", "characterize", "--out", str(a_file)]) == 2
    assert "is a file" in capsys.readouterr().err
    assert main(["circuit", "compare", "--out", str(a_file), "--weights", str(_weights_npz(tmp_path / "w.npz"))]) == 2
    assert "is a file" in capsys.readouterr().err
    busy = tmp_path / "busy"
    with claim_output_folder(busy):
        assert main(["circuit", "characterize", "--out", str(busy)]) == 2
        assert "in use by another imcpnn process" in capsys.readouterr().err
        assert main(["circuit", "compare", "--out", str(busy), "--weights", str(tmp_path / "w.npz")]) == 2
        assert "in use by another imcpnn process" in capsys.readouterr().err
    assert sorted(p.name for p in busy.iterdir()) == [".imcpnn.lock"]


@pytest.mark.spice
def test_a_run_whose_every_sample_failed_exits_non_zero(tmp_path, capsys, fake_ngspice):
    """It printed `RMSE inf ns over 0 samples` and exited 0."""
    fake_ngspice('echo "fake ngspice: broken"\nexit 1\n')
    code, err = _compare(
        tmp_path, capsys, "--weights", str(_weights_npz(tmp_path / "w.npz")), "--characterization",
        str(_synthetic_json(tmp_path / "char.json")), "--scale-ann", "1", "1", "--scale-pnn", "1", "--workers", "1",
    )  # fmt: skip
    assert code == 2
    assert "all 1 test simulations failed" in err and "fake ngspice: broken" in err


def test_the_cli_corners_are_the_configs():
    from imcpnn.circuit.config import SKY130_CORNERS
    from imcpnn.cli.circuit import CORNERS

    assert CORNERS == SKY130_CORNERS


@pytest.mark.spice
def test_quick_says_its_simulation_budget_and_keeps_to_it(tmp_path, capsys, fake_ngspice):
    """`compare --quick` is the demo's flow on the command line: it states at most how many simulations it
    will run (the quick search's 7 + 5 points x the calibration samples, plus the test samples), and a search
    whose every simulation fails stops after its first point and the probes around it."""
    counter = tmp_path / "runs.txt"
    fake_ngspice(f'echo run >> "{counter}"\necho "fake ngspice: broken"\nexit 1\n')
    code = main([
        "circuit", "compare", "--out", str(tmp_path / "out"), "--quick", "--weights",
        str(_weights_npz(tmp_path / "w.npz")), "--characterization", str(_synthetic_json(tmp_path / "char.json")),
        "--workers", "1", "--threads", "1", "--no-progress",
    ])  # fmt: skip
    captured = capsys.readouterr()
    assert code == 2 and "every calibration simulation of the scale search failed" in captured.err
    assert "at most 14 simulations" in captured.out, captured.out
    assert "up to 7 points x 1 calibration samples" in captured.out
    assert "2/14 simulations" in captured.out  # the whole budget is planned before the first simulation
    assert len(counter.read_text().split()) == 3  # the start point and its two probes, 1 calibration sample each


def test_quick_and_the_search_cap_are_checked(tmp_path, capsys):
    for argv, words in ((["--max-search-points", "0"], ">= 1"), (["--threads", "0"], ">= 1")):
        with pytest.raises(SystemExit) as caught:
            main(["circuit", "compare", "--out", str(tmp_path / "out"), "--quick", *argv])
        err = capsys.readouterr().err
        assert caught.value.code == 2 and argv[0] in err and words in err and not (tmp_path / "out").exists()
