"""Fixtures shared by every test folder: ``backend``, the emulator a backend-generic test runs on."""

from __future__ import annotations

import pytest

from pysim.emulators import RenodeEmulator

#: QEMU always; Renode's cases skip, saying why, when it is not installed (`make renode`).
BACKENDS = ["qemu", pytest.param("renode", marks=[
    pytest.mark.renode, pytest.mark.skipif(not RenodeEmulator.available(), reason=str(RenodeEmulator.why_unavailable()))])]


@pytest.fixture(scope="module", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """``qemu`` or ``renode``: module-scoped, so a module's tests run backend by backend."""
    return request.param
