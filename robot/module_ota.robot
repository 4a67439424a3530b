*** Settings ***
Documentation       OTA through the ICA module model: the cloud announces an image, the module
...                 fetches it and reports +IOTANEWVER, the TE reads it block by block with
...                 AT+IOTABLOCK, checks each block's CRC-16 and the image's MD5. A block
...                 corrupted by the module's fault option is detected and read again.
Resource            common.resource
Test Setup          Start Cloud And Module    corrupt_ota_blocks=1
Test Teardown       Stop All
Suite Teardown      Stop All


*** Variables ***
${VERSION}      2.0.0
${SIZE}         1500    # 512 + 512 + 476 octets at the default BLOCKSIZE


*** Test Cases ***
Announced Image Is Read Block By Block With A Corrupted Block Read Again
    Subscribe As Cloud    /ota/device/+/${PK}/${DN}
    MQTT Online
    ${image}=    Add Firmware Image    ${SIZE}    ${VERSION}    seed=7
    Announce Firmware    ${PK}    ${DN}    ${VERSION}
    ${newver}=    Wait For URC    +IOTANEWVER
    Should Be Equal    ${newver.fields}    ${{["${VERSION}", "${SIZE}", "${image.md5}"]}}
    Send AT    AT+IOTAPGS=0,"downloading"
    ${image_read}    ${rereads}=    Read Image
    Should Be Equal As Integers    ${rereads}    1    the corrupted block 1 is read again once
    ${length}=    Get Length    ${image_read}
    Should Be Equal As Integers    ${length}    ${SIZE}
    MD5 Should Be    ${image_read}    ${image.md5}
    Send AT    AT+IOTAPGS=100,"done"
    Send AT    AT+IOTAVER="${VERSION}"
    Cloud Should Receive    /ota/device/progress/${PK}/${DN}    contains="100"
    Cloud Should Receive    /ota/device/inform/${PK}/${DN}    contains="${VERSION}"

A Block Read Again Is The Same Block
    MQTT Online
    Add Firmware Image    ${SIZE}    ${VERSION}
    Announce Firmware    ${PK}    ${DN}    ${VERSION}
    Wait For URC    +IOTANEWVER
    ${r}=    Send AT    AT+IOTABLOCK=0
    ${first}=    Block CRC Should Match    ${r}
    ${r}=    Send AT    AT+IOTABLOCK=1
    ${again}=    Block CRC Should Match    ${r}
    Should Be Equal    ${first}    ${again}

Reading Blocks Without An Upgrade Is Not Allowed
    MQTT Online
    Send AT    AT+IOTABLOCK=0    expected=+CME ERROR:3
    Send AT    AT+IOTABLOCK=1    expected=+CME ERROR:3


*** Keywords ***
Read Image
    [Documentation]    AT+IOTABLOCK=0 until a block of 0 octets (end of image); a block
    ...                failing its CRC is read again with AT+IOTABLOCK=1 (at most 3 times).
    ...                Returns the image and the number of re-reads.
    ${image}=    Convert To Bytes    ${EMPTY}
    ${rereads}=    Set Variable    ${0}
    WHILE    True    limit=100
        ${r}=    Send AT    AT+IOTABLOCK=0
        ${length}=    Response Field    +IOTABLOCK    0    ${r}
        IF    ${length} == 0    BREAK
        ${ok}    ${block}=    Run Keyword And Ignore Error    Block CRC Should Match    ${r}
        FOR    ${try}    IN RANGE    3
            IF    $ok == 'PASS'    BREAK
            ${rereads}=    Evaluate    ${rereads} + 1
            ${r}=    Send AT    AT+IOTABLOCK=1
            ${ok}    ${block}=    Run Keyword And Ignore Error    Block CRC Should Match    ${r}
        END
        Should Be Equal    ${ok}    PASS    block still corrupt after 3 re-reads: ${block}
        ${image}=    Evaluate    $image + $block
    END
    RETURN    ${image}    ${rereads}
