*** Settings ***
Documentation       The cloud restarts on the same ports; a CLEAN=0 device gets what was
...                 published for it while the broker was down or restarting.
Resource            common.resource
Test Setup          Start Cloud And Module
Test Teardown       Stop All
Suite Teardown      Stop All


*** Test Cases ***
Persistent Session Survives A Cloud Restart
    Send AT    ATE0
    Send AT    AT+IMQTTAUTH="${PK}","${DN}","${SECRET}"    secret=${SECRET}
    Wait For URC    +IMQTTAUTH    contains=OK
    Send AT    AT+IMQTTPARA="CLEAN",0
    Send AT    AT+IMQTTCONN
    Wait For URC    +IMQTTSTATE    contains=:2
    Send AT    AT+IMQTTSUB="${TOPIC}/inbox",1
    Wait For URC    +IMQTTSUB    contains=,1
    Send AT    AT+IMQTTDISCONN
    Wait For URC    +IMQTTSTATE    contains=:0
    Publish As Cloud    ${TOPIC}/inbox    queued before the restart
    ${addresses}=    Restart Cloud
    Publish As Cloud    ${TOPIC}/inbox    queued after the restart
    Send AT    AT+IMQTTCONN
    Wait For URC    +IMQTTSTATE    contains=:2
    ${first}=    Wait For URC    +IMQTTRCVPUB
    ${second}=    Wait For URC    +IMQTTRCVPUB
    Should Contain    ${first.text}${second.text}    queued before the restart
    Should Contain    ${first.text}${second.text}    queued after the restart
