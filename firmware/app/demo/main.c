/* ica-demo: the sample device firmware of the co-simulation.
 *
 * Talks to the ICA module on USART1 with the ica_at library: MQTT (auth,
 * connect, subscribe, QoS 1 telemetry, LED commands with an acknowledgement),
 * one CoAP and one HTTP request, and OTA (block download with CRC re-reads,
 * streaming MD5, progress reports). Reports on the debug console (USART2):
 *   BOOT ica-demo fw=<version> / LOG <text> / STEP <name> ok|fail <reason> / DONE <code>
 * and exits through semihosting: 0 when the DEMO_EXIT_AFTER conditions are met,
 * non-zero on a failure (codes in firmware/README.md). */
#include <string.h>

#include "bsp.h"
#include "ica_at.h"

#ifndef ICA_PK
#define ICA_PK "a1demoPK"
#endif
#ifndef ICA_DN
#define ICA_DN "demo-device-01"
#endif
#ifndef ICA_SECRET
#define ICA_SECRET "demo-secret-01"
#endif
#ifndef FW_VERSION
#define FW_VERSION "1.0.0"
#endif
#ifndef TELEMETRY_MS
#define TELEMETRY_MS 1000
#endif
#ifndef DEMO_EXIT_AFTER
#define DEMO_EXIT_AFTER "telemetry:3,led,ota"
#endif

#define TOPIC(suffix) "/" ICA_PK "/" ICA_DN "/user/" suffix

enum exit_code {
    EXIT_OK = 0,
    EXIT_NO_MODULE = 1,
    EXIT_AUTH = 2,
    EXIT_CONNECT = 3,
    EXIT_SUBSCRIBE = 4,
    EXIT_COAP = 5,
    EXIT_HTTP = 6,
    EXIT_PUBLISH = 7,
    EXIT_OTA = 8,
    EXIT_CONNECTION_LOST = 9,
    EXIT_CONFIG = 10,
};

#define CMD_TIMEOUT_MS 5000u
#define URC_TIMEOUT_MS 15000u
#define OTA_BLOCK_MAX 4096u /* the largest BLOCKSIZE the module allows */
#define OTA_REREADS 3

/* ---- text lines (console and JSON) ------------------------------------------ */

typedef struct {
    char buf[256];
    size_t len;
} text_t;

static void t_mem(text_t *t, const char *s, size_t n)
{
    if (n > sizeof t->buf - 2 - t->len)
        n = sizeof t->buf - 2 - t->len; /* keep room for CRLF */
    memcpy(t->buf + t->len, s, n);
    t->len += n;
}

static void t_str(text_t *t, const char *s)
{
    t_mem(t, s, strlen(s));
}

static void t_int(text_t *t, long v)
{
    char digits[12];
    t_mem(t, digits, ica_fmt_int(digits, v));
}

/* Payload text for a log line: control characters become '.'. */
static void t_printable(text_t *t, const uint8_t *data, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char c = data[i] >= 0x20 && data[i] < 0x7F ? (char)data[i] : '.';
        t_mem(t, &c, 1);
    }
}

static void t_console(text_t *t)
{
    t->buf[t->len++] = '\r';
    t->buf[t->len++] = '\n';
    bsp_console_write(t->buf, t->len);
    t->len = 0;
}

static void console2(const char *a, const char *b)
{
    text_t t = {.len = 0};
    t_str(&t, a);
    t_str(&t, b);
    t_console(&t);
}

static void step_ok(const char *step)
{
    text_t t = {.len = 0};
    t_str(&t, "STEP ");
    t_str(&t, step);
    t_str(&t, " ok");
    t_console(&t);
}

__attribute__((noreturn)) static void finish(int code)
{
    text_t t = {.len = 0};
    t_str(&t, "DONE ");
    t_int(&t, code);
    t_console(&t);
    bsp_exit(code);
}

__attribute__((noreturn)) static void fail(const char *step, const char *reason, int code)
{
    text_t t = {.len = 0};
    t_str(&t, "STEP ");
    t_str(&t, step);
    t_str(&t, " fail ");
    t_str(&t, reason);
    t_console(&t);
    finish(code);
}

