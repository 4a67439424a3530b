"""Security tests: the plugin's cloud, checked to leave no task running; the independent
clients that try what they must not are tests/endpoint_clients.py's."""

from __future__ import annotations

import pytest


@pytest.fixture
def cloud(no_leftover_tasks, cloud):
    """The plugin's started Cloud; no task may be left running once it has stopped."""
    return cloud
