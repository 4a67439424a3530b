/* ica_at: an AT engine for the ICA Alliance AT command set (V0.4), for the MCU
 * that drives the module (the TE side).
 *
 * Portable C99, no dynamic memory, no libc beyond <string.h>, no knowledge of
 * any application. One `ica_at_t` holds all state; the platform plugs in
 * through `ica_port_t` (write bytes, read one byte, a millisecond clock, an
 * idle hook, an optional log hook).
 *
 * Two levels, usable together:
 *
 *  - Chat scripts, declared as data (in the manner of Zephyr's modem_chat).
 *    A match (`ica_match_t`) is a line prefix, the characters that split the
 *    rest of the line into argv[] and a callback. A step (`ica_step_t`) sends
 *    one command and waits for its final result and, when the command has
 *    one in the spec (`AT+IMQTTPUB`, `AT+IMQTTSUB`, `AT+ICOAPSENDREQ`, ...),
 *    its status URC `+CMD:<id>,<status>`; or, without a command, waits for a
 *    line that matches. A script (`ica_script_t`) is a named list of steps
 *    with abort matches, a callback and an overall timeout; `ica_script_run()`
 *    runs it and returns ICA_OK, ICA_ERR_ERROR, ICA_ERR_CME (the number in
 *    `cme_error`), ICA_ERR_TIMEOUT or ICA_ERR_ABORT.
 *
 *        static void on_state(ica_at_t *at, char **argv, uint16_t argc, void *user);
 *        ICA_MATCHES_DEFINE(connected, ICA_MATCH("+IMQTTSTATE:2", "", NULL));
 *        ICA_MATCHES_DEFINE(dropped, ICA_MATCH("+IMQTTSTATE:0", "", NULL));
 *        ICA_STEPS_DEFINE(connect_steps,
 *            ICA_STEP_CMD("AT+IMQTTPARA=\"KEEPALIVE\",60", 5000),
 *            ICA_STEP_CMD("AT+IMQTTCONN", 5000),
 *            ICA_STEP_WAIT(connected, 15000));
 *        ICA_SCRIPT_DEFINE(mqtt_connect, connect_steps, dropped, NULL, 30000);
 *        ...
 *        int rc = ica_script_run(&at, &mqtt_connect);   // mqtt_connect.name is "mqtt_connect"
 *
 *  - Single commands: build a command line with quoted, escaped arguments
 *    (`ica_cmd_begin/str/int`), send it and wait for its final result
 *    (`ica_cmd_send`), read its intermediate lines (`ica_at_response`);
 *    binary data entry (`ica_cmd_send_binary`); OTA blocks (`ica_ota_block`).
 *
 * Receiving (the same for both levels; see docs/ARCHITECTURE.md):
 *  - lines are assembled from `\r\n<text>\r\n`; `ica_at_feed()` is the
 *    sans-I/O entry (bytes in, callbacks out), `ica_at_poll()` reads the port;
 *  - every line is offered, in this order, to the running step's matches,
 *    the running script's abort matches, then the unsolicited matches given
 *    to `ica_at_init()`; the first match whose prefix the line starts with
 *    gets the line, split into argv[];
 *  - URCs are told apart from a pending command's lines by the URC table
 *    `ica_at_catalogue.h` (generated from the project's AT catalogue), so they
 *    are dispatched at any time, also in the middle of a command's response;
 *    an `OK` right after a receive URC belongs to that URC (errata #39);
 *  - URC payloads are read by length: text payloads may hold quotes, commas,
 *    CR and LF; binary payloads are exactly msg_len raw bytes after the URC's
 *    OK. A callback reads them with `ica_at_payload()`;
 *  - optional spaces after `:` and `,` are accepted; names match without case.
 *
 * Callbacks (match callbacks, a step's argument builder, a script's
 * callback) run inside ica_at_* calls. They must not send commands or run
 * scripts (those calls return ICA_ERR_BUSY there): record what happened and
 * act on it after the call returns. They may call `ica_script_abort()`.
 */
#ifndef ICA_AT_H
#define ICA_AT_H

#include <stddef.h>
#include <stdint.h>

#ifndef ICA_AT_LINE_MAX
#define ICA_AT_LINE_MAX 256 /* longest response/URC header line kept; longer lines are dropped */
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
#ifndef ICA_AT_ARGV_MAX
#define ICA_AT_ARGV_MAX 12 /* argv[] entries of a matched line, the name included */
#endif