static ica_at_t at;

/* A failed command: the reason names the module's answer. */
__attribute__((noreturn)) static void fail_rc(const char *step, int rc, int code)
{
    text_t t = {.len = 0};
    switch (rc) {
    case ICA_ERR_CME:
        t_str(&t, "+CME ERROR:");
        t_int(&t, at.cme_error);
        break;
    case ICA_ERR_ERROR:
        t_str(&t, "ERROR");
        break;
    case ICA_ERR_TIMEOUT:
        t_str(&t, "timeout");
        break;
    default:
        t_str(&t, "error ");
        t_int(&t, rc);
        break;
    }
    t.buf[t.len] = '\0';
    fail(step, t.buf, code);
}

/* ---- what the URCs told us --------------------------------------------------- */

/* One awaited result: `expect` selects the id (or -1 for any), `value` is the status. */
typedef struct {
    volatile int done;
    long expect;
    long value;
} awaited_t;

#define TELEMETRY_IN_FLIGHT 16

static struct {
    awaited_t mqtt_auth, coap_auth, http_auth; /* value 1 = OK, 0 = FAIL */
    awaited_t mqtt_state;                      /* +IMQTTSTATE:<state> */
    int mqtt_connected;
    awaited_t subscribe, coap_sent, coap_rsp, http_sent, ack;
    int connection_lost;
    long telemetry_ids[TELEMETRY_IN_FLIGHT];
    long telemetry_confirmed;
    int publish_failed;
    int led_command; /* -1 none, else the LED value asked for */
    int ota_announced;
    char ota_version[33];
    long ota_size;
    char ota_md5[33];
} st;

static int is_done(void *awaited)
{
    return ((awaited_t *)awaited)->done;
}

static void expect(awaited_t *w, long id)
{
    w->done = 0;
    w->expect = id;
}

/* `<id>,<status>` URCs: completes w when the id matches. */
static void id_result(awaited_t *w, const char *args)
{
    long id, status;
    if (ica_field_int(args, 0, &id) == 0 && ica_field_int(args, 1, &status) == 0 && id == w->expect) {
        w->value = status;
        w->done = 1;
    }
}

static void auth_result(awaited_t *w, const char *args)
{
    w->value = strcmp(args, "OK") == 0;
    w->done = 1;
}

static void log_payload(const char *what, const ica_urc_t *urc)
{
    text_t t = {.len = 0};
    t_str(&t, "LOG ");
    t_str(&t, what);
    t_str(&t, " ");
    t_printable(&t, urc->payload, urc->payload_len);
    t_console(&t);
}

/* {"led":1} -> 1, {"led":0} -> 0, anything else -> -1 */
static int led_value(const uint8_t *payload, size_t len)
{
    static const char key[] = "\"led\"";
    for (size_t i = 0; i + sizeof key - 1 <= len; i++) {
        if (memcmp(payload + i, key, sizeof key - 1) != 0)
            continue;
        for (i += sizeof key - 1; i < len && (payload[i] == ' ' || payload[i] == ':'); i++)
            ;
        return i < len && (payload[i] == '0' || payload[i] == '1') ? payload[i] - '0' : -1;
    }
    return -1;
}

static void on_publish_result(const char *args)
{
    long id, status;
    if (ica_field_int(args, 0, &id) != 0 || ica_field_int(args, 1, &status) != 0)
        return;
    if (st.ack.expect == id) {
        id_result(&st.ack, args);
        return;
    }
    for (int i = 0; i < TELEMETRY_IN_FLIGHT; i++) {
        if (st.telemetry_ids[i] == id) {
            st.telemetry_ids[i] = -1;
            if (status == 0)
                st.telemetry_confirmed++;
            else
                st.publish_failed = 1;
        }
    }
}

