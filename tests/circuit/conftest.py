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
