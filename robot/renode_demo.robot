*** Settings ***
Documentation       The demo firmware under Renode (platforms/netduinoplus2.repl) against the ICA
...                 module model and the in-process cloud: the same firmware and library keywords as
...                 firmware_demo.robot, with `emulator=renode`. Boot, MQTT, the LED command
...                 acknowledged, an OTA image with a block the module corrupts, and the firmware's
...                 semihosting verdict (exit code 0), which the Renode backend reads through a CPU
...                 hook. Skipped when Renode is not installed (`make renode`, PYSIM_RENODE or PATH).
Library             ${CURDIR}/IcaLibrary/
Suite Setup         Start Demo Firmware Under Renode
Suite Teardown      Stop All
Test Tags           firmware    renode


*** Variables ***
${PK}           a1demoPK
${DN}           demo-device-01
${TOPIC}        /${PK}/${DN}/user
${NEW_FW}       1.1.0


*** Test Cases ***
Firmware Boots Under Renode
    ${boot}=    Wait For Line On Uart    ^BOOT ica-demo fw=(\\S+)$    regex=True
    Should Be Equal    ${boot.groups}[0]    1.0.0

MQTT Connects
    Wait For Line On Uart    STEP mqtt_connect ok
    Module Should Be Connected
    Wait For Line On Uart    AT+IMQTTCONN    uart=at-te
    Wait For Line On Uart    +IMQTTSTATE:2    uart=at-ta

LED Command Is Acknowledged
    Wait For Line On Uart    STEP mqtt_subscribe ok
    Subscribe As Cloud    ${TOPIC}/ack
    Publish As Cloud    ${TOPIC}/command    {"led":1}
    Cloud Should Receive    ${TOPIC}/ack    payload={"ack":"led","value":1}
    Console Should Show    ^STEP led ok

OTA Image With A Corrupted Block Is Downloaded And Verified
    Wait For Line On Uart    STEP http_request ok
    ${image}=    Add Firmware Image    8192    ${NEW_FW}
    Announce Firmware    ${PK}    ${DN}    ${NEW_FW}
    Wait For Line On Uart    ota crc mismatch block 1, re-read
    Wait For Line On Uart    STEP ota ok    timeout=60s

Firmware Exits With 0 Through Semihosting
    MCU Should Exit With    0    timeout=60s
    Wait For Line On Uart    ^DONE 0$    regex=True


*** Keywords ***
Start Demo Firmware Under Renode
    ${missing}=    Evaluate    pysim.emulators.RenodeEmulator.why_unavailable()    modules=pysim.emulators
    Skip If    $missing    ${missing}
    # Renode under mono starts in seconds alone, far slower on a loaded machine
    Start MCU Session    emulator=renode    corrupt_ota_blocks=1    boot_timeout=90s
    Register Failing Uart String    ^STEP \\S+ fail    regex=True