static void on_urc(void *user, const ica_urc_t *urc)
{
    const char *name = urc->name;
    (void)user;
    if (strcmp(name, "+IMQTTAUTH") == 0) {
        auth_result(&st.mqtt_auth, urc->args);
    } else if (strcmp(name, "+ICOAPAUTH") == 0) {
        auth_result(&st.coap_auth, urc->args);
    } else if (strcmp(name, "+IHTTPAUTH") == 0) {
        auth_result(&st.http_auth, urc->args);
    } else if (strcmp(name, "+IMQTTSTATE") == 0) {
        long state;
        if (ica_field_int(urc->args, 0, &state) == 0) {
            st.mqtt_state.value = state;
            st.mqtt_state.done = 1;
            if (state != 2 && st.mqtt_connected)
                st.connection_lost = 1;
        }
    } else if (strcmp(name, "+IMQTTSUB") == 0) {
        id_result(&st.subscribe, urc->args);
    } else if (strcmp(name, "+IMQTTPUB") == 0) {
        on_publish_result(urc->args);
    } else if (strcmp(name, "+ICOAPSENDREQ") == 0) {
        id_result(&st.coap_sent, urc->args);
    } else if (strcmp(name, "+ICOAPRCVRSP") == 0) {
        long token;
        if (ica_field_int(urc->args, 0, &token) == 0 && token == st.coap_rsp.expect) {
            log_payload("coap response", urc);
            st.coap_rsp.done = 1;
        }
    } else if (strcmp(name, "+IHTTPSEND") == 0) {
        if (ica_field_int(urc->args, 0, &st.http_sent.value) == 0) {
            if (urc->payload)
                log_payload("http response", urc);
            st.http_sent.done = 1;
        }
    } else if (strcmp(name, "+IMQTTRCVPUB") == 0) {
        char topic[96];
        if (ica_field_str(urc->args, 1, topic, sizeof topic) == 0 && strcmp(topic, TOPIC("command")) == 0 &&
            urc->payload) {
            log_payload("command", urc);
            st.led_command = led_value(urc->payload, urc->payload_len);
            if (st.led_command < 0)
                console2("LOG ", "command ignored");
        }
    } else if (strcmp(name, "+IOTANEWVER") == 0) {
        if (ica_field_str(urc->args, 0, st.ota_version, sizeof st.ota_version) == 0 &&
            ica_field_int(urc->args, 1, &st.ota_size) == 0 &&
            ica_field_str(urc->args, 2, st.ota_md5, sizeof st.ota_md5) == 0)
            st.ota_announced = 1;
    }
}

/* ---- steps ------------------------------------------------------------------ */

static void command(const char *step, int code)
{
    int rc = ica_cmd_send(&at, CMD_TIMEOUT_MS);
    if (rc != ICA_OK)
        fail_rc(step, rc, code);
}

/* Sends the built command and returns the id of its `+CMD:<id>` line. */
static long command_id(const char *step, const char *name, int code)
{
    long id;
    command(step, code);
    const char *args = ica_at_response(&at, name);
    if (!args || ica_field_int(args, 0, &id) != 0)
        fail(step, "no id line", code);
    return id;
}

static void await(const char *step, awaited_t *w, int code)
{
    if (ica_at_wait_until(&at, is_done, w, URC_TIMEOUT_MS) != ICA_OK)
        fail(step, "timeout", code);
}

static void start_module(void)
{
    int rc = ICA_ERR_TIMEOUT;
    for (int attempt = 0; attempt < 40 && rc != ICA_OK; attempt++)
        rc = ica_at_cmd(&at, "AT", 250);
    if (rc != ICA_OK)
        fail("at", "no response", EXIT_NO_MODULE);
    rc = ica_at_cmd(&at, "ATE0", CMD_TIMEOUT_MS);
    if (rc != ICA_OK)
        fail_rc("at", rc, EXIT_NO_MODULE);
    step_ok("at");
}

