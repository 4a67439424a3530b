/* ica_at: an MCU-side client for the ICA Alliance AT command set (V0.4).
 *
 * Portable C99, no dynamic memory, no libc beyond <string.h>. The platform
 * plugs in through `ica_port_t` (write bytes, read one received byte, a
 * millisecond clock, an idle hook). One `ica_at_t` holds all state.
 *
 * What it does (see docs/ARCHITECTURE.md and the spec's DECISIONS.md):
 *  - assembles lines from the module's byte stream (`\r\n<text>\r\n`);
 *  - sends a command and waits for its final result (OK / ERROR /
 *    +CME ERROR:<n>) with a timeout, collecting the intermediate lines;
 *  - dispatches URCs to a handler at any time, also while a command is
 *    pending. An `OK` right after a receive URC belongs to that URC (#39);
 *  - reads text payloads of URCs by length (they may contain quotes, commas,
 *    CR and LF), and binary payloads (exactly msg_len bytes after the URC's OK);
 *  - builds command lines with quoted, escaped strings (`\"`, `\\`);
 *  - binary data entry (AT+IMQTTPUBIN and the like, msg_len > 0);
 *  - OTA block reads (AT+IOTABLOCK) with a CRC-16/CCITT-FALSE check;
 *  - CRC-16/CCITT-FALSE and MD5 helpers.
 * Optional spaces after `:` and `,` are accepted everywhere.
 *
 * The URC handler runs inside ica_at_* calls. It must not send commands
 * itself: record what happened and act on it after the call returns.
 */
#ifndef ICA_AT_H
#define ICA_AT_H

#include <stddef.h>
#include <stdint.h>

#ifndef ICA_AT_LINE_MAX
#define ICA_AT_LINE_MAX 256 /* longest response/URC header line kept */
#endif
#ifndef ICA_AT_CMD_MAX
#define ICA_AT_CMD_MAX 1100 /* longest command line built (the module takes 1024) */
#endif
#ifndef ICA_AT_PAYLOAD_MAX
#define ICA_AT_PAYLOAD_MAX 1024 /* longest URC payload kept; longer ones are truncated */
#endif
#ifndef ICA_AT_RESP_MAX
#define ICA_AT_RESP_MAX 512 /* room for a command's intermediate lines */
#endif

/* Result of a call: ICA_OK or one of the negative errors. */
typedef enum {
    ICA_OK = 0,
    ICA_ERR_ERROR = -1,    /* the module answered ERROR */
    ICA_ERR_CME = -2,      /* +CME ERROR:<n>; n is in ica_at_t.cme_error */
    ICA_ERR_TIMEOUT = -3,  /* no final result in time */
    ICA_ERR_OVERFLOW = -4, /* a command or payload did not fit its buffer */
    ICA_ERR_PARSE = -5,    /* a response line was not as expected */
    ICA_ERR_CRC = -6,      /* an OTA block failed its checksum */
    ICA_ERR_BUSY = -7      /* called from a URC handler */
} ica_status_t;

typedef struct {
    void (*write)(void *ctx, const uint8_t *data, size_t len);
    int (*read)(void *ctx);          /* next received byte, or -1 when none is waiting */
    uint32_t (*millis)(void *ctx);   /* free-running millisecond clock */
    void (*idle)(void *ctx);         /* nothing to read: sleep a little (WFI) */
    void *ctx;
} ica_port_t;

/* An unsolicited result code as given to the handler. */
typedef struct {
    const char *name;       /* e.g. "+IMQTTRCVPUB" */
    const char *args;       /* the text after ':' (and spaces); for text-payload URCs
                               everything before the payload, e.g. `1,"/t",5,` */
    const uint8_t *payload; /* text or binary payload, NULL when the URC has none */
    size_t payload_len;     /* octets in `payload` (at most ICA_AT_PAYLOAD_MAX) */
    size_t msg_len;         /* octets the module announced (> payload_len if truncated) */
} ica_urc_t;

typedef void (*ica_urc_handler_t)(void *user, const ica_urc_t *urc);

