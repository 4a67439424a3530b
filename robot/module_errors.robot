*** Settings ***
Documentation       Error results and echo of the ICA module model (DECISIONS §1, §3, §4):
...                 +CME ERROR 3 (wrong state), 4 (not supported), 50 (bad parameters),
...                 24 (line too long), the CMEE modes and ATE.
Resource            common.resource
Test Setup          Start Cloud And Module
Test Teardown       Stop All
Suite Teardown      Stop All


*** Test Cases ***
Unknown Command Is Not Supported
    Send AT    AT+NOSUCH    expected=+CME ERROR:4

Form A Command Does Not Define Is Not Supported
    Send AT    AT+IMQTTSTATE    expected=+CME ERROR:4

Wrong State Is Operation Not Allowed
    Send AT    AT+IMQTTCONN    expected=+CME ERROR:3
    Send AT    AT+IOTABLOCK=0    expected=+CME ERROR:3

Bad Parameters Are Incorrect Parameters
    Send AT    AT+IMQTTPARA="KEEPALIVE",10    expected=+CME ERROR:50
    Send AT    AT+IMQTTAUTH="${PK}","${DN}"    expected=+CME ERROR:50
    Send AT    AT+CMEE=3    expected=+CME ERROR:50
    # the rejected value left the default in place
    ${r}=    Send AT    AT+IMQTTPARA?
    Response Should Contain    +IMQTTPARA:"KEEPALIVE",60    ${r}

A Line Longer Than 1024 Octets Is Text Too Long
    ${long}=    Evaluate    "AT+IMQTTPUB=" + "A" * 1100
    Send AT    ${long}    expected=+CME ERROR:24
    Send AT    AT

CMEE Selects How Errors Are Reported
    ${r}=    Send AT    AT+CMEE?
    Response Should Contain    +CMEE:1    ${r}
    Send AT    AT+CMEE=0
    Send AT    AT+NOSUCH    expected=ERROR
    Send AT    AT+CMEE=2
    Send AT    AT+NOSUCH    expected=+CME ERROR:operation not supported

Echo Is On By Default And ATE0 Turns It Off
    ${r}=    Send AT    AT+CGMI
    Raw Output Should Contain    AT+CGMI\r    ${r}
    Response Should Contain    ICA-SIM    ${r}
    Send AT    ATE0
    ${r}=    Send AT    AT+CGMI
    Raw Output Should Not Contain    AT+CGMI    ${r}
    Response Should Contain    ICA-SIM    ${r}

Echo Off At Start-Up
    [Setup]    Start Cloud And Module    echo=False
    ${r}=    Send AT    AT+CGMM
    Raw Output Should Not Contain    AT+CGMM    ${r}
    Send AT    ATE1
    ${r}=    Send AT    AT+CGMM
    Raw Output Should Contain    AT+CGMM\r    ${r}
