/* thermostat: the example project's firmware, a small product built on the
 * repository's ica_at library and board support (netduinoplus2, STM32F405).
 *
 * It brings MQTT up through the ICA module, subscribes to /<pk>/<dn>/user/set,
 * and then:
 *   - a message {"target":<n>} on .../set prints "SET target <n>" and is
 *     acknowledged on .../user/status as {"target":<n>};
 *   - a console line "temp <n>" publishes {"temp":<n>} on .../user/temp and
 *     prints "PUB ok" (or "PUB fail <rc>");
 *   - a console line "exit <n>" prints "BYE" and exits with code n (semihosting).
 * Console lines: BOOT thermostat fw=<v> / READY / SET target <n> / PUB ok / ERROR <what> <rc>.
 * A failure to come up exits with 2 (auth), 3 (connect) or 4 (subscribe). */
#include <string.h>

#include "bsp.h"
#include "ica_at.h"

#ifndef THERMO_PK
#define THERMO_PK "a1thermoPK"
#endif
#ifndef THERMO_DN
#define THERMO_DN "thermostat-01"
#endif
#ifndef THERMO_SECRET
#define THERMO_SECRET "thermo-secret-01"
#endif
#define FW_VERSION "1.0.0"
#define TOPIC(leaf) "/" THERMO_PK "/" THERMO_DN "/user/" leaf
#define TIMEOUT_MS 5000u

/* The console is USART2 (at 0x40004400 on the STM32F1/F2/F4 boards of the firmware tree);
 * the board support only writes it, so this app reads it itself. */
#define USART2_SR (*(volatile uint32_t *)0x40004400u)
#define USART2_DR (*(volatile uint32_t *)0x40004404u)
#define USART2_CR1 (*(volatile uint32_t *)0x4000440Cu)
#define SR_RXNE (1u << 5)
#define CR1_RE (1u << 2)

static ica_at_t modem;
static struct {
    int auth;        /* 0 waiting, 1 OK, -1 FAIL */
    int state;       /* last +IMQTTSTATE */
    int subscribed;  /* 0 waiting, 1 granted, -1 refused */
    long target;     /* last target received, -1 none yet */
    int new_target;
} st = {0, -1, 0, -1, 0};

static void say(const char *a, const char *b)
{
    bsp_console_puts(a);
    if (b)
        bsp_console_puts(b);
    bsp_console_puts("\r\n");
}

static void say_int(const char *a, long n)
{
    char digits[12];
    size_t len = ica_fmt_int(digits, n);
    digits[len] = '\0';
    say(a, digits);
}

static void on_auth(ica_at_t *at, char **argv, uint16_t argc, void *user)
{
    (void)at, (void)user;
    st.auth = (argc > 1 && strcmp(argv[1], "OK") == 0) ? 1 : -1;
}

static void on_state(ica_at_t *at, char **argv, uint16_t argc, void *user)
{
    long state = -1;
    (void)at, (void)user;
    if (argc > 1)
        ica_field_int(argv[1], 0, &state);
    st.state = (int)state;
}

/* +IMQTTSUB:<id>,<status>: the subscription's result (the broker's grant) */
static void on_subscribed(ica_at_t *at, char **argv, uint16_t argc, void *user)
{
    long status = -1;
    (void)at, (void)user;
    if (argc > 2)
        ica_field_int(argv[2], 0, &status);
    st.subscribed = (status >= 0 && status <= 2) ? 1 : -1;
}

/* +IMQTTRCVPUB:<id>,<topic>,<len>,<payload> */
static void on_message(ica_at_t *at, char **argv, uint16_t argc, void *user)
{
    size_t len;
    const uint8_t *payload = ica_at_payload(at, &len);
    static const char key[] = "\"target\":";
    (void)user;
    if (argc < 3 || strcmp(argv[2], TOPIC("set")) != 0 || !payload)
        return;
    for (size_t i = 0; i + sizeof key - 1 < len; i++) {
        if (memcmp(payload + i, key, sizeof key - 1) == 0) {
            long value = 0;
            for (size_t j = i + sizeof key - 1; j < len && payload[j] >= '0' && payload[j] <= '9'; j++)
                value = value * 10 + (payload[j] - '0');
            st.target = value;
            st.new_target = 1;
            return;
        }
    }
}

ICA_MATCHES_DEFINE(unsolicited,
                   ICA_MATCH("+IMQTTAUTH:", ",", on_auth),
                   ICA_MATCH("+IMQTTSTATE:", ",", on_state),
                   ICA_MATCH("+IMQTTSUB:", ",", on_subscribed),
                   ICA_MATCH("+IMQTTRCVPUB:", ",", on_message));

