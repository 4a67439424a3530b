*** Settings ***
Documentation       MQTT through the ICA module model against the in-process broker; an
...                 independent paho-mqtt client plays the cloud application.
Resource            common.resource
Test Setup          Start Cloud And Module
Test Teardown       Stop All
Suite Teardown      Stop All


*** Test Cases ***
Authentication With The Right Secret Succeeds
    Send AT    AT+IMQTTAUTH="${PK}","${DN}","${SECRET}"    secret=${SECRET}
    ${auth}=    Wait For URC    +IMQTTAUTH
    Should Be Equal    ${auth}    +IMQTTAUTH:OK

Authentication With A Wrong Secret Fails And Connecting Is Refused
    Send AT    AT+IMQTTAUTH="${PK}","${DN}","not-the-secret"
    ${auth}=    Wait For URC    +IMQTTAUTH
    Should Be Equal    ${auth}    +IMQTTAUTH:FAIL
    Send AT    AT+IMQTTCONN    expected=+CME ERROR:3

Connect Reports State 2
    MQTT Online
    Module Should Be Connected
    ${r}=    Send AT    AT+IMQTTSTATE?
    Response Should Contain    +IMQTTSTATE:2    ${r}

Publish From The TE Reaches The Cloud
    Subscribe As Cloud    ${TOPIC}/telemetry
    MQTT Online
    ${r}=    Send AT    AT+IMQTTPUB="${TOPIC}/telemetry",1,"{\\"temp\\":21}"
    Publish Result Should Be Success    +IMQTTPUB    ${r}
    Cloud Should Receive    ${TOPIC}/telemetry    payload={"temp":21}

Command From The Cloud Reaches The TE
    MQTT Online
    Send AT    AT+IMQTTSUB="${TOPIC}/command",1
    Wait For URC    +IMQTTSUB    contains=,1
    # quotes, a comma and CR LF inside: the TE reads the payload by its length
    Publish As Cloud    ${TOPIC}/command    {"led":1,"note":"a, b\r\nc"}
    ${urc}=    Wait For URC    +IMQTTRCVPUB
    Should Be Equal    ${urc.name}    +IMQTTRCVPUB
    ${rcv_topic}=    URC Field    1    ${urc}
    Should Be Equal    ${rcv_topic}    ${TOPIC}/command
    URC Payload Should Be    {"led":1,"note":"a, b\r\nc"}    urc=${urc}

Binary Publish Both Ways
    Subscribe As Cloud    ${TOPIC}/bin-up
    MQTT Online
    ${r}=    Send AT With Data    AT+IMQTTPUBIN="${TOPIC}/bin-up",1,6    00 01 FF 2B 2B 2B    hex=True
    Publish Result Should Be Success    +IMQTTPUBIN    ${r}
    Cloud Should Receive    ${TOPIC}/bin-up    payload=0001ff2b2b2b    hex=True
    # length 0: the module prompts with > and the data ends at +++
    Send AT With Data    AT+IMQTTPUBIN="${TOPIC}/bin-up",0,0    \x00\x7f\x80    plus_escape=True
    Cloud Should Receive    ${TOPIC}/bin-up    payload=\x00\x7f\x80
    Send AT    AT+IMQTTSUB="${TOPIC}/bin-down",1
    Wait For URC    +IMQTTSUB
    Publish As Cloud    ${TOPIC}/bin-down    11 22 33 AA BA    hex=True
    ${urc}=    Wait For URC    +IMQTTRCVPUBIN
    URC Payload Should Be    11 22 33 AA BA    hex=True    urc=${urc}

The Cloud Going Away Is Reported
    MQTT Online
    Stop Cloud
    ${state}=    Wait For URC    +IMQTTSTATE
    Should Be Equal    ${state}    +IMQTTSTATE:0
    Send AT    AT+IMQTTPUB="${TOPIC}/x",1,"y"    expected=+CME ERROR:3
    Send AT    AT
