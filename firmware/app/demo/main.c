/* ica-demo: the sample device firmware of the co-simulation.
 *
 * Talks to the ICA module on USART1 with the ica_at engine: MQTT (auth,
 * connect, subscribe, QoS 1 telemetry, LED commands with an acknowledgement),
 * one CoAP and one HTTP request, and OTA (ota.c). Each exchange with the
 * module is a script (ica_at.h); a script's name is the step it reports on
 * the debug console (USART2, console.c):
 *   BOOT ica-demo fw=<version> / LOG <text> / STEP <name> ok|fail <reason> / DONE <code>
 * and exits through semihosting: 0 when the DEMO_EXIT_AFTER conditions are met,
 * non-zero on a failure (codes in firmware/README.md, exit policy in policy.c).
 * With DEMO_LOG_AT=1 every AT line is also shown (port.c). */
#include <string.h>

#include "bsp.h"
#include "console.h"
#include "ica_at.h"
#include "ota.h"
#include "policy.h"
#include "port.h"

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

#define CMD_TIMEOUT_MS 5000u
#define URC_TIMEOUT_MS 15000u

/* ---- what the device knows ---------------------------------------------------- */

static ica_at_t modem;

static struct {
    int mqtt_connected, connection_lost;
    int led_command;          /* -1 none, else the LED value asked for */
    int ota_announced;
    ota_offer_t ota;
    const char *version;      /* what AT+IOTAVER reports */
    const char *topic;        /* what AT+IMQTTPUB publishes */
    text_t message;
} st;