/* AT+<x>AUTH="pk","dn","secret", then +<x>AUTH:OK|FAIL */
static void authenticate(const char *step, const char *cmd, awaited_t *w)
{
    ica_cmd_begin(&at, cmd);
    ica_cmd_str(&at, ICA_PK);
    ica_cmd_str(&at, ICA_DN);
    ica_cmd_str(&at, ICA_SECRET);
    expect(w, -1);
    command(step, EXIT_AUTH);
    await(step, w, EXIT_AUTH);
    if (!w->value)
        fail(step, "FAIL", EXIT_AUTH);
    step_ok(step);
}

static void mqtt_connect(void)
{
    ica_cmd_begin(&at, "AT+IMQTTPARA=");
    ica_cmd_str(&at, "KEEPALIVE");
    ica_cmd_int(&at, 60);
    command("mqtt_connect", EXIT_CONNECT);
    expect(&st.mqtt_state, -1);
    ica_cmd_begin(&at, "AT+IMQTTCONN");
    command("mqtt_connect", EXIT_CONNECT);
    await("mqtt_connect", &st.mqtt_state, EXIT_CONNECT);
    if (st.mqtt_state.value != 2)
        fail("mqtt_connect", "not connected", EXIT_CONNECT);
    st.mqtt_connected = 1;
    step_ok("mqtt_connect");

    ica_cmd_begin(&at, "AT+IMQTTSUB=");
    ica_cmd_str(&at, TOPIC("command"));
    ica_cmd_int(&at, 1);
    expect(&st.subscribe, command_id("mqtt_subscribe", "+IMQTTSUB", EXIT_SUBSCRIBE));
    await("mqtt_subscribe", &st.subscribe, EXIT_SUBSCRIBE);
    if (st.subscribe.value > 2)
        fail("mqtt_subscribe", "refused", EXIT_SUBSCRIBE);
    step_ok("mqtt_subscribe");
}

static void report_version(const char *version)
{
    ica_cmd_begin(&at, "AT+IOTAVER=");
    ica_cmd_str(&at, version);
    command("ota_version", EXIT_OTA);
}

static void coap_request(void)
{
    authenticate("coap_auth", "AT+ICOAPAUTH=", &st.coap_auth);
    ica_cmd_begin(&at, "AT+ICOAPSENDREQ=2,");
    ica_cmd_str(&at, TOPIC("coap"));
    ica_cmd_str(&at, "{\"hello\":\"coap\",\"fw\":\"" FW_VERSION "\"}");
    long token = command_id("coap_request", "+ICOAPSENDREQ", EXIT_COAP);
    expect(&st.coap_sent, token);
    expect(&st.coap_rsp, token);
    await("coap_request", &st.coap_sent, EXIT_COAP);
    if (st.coap_sent.value != 0)
        fail("coap_request", "status not 0", EXIT_COAP);
    await("coap_request", &st.coap_rsp, EXIT_COAP);
    step_ok("coap_request");
}

static void http_request(void)
{
    authenticate("http_auth", "AT+IHTTPAUTH=", &st.http_auth);
    ica_cmd_begin(&at, "AT+IHTTPSEND=2,");
    ica_cmd_str(&at, TOPIC("http"));
    ica_cmd_str(&at, "{\"hello\":\"http\",\"fw\":\"" FW_VERSION "\"}");
    expect(&st.http_sent, -1);
    command("http_request", EXIT_HTTP);
    await("http_request", &st.http_sent, EXIT_HTTP);
    if (st.http_sent.value != 0)
        fail("http_request", "status not 0", EXIT_HTTP);
    step_ok("http_request");
}

/* Publishes a text message with QoS 1; returns its packet id. */
static long publish(const char *step, const char *topic, const text_t *message)
{
    ica_cmd_begin(&at, "AT+IMQTTPUB=");
    ica_cmd_str(&at, topic);
    ica_cmd_int(&at, 1);
    ica_cmd_strn(&at, message->buf, message->len);
    return command_id(step, "+IMQTTPUB", EXIT_PUBLISH);
}

