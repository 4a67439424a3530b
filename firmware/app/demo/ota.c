/* The demo's OTA download (see ota.h). */
#include "ota.h"

#include <string.h>

#include "console.h"

#define CMD_TIMEOUT_MS 5000u
#define OTA_BLOCK_MAX 4096u /* the largest BLOCKSIZE the module allows */
#define OTA_REREADS 3

static void progress(ica_at_t *modem, long step, const char *desc)
{
    ica_cmd_begin(modem, "AT+IOTAPGS=");
    ica_cmd_int(modem, step);
    ica_cmd_str(modem, desc);
    if (ica_cmd_send(modem, CMD_TIMEOUT_MS) != ICA_OK)
        fail("ota", "progress not taken", EXIT_OTA);
}

__attribute__((noreturn)) static void ota_fail(ica_at_t *modem, long step, const char *desc)
{
    progress(modem, step, desc);
    fail("ota", desc, EXIT_OTA);
}

/* Block by block, re-reading blocks that fail their CRC, the MD5 computed as it
 * streams in. The image is not kept: a real device would write it to flash. */
void ota_download(ica_at_t *modem, ota_offer_t *offer)
{
    static uint8_t block[OTA_BLOCK_MAX];
    ica_md5_t md5;
    uint8_t digest[16];
    char hex[33];
    long received = 0, next_report = 25, index = 0;
    text_t t = {.len = 0};

    t_str(&t, "LOG ota new version ");
    t_str(&t, offer->version);
    t_str(&t, " size ");
    t_int(&t, offer->size);
    t_console(&t);
    if (offer->size <= 0)
        ota_fail(modem, -2, "bad size");
    ica_md5_init(&md5);
    progress(modem, 0, "downloading");
    while (received < offer->size) {
        size_t len = 0;
        int rc = ica_ota_block(modem, 0, block, sizeof block, &len, CMD_TIMEOUT_MS);
        for (int reread = 0; rc == ICA_ERR_CRC && reread < OTA_REREADS; reread++) {
            t_str(&t, "LOG ota crc mismatch block ");
            t_int(&t, index);
            t_str(&t, ", re-read");
            t_console(&t);
            rc = ica_ota_block(modem, 1, block, sizeof block, &len, CMD_TIMEOUT_MS);
        }
        if (rc != ICA_OK || len == 0 || received + (long)len > offer->size)
            ota_fail(modem, -2, "download failed");
        ica_md5_update(&md5, block, len);
        received += (long)len;
        index++;
        long pct = (long)((int64_t)received * 100 / offer->size);
        if (pct >= next_report && pct < 100) {
            progress(modem, pct, "downloading");
            next_report = (pct / 25 + 1) * 25;
        }
    }
    ica_md5_final(&md5, digest);
    ica_md5_hex(digest, hex);
    for (char *c = offer->md5; *c; c++)
        if (*c >= 'A' && *c <= 'F')
            *c = (char)(*c - 'A' + 'a');
    if (strcmp(hex, offer->md5) != 0)
        ota_fail(modem, -3, "md5 mismatch");
    t_str(&t, "LOG ota image ok blocks ");
    t_int(&t, index);
    t_str(&t, " md5 ");
    t_str(&t, hex);
    t_console(&t);
    progress(modem, 100, "done");
}