static void log_payload(const char *what)
{
    text_t t = {.len = 0};
    size_t len;
    const uint8_t *payload = ica_at_payload(&modem, &len);
    t_str(&t, "LOG ");
    t_str(&t, what);
    t_str(&t, " ");
    t_printable(&t, payload, len);
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

/* ---- match callbacks (they run inside the engine: they only take notes) ------- */

static long arg_int(char **argv, uint16_t argc, uint16_t i)
{
    long value;
    return i < argc && ica_field_int(argv[i], 0, &value) == 0 ? value : -1;
}

/* +CMD:<id>,<status> of a step's command: anything but 0 fails the step. */
static void status_zero(ica_at_t *at, char **argv, uint16_t argc, void *user)
{
    (void)user;
    if (argc == 3 && arg_int(argv, argc, 2) != 0)
        ica_script_abort(at, "status not 0");
}

/* +IMQTTSUB:<id>,<status>: 0..2 is the granted QoS, 128 a refusal. */
static void subscribe_granted(ica_at_t *at, char **argv, uint16_t argc, void *user)
{
    (void)user;
    if (argc == 3 && (arg_int(argv, argc, 2) < 0 || arg_int(argv, argc, 2) > 2))
        ica_script_abort(at, "refused");
}

static void coap_response(ica_at_t *at, char **argv, uint16_t argc, void *user)
{
    (void)at, (void)argv, (void)argc, (void)user;
    log_payload("coap response");
}

/* +IHTTPSEND:<status>[,<len>,<body>] */
static void http_result(ica_at_t *at, char **argv, uint16_t argc, void *user)
{
    (void)user;
    if (arg_int(argv, argc, 1) != 0)
        ica_script_abort(at, "status not 0");
    else if (argc > 2)
        log_payload("http response");
}

static void on_state(ica_at_t *at, char **argv, uint16_t argc, void *user)
{
    (void)at, (void)user;
    if (arg_int(argv, argc, 1) != 2 && st.mqtt_connected)
        st.connection_lost = 1;
}

/* +IMQTTRCVPUB:<id>,<topic>,<len>,<payload>: an LED command on the command topic. */
static void on_message(ica_at_t *at, char **argv, uint16_t argc, void *user)
{
    size_t len;
    const uint8_t *payload = ica_at_payload(at, &len);
    (void)user;
    if (argc < 3 || strcmp(argv[2], TOPIC("command")) != 0 || !payload)
        return;
    log_payload("command");
    st.led_command = led_value(payload, len);
    if (st.led_command < 0)
        console2("LOG ", "command ignored");
}

static void copy_str(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src) < cap - 1 ? strlen(src) : cap - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

/* +IOTANEWVER:<version>,<size>,<md5> */
static void on_new_version(ica_at_t *at, char **argv, uint16_t argc, void *user)
{
    (void)at, (void)user;
    if (argc < 4)
        return;
    copy_str(st.ota.version, sizeof st.ota.version, argv[1]);
    copy_str(st.ota.md5, sizeof st.ota.md5, argv[3]);
    st.ota.size = arg_int(argv, argc, 2);
    st.ota_announced = 1;
}

ICA_MATCHES_DEFINE(unsolicited,
                   ICA_MATCH("+IMQTTRCVPUB:", ",", on_message),
                   ICA_MATCH("+IOTANEWVER:", ",", on_new_version),
                   ICA_MATCH("+IMQTTSTATE:", ",", on_state));

/* ---- command arguments -------------------------------------------------------- */

static void credentials(ica_at_t *at, void *user)
{
    (void)user;
    ica_cmd_str(at, ICA_PK);
    ica_cmd_str(at, ICA_DN);
    ica_cmd_str(at, ICA_SECRET);
}

static void command_topic(ica_at_t *at, void *user)
{
    (void)user;
    ica_cmd_str(at, TOPIC("command"));
    ica_cmd_int(at, 1);
}

static void version(ica_at_t *at, void *user)
{
    (void)user;
    ica_cmd_str(at, st.version);
}

static void coap_post(ica_at_t *at, void *user)
{
    (void)user;
    ica_cmd_str(at, TOPIC("coap"));
    ica_cmd_str(at, "{\"hello\":\"coap\",\"fw\":\"" FW_VERSION "\"}");
}

static void http_post(ica_at_t *at, void *user)
{
    (void)user;
    ica_cmd_str(at, TOPIC("http"));
    ica_cmd_str(at, "{\"hello\":\"http\",\"fw\":\"" FW_VERSION "\"}");
}

/* st.message to st.topic with QoS 1 */
static void message(ica_at_t *at, void *user)
{
    (void)user;
    ica_cmd_str(at, st.topic);
    ica_cmd_int(at, 1);
    ica_cmd_strn(at, st.message.buf, st.message.len);
}

/* ---- scripts: one per console step -------------------------------------------- */

ICA_STEPS_DEFINE(alive_steps, ICA_STEP_CMD("AT", 250));
ICA_SCRIPT_NO_ABORT_DEFINE(alive, alive_steps, NULL, 0);

ICA_STEPS_DEFINE(at_steps, ICA_STEP_CMD("ATE0", CMD_TIMEOUT_MS));
ICA_SCRIPT_NO_ABORT_DEFINE(at, at_steps, NULL, 0);

/* AT+<x>AUTH="pk","dn","secret", then +<x>AUTH:OK; +<x>AUTH:FAIL aborts */
#define AUTH_SCRIPT(sym, name)                                                                      \
    ICA_MATCHES_DEFINE(sym##_ok, ICA_MATCH(name ":OK", "", NULL));                                  \
    ICA_MATCHES_DEFINE(sym##_fail, ICA_MATCH(name ":FAIL", "", NULL));                              \
    ICA_STEPS_DEFINE(sym##_steps, ICA_STEP_CMD_ARGS("AT" name "=", credentials, CMD_TIMEOUT_MS),    \
                     ICA_STEP_WAIT(sym##_ok, URC_TIMEOUT_MS));                                      \
    ICA_SCRIPT_DEFINE(sym, sym##_steps, sym##_fail, NULL, 0)

AUTH_SCRIPT(mqtt_auth, "+IMQTTAUTH");
AUTH_SCRIPT(coap_auth, "+ICOAPAUTH");
AUTH_SCRIPT(http_auth, "+IHTTPAUTH");

ICA_MATCHES_DEFINE(connected, ICA_MATCH("+IMQTTSTATE:2", "", NULL));
ICA_MATCHES_DEFINE(disconnected, ICA_MATCH("+IMQTTSTATE:0", "", NULL));
ICA_STEPS_DEFINE(mqtt_connect_steps,
                 ICA_STEP_CMD("AT+IMQTTPARA=\"KEEPALIVE\",60", CMD_TIMEOUT_MS),
                 ICA_STEP_CMD("AT+IMQTTCONN", CMD_TIMEOUT_MS),
                 ICA_STEP_WAIT(connected, URC_TIMEOUT_MS));
ICA_SCRIPT_DEFINE(mqtt_connect, mqtt_connect_steps, disconnected, NULL, 0);

ICA_MATCHES_DEFINE(granted, ICA_MATCH("+IMQTTSUB:", ",", subscribe_granted));
ICA_STEPS_DEFINE(mqtt_subscribe_steps,
                 ICA_STEP_CMD_ARGS_RESP("AT+IMQTTSUB=", command_topic, granted, URC_TIMEOUT_MS));
ICA_SCRIPT_NO_ABORT_DEFINE(mqtt_subscribe, mqtt_subscribe_steps, NULL, 0);

ICA_STEPS_DEFINE(ota_version_steps, ICA_STEP_CMD_ARGS("AT+IOTAVER=", version, CMD_TIMEOUT_MS));
ICA_SCRIPT_NO_ABORT_DEFINE(ota_version, ota_version_steps, NULL, 0);

ICA_MATCHES_DEFINE(coap_sent, ICA_MATCH("+ICOAPSENDREQ:", ",", status_zero));
ICA_MATCHES_DEFINE(coap_answer, ICA_MATCH("+ICOAPRCVRSP:", ",", coap_response));
ICA_STEPS_DEFINE(coap_request_steps,
                 ICA_STEP_CMD_ARGS_RESP("AT+ICOAPSENDREQ=2,", coap_post, coap_sent, URC_TIMEOUT_MS),
                 ICA_STEP_WAIT(coap_answer, URC_TIMEOUT_MS));
ICA_SCRIPT_NO_ABORT_DEFINE(coap_request, coap_request_steps, NULL, 0);

ICA_MATCHES_DEFINE(http_answer, ICA_MATCH("+IHTTPSEND:", ",", http_result));
ICA_STEPS_DEFINE(http_request_steps,
                 ICA_STEP_CMD_ARGS("AT+IHTTPSEND=2,", http_post, CMD_TIMEOUT_MS),
                 ICA_STEP_WAIT(http_answer, URC_TIMEOUT_MS));
ICA_SCRIPT_NO_ABORT_DEFINE(http_request, http_request_steps, NULL, 0);

/* telemetry and the LED acknowledgement: st.message, confirmed by +IMQTTPUB:<id>,0 */
ICA_MATCHES_DEFINE(delivered, ICA_MATCH("+IMQTTPUB:", ",", status_zero));
ICA_STEPS_DEFINE(publish_steps, ICA_STEP_CMD_ARGS_RESP("AT+IMQTTPUB=", message, delivered, URC_TIMEOUT_MS));
/* a lost session ends a publish at once (the module may never answer a command it got
 * while rebooting): the main loop then reconnects */
ICA_SCRIPT_DEFINE(telemetry, publish_steps, disconnected, NULL, 0);
ICA_SCRIPT_DEFINE(led, publish_steps, disconnected, NULL, 0);

/* ---- running scripts ---------------------------------------------------------- */

/* Runs a script; when it fails: `STEP <step> fail <reason>`, DONE and exit `code`. */
static void must(const ica_script_t *script, const char *step, int code)
{
    text_t t = {.len = 0};
    int rc = ica_script_run(&modem, script);
    switch (rc) {
    case ICA_OK:
        return;
    case ICA_ERR_CME:
        t_str(&t, "+CME ERROR:");
        t_int(&t, modem.cme_error);
        break;
    case ICA_ERR_ERROR:
        t_str(&t, "ERROR");
        break;
    case ICA_ERR_TIMEOUT:
        t_str(&t, "timeout");
        break;
    case ICA_ERR_ABORT:
        t_str(&t, modem.abort_reason);
        break;
    default:
        t_str(&t, "error ");
        t_int(&t, rc);
        break;
    }
    t.buf[t.len] = '\0';
    fail(step, t.buf, code);
}

/* What a failed script's rc says, for a log line. */
static void t_reason(text_t *t, int rc)
{
    if (rc == ICA_ERR_CME) {
        t_str(t, "+CME ERROR:");
        t_int(t, modem.cme_error);
    } else if (rc == ICA_ERR_ABORT) {
        t_str(t, modem.abort_reason);
    } else {
        t_str(t, rc == ICA_ERR_TIMEOUT ? "timeout" : rc == ICA_ERR_ERROR ? "ERROR" : "error");
    }
}

/* A console step: the script, then `STEP <name> ok`. */
static void run(const ica_script_t *script, int code)
{
    must(script, script->name, code);
    step_ok(script->name);
}

static void start_module(void)
{
    int rc = ICA_ERR_TIMEOUT;
    for (int attempt = 0; attempt < 40 && rc != ICA_OK; attempt++)
        rc = ica_script_run(&modem, &alive);
    if (rc != ICA_OK)
        fail("at", "no response", EXIT_NO_MODULE);
    run(&at, EXIT_NO_MODULE);
}

/* Publishes telemetry message `seq`; returns 1 once the broker has it. A message that
 * is refused or not confirmed is logged (`LOG telemetry <seq> lost <reason>`) and the
 * device goes on: one lost reading is no reason to stop reporting. */
static int publish_telemetry(long seq)
{
    long temp = 200 + (seq * 37) % 100; /* tenths of a degree */
    st.topic = TOPIC("telemetry");
    st.message.len = 0;
    t_str(&st.message, "{\"seq\":");
    t_int(&st.message, seq);
    t_str(&st.message, ",\"temp\":");
    t_int(&st.message, temp / 10);
    t_str(&st.message, ".");
    t_int(&st.message, temp % 10);
    t_str(&st.message, "}");
    int rc = ica_script_run(&modem, &telemetry);
    if (rc == ICA_OK)
        return 1;
    if (rc == ICA_ERR_ABORT && modem.abort_reason && strcmp(modem.abort_reason, "+IMQTTSTATE:0") == 0)
        st.connection_lost = 1; /* the abort match took the URC: on_state never saw it */
    text_t t = {.len = 0};
    t_str(&t, "LOG telemetry ");
    t_int(&t, seq);
    t_str(&t, " lost ");
    t_reason(&t, rc);
    t_console(&t);
    return 0;
}

/* Handles URCs for `ms` milliseconds. */
static void pause_ms(uint32_t ms)
{
    uint32_t start = bsp_millis();
    while ((uint32_t)(bsp_millis() - start) < ms) {
        ica_at_poll(&modem);
        bsp_idle();
    }
}

#define RECONNECT_ATTEMPTS 8
#define RECONNECT_BACKOFF_MS 500u

/* The MQTT session is gone (+IMQTTSTATE:0: a reset, the broker down, the module
 * rebooted): wait until the module answers again (a rebooted one reads nothing for a
 * while and is back at its power-on settings, echo on), then authenticate, connect and
 * subscribe again, waiting longer after each failed attempt. Exits 9 after the last. */
static void reconnect(void)
{
    st.mqtt_connected = 0;
    for (int attempt = 1; attempt <= RECONNECT_ATTEMPTS; attempt++) {
        text_t t = {.len = 0};
        st.connection_lost = 0;
        t_str(&t, "LOG mqtt connection lost, reconnect attempt ");
        t_int(&t, attempt);
        t_console(&t);
        int rc = ICA_ERR_TIMEOUT;
        for (int poll = 0; poll < 20 && rc != ICA_OK; poll++)
            rc = ica_script_run(&modem, &alive);
        if (rc == ICA_OK && ica_script_run(&modem, &at) == ICA_OK && ica_script_run(&modem, &mqtt_auth) == ICA_OK &&
            ica_script_run(&modem, &mqtt_connect) == ICA_OK) {
            st.mqtt_connected = 1;
            if (ica_script_run(&modem, &mqtt_subscribe) == ICA_OK && !st.connection_lost) {
                console2("LOG ", "mqtt reconnected");
                return;
            }
        }
        pause_ms(RECONNECT_BACKOFF_MS * (uint32_t)attempt);
    }
    fail("mqtt", "connection lost", EXIT_CONNECTION_LOST);
}

static void apply_led_command(void)
{
    int value = st.led_command;
    st.led_command = -1;
    bsp_led_set(value);
    console2("LOG led ", value ? "on" : "off");
    st.topic = TOPIC("ack");
    st.message.len = 0;
    t_str(&st.message, "{\"ack\":\"led\",\"value\":");
    t_int(&st.message, value);
    t_str(&st.message, "}");
    run(&led, EXIT_PUBLISH);
}

/* +IOTANEWVER: download and verify the image, then report the new version. */
static void update_firmware(void)
{
    st.ota_announced = 0;
    ota_download(&modem, &st.ota);
    st.version = st.ota.version;
    must(&ota_version, "ota", EXIT_OTA);
    step_ok("ota");
}

/* ---- main --------------------------------------------------------------------- */

int main(void)
{
    int led_done = 0, ota_done = 0, telemetry_reported = 0;
    long seq = 0, confirmed = 0;

    bsp_init();
    console2("BOOT ica-demo fw=", FW_VERSION);
    const policy_t policy = parse_policy(DEMO_EXIT_AFTER);
    console2("LOG exit after ", policy.forever ? "never" : DEMO_EXIT_AFTER);
    st.led_command = -1;
    st.version = FW_VERSION;
    ica_at_init(&modem, &demo_port, unsolicited, ICA_ARRAY_LEN(unsolicited), NULL);

    start_module();
    run(&mqtt_auth, EXIT_AUTH);
    run(&mqtt_connect, EXIT_CONNECT);
    st.mqtt_connected = 1;
    run(&mqtt_subscribe, EXIT_SUBSCRIBE);
    run(&ota_version, EXIT_OTA);
    run(&coap_auth, EXIT_AUTH);
    run(&coap_request, EXIT_COAP);
    run(&http_auth, EXIT_AUTH);
    run(&http_request, EXIT_HTTP);

    uint32_t next_telemetry = bsp_millis();
    for (;;) {
        ica_at_poll(&modem);
        if (st.connection_lost)
            reconnect();
        if (st.led_command >= 0) {
            apply_led_command();
            led_done = 1;
        }
        if (st.ota_announced) {
            update_firmware();
            ota_done = 1;
        }
        if ((int32_t)(bsp_millis() - next_telemetry) >= 0) {
            confirmed += publish_telemetry(++seq);
            next_telemetry += TELEMETRY_MS;
            if ((int32_t)(bsp_millis() - next_telemetry) >= 0) /* fell behind (OTA): no burst */
                next_telemetry = bsp_millis() + TELEMETRY_MS;
        }
        if (!telemetry_reported && !policy.forever && confirmed >= policy.telemetry) {
            telemetry_reported = 1;
            step_ok("telemetry");
        }
        if (!policy.forever && telemetry_reported && (led_done || !policy.need_led) &&
            (ota_done || !policy.need_ota))
            finish(EXIT_OK);
        bsp_idle();
    }
}
