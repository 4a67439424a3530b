*** Settings ***
Documentation       CoAP and HTTP through the ICA module model against the in-process aiocoap
...                 and aiohttp servers; what a device sends lands on the MQTT side, where an
...                 independent paho-mqtt client sees it.
Resource            common.resource
Test Setup          Start Cloud And Module    echo=False
Test Teardown       Stop All
Suite Teardown      Stop All


*** Test Cases ***
CoAP Authentication With A Wrong Secret Fails
    Send AT    AT+ICOAPAUTH="${PK}","${DN}","not-the-secret"
    ${auth}=    Wait For URC    +ICOAPAUTH
    Should Be Equal    ${auth}    +ICOAPAUTH:FAIL
    Send AT    AT+ICOAPSENDREQ=2,"${TOPIC}/coap","x"    expected=+CME ERROR:3

CoAP Confirmable POST Lands In The Cloud And Is Answered
    Subscribe As Cloud    ${TOPIC}/coap
    CoAP Online
    ${r}=    Send AT    AT+ICOAPSENDREQ=2,"${TOPIC}/coap","{\\"action\\":\\"on\\"}"
    ${token}=    Response Field    +ICOAPSENDREQ    response=${r}
    Wait For URC    +ICOAPSENDREQ    contains=+ICOAPSENDREQ:${token},0
    ${answer}=    Wait For URC    +ICOAPRCVRSP    contains=+ICOAPRCVRSP:${token},"${TOPIC}/coap"
    Answer Code Should Be 0    ${answer}
    ${request}=    Wait For Cloud Event    coap.request    path=/topic${TOPIC}/coap
    Cloud Should Receive    ${TOPIC}/coap    payload={"action":"on"}

CoAP Binary POST
    Subscribe As Cloud    ${TOPIC}/raw
    CoAP Online
    ${r}=    Send AT With Data    AT+ICOAPSENDBIN=2,"${TOPIC}/raw",5    11 22 33 AA BA    hex=True
    Publish Result Should Be Success    +ICOAPSENDBIN    ${r}
    Cloud Should Receive    ${TOPIC}/raw    payload=11 22 33 AA BA    hex=True

HTTP Authentication With A Wrong Secret Fails
    Send AT    AT+IHTTPAUTH="${PK}","${DN}","not-the-secret"
    ${auth}=    Wait For URC    +IHTTPAUTH
    Should Be Equal    ${auth}    +IHTTPAUTH:FAIL

HTTP Without A Token Reports Status 2
    Send AT    AT+IHTTPSEND=2,"${TOPIC}/http","y"
    ${urc}=    Wait For URC    +IHTTPSEND
    Should Be Equal    ${urc}    +IHTTPSEND:2

HTTP Synchronous POST Lands In The Cloud And Is Answered
    Subscribe As Cloud    ${TOPIC}/http
    HTTP Online
    Send AT    AT+IHTTPSEND=2,"${TOPIC}/http","{\\"action\\":\\"on\\"}"
    ${answer}=    Wait For URC    +IHTTPSEND    contains=+IHTTPSEND:0,
    Answer Code Should Be 0    ${answer}
    ${request}=    Wait For Cloud Event    http.request    method=POST    path=/topic${TOPIC}/http
    Should Be Equal As Integers    ${request.detail}[status]    200
    Cloud Should Receive    ${TOPIC}/http    payload={"action":"on"}

HTTP Asynchronous Text And Binary Requests
    Subscribe As Cloud    ${TOPIC}/h2
    HTTP Online
    ${r}=    Send AT    AT+IHTTPSENDREQ=3,"${TOPIC}/h2","v1"
    ${token}=    Response Field    +IHTTPSENDREQ    response=${r}
    Wait For URC    +IHTTPRCVRSP    contains=+IHTTPRCVRSP:${token},0,"${TOPIC}/h2"
    Cloud Should Receive    ${TOPIC}/h2    payload=v1
    Send AT With Data    AT+IHTTPSENDBIN=2,"${TOPIC}/h2",3    \x01\x02\x03
    Cloud Should Receive    ${TOPIC}/h2    payload=\x01\x02\x03
    # a GET returns the stored binary body: +IHTTPRCVBIN, OK, then the raw bytes
    Send AT    AT+IHTTPSENDREQ=1,"${TOPIC}/h2",""
    ${urc}=    Wait For URC    +IHTTPRCVBIN    contains=,"${TOPIC}/h2",3
    URC Payload Should Be    \x01\x02\x03    urc=${urc}


*** Keywords ***
Answer Code Should Be 0
    [Documentation]    The JSON answer carried by the URC ${urc} has "code": 0.
    [Arguments]    ${urc}
    ${text}=    URC Payload    ${urc}
    ${answer}=    Evaluate    json.loads($text)    modules=json
    Should Be Equal As Integers    ${answer}[code]    0

CoAP Online
    Send AT    AT+ICOAPAUTH="${PK}","${DN}","${SECRET}"    secret=${SECRET}
    ${auth}=    Wait For URC    +ICOAPAUTH
    Should Be Equal    ${auth}    +ICOAPAUTH:OK

HTTP Online
    Send AT    AT+IHTTPAUTH="${PK}","${DN}","${SECRET}"    secret=${SECRET}
    ${auth}=    Wait For URC    +IHTTPAUTH
    Should Be Equal    ${auth}    +IHTTPAUTH:OK
