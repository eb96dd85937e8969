import pytest
import torch


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    """The training tests' networks are tiny: torch's intra-op threads only add overhead on 2 busy cores."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
