"""The demo built with DEMO_LOG_AT=1: the AT engine's log hook shows every AT line on the console."""

from __future__ import annotations

from pysim.session import DEMO_DEVICE

SECRET = DEMO_DEVICE[2]


async def test_log_hook_shows_at_lines_without_the_secret(mcu_session, firmware_variant):
    session = await mcu_session(firmware=firmware_variant(DEMO_LOG_AT="1"))
    await session.wait_console(r"^STEP mqtt_subscribe ok", 30)
    lines = session.console_lines
    # each sent command and each received line, in order, around the steps they belong to
    connect = lines.index("LOG > AT+IMQTTCONN")
    assert lines.index("LOG < +IMQTTSTATE:2", connect) < lines.index("STEP mqtt_connect ok")
    assert "LOG > AT+IMQTTAUTH=..." in lines
    assert any(line.startswith("LOG < +IMQTTSUB:") and line.count(",") == 1 for line in lines)
    assert not any(SECRET in line for line in lines)
