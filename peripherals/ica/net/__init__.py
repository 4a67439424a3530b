"""Network side of the module model: the MQTT codec (sans-I/O) and its asyncio client."""
