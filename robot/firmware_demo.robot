*** Settings ***
Documentation       The demo firmware (firmware/build/demo.elf, STM32F405 in QEMU) against the
...                 ICA module model and the in-process cloud: boot, MQTT, telemetry, a LED
...                 command acknowledged, an OTA image with a block the module corrupts, and the
...                 firmware's verdict (exit code 0). The tests follow the firmware's run in order
...                 (firmware/README.md, "The demo"): console lines are read in order, and a
...                 failing step ends any wait at once.
Library             ${CURDIR}/IcaLibrary/
Library             Collections
Suite Setup         Start Demo Firmware
Suite Teardown      Stop All
Test Tags           firmware


*** Variables ***
${PK}           a1demoPK
${DN}           demo-device-01
${TOPIC}        /${PK}/${DN}/user
${NEW_FW}       1.1.0


*** Test Cases ***
Firmware Boots
    ${boot}=    Wait For Line On Uart    ^BOOT ica-demo fw=(\\S+)$    regex=True
    Should Be Equal    ${boot.groups}[0]    1.0.0

MQTT Connects
    Wait For Line On Uart    STEP mqtt_auth ok
    Wait For Line On Uart    STEP mqtt_connect ok
    Module Should Be Connected
    # the firmware's commands and the module's answers on the AT UART, in order
    Wait For Line On Uart    AT+IMQTTCONN    uart=at-te
    Wait For Line On Uart    +IMQTTSTATE:2    uart=at-ta

Telemetry Reaches The Cloud
    Subscribe As Cloud    ${TOPIC}/telemetry
    ${message}=    Cloud Should Receive    ${TOPIC}/telemetry    contains="seq":
    Should Be Equal    ${message.topic}    ${TOPIC}/telemetry
    ${telemetry}=    Evaluate    json.loads($message.text)    modules=json
    Dictionary Should Contain Key    ${telemetry}    temp

LED Command Is Acknowledged
    Wait For Line On Uart    STEP mqtt_subscribe ok
    Subscribe As Cloud    ${TOPIC}/ack
    ${sent}=    Publish As Cloud    ${TOPIC}/command    {"led":1}
    Should Be Equal    ${sent.topic}    ${TOPIC}/command
    Cloud Should Receive    ${TOPIC}/ack    payload={"ack":"led","value":1}
    Console Should Show    ^STEP led ok

CoAP And HTTP Requests Reach The Cloud
    Wait For Cloud Event    coap.request
    ${request}=    Wait For Cloud Event    http.request    method=POST
    Should Be Equal As Integers    ${request.detail}[status]    200

OTA Image With A Corrupted Block Is Downloaded And Verified
    Wait For Line On Uart    STEP http_request ok
    ${image}=    Add Firmware Image    8192    ${NEW_FW}
    ${announcement}=    Announce Firmware    ${PK}    ${DN}    ${NEW_FW}
    Should Be Equal    ${announcement}[data][md5]    ${image.md5}
    Wait For Line On Uart    ota crc mismatch block 1, re-read
    Wait For Line On Uart    STEP ota ok    timeout=60s

Firmware Exits With 0 When The Scenario Is Complete
    ${code}=    MCU Should Exit With    0    timeout=60s
    Wait For Line On Uart    ^DONE 0$    regex=True
    Should Not Be On Uart    STEP    timeout=0.5s


*** Keywords ***
Start Demo Firmware
    Start MCU Session    corrupt_ota_blocks=1
    Register Failing Uart String    ^STEP \\S+ fail    regex=True
