*** Settings ***
Documentation       The demo firmware under Renode (platforms/netduinoplus2.repl) against the ICA
...                 module model and the in-process cloud: the same firmware and library keywords as
...                 firmware_demo.robot, with `emulator=renode`: boot, MQTT connected, telemetry at
...                 the cloud, the LED command acknowledged. (The OTA part and the semihosting verdict
...                 under Renode are covered by the pytest demo test; this suite stays short, as
...                 Renode starts slowly.) Skipped when Renode is not installed (`make renode`,
...                 PYSIM_RENODE or PATH).
Library             ${CURDIR}/IcaLibrary/
Suite Setup         Start Demo Firmware Under Renode
Suite Teardown      Stop All
Test Tags           firmware    renode


*** Variables ***
${PK}           a1demoPK
${DN}           demo-device-01
${TOPIC}        /${PK}/${DN}/user


*** Test Cases ***
Firmware Boots Under Renode
    ${boot}=    Wait For Line On Uart    ^BOOT ica-demo fw=(\\S+)$    regex=True
    Should Be Equal    ${boot.groups}[0]    1.0.0

MQTT Connects
    Wait For Line On Uart    STEP mqtt_connect ok
    Module Should Be Connected
    Wait For Line On Uart    AT+IMQTTCONN    uart=at-te
    Wait For Line On Uart    +IMQTTSTATE:2    uart=at-ta

Telemetry Reaches The Cloud
    Subscribe As Cloud    ${TOPIC}/telemetry
    ${message}=    Cloud Should Receive    ${TOPIC}/telemetry    contains="seq":
    Should Be Equal    ${message.topic}    ${TOPIC}/telemetry

LED Command Is Acknowledged
    Wait For Line On Uart    STEP mqtt_subscribe ok
    Subscribe As Cloud    ${TOPIC}/ack
    Publish As Cloud    ${TOPIC}/command    {"led":1}
    Cloud Should Receive    ${TOPIC}/ack    payload={"ack":"led","value":1}
    Console Should Show    ^STEP led ok


*** Keywords ***
Start Demo Firmware Under Renode
    ${missing}=    Evaluate    pysim.emulators.RenodeEmulator.why_unavailable()    modules=pysim.emulators
    Skip If    $missing    ${missing}
    # Renode under mono starts in seconds alone, far slower on a loaded machine
    Start MCU Session    emulator=renode    boot_timeout=90s
    Register Failing Uart String    ^STEP \\S+ fail    regex=True
