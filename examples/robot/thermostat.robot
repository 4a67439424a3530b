*** Settings ***
Documentation       The thermostat firmware in QEMU against the ICA module model and the
...                 in-process cloud, with pysim's Robot library (installed with the package).
Library             IcaLibrary
Suite Setup         Start Thermostat
Suite Teardown      Stop All


*** Variables ***
${PK}           a1thermoPK
${DN}           thermostat-01
${TOPIC}        /${PK}/${DN}/user
# PK:DN:SECRET, from the environment (a Secret: never written to output.xml or log.html)
${IDENTITY: Secret}    %{THERMO_IDENTITY=a1thermoPK:thermostat-01:thermo-secret-01}


*** Test Cases ***
Comes Up
    Wait For Line On Uart    ^BOOT thermostat fw=1\\.0\\.0$    regex=True
    Wait For Line On Uart    READY    timeout=30s

Acknowledges A Target From The Cloud
    Publish As Cloud    ${TOPIC}/set    {"target":23}
    Wait For Line On Uart    SET target 23
    Cloud Should Receive    ${TOPIC}/status    {"target":23}

Publishes A Reading Typed On Its Console
    Write Line To Uart    temp 17    uart=console    line_end=\n
    Wait For Line On Uart    PUB ok
    Cloud Should Receive    ${TOPIC}/temp    {"temp":17}
    Should Not Be On Uart    ERROR    timeout=0.5s


*** Keywords ***
Start Thermostat
    Start MCU Session    ${CURDIR}/../firmware/build/thermostat.elf    identity=${IDENTITY}
    Subscribe As Cloud    ${TOPIC}/#
