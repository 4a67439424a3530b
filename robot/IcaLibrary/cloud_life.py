"""Cloud life keywords: restart the in-process cloud, or start it again after `Stop Cloud`,
on the same ports and with the broker's persistent sessions (issue 10)."""

from __future__ import annotations

from robot.api import logger
from robot.api.deco import keyword

from .context import LibraryContext


class CloudLifeKeywords(LibraryContext):

    def _started_cloud(self):
        if self._cloud is None:
            raise AssertionError("no cloud: use Start Cloud first")
        return self._cloud

    async def _drop_observer(self, cloud) -> None:
        observer = self._observers.pop(id(cloud), None)
        if observer is not None:
            await observer.close()

    @keyword
    def restart_cloud(self) -> dict[str, str]:
        """Restarts the cloud `Start Cloud` started and returns its address map (unchanged).

        Every connection drops (modules report ``+IMQTTSTATE:0``); the broker, CoAP and
        HTTP servers come back on the same ports. Persistent MQTT sessions (``CLEAN`` 0)
        keep their subscriptions and the QoS 1/2 messages owed to them; the cloud's
        own paho client starts afresh, so repeat `Subscribe As Cloud` after it.
        Fails if `Start Cloud` was not used.

        Example:
        | Restart Cloud |
        | Wait For URC | +IMQTTSTATE | contains=:0 |
        """
        cloud = self._started_cloud()
        self._run(self._drop_observer(cloud))
        self._run(cloud.restart())
        logger.info(f"cloud restarted at {cloud.addresses}")
        return dict(cloud.addresses)

    @keyword
    def start_cloud_again(self) -> dict[str, str]:
        """Starts the cloud stopped by `Stop Cloud` again, on the same ports and with its
        persistent sessions, and returns its address map. Fails if `Start Cloud` was not used.

        Example:
        | Stop Cloud |
        | Wait For URC | +IMQTTSTATE | contains=:0 |
        | Start Cloud Again |
        """
        cloud = self._started_cloud()
        self._run(self._drop_observer(cloud))
        self._run(cloud.start())
        return dict(cloud.addresses)
