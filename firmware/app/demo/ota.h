/* The demo's OTA download (AT+IOTABLOCK with CRC re-reads, streaming MD5, AT+IOTAPGS). */
#ifndef DEMO_OTA_H
#define DEMO_OTA_H

#include "ica_at.h"

/* What +IOTANEWVER announced. */
typedef struct {
    char version[33];
    long size;
    char md5[33];
} ota_offer_t;

/* Downloads and verifies the offered image, reporting progress; returns when
 * it is good (AT+IOTAPGS=100 sent). On a failure reports it (AT+IOTAPGS=-2 or
 * -3), prints `STEP ota fail <reason>` and exits with EXIT_OTA. */
void ota_download(ica_at_t *modem, ota_offer_t *offer);

#endif
