"""The device signing scheme, for the cloud side: it lives with the module
(``peripherals/ica/devauth.py``), below both, and is re-exported here."""

from peripherals.ica.devauth import (DeviceCredentials, mqtt_connect_fields, parse_mqtt_client_identifier,
                                     parse_mqtt_username, sign)

__all__ = ["DeviceCredentials", "mqtt_connect_fields", "parse_mqtt_client_identifier", "parse_mqtt_username",
           "sign"]
