*** Settings ***
Documentation       Writing to a firmware's console: the example project's thermostat firmware
...                 (examples/firmware, ``make -C examples/firmware``) in QEMU reads console lines
...                 and answers them: ``temp <n>`` publishes {"temp":<n>} and prints ``PUB ok``,
...                 an unknown line prints ``ERROR unknown command <line>``, ``exit <n>`` prints
...                 ``BYE`` and exits with code n.
Library             ${CURDIR}/IcaLibrary/
Suite Setup         Start Thermostat
Suite Teardown      Stop All
Test Tags           firmware


*** Variables ***
${FIRMWARE}             ${CURDIR}/../examples/firmware/build/thermostat.elf
${PK}                   a1thermoPK
${DN}                   thermostat-01
${TOPIC}                /${PK}/${DN}/user
${IDENTITY: Secret}     %{THERMO_IDENTITY=a1thermoPK:thermostat-01:thermo-secret-01}


*** Test Cases ***
A Reading Typed On The Console Is Published
    ${written}=    Write Line To Uart    temp 21
    Should Be Equal    ${written.line}    temp 21
    Should Be Equal    ${written.direction}    console
    Wait For Line On Uart    PUB ok
    Wait For Line On Uart    AT+IMQTTPUB="${TOPIC}/temp",1,    uart=at-te
    ${message}=    Cloud Should Receive    ${TOPIC}/temp
    Should Be Equal    ${message}    {"temp":21}

An Unknown Line Is Answered With An Error
    Write Line To Uart    hello thermostat    line_end=\n
    ${answer}=    Wait For Line On Uart    ^ERROR unknown command (.*)$    regex=True
    Should Be Equal    ${answer.groups}    ${{["hello thermostat"]}}
    Should Not Be On Uart    PUB    timeout=0.5s

Exit Typed On The Console Ends The Firmware With Its Code
    Write Line To Uart    exit 7
    Wait For Line On Uart    BYE
    MCU Should Exit With    7    timeout=10s


*** Keywords ***
Start Thermostat
    Start MCU Session    ${FIRMWARE}    identity=${IDENTITY}
    Subscribe As Cloud    ${TOPIC}/#
    Wait For Line On Uart    READY
