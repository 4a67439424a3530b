*** Settings ***
Documentation       The module's compatibility profiles: the library's ``profile`` import
...                 argument sets the suite's default (``sdk3`` here), the ``profile`` argument
...                 of Start Module and Start MCU Session that of one module.
Library             ${CURDIR}/IcaLibrary/    profile=sdk3
Test Setup          Start Cloud With The Device
Test Teardown       Stop All
Suite Teardown      Stop All


*** Variables ***
${PK}                 a1robotPK
${DN}                 robot-device-01
${SECRET: Secret}     %{ICA_ROBOT_SECRET=robot-secret-01}
${TOPIC}              /${PK}/${DN}/user


*** Test Cases ***
The Suite's Profile sdk3: No Echo, A Connected Link Is State 1
    Start Module
    ${r}=    Send AT    AT+CGMI
    Raw Output Should Not Contain    AT+CGMI    ${r}
    ${state}=    Connect
    Should Be Equal    ${state}    +IMQTTSTATE:1
    Module Should Be Connected

A Module's Own Profile spec: Echo, A Connected Link Is State 2
    Start Module    profile=spec
    ${r}=    Send AT    AT+CGMI
    Raw Output Should Contain    AT+CGMI\r    ${r}
    Send AT    ATE0
    ${state}=    Connect
    Should Be Equal    ${state}    +IMQTTSTATE:2

Profile sdk2: A QoS 0 Publish Has No Result URC
    Start Module    profile=sdk2
    Connect
    ${qos0}=    Send AT    AT+IMQTTPUB="${TOPIC}/t",0,"zero"
    ${qos1}=    Send AT    AT+IMQTTPUB="${TOPIC}/t",1,"one"
    ${id0}=    Response Field    +IMQTTPUB    response=${qos0}
    ${id1}=    Response Field    +IMQTTPUB    response=${qos1}
    # the QoS 0 result would have come first: the first result URC is the QoS 1 publish's
    ${result}=    Wait For URC    +IMQTTPUB
    Should Be Equal    ${result.fields}    ${{["${id1}", "0"]}}
    Should Not Be Equal    ${id0}    ${id1}

An Unknown Profile Is Refused With The Known Ones
    Run Keyword And Expect Error    *'spec', 'sdk2' or 'sdk3'*    Start Module    profile=sdk9

An MCU Session Takes The Suite's Profile
    [Tags]    firmware
    Start MCU Session
    Wait For Line On Uart    +IMQTTSTATE:1    uart=at-ta


*** Keywords ***
Start Cloud With The Device
    Start Cloud
    Register Device    ${PK}    ${DN}    ${SECRET}

Connect
    [Documentation]    Authenticate and connect the active module; returns the +IMQTTSTATE URC.
    Send AT    AT+IMQTTAUTH="${PK}","${DN}","${SECRET}"    secret=${SECRET}
    Wait For URC    +IMQTTAUTH    contains=OK
    Send AT    AT+IMQTTCONN
    ${state}=    Wait For URC    +IMQTTSTATE
    RETURN    ${state}
