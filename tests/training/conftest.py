"""Training tests run torch on one thread: on a shared 2-core machine two OpenMP threads that
compete with other processes are many times slower than one (measured: 0.4 s against 11 s for the
same small fit)."""

import pytest
import torch


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