/* Result of a call: ICA_OK, ICA_RUNNING or one of the negative errors. */
typedef enum {
    ICA_OK = 0,
    ICA_RUNNING = 1,       /* ica_script_result(): the script has not ended yet */
    ICA_ERR_ERROR = -1,    /* the module answered ERROR */
    ICA_ERR_CME = -2,      /* +CME ERROR:<n>; n is in ica_at_t.cme_error (-1 if unreadable) */
    ICA_ERR_TIMEOUT = -3,  /* no final result (or awaited line) in time */
    ICA_ERR_OVERFLOW = -4, /* a command or payload did not fit its buffer */
    ICA_ERR_PARSE = -5,    /* a response line was not as expected (e.g. no id line) */
    ICA_ERR_CRC = -6,      /* an OTA block failed its checksum */
    ICA_ERR_BUSY = -7,     /* called from a callback, or a script is already running */
    ICA_ERR_ABORT = -8     /* an abort match or ica_script_abort() ended the script */
} ica_status_t;

/* Direction of a logged line. */
typedef enum { ICA_LOG_RX = 0, ICA_LOG_TX = 1 } ica_log_dir_t;

typedef struct {
    void (*write)(void *ctx, const uint8_t *data, size_t len);
    int (*read)(void *ctx);          /* next received byte, or -1 when none is waiting */
    uint32_t (*millis)(void *ctx);   /* free-running millisecond clock */
    void (*idle)(void *ctx);         /* nothing to read: sleep a little (WFI) */
    void *ctx;
    /* Optional, NULL turns it off: every command line sent (TX, without its
     * CR) and every non-empty line received (RX, without CR LF; for a URC
     * with a text payload the header up to the payload). Payload bytes and
     * binary data are not logged. `line` is not NUL-terminated. */
    void (*log)(void *ctx, ica_log_dir_t dir, const char *line, size_t len);
} ica_port_t;

typedef struct ica_at ica_at_t;

/* A matched line: argv[0] is the line's name (the text before ':', or the
 * whole line when it has none, e.g. "OK"); argv[1..argc-1] are the fields
 * after ':' split on the match's separators outside quotes, with leading
 * spaces dropped, and a quoted field unquoted and unescaped. With separators
 * "" the rest is one field. A line with more fields than ICA_AT_ARGV_MAX - 1
 * keeps the rest unsplit in the last one. For a text-payload URC the fields
 * stop before the payload (read it with ica_at_payload()). argv points into
 * a buffer that is valid until the callback returns. `user` is the pointer
 * given to ica_at_init(). */
typedef void (*ica_match_cb_t)(ica_at_t *at, char **argv, uint16_t argc, void *user);

typedef struct {
    const char *prefix;     /* a line starting with this matches (no case); "" matches every line */
    const char *separators; /* e.g. ","; "" for none */
    ica_match_cb_t cb;      /* NULL: the match only counts (ends a wait step, aborts) */
} ica_match_t;

/* Builds the arguments of a step's command, after `request` (with ica_cmd_str/int). */
typedef void (*ica_args_cb_t)(ica_at_t *at, void *user);

/* One step of a script.
 *  - request != NULL: sends `request` (plus the arguments `args` adds, then
 *    CR) and waits for the final result. Its intermediate lines are offered
 *    to `matches` (a callback per line; they do not end the step). ERROR and
 *    +CME ERROR end the script with ICA_ERR_ERROR / ICA_ERR_CME. On OK the
 *    step ends, except for a command whose URC table row is
 *    ICA_URC_SHAPE_RESULT (`+CMD:<id>,<status>`; not its query or test form):
 *    then it also waits for the status URC with the id of its `+CMD:<id>`
 *    line, offers that URC to `matches` and sets `ica_at_t.status`
 *    (ICA_ERR_PARSE when the id line is missing). The status value does not
 *    fail the step by itself: a callback may call ica_script_abort().
 *  - request == NULL: sends nothing and waits for a line (URC or other) that
 *    one of `matches` matches; its callback runs and the step ends.
 * timeout_ms counts from the step's start; 0 waits without limit (the
 * script's timeout still applies). When the step times out the script ends
 * with ICA_ERR_TIMEOUT. A binary data entry or an OTA block read is not a
 * step: use ica_cmd_send_binary() / ica_ota_block() between scripts. */
typedef struct {
    const char *request;
    ica_args_cb_t args;
    const ica_match_t *matches;
    uint16_t n_matches;
    uint32_t timeout_ms;
} ica_step_t;

/* Called once when a script ends (inside the library call that ended it). */
typedef void (*ica_script_cb_t)(ica_at_t *at, int result, void *user);

typedef struct {
    const char *name;           /* ICA_SCRIPT_DEFINE: the symbol's name */
    const ica_step_t *steps;
    uint16_t n_steps;
    const ica_match_t *abort;   /* lines that abort the script (ICA_ERR_ABORT) besides the */
    uint16_t n_abort;           /* final results ERROR and +CME ERROR, which always end it */
    ica_script_cb_t cb;         /* NULL: none */
    uint32_t timeout_ms;        /* for the whole script; 0: only the steps' timeouts */
} ica_script_t;

