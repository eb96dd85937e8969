import pytest


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread(one_torch_thread):
    """Every test module here runs on one torch thread (the root conftest's ``one_torch_thread``)."""
    yield
