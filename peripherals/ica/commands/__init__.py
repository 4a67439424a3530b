"""The command families, one file each (MQTT, CoAP, HTTP, OTA, basics), mounted on the
module's command table; the parts several families share are files of their own."""