#define ICA_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#define ICA_MATCH(prefix, separators, cb) {(prefix), (separators), (cb)}
#define ICA_MATCHES_DEFINE(sym, ...) static const ica_match_t sym[] = {__VA_ARGS__}

/* A command; only its final result (and status URC) is waited for. */
#define ICA_STEP_CMD(request, timeout_ms) {(request), NULL, NULL, 0, (timeout_ms)}
/* A command whose intermediate lines (and status URC) go to `matches`. */
#define ICA_STEP_CMD_RESP(request, matches, timeout_ms) \
    {(request), NULL, (matches), (uint16_t)ICA_ARRAY_LEN(matches), (timeout_ms)}
/* A command built at run time: `request` (up to '='), then args(at, user) adds the arguments. */
#define ICA_STEP_CMD_ARGS(request, args, timeout_ms) {(request), (args), NULL, 0, (timeout_ms)}
/* The same, its intermediate lines (and status URC) going to `matches`. */
#define ICA_STEP_CMD_ARGS_RESP(request, args, matches, timeout_ms) \
    {(request), (args), (matches), (uint16_t)ICA_ARRAY_LEN(matches), (timeout_ms)}
/* No command: wait for a line matching one of `matches`. */
#define ICA_STEP_WAIT(matches, timeout_ms) {NULL, NULL, (matches), (uint16_t)ICA_ARRAY_LEN(matches), (timeout_ms)}
#define ICA_STEPS_DEFINE(sym, ...) static const ica_step_t sym[] = {__VA_ARGS__}

/* A script named after its symbol; `steps` and `abort_matches` are arrays
 * (ICA_STEPS_DEFINE, ICA_MATCHES_DEFINE). Without abort matches use
 * ICA_SCRIPT_NO_ABORT_DEFINE. */
#define ICA_SCRIPT_DEFINE(sym, steps, abort_matches, cb, timeout_ms)                                      \
    static const ica_script_t sym = {#sym, (steps), (uint16_t)ICA_ARRAY_LEN(steps), (abort_matches),      \
                                     (uint16_t)ICA_ARRAY_LEN(abort_matches), (cb), (timeout_ms)}
