"""Fixtures of the circuit tests; tests marked ``spice`` are skipped when ngspice or sky130 is missing."""

from __future__ import annotations

from pathlib import Path

import pytest

from imcpnn.circuit.characterization import Characterization
from imcpnn.circuit.characterize import characterize
from imcpnn.circuit.spice import SpiceToolMissingError, check_tools

HERE = Path(__file__).parent


def _missing_tools() -> str | None:
    try:
        check_tools()
    except SpiceToolMissingError as error:
        return str(error)
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    missing = _missing_tools()
    if missing is None:
        return
    skip = pytest.mark.skip(reason=f"needs ngspice and the sky130 models: {missing}")
    for item in items:
        if "spice" in item.keywords and Path(str(item.fspath)).is_relative_to(HERE):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def characterized(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Characterization]:
    """One full characterisation (DC sweeps and the effective capacitance), shared by the session."""
    out = tmp_path_factory.mktemp("characterization")
    return out, characterize(out)


@pytest.fixture
def fake_ngspice(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Install a stand-in ngspice (a shell script run as ``ngspice -b NAME.cir`` in the run folder):
    ``fake_ngspice(body)`` writes ``body`` as the script and points ``IMCPNN_NGSPICE`` at it."""

    def install(body: str) -> Path:
        script = tmp_path / "fake_ngspice.sh"
        script.write_text("#!/bin/sh\n" + body)
        script.chmod(0o755)
        monkeypatch.setenv("IMCPNN_NGSPICE", str(script))
        return script

    return install
