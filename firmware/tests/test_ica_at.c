/* Host unit tests of the ICA AT client library (lib/ica_at).
 *
 * The library runs against a fake port: scripted module bytes in, captured
 * bytes out, and a fake clock that the idle hook advances. No framework: the
 * last line is "N passed, N failed" and the exit status is non-zero on failure. */
#include "ica_at.h"

#include <stdio.h>
#include <string.h>

/* ---- a tiny test runner --------------------------------------------------- */

static int checks_failed;

#define CHECK(cond)                                                        \
    do {                                                                   \
        if (!(cond)) {                                                     \
            printf("  %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); \
            checks_failed++;                                               \
        }                                                                  \
    } while (0)

#define CHECK_STR(got, want)                                                              \
    do {                                                                                  \
        const char *g_ = (got), *w_ = (want);                                             \
        if (!g_ || strcmp(g_, w_) != 0) {                                                 \
            printf("  %s:%d: got \"%s\", want \"%s\"\n", __FILE__, __LINE__, g_ ? g_ : "(null)", w_); \
            checks_failed++;                                                              \
        }                                                                                 \
    } while (0)

#define CHECK_MEM(got, got_len, want, want_len)                                            \
    do {                                                                                   \
        if ((got_len) != (want_len) || memcmp((got), (want), (want_len)) != 0) {           \
            printf("  %s:%d: %s (%zu bytes) differs from %s (%zu bytes)\n", __FILE__, __LINE__, \
                   #got, (size_t)(got_len), #want, (size_t)(want_len));                    \
            checks_failed++;                                                               \
        }                                                                                  \
    } while (0)

/* ---- the fake port --------------------------------------------------------- */

typedef struct {
    const uint8_t *script; /* what the module sends */
    size_t script_len, pos;
    uint8_t out[2048];     /* what the library wrote */
    size_t out_len;
    uint32_t now;          /* fake clock, ms */
    int trickle;           /* 1: every other read finds nothing (byte-at-a-time) */
    int dry;
    int endless;           /* 1: the script starts again when it ends, a ms passing per byte */
} fake_t;

static void fake_write(void *ctx, const uint8_t *data, size_t len)
{
    fake_t *f = ctx;
    if (f->out_len + len <= sizeof f->out) {
        memcpy(f->out + f->out_len, data, len);
        f->out_len += len;
    }
}

static int fake_read(void *ctx)
{
    fake_t *f = ctx;
    if (f->trickle && (f->dry = !f->dry))
        return -1;
    if (f->endless) {
        f->now++;
        f->pos %= f->script_len;
    }
    return f->pos < f->script_len ? f->script[f->pos++] : -1;
}

static uint32_t fake_millis(void *ctx)
{
    return ((fake_t *)ctx)->now;
}

static void fake_idle(void *ctx)
{
    ((fake_t *)ctx)->now += 1;
}

/* Lines the unsolicited catch-all match saw: argv[0] as the name, argv[1..]
 * joined with '|' as args, and the payload, copied out. */
typedef struct {
    int count;
    char name[8][32];
    char args[8][128];
    uint8_t payload[8][256];
    size_t payload_len[8];
    int had_payload[8];
} urcs_t;

static void join_args(char *out, size_t cap, char **argv, uint16_t argc)
{
    size_t n = 0;
    out[0] = '\0';
    for (uint16_t i = 1; i < argc; i++)
        n += (size_t)snprintf(out + n, n < cap ? cap - n : 0, "%s%s", i > 1 ? "|" : "", argv[i]);
}

static void record_urc(ica_at_t *at, char **argv, uint16_t argc, void *user)
{
    urcs_t *u = user;
    size_t len;
    const uint8_t *payload = ica_at_payload(at, &len);
    if (u->count >= 8)
        return;
    int i = u->count++;
    snprintf(u->name[i], sizeof u->name[i], "%s", argv[0]);
    join_args(u->args[i], sizeof u->args[i], argv, argc);
    u->had_payload[i] = payload != NULL;
    u->payload_len[i] = len;
    if (payload)
        memcpy(u->payload[i], payload, len < 256 ? len : 256);
}

ICA_MATCHES_DEFINE(record_all, ICA_MATCH("", ",", record_urc));

static ica_at_t at;
static fake_t fake;
static urcs_t urcs;

static void setup_n(const void *script, size_t len)
{
    ica_port_t port = {fake_write, fake_read, fake_millis, fake_idle, &fake, NULL};
    memset(&fake, 0, sizeof fake);
    memset(&urcs, 0, sizeof urcs);
    fake.script = script;
    fake.script_len = len;
    fake.now = 1000;
    ica_at_init(&at, &port, record_all, ICA_ARRAY_LEN(record_all), &urcs);
}

static void setup(const char *script)
{
    setup_n(script, strlen(script));
}

#define OUT_IS(text) CHECK_MEM(fake.out, fake.out_len, (const uint8_t *)(text), strlen(text))

/* ---- tests ----------------------------------------------------------------- */

static void test_command_ok(void)
{
    setup("\r\nOK\r\n");
    CHECK(ica_at_cmd(&at, "AT", 100) == ICA_OK);
    OUT_IS("AT\r");
}

static void test_echo_is_not_a_response_line(void)
{
    setup("ATE0\r\r\nOK\r\n");
    CHECK(ica_at_cmd(&at, "ATE0", 100) == ICA_OK);
    CHECK(at.resp_len == 0);
}

static void test_errors_surface(void)
{
    setup("\r\n+CME ERROR:50\r\n\r\nERROR\r\n\r\n+CME ERROR: 3\r\n");
    CHECK(ica_at_cmd(&at, "AT+IMQTTPARA=\"KEEPALIVE\",5", 100) == ICA_ERR_CME);
    CHECK(at.cme_error == 50);
    CHECK(ica_at_cmd(&at, "AT+FOO", 100) == ICA_ERR_ERROR);
    CHECK(ica_at_cmd(&at, "AT+IOTABLOCK=0", 100) == ICA_ERR_CME);
    CHECK(at.cme_error == 3);
}

static void test_timeout_then_next_command_works(void)
{
    setup("");
    CHECK(ica_at_cmd(&at, "AT", 250) == ICA_ERR_TIMEOUT);
    CHECK(fake.now - 1000 >= 250 && fake.now - 1000 < 260);
    static const char late[] = "\r\nOK\r\n";
    fake.script = (const uint8_t *)late;
    fake.script_len = strlen(late);
    CHECK(ica_at_cmd(&at, "AT", 100) == ICA_OK);
}

static void test_id_line_then_result_urc(void)
{
    setup("\r\n+IMQTTPUB:12\r\n\r\nOK\r\n\r\n+IMQTTPUB:12,0\r\n");
    ica_cmd_begin(&at, "AT+IMQTTPUB=");
    ica_cmd_str(&at, "/a1demoPK/dev/user/telemetry");
    ica_cmd_int(&at, 1);
    ica_cmd_str(&at, "{\"seq\":1}");
    CHECK(ica_cmd_send(&at, 100) == ICA_OK);
    OUT_IS("AT+IMQTTPUB=\"/a1demoPK/dev/user/telemetry\",1,\"{\\\"seq\\\":1}\"\r");
    CHECK_STR(ica_at_response(&at, "+IMQTTPUB"), "12");
    CHECK(urcs.count == 0);
    ica_at_poll(&at);
    CHECK(urcs.count == 1);
    CHECK_STR(urcs.name[0], "+IMQTTPUB");
    CHECK_STR(urcs.args[0], "12|0");
}

static void test_result_urc_of_earlier_command_while_pending(void)
{
    setup("\r\n+IMQTTPUB:11,0\r\n\r\n+IMQTTPUB:12\r\n\r\nOK\r\n");
    CHECK(ica_at_cmd(&at, "AT+IMQTTPUB=\"/t\",1,\"x\"", 100) == ICA_OK);
    CHECK_STR(ica_at_response(&at, "+IMQTTPUB"), "12");
    CHECK(urcs.count == 1);
    CHECK_STR(urcs.args[0], "11|0");
}

static void test_receive_urc_ok_is_not_the_commands_ok(void)
{
    /* only the URC and its OK arrive: the command must still be waiting */
    setup("\r\n+IMQTTRCVPUB:3,\"/a/b\",5,\"hello\"\r\n\r\nOK\r\n");
    CHECK(ica_at_cmd(&at, "AT+IMQTTSUB=\"/a/b\",1", 200) == ICA_ERR_TIMEOUT);
    CHECK(urcs.count == 1);
    CHECK_STR(urcs.name[0], "+IMQTTRCVPUB");
    CHECK_STR(urcs.args[0], "3|/a/b|5");
    CHECK_MEM(urcs.payload[0], urcs.payload_len[0], "hello", 5);

    /* the same, then the command's own response */
    setup("\r\n+IMQTTRCVPUB:3,\"/a/b\",5,\"hello\"\r\n\r\nOK\r\n\r\n+IMQTTSUB:9\r\n\r\nOK\r\n\r\n+IMQTTSUB:9,1\r\n");
    CHECK(ica_at_cmd(&at, "AT+IMQTTSUB=\"/a/b\",1", 200) == ICA_OK);
    CHECK_STR(ica_at_response(&at, "+IMQTTSUB"), "9");
    CHECK(urcs.count == 1);
    ica_at_poll(&at);
    CHECK(urcs.count == 2);
    CHECK_STR(urcs.args[1], "9|1");
}

static void test_text_payload_read_by_length(void)
{
    static const char payload[] = "a\",\"b\r\nOK\r\n\"c";
    char script[256];
    snprintf(script, sizeof script,
             "\r\n+IMQTTRCVPUB:7,\"/x,y\",%zu,\"%s\"\r\n\r\nOK\r\n\r\n+IMQTTSTATE:0\r\n", strlen(payload), payload);
    setup(script);
    ica_at_poll(&at);
    CHECK(urcs.count == 2);
    CHECK_MEM(urcs.payload[0], urcs.payload_len[0], payload, strlen(payload));
    char args[32];
    snprintf(args, sizeof args, "7|/x,y|%zu", strlen(payload));
    CHECK_STR(urcs.args[0], args);
    CHECK_STR(urcs.name[1], "+IMQTTSTATE");
    CHECK_STR(urcs.args[1], "0");
}

static void test_text_payloads_of_coap_and_http(void)
{
    /* CoAP with the path left out and spaces; HTTP send result (no trailing OK),
     * then an HTTP response with an error status (no payload), then a command's OK */
    setup("\r\n+ICOAPRCVRSP: 5, , 3, \"a\"b\"\r\n\r\nOK\r\n"
          "\r\n+IHTTPSEND:0,4,\"{}\r\n\"\r\n"
          "\r\n+IHTTPRCVRSP:6,3\r\n\r\nOK\r\n"
          "\r\nOK\r\n");
    CHECK(ica_at_cmd(&at, "AT", 100) == ICA_OK);
    CHECK(urcs.count == 3);
    CHECK_STR(urcs.name[0], "+ICOAPRCVRSP");
    CHECK_MEM(urcs.payload[0], urcs.payload_len[0], "a\"b", 3);
    CHECK_STR(urcs.name[1], "+IHTTPSEND");
    CHECK_MEM(urcs.payload[1], urcs.payload_len[1], "{}\r\n", 4);
    CHECK_STR(urcs.name[2], "+IHTTPRCVRSP");
    CHECK(!urcs.had_payload[2]);
    CHECK_STR(urcs.args[2], "6|3");
}

static void test_oversized_text_payload_is_truncated_and_skipped(void)
{
    static char script[ICA_AT_PAYLOAD_MAX + 200];
    int n = snprintf(script, sizeof script, "\r\n+IMQTTRCVPUB:1,\"/t\",%d,\"", ICA_AT_PAYLOAD_MAX + 10);
    memset(script + n, 'z', ICA_AT_PAYLOAD_MAX + 10);
    strcpy(script + n + ICA_AT_PAYLOAD_MAX + 10, "\"\r\n\r\nOK\r\n\r\n+IMQTTSTATE:2\r\n");
    setup(script);
    ica_at_poll(&at);
    CHECK(urcs.count == 2);
    CHECK(urcs.payload_len[0] == ICA_AT_PAYLOAD_MAX);
    char args[32];
    snprintf(args, sizeof args, "1|/t|%d", ICA_AT_PAYLOAD_MAX + 10);
    CHECK_STR(urcs.args[0], args);
    CHECK_STR(urcs.name[1], "+IMQTTSTATE");
}

static void test_binary_urc(void)
{
    static const uint8_t script[] = "\r\n+IMQTTRCVPUBIN:4,\"/t\",7\r\n\r\nOK\r\n\x11\r\n\0OK\xBB"
                                    "\r\n+IMQTTPINGRSP\r\n\r\nOK\r\n"
                                    "\r\n+IMQTTSTATE:2\r\n";
    setup_n(script, sizeof script - 1);
    ica_at_poll(&at);
    CHECK(urcs.count == 3);
    CHECK_STR(urcs.name[0], "+IMQTTRCVPUBIN");
    CHECK_MEM(urcs.payload[0], urcs.payload_len[0], "\x11\r\n\0OK\xBB", 7);
    CHECK_STR(urcs.name[1], "+IMQTTPINGRSP");
    CHECK_STR(urcs.name[2], "+IMQTTSTATE");
}

static void test_binary_send(void)
{
    static const uint8_t data[5] = {0x11, 0x22, 0x33, 0xAA, 0xBB};
    setup("\r\nOK\r\n\r\n+IMQTTPUBIN:7\r\n\r\nOK\r\n");
    ica_cmd_begin(&at, "AT+IMQTTPUBIN=");
    ica_cmd_str(&at, "/t");
    ica_cmd_int(&at, 1);
    ica_cmd_int(&at, sizeof data);
    CHECK(ica_cmd_send_binary(&at, data, sizeof data, 100) == ICA_OK);
    OUT_IS("AT+IMQTTPUBIN=\"/t\",1,5\r\x11\x22\x33\xAA\xBB");
    CHECK_STR(ica_at_response(&at, "+IMQTTPUBIN"), "7");

    setup("\r\n+CME ERROR:3\r\n");
    ica_cmd_begin(&at, "AT+IMQTTPUBIN=\"/t\",1,5");
    CHECK(ica_cmd_send_binary(&at, data, sizeof data, 100) == ICA_ERR_CME);
    OUT_IS("AT+IMQTTPUBIN=\"/t\",1,5\r"); /* no data after an error */
}

static void test_ota_block(void)
{
    static const uint8_t good[] = "\r\n+IOTABLOCK:5,0x1DD1\r\n\r\nOK\r\n\x11\x22\x33\xAA\xBB";
    static const uint8_t bad[] = "\r\n+IOTABLOCK: 5, 0x1DD1\r\n\r\nOK\r\n\x11\x22\x33\xAA\xBA";
    static const uint8_t end[] = "\r\n+IOTABLOCK:0,0xFFFF\r\n\r\nOK\r\n\r\n+IMQTTSTATE:2\r\n";
    uint8_t buf[16];
    size_t len = 99;

    setup_n(good, sizeof good - 1);
    CHECK(ica_ota_block(&at, 0, buf, sizeof buf, &len, 100) == ICA_OK);
    OUT_IS("AT+IOTABLOCK=0\r");
    CHECK_MEM(buf, len, "\x11\x22\x33\xAA\xBB", 5);

    setup_n(bad, sizeof bad - 1);
    CHECK(ica_ota_block(&at, 1, buf, sizeof buf, &len, 100) == ICA_ERR_CRC);
    CHECK(len == 5);

    setup_n(end, sizeof end - 1);
    CHECK(ica_ota_block(&at, 0, buf, sizeof buf, &len, 100) == ICA_OK);
    CHECK(len == 0);
    ica_at_poll(&at);
    CHECK(urcs.count == 1); /* framing intact after the empty block */

    setup_n(good, sizeof good - 1);
    CHECK(ica_ota_block(&at, 0, buf, 3, &len, 100) == ICA_ERR_OVERFLOW);
}

static void test_urc_between_block_and_command(void)
{
    /* a receive URC right before the block's response: its OK is its own */
    static const uint8_t script[] = "\r\n+IOTANEWVER:\"1.1.0\",5,\"00112233445566778899aabbccddeeff\"\r\n\r\nOK\r\n"
                                    "\r\n+IOTABLOCK:5,0x1DD1\r\n\r\nOK\r\n\x11\x22\x33\xAA\xBB";
    uint8_t buf[8];
    size_t len;
    setup_n(script, sizeof script - 1);
    CHECK(ica_ota_block(&at, 0, buf, sizeof buf, &len, 100) == ICA_OK);
    CHECK(len == 5);
    CHECK(urcs.count == 1);
    CHECK_STR(urcs.args[0], "1.1.0|5|00112233445566778899aabbccddeeff");
}

static void test_query_lines_are_responses(void)
{
    setup("\r\n+IMQTTSTATE:2\r\n\r\nOK\r\n");
    CHECK(ica_at_cmd(&at, "AT+IMQTTSTATE?", 100) == ICA_OK);
    CHECK_STR(ica_at_response(&at, "+IMQTTSTATE"), "2");
    CHECK(urcs.count == 0);
}

static void test_quoting_and_escaping(void)
{
    char out[32];
    setup("\r\nOK\r\n");
    ica_cmd_begin(&at, "AT+IMQTTAUTH=");
    ica_cmd_str(&at, "pk");
    ica_cmd_str(&at, "a\"b\\c");
    ica_cmd_strn(&at, "xyz", 2);
    ica_cmd_int(&at, -42);
    CHECK(ica_cmd_send(&at, 100) == ICA_OK);
    OUT_IS("AT+IMQTTAUTH=\"pk\",\"a\\\"b\\\\c\",\"xy\",-42\r");
    CHECK(ica_field_str("\"pk\", \"a\\\"b\\\\c\",7", 1, out, sizeof out) == 0);
    CHECK_STR(out, "a\"b\\c");
    CHECK(ica_field_str("\"abcdef\"", 0, out, 4) == 0);
    CHECK_STR(out, "abc");
    CHECK(ica_field_str("1,2", 2, out, sizeof out) == -1);
}

static void test_command_too_long(void)
{
    static char big[ICA_AT_CMD_MAX];
    memset(big, 'x', sizeof big - 1);
    setup("\r\nOK\r\n");
    ica_cmd_begin(&at, "AT+IMQTTPUB=");
    ica_cmd_str(&at, big);
    CHECK(ica_cmd_send(&at, 100) == ICA_ERR_OVERFLOW);
    CHECK(fake.out_len == 0);
}

static void test_field_numbers(void)
{
    long v;
    CHECK(ica_field_int("12, 0x1dD1 ,-3", 1, &v) == 0 && v == 0x1DD1);
    CHECK(ica_field_int("12, 0x1dD1 ,-3", 2, &v) == 0 && v == -3);
    CHECK(ica_field_int("\"7\"", 0, &v) == -1);
    CHECK(ica_field_int("7x", 0, &v) == -1);
    char digits[12];
    CHECK_MEM(digits, ica_fmt_int(digits, -2147483647L - 1), "-2147483648", 11);
    CHECK_MEM(digits, ica_fmt_int(digits, 0), "0", 1);
}

static int seen_state(void *user)
{
    const urcs_t *u = user;
    return u->count > 0 && strcmp(u->name[u->count - 1], "+IMQTTSTATE") == 0;
}

static void test_wait_until(void)
{
    setup("\r\n+IMQTTAUTH:OK\r\n\r\n+IMQTTSTATE:2\r\n");
    CHECK(ica_at_wait_until(&at, seen_state, &urcs, 100) == ICA_OK);
    CHECK(urcs.count == 2);
    CHECK_STR(urcs.args[0], "OK");
    setup("");
    CHECK(ica_at_wait_until(&at, seen_state, &urcs, 100) == ICA_ERR_TIMEOUT);
}

static void test_byte_at_a_time(void)
{
    static const uint8_t script[] = "\r\n+IMQTTRCVPUB:3,\"/a/b\",7,\"x\"\r\nOK\r\"\r\n\r\nOK\r\n"
                                    "\r\n+IMQTTPUB:5\r\n\r\nOK\r\n"
                                    "\r\n+IMQTTRCVPUBIN:4,\"/t\",2\r\n\r\nOK\r\n\r\n";
    setup_n(script, sizeof script - 1);
    fake.trickle = 1;
    CHECK(ica_at_cmd(&at, "AT+IMQTTPUB=\"/t\",1,\"x\"", 1000) == ICA_OK);
    CHECK_STR(ica_at_response(&at, "+IMQTTPUB"), "5");
    CHECK(ica_at_wait_until(&at, seen_state, &urcs, 200) == ICA_ERR_TIMEOUT); /* drains the rest */
    CHECK(urcs.count == 2);
    CHECK_MEM(urcs.payload[0], urcs.payload_len[0], "x\"\r\nOK\r", 7);
    CHECK_MEM(urcs.payload[1], urcs.payload_len[1], "\r\n", 2);
}

static void test_crc16_vectors(void)
{
    static const uint8_t block[] = {0x11, 0x22, 0x33, 0xAA, 0xBB};
    static const uint8_t corrupted[] = {0x11, 0x22, 0x33, 0xAA, 0xBA};
    CHECK(ica_crc16(0xFFFF, (const uint8_t *)"123456789", 9) == 0x29B1);
    CHECK(ica_crc16(0xFFFF, block, sizeof block) == 0x1DD1);
    CHECK(ica_crc16(0xFFFF, corrupted, sizeof corrupted) == 0x0DF0);
    CHECK(ica_crc16(ica_crc16(0xFFFF, (const uint8_t *)"1234", 4), (const uint8_t *)"56789", 5) == 0x29B1);
}

static void md5_of(const char *text, size_t chunk, char hex[33])
{
    ica_md5_t md5;
    uint8_t digest[16];
    size_t len = strlen(text);
    ica_md5_init(&md5);
    for (size_t off = 0; off < len; off += chunk)
        ica_md5_update(&md5, (const uint8_t *)text + off, len - off < chunk ? len - off : chunk);
    ica_md5_final(&md5, digest);
    ica_md5_hex(digest, hex);
}

static void test_md5_vectors(void)
{
    static const char *const vectors[][2] = {
        {"", "d41d8cd98f00b204e9800998ecf8427e"},
        {"a", "0cc175b9c0f1b6a831c399e269772661"},
        {"abc", "900150983cd24fb0d6963f7d28e17f72"},
        {"message digest", "f96b697d7cb7938d525a2f31aaf161d0"},
        {"abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b"},
        {"The quick brown fox jumps over the lazy dog", "9e107d9d372bb6826bd81d3542a419d6"},
        {"12345678901234567890123456789012345678901234567890123456789012345678901234567890",
         "57edf4a22be3c955ac49da2e2107b67a"},
    };
    char hex[33];
    for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
        md5_of(vectors[i][0], 1000, hex);
        CHECK_STR(hex, vectors[i][1]);
        md5_of(vectors[i][0], 7, hex); /* streamed in odd chunks */
        CHECK_STR(hex, vectors[i][1]);
    }
}


/* Re-initialises `at` on the fake port with other unsolicited matches. */
static void use_unsol(const ica_match_t *unsol, size_t n, void *user)
{
    ica_port_t port = at.port;
    ica_at_init(&at, &port, unsol, n, user);
}

/* ---- matches and scripts ------------------------------------------------------ */

/* What a script's callbacks saw. */
typedef struct {
    int lines;
    char seen[8][128]; /* "name:args" as "argv[0]|argv[1]|..." */
    int script_calls, script_result;
    int abort_status_over; /* abort when a status URC's status is above this */
} seen_t;

static seen_t seen;

static void note(ica_at_t *at, char **argv, uint16_t argc, void *user)
{
    (void)at;
    (void)user;
    if (seen.lines >= 8)
        return;
    char *out = seen.seen[seen.lines++];
    snprintf(out, sizeof seen.seen[0], "%s", argv[0]);
    if (argc > 1) {
        strcat(out, "|");
        join_args(out + strlen(out), sizeof seen.seen[0] - strlen(out), argv, argc);
    }
}

static void note_status(ica_at_t *at, char **argv, uint16_t argc, void *user)
{
    long status;
    note(at, argv, argc, user);
    if (argc == 3 && ica_field_int(argv[2], 0, &status) == 0 && status > seen.abort_status_over)
        ica_script_abort(at, "status");
}

static void script_done(ica_at_t *at, int result, void *user)
{
    (void)at;
    (void)user;
    seen.script_calls++;
    seen.script_result = result;
}

static void subscribe_args(ica_at_t *at, void *user)
{
    (void)user;
    ica_cmd_str(at, "/a,\"b\"");
    ica_cmd_int(at, 1);
}

ICA_MATCHES_DEFINE(sub_lines, ICA_MATCH("+IMQTTSUB:", ",", note_status));
ICA_MATCHES_DEFINE(auth_ok, ICA_MATCH("+IMQTTAUTH:OK", "", note));
ICA_MATCHES_DEFINE(auth_abort, ICA_MATCH("+IMQTTAUTH:FAIL", "", note));
ICA_STEPS_DEFINE(session_steps,
                 ICA_STEP_CMD("ATE0", 100),
                 ICA_STEP_CMD("AT+IMQTTAUTH=\"pk\",\"dn\",\"s\"", 100),
                 ICA_STEP_WAIT(auth_ok, 500),
                 ICA_STEP_CMD_ARGS_RESP("AT+IMQTTSUB=", subscribe_args, sub_lines, 500));
ICA_SCRIPT_DEFINE(session, session_steps, auth_abort, script_done, 2000);

static void setup_script(const char *script)
{
    setup(script);
    memset(&seen, 0, sizeof seen);
    seen.abort_status_over = 2;
}

static void test_script_success(void)
{
    setup_script("\r\nOK\r\n"                 /* ATE0 */
                 "\r\nOK\r\n"                 /* AT+IMQTTAUTH */
                 "\r\n+IMQTTSTATE:0\r\n"      /* not what step 3 waits for: unsolicited */
                 "\r\n+IMQTTAUTH:OK\r\n"
                 "\r\n+IMQTTSUB:9\r\n\r\nOK\r\n"
                 "\r\n+IMQTTSUB:8,0\r\n"      /* another subscription's status */
                 "\r\n+IMQTTSUB:9,1\r\n"
                 "\r\n+IMQTTSTATE:2\r\n");    /* after the script: left in the port */
    CHECK(ica_script_run(&at, &session) == ICA_OK);
    CHECK_STR(session.name, "session");
    OUT_IS("ATE0\rAT+IMQTTAUTH=\"pk\",\"dn\",\"s\"\rAT+IMQTTSUB=\"/a,\\\"b\\\"\",1\r");
    CHECK(seen.lines == 3);
    CHECK_STR(seen.seen[0], "+IMQTTAUTH|OK");
    CHECK_STR(seen.seen[1], "+IMQTTSUB|9");
    CHECK_STR(seen.seen[2], "+IMQTTSUB|9|1");
    CHECK(at.status == 1);
    CHECK(at.script_step == 4);
    CHECK(seen.script_calls == 1 && seen.script_result == ICA_OK);
    CHECK(urcs.count == 2);
    CHECK_STR(urcs.name[0], "+IMQTTSTATE");
    CHECK_STR(urcs.args[1], "8|0");
    CHECK(ica_script_result(&at) == ICA_OK);
    ica_at_poll(&at);
    CHECK(urcs.count == 3); /* the rest goes to the unsolicited matches */
}

static void test_script_cme_error_aborts(void)
{
    setup_script("\r\nOK\r\n\r\n+CME ERROR: 31\r\n\r\n+IMQTTAUTH:OK\r\n");
    CHECK(ica_script_run(&at, &session) == ICA_ERR_CME);
    CHECK(at.cme_error == 31);
    CHECK(at.script_step == 1);
    OUT_IS("ATE0\rAT+IMQTTAUTH=\"pk\",\"dn\",\"s\"\r"); /* nothing sent after the error */
    CHECK(seen.script_calls == 1 && seen.script_result == ICA_ERR_CME);
    setup_script("\r\nERROR\r\n");
    CHECK(ica_script_run(&at, &session) == ICA_ERR_ERROR);
    CHECK(at.script_step == 0);
}

static void test_script_abort_match(void)
{
    setup_script("\r\nOK\r\n\r\nOK\r\n\r\n+IMQTTAUTH:FAIL\r\n");
    CHECK(ica_script_run(&at, &session) == ICA_ERR_ABORT);
    CHECK_STR(at.abort_reason, "+IMQTTAUTH:FAIL");
    CHECK(at.script_step == 2);
    CHECK(seen.lines == 1);
    CHECK_STR(seen.seen[0], "+IMQTTAUTH|FAIL");
}

static void test_script_abort_from_callback(void)
{
    setup_script("\r\nOK\r\n\r\nOK\r\n\r\n+IMQTTAUTH:OK\r\n\r\n+IMQTTSUB:9\r\n\r\nOK\r\n\r\n+IMQTTSUB:9,128\r\n");
    CHECK(ica_script_run(&at, &session) == ICA_ERR_ABORT);
    CHECK_STR(at.abort_reason, "status");
    CHECK(at.status == 128);
    CHECK(at.script_step == 3);
}

static void test_script_step_timeout(void)
{
    /* step 3 waits 500 ms for +IMQTTAUTH:OK */
    setup_script("\r\nOK\r\n\r\nOK\r\n");
    CHECK(ica_script_run(&at, &session) == ICA_ERR_TIMEOUT);
    CHECK(at.script_step == 2);
    CHECK(fake.now - 1000 >= 500 && fake.now - 1000 < 510);
    CHECK(seen.script_calls == 1 && seen.script_result == ICA_ERR_TIMEOUT);
    /* the engine is free again: a single command works */
    static const char ok[] = "\r\nOK\r\n";
    fake.script = (const uint8_t *)ok;
    fake.script_len = strlen(ok);
    fake.pos = 0;
    CHECK(ica_at_cmd(&at, "AT", 100) == ICA_OK);
}

ICA_MATCHES_DEFINE(never, ICA_MATCH("+NEVER", "", NULL));
ICA_STEPS_DEFINE(slow_steps, ICA_STEP_CMD("AT", 1000), ICA_STEP_WAIT(never, 0));
ICA_SCRIPT_NO_ABORT_DEFINE(slow, slow_steps, NULL, 150);

static void test_script_timeout(void)
{
    setup_script("\r\nOK\r\n");
    CHECK(ica_script_run(&at, &slow) == ICA_ERR_TIMEOUT);
    CHECK(at.script_step == 1);
    CHECK(fake.now - 1000 >= 150 && fake.now - 1000 < 160);
}

static void test_timeouts_hold_against_a_module_that_never_stops(void)
{
    setup_script("\r\n+IMQTTSTATE:1\r\n");
    fake.endless = 1;
    CHECK(ica_script_run(&at, &slow) == ICA_ERR_TIMEOUT); /* its first step's OK never comes */
    CHECK(fake.now - 1000 >= 150 && fake.now - 1000 < 160);
    CHECK(ica_at_cmd(&at, "AT", 100) == ICA_ERR_TIMEOUT);
    CHECK(urcs.count == 8); /* the URCs were handled meanwhile */
}

ICA_STEPS_DEFINE(sub_steps, ICA_STEP_CMD_ARGS_RESP("AT+IMQTTSUB=", subscribe_args, sub_lines, 500));
ICA_SCRIPT_NO_ABORT_DEFINE(sub_only, sub_steps, NULL, 0);

static void test_script_urcs_in_the_middle_of_a_response(void)
{
    /* URCs between the id line and OK, an early status URC, and a receive URC's own OK */
    setup_script("\r\n+IMQTTSUB:9\r\n"
                 "\r\n+IMQTTRCVPUB:3,\"/a\",4,\"OK\r\n\"\r\n\r\nOK\r\n"
                 "\r\n+IMQTTPUB:3,0\r\n"
                 "\r\n+IMQTTSUB:9,2\r\n"
                 "\r\nOK\r\n");
    CHECK(ica_script_run(&at, &sub_only) == ICA_OK);
    CHECK(at.status == 2);
    CHECK(seen.lines == 2);
    CHECK_STR(seen.seen[0], "+IMQTTSUB|9");
    CHECK_STR(seen.seen[1], "+IMQTTSUB|9|2");
    CHECK(urcs.count == 2);
    CHECK_STR(urcs.name[0], "+IMQTTRCVPUB");
    CHECK_MEM(urcs.payload[0], urcs.payload_len[0], "OK\r\n", 4);
    CHECK_STR(urcs.name[1], "+IMQTTPUB");
}

static void test_script_status_command_without_id_line(void)
{
    setup_script("\r\nOK\r\n\r\n+IMQTTSUB:9,0\r\n");
    CHECK(ica_script_run(&at, &sub_only) == ICA_ERR_PARSE);
    ica_at_poll(&at);
    CHECK(urcs.count == 1); /* the status URC was nobody's */
}

ICA_STEPS_DEFINE(query_steps, ICA_STEP_CMD_RESP("AT+IMQTTSUB?", sub_lines, 100));
ICA_SCRIPT_NO_ABORT_DEFINE(query_only, query_steps, NULL, 0);

static void test_script_query_waits_for_no_status(void)
{
    setup_script("\r\n+IMQTTSUB:1,\"/a\",1\r\n\r\nOK\r\n");
    CHECK(ica_script_run(&at, &query_only) == ICA_OK);
    CHECK(seen.lines == 1);
    CHECK_STR(seen.seen[0], "+IMQTTSUB|1|/a|1");
}

static void test_script_sans_io(void)
{
    static const char *const chunks[] = {"\r\nOK\r", "\n\r\nOK\r\n\r\n+IMQTTAUTH:", "OK\r\n\r\n+IMQTTSUB:9\r\n\r\nOK",
                                         "\r\n\r\n+IMQTTSUB:9,0\r\n"};
    setup_script("");
    CHECK(ica_script_start(&at, &session) == ICA_RUNNING);
    CHECK(ica_script_start(&at, &session) == ICA_ERR_BUSY);
    CHECK(ica_at_cmd(&at, "AT", 10) == ICA_ERR_BUSY);
    OUT_IS("ATE0\r");
    for (size_t i = 0; i < ICA_ARRAY_LEN(chunks); i++) {
        CHECK(ica_script_result(&at) == ICA_RUNNING);
        ica_at_feed(&at, (const uint8_t *)chunks[i], strlen(chunks[i]));
    }
    CHECK(ica_script_result(&at) == ICA_OK);
    OUT_IS("ATE0\rAT+IMQTTAUTH=\"pk\",\"dn\",\"s\"\rAT+IMQTTSUB=\"/a,\\\"b\\\"\",1\r");
    /* ica_at_tick ends a script whose step ran out of time */
    CHECK(ica_script_start(&at, &slow) == ICA_RUNNING);
    ica_at_feed(&at, (const uint8_t *)"\r\nOK\r\n", 6);
    fake.now += 149;
    ica_at_tick(&at);
    CHECK(ica_script_result(&at) == ICA_RUNNING);
    fake.now += 1;
    ica_at_tick(&at);
    CHECK(ica_script_result(&at) == ICA_ERR_TIMEOUT);
}

static int busy_rc;

static void try_command(ica_at_t *at, char **argv, uint16_t argc, void *user)
{
    (void)argv;
    (void)argc;
    (void)user;
    busy_rc = ica_at_cmd(at, "AT", 10);
    if (busy_rc == ICA_ERR_BUSY)
        busy_rc = ica_script_run(at, &slow);
}

static void test_callbacks_cannot_send(void)
{
    static const ica_match_t unsol[] = {ICA_MATCH("+IMQTTSTATE", ",", try_command)};
    setup("\r\n+IMQTTSTATE:0\r\n");
    use_unsol(unsol, 1, NULL);
    busy_rc = 0;
    ica_at_poll(&at);
    CHECK(busy_rc == ICA_ERR_BUSY);
    CHECK(fake.out_len == 0);
}

static void test_argv_split(void)
{
    /* quoted separators and escapes, spaces, an empty field, separators "" */
    static const ica_match_t unsol[] = {ICA_MATCH("+IMQTTRCVPUB", ",", note), ICA_MATCH("+ONE", "", note),
                                        ICA_MATCH("+MANY", ",", note), ICA_MATCH("OK", ",", note)};
    setup_script("\r\n+ONE: \"a,b\" \r\n"
                 "\r\n+MANY:1,2,3,4,5,6,7,8,9,10,11,12,13\r\n"
                 "\r\n+ONE:x , y\r\n"
                 "\r\n+IMQTTRCVPUB: 1, \"/a,\\\"b\\\\\" , 0,\"\"\r\n\r\nOK\r\n"
                 "\r\n+Many:\r\n");
    use_unsol(unsol, ICA_ARRAY_LEN(unsol), NULL);
    ica_at_poll(&at);
    CHECK(seen.lines == 5);
    CHECK_STR(seen.seen[0], "+ONE|a,b");
    CHECK_STR(seen.seen[1], "+MANY|1|2|3|4|5|6|7|8|9|10|11,12,13");
    CHECK_STR(seen.seen[2], "+ONE|x , y");
    CHECK_STR(seen.seen[3], "+IMQTTRCVPUB|1|/a,\"b\\|0"); /* the payload is not a field */
    CHECK_STR(seen.seen[4], "+Many|");
}

/* ---- the log hook ---- */

static char logged[512];

static void log_line(void *ctx, ica_log_dir_t dir, const char *line, size_t len)
{
    (void)ctx;
    size_t n = strlen(logged);
    snprintf(logged + n, sizeof logged - n, "%s%.*s\n", dir == ICA_LOG_TX ? "> " : "< ", (int)len, line);
}

static void test_log_hook(void)
{
    static const uint8_t script[] = "\r\n+IMQTTSUB:9\r\n\r\nOK\r\n"
                                    "\r\n+IMQTTRCVPUBIN:4,\"/t\",3\r\n\r\nOK\r\nA\nB"
                                    "\r\n+IMQTTRCVPUB:3,\"/a\",2,\"hi\"\r\n\r\nOK\r\n"
                                    "\r\n+IMQTTSUB:9,1\r\n";
    setup_n(script, sizeof script - 1);
    memset(&seen, 0, sizeof seen);
    seen.abort_status_over = 2;
    at.port.log = log_line;
    logged[0] = '\0';
    CHECK(ica_script_run(&at, &sub_only) == ICA_OK);
    CHECK_STR(logged, "> AT+IMQTTSUB=\"/a,\\\"b\\\"\",1\n"
                      "< +IMQTTSUB:9\n< OK\n"
                      "< +IMQTTRCVPUBIN:4,\"/t\",3\n< OK\n"
                      "< +IMQTTRCVPUB:3,\"/a\",2,\n< OK\n"
                      "< +IMQTTSUB:9,1\n");
    CHECK(urcs.count == 2);
    CHECK_MEM(urcs.payload[0], urcs.payload_len[0], "A\nB", 3);
}

/* ---- binary payloads split across feeds ---- */

static void test_payload_by_length_across_feeds(void)
{
    static const uint8_t script[] = "\r\n+IMQTTRCVPUBIN:4,\"/t\",6\r\n\r\nOK\r\n\r\n\0\"OK\n"
                                    "\r\n+IMQTTRCVPUB:5,\"/t\",5,\"a\r\n\"b\"\r\n\r\nOK\r\n"
                                    "\r\n+IMQTTSTATE:2\r\n";
    const size_t n = sizeof script - 1;
    int bad = 0;
    for (size_t cut1 = 0; cut1 <= n; cut1++) {
        for (size_t cut2 = cut1; cut2 <= n; cut2 += 7) {
            setup("");
            ica_at_feed(&at, script, cut1);
            ica_at_feed(&at, script + cut1, cut2 - cut1);
            ica_at_feed(&at, script + cut2, n - cut2);
            if (urcs.count != 3 || urcs.payload_len[0] != 6 || memcmp(urcs.payload[0], "\r\n\0\"OK", 6) != 0 ||
                urcs.payload_len[1] != 5 || memcmp(urcs.payload[1], "a\r\n\"b", 5) != 0 ||
                strcmp(urcs.args[2], "2") != 0)
                bad++;
        }
    }
    CHECK(bad == 0);
}

typedef struct {
    const char *name;
    void (*run)(void);
} test_t;

#define TEST(fn) {#fn, fn}

int main(void)
{
    static const test_t tests[] = {
        TEST(test_command_ok),
        TEST(test_echo_is_not_a_response_line),
        TEST(test_errors_surface),
        TEST(test_timeout_then_next_command_works),
        TEST(test_id_line_then_result_urc),
        TEST(test_result_urc_of_earlier_command_while_pending),
        TEST(test_receive_urc_ok_is_not_the_commands_ok),
        TEST(test_text_payload_read_by_length),
        TEST(test_text_payloads_of_coap_and_http),
        TEST(test_oversized_text_payload_is_truncated_and_skipped),
        TEST(test_binary_urc),
        TEST(test_binary_send),
        TEST(test_ota_block),
        TEST(test_urc_between_block_and_command),
        TEST(test_query_lines_are_responses),
        TEST(test_quoting_and_escaping),
        TEST(test_command_too_long),
        TEST(test_field_numbers),
        TEST(test_wait_until),
        TEST(test_byte_at_a_time),
        TEST(test_script_success),
        TEST(test_script_cme_error_aborts),
        TEST(test_script_abort_match),
        TEST(test_script_abort_from_callback),
        TEST(test_script_step_timeout),
        TEST(test_script_timeout),
        TEST(test_timeouts_hold_against_a_module_that_never_stops),
        TEST(test_script_urcs_in_the_middle_of_a_response),
        TEST(test_script_status_command_without_id_line),
        TEST(test_script_query_waits_for_no_status),
        TEST(test_script_sans_io),
        TEST(test_callbacks_cannot_send),
        TEST(test_argv_split),
        TEST(test_log_hook),
        TEST(test_payload_by_length_across_feeds),
        TEST(test_crc16_vectors),
        TEST(test_md5_vectors),
    };
    int passed = 0, failed = 0;
    setvbuf(stdout, NULL, _IOLBF, 0);
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) {
        int before = checks_failed;
        tests[i].run();
        if (checks_failed == before) {
            passed++;
            printf("ok   %s\n", tests[i].name);
        } else {
            failed++;
            printf("FAIL %s\n", tests[i].name);
        }
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
