"""Fixtures for the cloud tests: the plugin's cloud, checked to leave no task running,
and the service user's paho client (the devices and clients: tests/endpoint_clients.py)."""

from __future__ import annotations

import pytest

from pysim.cloud import Cloud


@pytest.fixture
def cloud(no_leftover_tasks, cloud: Cloud) -> Cloud:
    """The plugin's started Cloud; no task may be left running once it has stopped."""
    return cloud


@pytest.fixture
async def service(cloud: Cloud, paho):
    """A paho client for the cloud's service user (not yet connected)."""
    return paho(username="service", password=cloud.service_password, client_id="test-service")
