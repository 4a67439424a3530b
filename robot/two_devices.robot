*** Settings ***
Documentation       Several devices in one suite, addressed by handle: two modules on one cloud,
...                 two demo firmwares in QEMU at once (each with its own cloud and module), and a
...                 firmware next to a module driven by the suite.
Resource            common.resource
Test Teardown       Stop All
Suite Teardown      Stop All


*** Variables ***
${DN2}          robot-device-02
${SECRET2: Secret}    %{ICA_ROBOT_SECRET2=robot-secret-02}
${TOPIC2}       /${PK}/${DN2}/user
${DEMO_TOPIC}   /a1demoPK/demo-device-01/user


*** Test Cases ***
Two Modules On One Cloud Each Get Their Own Commands
    Start Cloud
    Register Device    ${PK}    ${DN}    ${SECRET}
    Register Device    ${PK}    ${DN2}    ${SECRET2}
    ${alpha}=    Start Module    alias=alpha
    ${beta}=    Start Module    alias=beta
    Should Be Equal As Integers    ${beta}    2
    ${previous}=    Switch Module    alpha
    Should Be Equal As Integers    ${previous}    2
    MQTT Online
    Switch Module    beta
    MQTT Online As    ${DN2}    ${SECRET2}
    Send AT    AT+IMQTTSUB="${TOPIC}/command",1    module=alpha
    Wait For URC    +IMQTTSUB    module=alpha
    Send AT    AT+IMQTTSUB="${TOPIC2}/command",1
    Wait For URC    +IMQTTSUB
    Publish As Cloud    ${TOPIC2}/command    for-beta
    ${urc}=    Wait For URC    +IMQTTRCVPUB    module=beta
    Should Be Equal    ${urc.payload}    ${{b"for-beta"}}
    Should Not Be On Uart    for-beta    timeout=0.5s    module=alpha
    Subscribe As Cloud    /${PK}/+/user/telemetry
    Send AT    AT+IMQTTPUB="${TOPIC}/telemetry",1,"from-alpha"    module=${alpha}
    ${message}=    Cloud Should Receive    /${PK}/+/user/telemetry
    Should Be Equal    ${message.topic}    ${TOPIC}/telemetry
    Should Be Equal    ${message.text}    from-alpha

Two Firmwares At Once
    [Tags]    firmware
    ${left}=    Start MCU Session    alias=left
    Start MCU Session    alias=right
    Register Failing Uart String    STEP mqtt_connect fail    device=left
    Register Failing Uart String    STEP mqtt_connect fail    device=right
    Wait For Line On Uart    STEP mqtt_connect ok    device=left
    Wait For Line On Uart    STEP mqtt_connect ok    device=right
    ${previous}=    Switch Device    left
    Should Be Equal As Integers    ${previous}    2
    Module Should Be Connected
    Module Should Be Connected    device=right
    # each session has its own cloud: a command sent to one reaches only that firmware
    Wait For Line On Uart    STEP mqtt_subscribe ok    device=right
    Subscribe As Cloud    ${DEMO_TOPIC}/ack    device=right
    Publish As Cloud    ${DEMO_TOPIC}/command    {"led":1}    device=right
    Cloud Should Receive    ${DEMO_TOPIC}/ack    payload={"ack":"led","value":1}    device=right
    Should Not Be On Uart    +IMQTTRCVPUB    timeout=0.5s    uart=at-ta    device=${left}
    # stopping one leaves the other running
    Stop MCU Session    left
    Run Keyword And Expect Error    MCU session left was stopped    Module Should Be Connected    device=left
    Module Should Be Connected    device=right

A Firmware And A Module Side By Side
    [Tags]    firmware
    Start MCU Session    alias=fw
    Start Cloud And Module    alias=te    echo=False
    Send AT    AT+IMQTTAUTH="${PK}","${DN}","${SECRET}"    secret=${SECRET}
    ${auth}=    Wait For URC    +IMQTTAUTH
    Should Be Equal    ${auth.fields}    ${{["OK"]}}
    Wait For Line On Uart    +IMQTTAUTH:OK    uart=at-ta    module=te
    Wait For Line On Uart    STEP mqtt_connect ok
    ${line}=    Wait For Line On Uart    \\+IMQTTSTATE:(\\d)    regex=True    uart=at-ta    device=fw
    Should Be Equal    ${line.groups}    ${{["2"]}}


*** Keywords ***
MQTT Online As
    [Documentation]    Like MQTT Online, for another device, on the active module.
    [Arguments]    ${dn}    ${secret}
    Send AT    ATE0
    Send AT    AT+IMQTTAUTH="${PK}","${dn}","${secret}"    secret=${secret}
    Wait For URC    +IMQTTAUTH    contains=OK
    Send AT    AT+IMQTTCONN
    Wait For URC    +IMQTTSTATE    contains=:2