static void publish_telemetry(long seq)
{
    text_t json = {.len = 0};
    long temp = 200 + (seq * 37) % 100; /* tenths of a degree */
    t_str(&json, "{\"seq\":");
    t_int(&json, seq);
    t_str(&json, ",\"temp\":");
    t_int(&json, temp / 10);
    t_str(&json, ".");
    t_int(&json, temp % 10);
    t_str(&json, "}");
    long id = publish("telemetry", TOPIC("telemetry"), &json);
    for (int i = 0; i < TELEMETRY_IN_FLIGHT; i++) {
        if (st.telemetry_ids[i] < 0) {
            st.telemetry_ids[i] = id;
            return;
        }
    }
    fail("telemetry", "too many unconfirmed publishes", EXIT_PUBLISH);
}

static void apply_led_command(void)
{
    int value = st.led_command;
    st.led_command = -1;
    bsp_led_set(value);
    console2("LOG led ", value ? "on" : "off");
    text_t json = {.len = 0};
    t_str(&json, "{\"ack\":\"led\",\"value\":");
    t_int(&json, value);
    t_str(&json, "}");
    expect(&st.ack, publish("led", TOPIC("ack"), &json));
    await("led", &st.ack, EXIT_PUBLISH);
    if (st.ack.value != 0)
        fail("led", "ack not delivered", EXIT_PUBLISH);
    step_ok("led");
}

/* ---- OTA ---------------------------------------------------------------------- */

static void ota_progress(long step, const char *desc)
{
    ica_cmd_begin(&at, "AT+IOTAPGS=");
    ica_cmd_int(&at, step);
    ica_cmd_str(&at, desc);
    command("ota", EXIT_OTA);
}

__attribute__((noreturn)) static void ota_fail(long step, const char *desc)
{
    ota_progress(step, desc);
    fail("ota", desc, EXIT_OTA);
}

/* Downloads the announced image block by block (re-reading blocks that fail
 * their CRC), checks its MD5 as it streams in, reports progress and finally the
 * new version. The image is not kept: a real device would write it to flash. */
static void ota_download(void)
{
    static uint8_t block[OTA_BLOCK_MAX];
    ica_md5_t md5;
    uint8_t digest[16];
    char hex[33];
    long received = 0, next_report = 25, index = 0;
    text_t t = {.len = 0};

    st.ota_announced = 0;
    t_str(&t, "LOG ota new version ");
    t_str(&t, st.ota_version);
    t_str(&t, " size ");
    t_int(&t, st.ota_size);
    t_console(&t);
    if (st.ota_size <= 0)
        ota_fail(-2, "bad size");
    ica_md5_init(&md5);
    ota_progress(0, "downloading");
    while (received < st.ota_size) {
        size_t len = 0;
        int rc = ica_ota_block(&at, 0, block, sizeof block, &len, CMD_TIMEOUT_MS);
        for (int reread = 0; rc == ICA_ERR_CRC && reread < OTA_REREADS; reread++) {
            t_str(&t, "LOG ota crc mismatch block ");
            t_int(&t, index);
            t_str(&t, ", re-read");
            t_console(&t);
            rc = ica_ota_block(&at, 1, block, sizeof block, &len, CMD_TIMEOUT_MS);
        }
        if (rc != ICA_OK || len == 0 || received + (long)len > st.ota_size)
            ota_fail(-2, "download failed");
        ica_md5_update(&md5, block, len);
        received += (long)len;
        index++;
        long pct = (long)((int64_t)received * 100 / st.ota_size);
        if (pct >= next_report && pct < 100) {
            ota_progress(pct, "downloading");
            next_report = (pct / 25 + 1) * 25;
        }
    }
    ica_md5_final(&md5, digest);
    ica_md5_hex(digest, hex);
    for (char *c = st.ota_md5; *c; c++)
        if (*c >= 'A' && *c <= 'F')
            *c = (char)(*c - 'A' + 'a');
    if (strcmp(hex, st.ota_md5) != 0)
        ota_fail(-3, "md5 mismatch");
    t_str(&t, "LOG ota image ok blocks ");
    t_int(&t, index);
    t_str(&t, " md5 ");
    t_str(&t, hex);
    t_console(&t);
    ota_progress(100, "done");
    report_version(st.ota_version);
    step_ok("ota");
}

