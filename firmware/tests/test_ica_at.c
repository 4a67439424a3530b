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

/* URCs seen by the handler, copied out. */
typedef struct {
    int count;
    char name[8][32];
    char args[8][128];
    uint8_t payload[8][256];
    size_t payload_len[8], msg_len[8];
    int had_payload[8];
} urcs_t;

static void record_urc(void *user, const ica_urc_t *urc)
{
    urcs_t *u = user;
    if (u->count >= 8)
        return;
    int i = u->count++;
    snprintf(u->name[i], sizeof u->name[i], "%s", urc->name);
    snprintf(u->args[i], sizeof u->args[i], "%s", urc->args);
    u->had_payload[i] = urc->payload != NULL;
    u->payload_len[i] = urc->payload_len;
    u->msg_len[i] = urc->msg_len;
    if (urc->payload)
        memcpy(u->payload[i], urc->payload, urc->payload_len < 256 ? urc->payload_len : 256);
}

static ica_at_t at;
static fake_t fake;
static urcs_t urcs;

static void setup_n(const void *script, size_t len)
{
    ica_port_t port = {fake_write, fake_read, fake_millis, fake_idle, &fake};
    memset(&fake, 0, sizeof fake);
    memset(&urcs, 0, sizeof urcs);
    fake.script = script;
    fake.script_len = len;
    fake.now = 1000;
    ica_at_init(&at, &port, record_urc, &urcs);
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
    CHECK_STR(urcs.args[0], "12,0");
}

static void test_result_urc_of_earlier_command_while_pending(void)
{
    setup("\r\n+IMQTTPUB:11,0\r\n\r\n+IMQTTPUB:12\r\n\r\nOK\r\n");
    CHECK(ica_at_cmd(&at, "AT+IMQTTPUB=\"/t\",1,\"x\"", 100) == ICA_OK);
    CHECK_STR(ica_at_response(&at, "+IMQTTPUB"), "12");
    CHECK(urcs.count == 1);
    CHECK_STR(urcs.args[0], "11,0");
}

static void test_receive_urc_ok_is_not_the_commands_ok(void)
{
    /* only the URC and its OK arrive: the command must still be waiting */
    setup("\r\n+IMQTTRCVPUB:3,\"/a/b\",5,\"hello\"\r\n\r\nOK\r\n");
    CHECK(ica_at_cmd(&at, "AT+IMQTTSUB=\"/a/b\",1", 200) == ICA_ERR_TIMEOUT);
    CHECK(urcs.count == 1);
    CHECK_STR(urcs.name[0], "+IMQTTRCVPUB");
    CHECK_STR(urcs.args[0], "3,\"/a/b\",5,");
    CHECK_MEM(urcs.payload[0], urcs.payload_len[0], "hello", 5);

    /* the same, then the command's own response */
    setup("\r\n+IMQTTRCVPUB:3,\"/a/b\",5,\"hello\"\r\n\r\nOK\r\n\r\n+IMQTTSUB:9\r\n\r\nOK\r\n\r\n+IMQTTSUB:9,1\r\n");
    CHECK(ica_at_cmd(&at, "AT+IMQTTSUB=\"/a/b\",1", 200) == ICA_OK);
    CHECK_STR(ica_at_response(&at, "+IMQTTSUB"), "9");
    CHECK(urcs.count == 1);
    ica_at_poll(&at);
    CHECK(urcs.count == 2);
    CHECK_STR(urcs.args[1], "9,1");
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
    CHECK(urcs.msg_len[0] == strlen(payload));
    char topic[16];
    long len;
    CHECK(ica_field_str(urcs.args[0], 1, topic, sizeof topic) == 0);
    CHECK_STR(topic, "/x,y");
    CHECK(ica_field_int(urcs.args[0], 2, &len) == 0 && len == (long)strlen(payload));
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
    CHECK_STR(urcs.args[2], "6,3");
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
    CHECK(urcs.msg_len[0] == ICA_AT_PAYLOAD_MAX + 10);
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
    char version[8];
    long size;
    setup_n(script, sizeof script - 1);
    CHECK(ica_ota_block(&at, 0, buf, sizeof buf, &len, 100) == ICA_OK);
    CHECK(len == 5);
    CHECK(urcs.count == 1);
    CHECK(ica_field_str(urcs.args[0], 0, version, sizeof version) == 0);
    CHECK_STR(version, "1.1.0");
    CHECK(ica_field_int(urcs.args[0], 1, &size) == 0 && size == 5);
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
        TEST(test_crc16_vectors),
        TEST(test_md5_vectors),
    };
    int passed = 0, failed = 0;
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
