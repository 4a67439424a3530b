*** Settings ***
Documentation       The demo firmware (firmware/build/demo.elf, STM32F405 in QEMU) against the
...                 ICA module model and the in-process cloud: boot, MQTT, telemetry, a LED
...                 command acknowledged, an OTA image with a block the module corrupts, and the
...                 firmware's verdict (exit code 0). The tests follow the firmware's run in order
...                 (firmware/README.md, "The demo").
Library             ${CURDIR}/IcaLibrary/
Library             Collections
Suite Setup         Start MCU Session    corrupt_ota_blocks=1
Suite Teardown      Stop All
Test Tags           firmware


*** Variables ***
${PK}           a1demoPK
${DN}           demo-device-01
${TOPIC}        /${PK}/${DN}/user
${NEW_FW}       1.1.0


*** Test Cases ***
Firmware Boots
    Console Should Show    ^BOOT ica-demo fw=1\\.0\\.0$

MQTT Connects
    Console Should Show    ^STEP mqtt_auth ok
    Console Should Show    ^STEP mqtt_connect ok
    Module Should Be Connected

Telemetry Reaches The Cloud
    Subscribe As Cloud    ${TOPIC}/telemetry
    ${message}=    Cloud Should Receive    ${TOPIC}/telemetry    contains="seq":
    ${telemetry}=    Evaluate    json.loads($message)    modules=json
    Dictionary Should Contain Key    ${telemetry}    temp

LED Command Is Acknowledged
    Console Should Show    ^STEP mqtt_subscribe ok
    Subscribe As Cloud    ${TOPIC}/ack
    Publish As Cloud    ${TOPIC}/command    {"led":1}
    Cloud Should Receive    ${TOPIC}/ack    payload={"ack":"led","value":1}
    Console Should Show    ^STEP led ok

OTA Image With A Corrupted Block Is Downloaded And Verified
    Console Should Show    ^STEP http_request ok
    Add Firmware Image    8192    ${NEW_FW}
    Announce Firmware    ${PK}    ${DN}    ${NEW_FW}
    Console Should Show    ^LOG ota crc mismatch block 1, re-read
    Console Should Show    ^STEP ota ok    timeout=60s

Firmware Exits With 0 When The Scenario Is Complete
    MCU Should Exit With    0    timeout=60s
    Console Should Show    ^DONE 0$
