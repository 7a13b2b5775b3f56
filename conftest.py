"""Without PyTorch the suite still runs: every comparison with it skips, saying how to install it.

Tests take the ``torch`` fixture instead of importing torch; the doctests in micrograd/ whose
examples call PyTorch are listed in TORCH_DOCTESTS. Both live here, at the root, because the
doctests are collected from micrograd/ and tests/conftest.py only reaches tests/.
"""

import pytest

TORCH_MISSING = 'PyTorch is not installed: pip install "torch==2.13.0" (or pip install -e ".[test]")'
TORCH_DOCTESTS = {"micrograd.testing.assert_matches_torch"}  # doctests whose examples call PyTorch


@pytest.fixture(scope="session")
def torch():
    """The torch module, or a skip saying how to install it."""
    return pytest.importorskip("torch", reason=TORCH_MISSING)


def pytest_runtest_setup(item):
    """A doctest that calls PyTorch skips as a test taking the ``torch`` fixture does."""
    if item.name in TORCH_DOCTESTS:
        pytest.importorskip("torch", reason=TORCH_MISSING)
