"""Compatibility profiles: what real MCU-side ICA clients need of a module.

The spec's behaviour (profile ``spec``) is the default. Alibaba's device SDK carries
the most used MCU-side ICA clients, and they depend on how the modules of their day
behaved rather than on the spec:

``sdk2`` (SDK 2.x, ``src/services/mdal/mal/ica/mdal_ica_at_client.c``)
    Echo is off at power-on (the client sends no ``ATE0`` and would read the echoed
    command as its reply). A QoS 0 publish has no result URC: the client completes it
    on the id line ``+IMQTTPUB:<id>`` and matches results by name, not id, so a later
    ``+IMQTTPUB:<id>,0`` would be taken as the next publish's result. Inside quoted
    strings only ``\\"`` is an escape; a backslash stands for itself.

``sdk3`` (SDK 3.x, ``wrappers/atm/at_mqtt/mqtt_ica.c``)
    Echo is off at power-on. A connected MQTT link is reported as
    ``+IMQTTSTATE:1`` (the value spec V0.3 used), not 2. Quoting as ``sdk2``.

With either, ``a\\\\b`` arrives as ``a\\\\b`` (the spec reads ``a\\b``) and a payload
ending in a backslash cannot be sent in a quoted string (use the binary commands).
Responses are written as in the spec.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Profile:
    name: str
    echo: bool = True                 # echo at power-on (ATE1)
    escapes: str = '"\\'            # characters a backslash escapes inside quotes
    mqtt_connected: int = 2           # the +IMQTTSTATE value of a connected link
    qos0_publish_result: bool = True  # +IMQTTPUB:<id>,<status> after a QoS 0 publish


PROFILES: dict[str, Profile] = {p.name: p for p in (
    Profile("spec"),
    Profile("sdk2", echo=False, escapes='"', qos0_publish_result=False),
    Profile("sdk3", echo=False, escapes='"', mqtt_connected=1),
)}


def profile(name: str) -> Profile:
    """The profile named ``name``; ValueError naming the known ones otherwise."""
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown module profile {name!r}: use one of {', '.join(PROFILES)}") from None