static int auth_done(void *user) { (void)user; return st.auth != 0; }
static int connected(void *user) { (void)user; return st.state == 2; }
static int subscribe_done(void *user) { (void)user; return st.subscribed != 0; }

static void port_write(void *ctx, const uint8_t *data, size_t len) { (void)ctx; bsp_link_write(data, len); }
static int port_read(void *ctx) { (void)ctx; return bsp_link_read(); }
static uint32_t port_millis(void *ctx) { (void)ctx; return bsp_millis(); }
static void port_idle(void *ctx) { (void)ctx; bsp_idle(); }

static void fail(const char *what, int rc, int code)
{
    say_int(what, rc);
    bsp_exit(code);
}

static int publish(const char *topic, const char *json)
{
    ica_cmd_begin(&modem, "AT+IMQTTPUB=");
    ica_cmd_str(&modem, topic);
    ica_cmd_int(&modem, 1);
    ica_cmd_str(&modem, json);
    return ica_cmd_send(&modem, TIMEOUT_MS);
}

static void handle_console_line(const char *line)
{
    if (strncmp(line, "temp ", 5) == 0) {
        char json[32] = "{\"temp\":";
        size_t n = strlen(json);
        for (const char *p = line + 5; *p >= '0' && *p <= '9' && n < sizeof json - 2; p++)
            json[n++] = *p;
        json[n++] = '}';
        json[n] = '\0';
        int rc = publish(TOPIC("temp"), json);
        if (rc == ICA_OK)
            say("PUB ok", NULL);
        else
            say_int("PUB fail ", rc);
    } else if (strncmp(line, "exit ", 5) == 0) {
        long code = 0;
        ica_field_int(line + 5, 0, &code);
        say("BYE", NULL);
        bsp_exit((int)code);
    } else if (line[0]) {
        say("ERROR unknown command ", line);
    }
}

int main(void)
{
    static const ica_port_t port = {.write = port_write, .read = port_read, .millis = port_millis,
                                    .idle = port_idle};
    char line[48];
    size_t len = 0;
    int rc;

    bsp_init();
    USART2_CR1 |= CR1_RE;
    say("BOOT thermostat fw=", FW_VERSION);
    ica_at_init(&modem, &port, unsolicited, ICA_ARRAY_LEN(unsolicited), NULL);
    while (ica_at_cmd(&modem, "AT", 500) != ICA_OK) {
    }
    ica_at_cmd(&modem, "ATE0", TIMEOUT_MS);

    ica_cmd_begin(&modem, "AT+IMQTTAUTH=");
    ica_cmd_str(&modem, THERMO_PK);
    ica_cmd_str(&modem, THERMO_DN);
    ica_cmd_str(&modem, THERMO_SECRET);
    if ((rc = ica_cmd_send(&modem, TIMEOUT_MS)) != ICA_OK || ica_at_wait_until(&modem, auth_done, NULL, TIMEOUT_MS) != ICA_OK)
        fail("ERROR auth ", rc, 2);
    if (st.auth != 1)
        fail("ERROR auth refused ", st.auth, 2);
    if ((rc = ica_at_cmd(&modem, "AT+IMQTTCONN", TIMEOUT_MS)) != ICA_OK ||
        ica_at_wait_until(&modem, connected, NULL, TIMEOUT_MS) != ICA_OK)
        fail("ERROR connect ", rc, 3);
    ica_cmd_begin(&modem, "AT+IMQTTSUB=");
    ica_cmd_str(&modem, TOPIC("set"));
    ica_cmd_int(&modem, 1);
    if ((rc = ica_cmd_send(&modem, TIMEOUT_MS)) != ICA_OK ||
        ica_at_wait_until(&modem, subscribe_done, NULL, TIMEOUT_MS) != ICA_OK || st.subscribed != 1)
        fail("ERROR subscribe ", rc, 4);   /* READY only once the broker granted it */
    say("READY", NULL);

    for (;;) {
        ica_at_poll(&modem);
        if (st.new_target) {
            char json[32] = "{\"target\":";
            size_t n = strlen(json);
            n += ica_fmt_int(json + n, st.target);
            json[n++] = '}';
            json[n] = '\0';
            st.new_target = 0;
            say_int("SET target ", st.target);
            if ((rc = publish(TOPIC("status"), json)) != ICA_OK)
                say_int("ERROR status ", rc);
        }
        if (USART2_SR & SR_RXNE) {
            char c = (char)(USART2_DR & 0xFFu);
            if (c == '\r' || c == '\n') {
                line[len] = '\0';
                handle_console_line(line);
                len = 0;
            } else if (len < sizeof line - 1) {
                line[len++] = c;
            }
        } else {
            bsp_idle();
        }
    }
}
