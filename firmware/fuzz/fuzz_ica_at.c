/* libFuzzer target: the ica_at engine fed module-side bytes (host build with
 * ASan + UBSan, `make -C firmware fuzz`).
 *
 * An input is <mode> <chunk> <bytes from the module...>:
 *   mode % 3 == 0  sans-I/O: the bytes fed in chunks of (chunk % 16) + 1 to an
 *                  engine with unsolicited matches only;
 *   mode % 3 == 1  a script (commands, a status command, a wait step, abort
 *                  matches) run against a port that reads the bytes;
 *   mode % 3 == 2  single commands: a plain command, a binary data entry and
 *                  an OTA block read against the same port.
 * Invariants, besides no crash, leak or undefined behaviour: every run ends (the
 * fake clock runs on while the port is dry, so timeouts end what waits);
 * results are documented values; no script or command is left pending; argv,
 * payloads and OTA blocks stay within their documented bounds; the engine's
 * buffers never overrun their lengths (checked after every chunk, since ASan
 * does not see overflows inside one struct). */
#include "ica_at.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXPECT(cond)                                                             \
    do {                                                                         \
        if (!(cond)) {                                                           \
            fprintf(stderr, "fuzz_ica_at: invariant failed: %s (line %d)\n", #cond, __LINE__); \
            abort();                                                             \
        }                                                                        \
    } while (0)

typedef struct {
    const uint8_t *data;
    size_t len, pos;
    uint32_t now;
    size_t written;
} port_t;

static void port_write(void *ctx, const uint8_t *data, size_t len)
{
    port_t *p = ctx;
    volatile uint8_t sum = 0;
    for (size_t i = 0; i < len; i++) /* every byte must be readable */
        sum = (uint8_t)(sum + data[i]);
    (void)sum;
    p->written += len;
}

static int port_read(void *ctx)
{
    port_t *p = ctx;
    return p->pos < p->len ? p->data[p->pos++] : -1;
}

static uint32_t port_millis(void *ctx)
{
    return ((port_t *)ctx)->now;
}

static void port_idle(void *ctx)
{
    ((port_t *)ctx)->now += 7;
}

static void port_log(void *ctx, ica_log_dir_t dir, const char *line, size_t len)
{
    (void)ctx;
    EXPECT(dir == ICA_LOG_RX || dir == ICA_LOG_TX);
    EXPECT(len > 0 && len < ICA_AT_CMD_MAX);
    EXPECT(line[len - 1] != '\n');
}

static unsigned calls;

/* Every callback checks what it is given. */
static void check_line(ica_at_t *at, char **argv, uint16_t argc, void *user)
{
    size_t len;
    const uint8_t *payload = ica_at_payload(at, &len);
    volatile uint8_t sum = 0;
    (void)user;
    calls++;
    EXPECT(argc >= 1 && argc <= ICA_AT_ARGV_MAX);
    for (uint16_t i = 0; i < argc; i++)
        EXPECT(argv[i] && strlen(argv[i]) < ICA_AT_LINE_MAX);
    EXPECT(payload ? len <= ICA_AT_PAYLOAD_MAX : len == 0);
    for (size_t i = 0; payload && i < len; i++)
        sum = (uint8_t)(sum + payload[i]);
    (void)sum;
    EXPECT(ica_at_cmd(at, "AT", 10) == ICA_ERR_BUSY);
}

static void check_status(ica_at_t *at, char **argv, uint16_t argc, void *user)
{
    long status;
    check_line(at, argv, argc, user);
    if (argc == 3 && ica_field_int(argv[2], 0, &status) == 0 && status > 2)
        ica_script_abort(at, "refused");
}

static void check_end(ica_at_t *at, int result, void *user)
{
    (void)user;
    EXPECT(result <= ICA_OK && result >= ICA_ERR_ABORT);
    EXPECT(ica_script_start(at, NULL) == ICA_ERR_BUSY);
}

static void add_args(ica_at_t *at, void *user)
{
    (void)user;
    ica_cmd_str(at, "/t,\"x\"");
    ica_cmd_int(at, 1);
}

ICA_MATCHES_DEFINE(unsolicited, ICA_MATCH("+IMQTTRCVPUB", ",", check_line), ICA_MATCH("+I", ",", check_line),
                   ICA_MATCH("", "", check_line));
ICA_MATCHES_DEFINE(sub_lines, ICA_MATCH("+IMQTTSUB:", ",", check_status));
ICA_MATCHES_DEFINE(auth_ok, ICA_MATCH("+IMQTTAUTH:OK", "", check_line), ICA_MATCH("+IMQTTSTATE:2", ",", NULL));
ICA_MATCHES_DEFINE(aborts, ICA_MATCH("+IMQTTAUTH:FAIL", "", check_line), ICA_MATCH("+IMQTTSTATE:0", "", NULL));
ICA_MATCHES_DEFINE(state_lines, ICA_MATCH("+IMQTTSTATE", ",", check_line));
ICA_STEPS_DEFINE(steps,
                 ICA_STEP_CMD("ATE0", 100),
                 ICA_STEP_CMD_ARGS_RESP("AT+IMQTTSUB=", add_args, sub_lines, 200),
                 ICA_STEP_WAIT(auth_ok, 150),
                 ICA_STEP_CMD_RESP("AT+IMQTTSTATE?", state_lines, 100),
                 ICA_STEP_CMD_ARGS("AT+IMQTTPUB=", add_args, 0));
ICA_SCRIPT_DEFINE(fuzz_script, steps, aborts, check_end, 1000);

/* The engine's own lengths stay within its buffers. */
static void check_state(const ica_at_t *at)
{
    EXPECT(at->line_len < sizeof at->line);
    EXPECT(at->resp_len <= sizeof at->resp);
    EXPECT(at->cmd_len < sizeof at->cmd);
    EXPECT(strlen(at->urc_hdr) < sizeof at->urc_hdr);
    EXPECT(at->in_handler == 0);
}

static void check_result(int rc)
{
    EXPECT(rc <= ICA_OK && rc >= ICA_ERR_ABORT && rc != ICA_ERR_BUSY);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static ica_at_t at;
    port_t port = {0};
    ica_port_t io = {port_write, port_read, port_millis, port_idle, &port, port_log};
    if (size < 2)
        return 0;
    unsigned mode = data[0] % 3u, chunk = data[1] % 16u + 1u;
    port.data = data + 2;
    port.len = size - 2;
    ica_at_init(&at, &io, unsolicited, ICA_ARRAY_LEN(unsolicited), NULL);

    if (mode == 0) {
        for (size_t off = 0; off < port.len; off += chunk) {
            ica_at_feed(&at, port.data + off, port.len - off < chunk ? port.len - off : chunk);
            check_state(&at);
        }
    } else if (mode == 1) {
        int rc = ica_script_run(&at, &fuzz_script);
        check_result(rc);
        EXPECT(ica_script_result(&at) == rc && !at.pending && at.script_step <= ICA_ARRAY_LEN(steps));
        EXPECT(rc != ICA_OK || at.script_step == ICA_ARRAY_LEN(steps));
        EXPECT(rc != ICA_ERR_ABORT || at.abort_reason);
        check_state(&at);
        ica_at_poll(&at); /* what the script left */
    } else {
        static const uint8_t entry[5] = {1, 2, 3, '\r', '\n'};
        uint8_t block[64];
        size_t len = 0;
        check_result(ica_at_cmd(&at, "AT+IMQTTSTATE?", 50));
        ica_cmd_begin(&at, "AT+IMQTTPUBIN=");
        ica_cmd_str(&at, "/t");
        ica_cmd_int(&at, 1);
        ica_cmd_int(&at, sizeof entry);
        check_result(ica_cmd_send_binary(&at, entry, sizeof entry, 50));
        int rc = ica_ota_block(&at, 0, block, sizeof block, &len, 50);
        check_result(rc);
        EXPECT(len <= sizeof block);
        EXPECT(!at.pending);
        check_state(&at);
    }
    check_state(&at);
    return 0;
}
