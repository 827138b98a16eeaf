import pytest

from runtime.images import open_store


@pytest.fixture
def store(vmvc_root):
    """An empty image store under a private $VMVC_ROOT."""
    return open_store()