typedef struct {
    ica_port_t port;
    ica_urc_handler_t on_urc;
    void *urc_user;

    int cme_error;                  /* <n> of the last +CME ERROR */

    /* receive state machine (private) */
    int rx_state;
    char line[ICA_AT_LINE_MAX];
    size_t line_len;
    int line_overflow;
    int in_quote, escaped;          /* quote state of the line so far */
    unsigned commas;                /* unquoted commas after the name so far */
    const void *line_urc;           /* URC table entry of the line, if any */
    int raw_kind;                   /* what the raw bytes being read are */
    size_t raw_left;                /* payload octets still to come */
    uint8_t *raw_dst;
    size_t raw_cap, raw_len;
    int urc_ok_expected;            /* the next line may be a URC's trailing OK */
    char urc_hdr[ICA_AT_LINE_MAX];  /* header of a binary URC waiting for its payload */
    size_t urc_msg_len;
    uint8_t payload[ICA_AT_PAYLOAD_MAX];

    /* the pending command (private) */
    int pending, query, final, in_handler;
    char cmd_name[24];
    char resp[ICA_AT_RESP_MAX];
    size_t resp_len;
    uint8_t *bin_dst;               /* AT+IOTABLOCK: where the block goes */
    size_t bin_cap, bin_len;

    /* the command being built */
    char cmd[ICA_AT_CMD_MAX];
    size_t cmd_len;
    unsigned cmd_args;
    int cmd_overflow;
} ica_at_t;

void ica_at_init(ica_at_t *at, const ica_port_t *port, ica_urc_handler_t on_urc, void *urc_user);

/* Sans-I/O entry: process received bytes (URCs are dispatched from here). */
void ica_at_feed(ica_at_t *at, const uint8_t *data, size_t len);
/* Read and process every byte the port has waiting. */
void ica_at_poll(ica_at_t *at);
/* Poll (idling when nothing arrives) until done(user) is true: ICA_OK, or
 * ICA_ERR_TIMEOUT after timeout_ms. */
int ica_at_wait_until(ica_at_t *at, int (*done)(void *user), void *user, uint32_t timeout_ms);

/* Command building: begin with the text up to and including '=' (or the whole
 * command), then add arguments; commas are put in between. */
void ica_cmd_begin(ica_at_t *at, const char *text);
void ica_cmd_str(ica_at_t *at, const char *s);              /* quoted, `"` and `\` escaped */
void ica_cmd_strn(ica_at_t *at, const char *s, size_t len);
void ica_cmd_int(ica_at_t *at, long value);
/* Send the built command; wait for its final result. */
int ica_cmd_send(ica_at_t *at, uint32_t timeout_ms);
/* Send the built command (a binary data entry, msg_len = len > 0), wait for
 * its OK, write the data, wait for the final result after the data. */
int ica_cmd_send_binary(ica_at_t *at, const uint8_t *data, size_t len, uint32_t timeout_ms);
/* Shortcut: send a fixed command line (without CR). */
int ica_at_cmd(ica_at_t *at, const char *line, uint32_t timeout_ms);

/* The arguments of the last command's first intermediate line named `name`
 * (e.g. "+IMQTTPUB"), or NULL. Valid until the next command. */
const char *ica_at_response(const ica_at_t *at, const char *name);

/* AT+IOTABLOCK=<type>: reads one block into buf. ICA_OK with *len set (0 at
 * the end of the image); ICA_ERR_CRC when the block fails its checksum (the
 * bytes are still in buf); ICA_ERR_OVERFLOW when it is larger than cap. */
int ica_ota_block(ica_at_t *at, int type, uint8_t *buf, size_t cap, size_t *len, uint32_t timeout_ms);

/* Field access in an argument list like `12,"/a,b",5`: field `index` (from 0).
 * ica_field_int takes decimal or 0x-hex; ica_field_str unquotes and unescapes
 * (truncating to cap-1 characters, always NUL-terminated). Return 0 or -1. */
int ica_field_int(const char *args, unsigned index, long *out);
int ica_field_str(const char *args, unsigned index, char *out, size_t cap);

/* Formats a decimal integer into dst (no NUL); returns the digits written (<= 11). */
size_t ica_fmt_int(char *dst, long value);

/* CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF): pass 0xFFFF first, then chain. */
uint16_t ica_crc16(uint16_t crc, const uint8_t *data, size_t len);

typedef struct {
    uint32_t state[4];
    uint64_t bytes;
    uint8_t block[64];
} ica_md5_t;

void ica_md5_init(ica_md5_t *md5);
void ica_md5_update(ica_md5_t *md5, const uint8_t *data, size_t len);
void ica_md5_final(ica_md5_t *md5, uint8_t digest[16]);
/* 32 lower-case hex digits and a NUL into hex[33]. */
void ica_md5_hex(const uint8_t digest[16], char hex[33]);

#endif