#define ICA_SCRIPT_NO_ABORT_DEFINE(sym, steps, cb, timeout_ms) \
    static const ica_script_t sym = {#sym, (steps), (uint16_t)ICA_ARRAY_LEN(steps), NULL, 0, (cb), (timeout_ms)}

struct ica_at {
    ica_port_t port;
    const ica_match_t *unsol;       /* unsolicited matches */
    uint16_t n_unsol;
    void *user;

    int cme_error;                  /* <n> of the last +CME ERROR */
    long status;                    /* <status> of the last status URC a step waited for */
    const char *abort_reason;       /* ICA_ERR_ABORT: the abort match's prefix or ica_script_abort()'s reason */
    uint16_t script_step;           /* index of the step the last script ended in */

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

    /* the line being given to a callback (private) */
    char args[ICA_AT_LINE_MAX];
    char *argv[ICA_AT_ARGV_MAX];
    const uint8_t *cb_payload;
    size_t cb_payload_len;

    /* the pending command (private) */
    int pending, query, final, in_handler;
    char cmd_name[24];
    char resp[ICA_AT_RESP_MAX];
    size_t resp_len;
    uint8_t *bin_dst;               /* AT+IOTABLOCK: where the block goes */
    size_t bin_cap, bin_len;

    /* the running script (private) */
    const ica_script_t *script;
    int script_result;
    uint32_t script_start, step_start;
    int step_ok;                    /* the step's command got its OK */
    int status_state;               /* whether the step waits for / got its status URC */
    long status_id;

    /* the command being built (private) */
    char cmd[ICA_AT_CMD_MAX];
    size_t cmd_len;
    unsigned cmd_args;
    int cmd_overflow;
};

/* Sets up `at` for `port`. `unsol` (n_unsol entries, may be NULL/0) are the
 * unsolicited matches: lines no running step or abort match took. `user` is
 * passed to every callback. The tables must outlive `at`. */
void ica_at_init(ica_at_t *at, const ica_port_t *port, const ica_match_t *unsol, size_t n_unsol, void *user);

/* Sans-I/O entry: process received bytes (callbacks run from here, and a
 * running script moves on: a step that starts sends its command). */
void ica_at_feed(ica_at_t *at, const uint8_t *data, size_t len);
/* Read and process every byte the port has waiting. */
void ica_at_poll(ica_at_t *at);
/* Checks the running script's timeouts against port.millis (ends it with
 * ICA_ERR_TIMEOUT when one has passed). */
void ica_at_tick(ica_at_t *at);
/* Poll (idling when nothing arrives) until done(user) is true: ICA_OK, or
 * ICA_ERR_TIMEOUT after timeout_ms; ICA_ERR_BUSY from a callback. */
int ica_at_wait_until(ica_at_t *at, int (*done)(void *user), void *user, uint32_t timeout_ms);
/* The payload of the URC given to the running callback and its length
 * (at most ICA_AT_PAYLOAD_MAX; msg_len, in argv, may be larger), or NULL
 * when it has none. */
const uint8_t *ica_at_payload(const ica_at_t *at, size_t *len);

/* ---- scripts ---- */

/* Runs `script` to its end: polls the port, idles while nothing arrives.
 * Returns ICA_OK when every step succeeded; ICA_ERR_ERROR or ICA_ERR_CME
 * (cme_error) when a command failed; ICA_ERR_TIMEOUT when a step or the
 * script ran out of time; ICA_ERR_ABORT when an abort match or a callback
 * ended it (abort_reason says which); ICA_ERR_PARSE when a status command
 * gave no id line; ICA_ERR_OVERFLOW when a command did not fit;
 * ICA_ERR_BUSY from a callback or while another script runs.
 * script_step holds the index of the step it ended in. */
int ica_script_run(ica_at_t *at, const ica_script_t *script);
/* The same without waiting: starts the script (sending its first command)
 * and returns ICA_RUNNING, or an error as above. Drive it with
 * ica_at_feed/ica_at_poll and ica_at_tick; ica_script_result() tells the end. */
int ica_script_start(ica_at_t *at, const ica_script_t *script);
/* ICA_RUNNING while the script started last runs, then its result. */
int ica_script_result(const ica_at_t *at);
/* Ends the running script with ICA_ERR_ABORT (abort_reason = reason, or
 * "aborted" when NULL); for a match callback that sees a bad status. No
 * effect when no script runs. */
void ica_script_abort(ica_at_t *at, const char *reason);

/* ---- single commands ---- */

/* Command building: begin with the text up to and including '=' (or the whole
 * command), then add arguments; commas are put in between. */
void ica_cmd_begin(ica_at_t *at, const char *text);
void ica_cmd_str(ica_at_t *at, const char *s);              /* quoted, `"` and `\` escaped */
void ica_cmd_strn(ica_at_t *at, const char *s, size_t len);
void ica_cmd_int(ica_at_t *at, long value);
/* Send the built command; wait for its final result (a status URC is not
 * waited for: it goes to the unsolicited matches). ICA_OK, ICA_ERR_ERROR,
 * ICA_ERR_CME, ICA_ERR_TIMEOUT, ICA_ERR_OVERFLOW (the command did not fit:
 * nothing is sent), ICA_ERR_BUSY (from a callback or while a script runs). */
int ica_cmd_send(ica_at_t *at, uint32_t timeout_ms);
/* Send the built command (a binary data entry, msg_len = len > 0), wait for
 * its OK, write the data, wait for the final result after the data. Returns
 * as ica_cmd_send; after an error nothing more is written. */
int ica_cmd_send_binary(ica_at_t *at, const uint8_t *data, size_t len, uint32_t timeout_ms);
/* Shortcut: send a fixed command line (without CR). */
int ica_at_cmd(ica_at_t *at, const char *line, uint32_t timeout_ms);

/* The arguments of the last command's first intermediate line named `name`
 * (e.g. "+IMQTTPUB"), or NULL. Valid until the next command. */
const char *ica_at_response(const ica_at_t *at, const char *name);

/* AT+IOTABLOCK=<type>: reads one block into buf. ICA_OK with *len set (0 at
 * the end of the image); ICA_ERR_CRC when the block fails its checksum (the
 * bytes are still in buf); ICA_ERR_OVERFLOW when it is larger than cap;
 * ICA_ERR_PARSE when the +IOTABLOCK line is missing; else as ica_cmd_send. */
int ica_ota_block(ica_at_t *at, int type, uint8_t *buf, size_t cap, size_t *len, uint32_t timeout_ms);

/* ---- fields and helpers ---- */

/* Field access in an argument list like `12,"/a,b",5`: field `index` (from 0).
 * ica_field_int takes decimal or 0x-hex; ica_field_str unquotes and unescapes
 * (truncating to cap-1 characters, always NUL-terminated). Return 0, or -1
 * when there is no such field or it is not a number. ica_field_int(argv[i], 0,
 * &n) reads a number from a matched line's argv. */
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