/* ---- exit policy -------------------------------------------------------------- */

/* DEMO_EXIT_AFTER: "0" runs forever; otherwise a comma-separated list of
 * "telemetry:<n>" (n confirmed telemetry messages), "led" (a LED command
 * acknowledged), "ota" (an OTA image downloaded and verified). */
static struct {
    int forever, need_led, need_ota;
    long telemetry;
} policy;

static void parse_policy(const char *spec)
{
    policy.forever = strcmp(spec, "0") == 0 || spec[0] == '\0';
    while (!policy.forever && *spec) {
        size_t n = strcspn(spec, ",");
        if (n == 3 && memcmp(spec, "led", 3) == 0) {
            policy.need_led = 1;
        } else if (n == 3 && memcmp(spec, "ota", 3) == 0) {
            policy.need_ota = 1;
        } else if (n > 10 && memcmp(spec, "telemetry:", 10) == 0) {
            policy.telemetry = 0;
            for (size_t i = 10; i < n; i++) {
                if (spec[i] < '0' || spec[i] > '9')
                    fail("config", "bad DEMO_EXIT_AFTER", EXIT_CONFIG);
                policy.telemetry = policy.telemetry * 10 + (spec[i] - '0');
            }
        } else {
            fail("config", "bad DEMO_EXIT_AFTER", EXIT_CONFIG);
        }
        spec += n + (spec[n] == ',');
    }
}

/* ---- main --------------------------------------------------------------------- */

static void port_write(void *ctx, const uint8_t *data, size_t len)
{
    (void)ctx;
    bsp_link_write(data, len);
}

static int port_read(void *ctx)
{
    (void)ctx;
    return bsp_link_read();
}

static uint32_t port_millis(void *ctx)
{
    (void)ctx;
    return bsp_millis();
}

static void port_idle(void *ctx)
{
    (void)ctx;
    bsp_idle();
}

int main(void)
{
    static const ica_port_t port = {port_write, port_read, port_millis, port_idle, NULL};
    int led_done = 0, ota_done = 0, telemetry_reported = 0;
    long seq = 0;

    bsp_init();
    console2("BOOT ica-demo fw=", FW_VERSION);
    parse_policy(DEMO_EXIT_AFTER);
    console2("LOG exit after ", policy.forever ? "never" : DEMO_EXIT_AFTER);
    st.led_command = -1;
    st.ack.expect = -1;
    for (int i = 0; i < TELEMETRY_IN_FLIGHT; i++)
        st.telemetry_ids[i] = -1;
    ica_at_init(&at, &port, on_urc, NULL);

    start_module();
    authenticate("mqtt_auth", "AT+IMQTTAUTH=", &st.mqtt_auth);
    mqtt_connect();
    report_version(FW_VERSION);
    step_ok("ota_version");
    coap_request();
    http_request();

    uint32_t next_telemetry = bsp_millis();
    for (;;) {
        ica_at_poll(&at);
        if (st.connection_lost)
            fail("mqtt", "connection lost", EXIT_CONNECTION_LOST);
        if (st.publish_failed)
            fail("telemetry", "publish not delivered", EXIT_PUBLISH);
        if (st.led_command >= 0) {
            apply_led_command();
            led_done = 1;
        }
        if (st.ota_announced) {
            ota_download();
            ota_done = 1;
        }
        if ((int32_t)(bsp_millis() - next_telemetry) >= 0) {
            publish_telemetry(++seq);
            next_telemetry += TELEMETRY_MS;
            if ((int32_t)(bsp_millis() - next_telemetry) >= 0) /* fell behind (OTA): no burst */
                next_telemetry = bsp_millis() + TELEMETRY_MS;
        }
        if (!telemetry_reported && !policy.forever && st.telemetry_confirmed >= policy.telemetry) {
            telemetry_reported = 1;
            step_ok("telemetry");
        }
        if (!policy.forever && telemetry_reported && (led_done || !policy.need_led) &&
            (ota_done || !policy.need_ota))
            finish(EXIT_OK);
        bsp_idle();
    }
}
