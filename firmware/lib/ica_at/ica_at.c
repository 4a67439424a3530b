/* ica_at: an AT engine for the ICA AT command set (see ica_at.h). */
#include "ica_at.h"
#include "ica_at_catalogue.h"

#include <string.h>

#define FINAL_PENDING 1 /* at->final while no final result has arrived */

enum { RX_LINE, RX_RAW, RX_LINE_TAIL };
enum { RAW_TEXT, RAW_URC_BIN, RAW_CMD_BIN };

/* One row of the URC table (ica_at_catalogue.h, generated from the AT catalogue). */
typedef struct {
    const char *name;
    uint8_t shape;       /* ICA_URC_SHAPE_ALWAYS or ICA_URC_SHAPE_RESULT */
    uint8_t trailing_ok; /* followed by its own OK line (DECISIONS §11) */
    int8_t len_field;    /* index of msg_len, -1 when there is no payload */
    uint8_t binary;      /* payload is raw bytes after the OK line */
} urc_def_t;

#define URC_ROW(name, shape, trailing_ok, len_field, binary) {name, shape, trailing_ok, len_field, binary},
static const urc_def_t urc_defs[] = {ICA_URC_TABLE(URC_ROW)};
#undef URC_ROW

static int upper_eq(char a, char b)
{
    if (a >= 'a' && a <= 'z')
        a = (char)(a - 'a' + 'A');
    if (b >= 'a' && b <= 'z')
        b = (char)(b - 'a' + 'A');
    return a == b;
}

/* `name` (length n) equals `def` ignoring case. */
static int name_is(const char *name, size_t n, const char *def)
{
    size_t i;
    for (i = 0; i < n; i++)
        if (def[i] == '\0' || !upper_eq(name[i], def[i]))
            return 0;
    return def[i] == '\0';
}

static const urc_def_t *find_urc(const char *name, size_t n)
{
    for (size_t i = 0; i < sizeof urc_defs / sizeof urc_defs[0]; i++)
        if (name_is(name, n, urc_defs[i].name))
            return &urc_defs[i];
    return NULL;
}

static const char *skip_spaces(const char *p)
{
    while (*p == ' ')
        p++;
    return p;
}

/* The arguments of a line: the text after its ':' ("" when it has none). */
static const char *line_args_of(const char *line)
{
    const char *colon = strchr(line, ':');
    return colon ? colon + 1 : "";
}

/* ---- fields ---------------------------------------------------------------- */

/* End of the field starting at p: the next comma outside quotes, or the NUL. */
static const char *field_end(const char *p)
{
    int quoted = 0;
    for (; *p; p++) {
        if (quoted && *p == '\\' && p[1])
            p++;
        else if (*p == '"')
            quoted = !quoted;
        else if (*p == ',' && !quoted)
            break;
    }
    return p;
}

static const char *field_start(const char *args, unsigned index)
{
    const char *p = skip_spaces(args);
    while (index--) {
        p = field_end(p);
        if (*p != ',')
            return NULL;
        p = skip_spaces(p + 1);
    }
    return p;
}

int ica_field_int(const char *args, unsigned index, long *out)
{
    const char *p = field_start(args, index);
    if (!p)
        return -1;
    int neg = 0, digits = 0;
    unsigned long value = 0, base = 10;
    if (*p == '-') {
        neg = 1;
        p++;
    }
    if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
        base = 16;
        p += 2;
    }
    for (;; p++, digits++) {
        unsigned d;
        if (*p >= '0' && *p <= '9')
            d = (unsigned)(*p - '0');
        else if (base == 16 && *p >= 'a' && *p <= 'f')
            d = (unsigned)(*p - 'a' + 10);
        else if (base == 16 && *p >= 'A' && *p <= 'F')
            d = (unsigned)(*p - 'A' + 10);
        else
            break;
        value = value * base + d;
    }
    p = skip_spaces(p);
    if (!digits || (*p != ',' && *p != '\0'))
        return -1;
    *out = neg ? -(long)value : (long)value;
    return 0;
}

int ica_field_str(const char *args, unsigned index, char *out, size_t cap)
{
    const char *p = field_start(args, index);
    if (!p || cap == 0)
        return -1;
    const char *end = field_end(p);
    size_t n = 0;
    if (*p == '"') {
        for (p++; p < end && *p != '"'; p++) {
            if (*p == '\\' && p + 1 < end)
                p++;
            if (n + 1 < cap)
                out[n++] = *p;
        }
    } else {
        while (end > p && end[-1] == ' ')
            end--;
        for (; p < end; p++)
            if (n + 1 < cap)
                out[n++] = *p;
    }
    out[n] = '\0';
    return 0;
}

size_t ica_fmt_int(char *dst, long value)
{
    char tmp[11];
    size_t n = 0, len = 0;
    unsigned long v = value < 0 ? 0ul - (unsigned long)value : (unsigned long)value;
    do {
        tmp[n++] = (char)('0' + v % 10u);
        v /= 10u;
    } while (v);
    if (value < 0)
        dst[len++] = '-';
    while (n)
        dst[len++] = tmp[--n];
    return len;
}

/* ---- matches ----------------------------------------------------------------- */

/* What a line is to the pending command and the running script. */
enum { LINE_RESPONSE, LINE_URC, LINE_OTHER };
/* Whether a step's command has a status URC `+CMD:<id>,<status>`. */
enum { STATUS_NONE, STATUS_NEED_ID, STATUS_WAIT, STATUS_GOT };

static int prefix_is(const char *line, const char *prefix)
{
    for (; *prefix; line++, prefix++)
        if (*line == '\0' || !upper_eq(*line, *prefix))
            return 0;
    return 1;
}

static const ica_match_t *find_match(const ica_match_t *matches, size_t n, const char *line)
{
    for (size_t i = 0; i < n; i++)
        if (prefix_is(line, matches[i].prefix))
            return &matches[i];
    return NULL;
}

/* Field [start, end) in place: leading spaces dropped; a quoted field
 * unquoted and unescaped, any other one without trailing spaces. */
static char *clean_field(char *start, char *end, int raw)
{
    while (start < end && *start == ' ')
        start++;
    if (!raw && start < end && *start == '"') {
        char *r = start + 1, *w = start;
        while (r < end && *r != '"') {
            if (*r == '\\' && r + 1 < end)
                r++;
            *w++ = *r++;
        }
        *w = '\0';
        return start;
    }
    while (!raw && end > start && end[-1] == ' ')
        end--;
    *end = '\0';
    return start;
}

/* Copies line into at->args and splits it into at->argv (see ica_match_cb_t). */
static uint16_t split(ica_at_t *at, const char *line, const char *separators, int has_payload)
{
    uint16_t argc = 1;
    int quoted = 0;
    char *p, *field;
    memcpy(at->args, line, strlen(line) + 1);
    at->argv[0] = at->args;
    p = strchr(at->args, ':');
    if (!p)
        return argc;
    *p = '\0';
    for (field = ++p;; p++) {
        int last = argc == ICA_AT_ARGV_MAX - 1;
        if (quoted && *p == '\\' && p[1]) {
            p++;
        } else if (*p == '"') {
            quoted = !quoted;
        } else if (*p == '\0' || (!quoted && !last && strchr(separators, *p))) {
            int end = *p == '\0';
            at->argv[argc++] = clean_field(field, p, last);
            if (end)
                break;
            field = p + 1;
        }
    }
    if (has_payload && argc > 1 && at->argv[argc - 1][0] == '\0')
        argc--; /* the comma before a text payload */
    return argc;
}

static void call_match(ica_at_t *at, const ica_match_t *m, const char *line, const uint8_t *payload, size_t len)
{
    if (!m->cb)
        return;
    uint16_t argc = split(at, line, m->separators, payload != NULL);
    at->cb_payload = payload;
    at->cb_payload_len = len;
    at->in_handler++;
    m->cb(at, at->argv, argc, at->user);
    at->in_handler--;
    at->cb_payload = NULL;
    at->cb_payload_len = 0;
}

const uint8_t *ica_at_payload(const ica_at_t *at, size_t *len)
{
    *len = at->cb_payload ? at->cb_payload_len : 0;
    return at->cb_payload;
}

/* ---- scripts ------------------------------------------------------------------ */

static uint32_t now_ms(const ica_at_t *at)
{
    return at->port.millis(at->port.ctx);
}

static void script_end(ica_at_t *at, int result, const char *reason)
{
    const ica_script_t *script = at->script;
    if (!script)
        return;
    at->script = NULL;
    at->script_result = result;
    at->abort_reason = reason;
    at->pending = 0; /* a late final result of the step's command is dropped */
    at->status_state = STATUS_NONE;
    if (script->cb) {
        at->in_handler++;
        script->cb(at, result, at->user);
        at->in_handler--;
    }
}

static void send_command(ica_at_t *at);
static void feed_byte(ica_at_t *at, uint8_t c);

static void step_start(ica_at_t *at)
{
    const ica_step_t *step;
    if (at->script_step >= at->script->n_steps) {
        script_end(at, ICA_OK, NULL);
        return;
    }
    step = &at->script->steps[at->script_step];
    at->step_start = now_ms(at);
    at->step_ok = 0;
    at->status_state = STATUS_NONE;
    if (!step->request)
        return;
    ica_cmd_begin(at, step->request);
    if (step->args) {
        at->in_handler++;
        step->args(at, at->user);
        at->in_handler--;
    }
    if (at->cmd_overflow) {
        script_end(at, ICA_ERR_OVERFLOW, NULL);
        return;
    }
    send_command(at);
    const urc_def_t *def = find_urc(at->cmd_name, strlen(at->cmd_name));
    if (def && def->shape == ICA_URC_SHAPE_RESULT && !at->query)
        at->status_state = STATUS_NEED_ID;
}

static void step_next(ica_at_t *at)
{
    at->script_step++;
    step_start(at);
}

/* The step's command got its final result. */
static void step_final(ica_at_t *at, int result)
{
    if (result != ICA_OK)
        script_end(at, result, NULL);
    else if (at->status_state == STATUS_NEED_ID)
        script_end(at, ICA_ERR_PARSE, NULL);
    else if (at->status_state != STATUS_WAIT)
        step_next(at);
    else
        at->step_ok = 1; /* the status URC is still to come */
}

/* `+CMD:<id>` of the step's command: its status URC will carry the id. */
static void note_id_line(ica_at_t *at, const char *line)
{
    long id;
    if (at->status_state == STATUS_NEED_ID && name_is(line, strcspn(line, ":"), at->cmd_name) &&
        ica_field_int(line_args_of(line), 0, &id) == 0) {
        at->status_id = id;
        at->status_state = STATUS_WAIT;
    }
}

static int is_status_urc(ica_at_t *at, const char *line)
{
    long id;
    if (at->status_state != STATUS_WAIT || !name_is(line, strcspn(line, ":"), at->cmd_name) ||
        ica_field_int(line_args_of(line), 0, &id) != 0 || id != at->status_id)
        return 0;
    if (ica_field_int(line_args_of(line), 1, &at->status) != 0)
        at->status = -1;
    return 1;
}

/* A complete line: to the running step, the abort matches or the unsolicited ones. */
static void on_line(ica_at_t *at, const char *line, const uint8_t *payload, size_t len, int kind)
{
    const ica_script_t *script = at->script;
    const ica_step_t *step = script ? &script->steps[at->script_step] : NULL;
    const ica_match_t *m;

    if (step && kind == LINE_URC && is_status_urc(at, line)) {
        at->status_state = STATUS_GOT;
        if ((m = find_match(step->matches, step->n_matches, line)) != NULL)
            call_match(at, m, line, payload, len);
        if (at->script && at->step_ok)
            step_next(at);
        return;
    }
    /* a command step gets its command's lines, a waiting step any other line */
    if (step && (kind == LINE_RESPONSE) == (step->request != NULL) &&
        (m = find_match(step->matches, step->n_matches, line)) != NULL) {
        call_match(at, m, line, payload, len);
        if (at->script && !step->request)
            step_next(at);
        return;
    }
    if (script && (m = find_match(script->abort, script->n_abort, line)) != NULL) {
        call_match(at, m, line, payload, len);
        script_end(at, ICA_ERR_ABORT, m->prefix);
        return;
    }
    if (kind != LINE_RESPONSE && (m = find_match(at->unsol, at->n_unsol, line)) != NULL)
        call_match(at, m, line, payload, len);
}

int ica_script_start(ica_at_t *at, const ica_script_t *script)
{
    if (at->in_handler || at->script || at->pending)
        return ICA_ERR_BUSY;
    at->script = script;
    at->script_result = ICA_RUNNING;
    at->script_step = 0;
    at->script_start = now_ms(at);
    at->abort_reason = NULL;
    step_start(at);
    return ica_script_result(at);
}

int ica_script_result(const ica_at_t *at)
{
    return at->script ? ICA_RUNNING : at->script_result;
}

void ica_script_abort(ica_at_t *at, const char *reason)
{
    script_end(at, ICA_ERR_ABORT, reason ? reason : "aborted");
}

void ica_at_tick(ica_at_t *at)
{
    const ica_step_t *step;
    uint32_t now;
    if (!at->script)
        return;
    step = &at->script->steps[at->script_step];
    now = now_ms(at);
    if ((step->timeout_ms && now - at->step_start >= step->timeout_ms) ||
        (at->script->timeout_ms && now - at->script_start >= at->script->timeout_ms))
        script_end(at, ICA_ERR_TIMEOUT, NULL);
}

/* Reads a byte at a time until the script ends: the bytes after its last
 * line stay in the port. The timeouts are checked after every byte, so a
 * module that never stops talking cannot hold a script forever. */
int ica_script_run(ica_at_t *at, const ica_script_t *script)
{
    int rc = ica_script_start(at, script);
    while (rc == ICA_RUNNING) {
        int c = at->port.read(at->port.ctx);
        if (c >= 0)
            feed_byte(at, (uint8_t)c);
        ica_at_tick(at);
        rc = ica_script_result(at);
        if (c < 0 && rc == ICA_RUNNING)
            at->port.idle(at->port.ctx);
    }
    return rc;
}

/* ---- receive --------------------------------------------------------------- */

void ica_at_init(ica_at_t *at, const ica_port_t *port, const ica_match_t *unsol, size_t n_unsol, void *user)
{
    memset(at, 0, sizeof *at);
    at->port = *port;
    at->unsol = unsol;
    at->n_unsol = (uint16_t)n_unsol;
    at->user = user;
    at->final = FINAL_PENDING;
}

static void line_reset(ica_at_t *at)
{
    at->line_len = 0;
    at->line_overflow = 0;
    at->in_quote = 0;
    at->escaped = 0;
    at->commas = 0;
    at->line_urc = NULL;
    at->rx_state = RX_LINE;
}

static void start_raw(ica_at_t *at, int kind, uint8_t *dst, size_t cap, size_t len)
{
    at->raw_dst = dst;
    at->raw_cap = cap;
    at->raw_len = 0;
    at->raw_left = len;
    at->rx_state = RX_RAW;
    at->raw_kind = kind;
}

static size_t min_size(size_t a, size_t b)
{
    return a < b ? a : b;
}

static void finish(ica_at_t *at, int result)
{
    if (!at->pending)
        return;
    at->pending = 0;
    at->final = result;
    if (at->script)
        step_final(at, result);
}

static void raw_done(ica_at_t *at)
{
    switch (at->raw_kind) {
    case RAW_TEXT:
        at->rx_state = RX_LINE_TAIL; /* the closing quote and CRLF follow */
        return;
    case RAW_URC_BIN:
        line_reset(at);
        on_line(at, at->urc_hdr, at->payload, min_size(at->raw_len, ICA_AT_PAYLOAD_MAX), LINE_URC);
        at->urc_hdr[0] = '\0';
        return;
    default: /* RAW_CMD_BIN */
        line_reset(at);
        at->bin_len = at->raw_len;
        finish(at, at->raw_len > at->bin_cap ? ICA_ERR_OVERFLOW : ICA_OK);
        return;
    }
}

static const urc_def_t *line_urc(const ica_at_t *at)
{
    return (const urc_def_t *)at->line_urc;
}

/* A quote opens the payload field of a text-payload URC: read it by length. */
static int payload_starts(ica_at_t *at)
{
    const urc_def_t *def = line_urc(at);
    long len;
    if (!def || def->len_field < 0 || def->binary || at->commas != (unsigned)def->len_field + 1u)
        return 0;
    at->line[at->line_len] = '\0';
    if (ica_field_int(line_args_of(at->line), (unsigned)def->len_field, &len) != 0 || len < 0)
        return 0;
    at->urc_msg_len = (size_t)len;
    start_raw(at, RAW_TEXT, at->payload, ICA_AT_PAYLOAD_MAX, (size_t)len);
    if (len == 0)
        raw_done(at);
    return 1;
}

static void resp_add(ica_at_t *at, const char *line, size_t len)
{
    if (at->resp_len + len + 1 <= sizeof at->resp) {
        memcpy(at->resp + at->resp_len, line, len + 1);
        at->resp_len += len + 1;
    }
}

/* The command's final OK: for AT+IOTABLOCK, a block of raw bytes follows. */
static void final_ok(ica_at_t *at)
{
    long len;
    const char *args;
    if (!at->bin_dst) {
        finish(at, ICA_OK);
        return;
    }
    args = ica_at_response(at, at->cmd_name);
    if (!args || ica_field_int(args, 0, &len) != 0 || len < 0) {
        finish(at, ICA_ERR_PARSE);
        return;
    }
    start_raw(at, RAW_CMD_BIN, at->bin_dst, at->bin_cap, (size_t)len);
    if (len == 0)
        raw_done(at);
}

static void handle_urc(ica_at_t *at, const urc_def_t *def, int has_payload)
{
    if (def->binary) {
        long len = 0;
        if (def->len_field >= 0 && ica_field_int(line_args_of(at->line), (unsigned)def->len_field, &len) != 0)
            len = 0; /* e.g. +IHTTPRCVBIN with status != 0: no payload */
        memcpy(at->urc_hdr, at->line, at->line_len + 1);
        at->urc_msg_len = len > 0 ? (size_t)len : 0;
        at->urc_ok_expected = 1;
        return;
    }
    at->urc_ok_expected = def->trailing_ok;
    if (has_payload)
        on_line(at, at->line, at->payload, min_size(at->urc_msg_len, ICA_AT_PAYLOAD_MAX), LINE_URC);
    else
        on_line(at, at->line, NULL, 0, LINE_URC);
}

static int line_is(const char *line, const char *text)
{
    return strcmp(line, text) == 0;
}

static void handle_line(ica_at_t *at, int has_payload)
{
    char *line = at->line;
    size_t len = at->line_len;

    if (at->urc_ok_expected) {
        at->urc_ok_expected = 0;
        if (line_is(line, "OK")) {
            if (at->urc_hdr[0]) { /* a binary URC: its payload follows now */
                start_raw(at, RAW_URC_BIN, at->payload, ICA_AT_PAYLOAD_MAX, at->urc_msg_len);
                if (at->urc_msg_len == 0)
                    raw_done(at);
            }
            return;
        }
        at->urc_hdr[0] = '\0'; /* a binary URC without its OK cannot be framed: dropped */
    }
    if (at->line_overflow)
        return;
    if (line[0] == '+') {
        const urc_def_t *def = line_urc(at);
        size_t name_len = strcspn(line, ":");
        if (!def && !memchr(line, ':', len))
            def = find_urc(line, len); /* a URC without arguments */
        int asked = at->pending && at->query && name_is(line, name_len, at->cmd_name);
        if (def && !asked && (def->shape == ICA_URC_SHAPE_ALWAYS || *field_end(line) == ',')) {
            handle_urc(at, def, has_payload);
            return;
        }
    }
    if (line_is(line, "OK")) {
        if (at->pending)
            final_ok(at);
    } else if (line_is(line, "ERROR")) {
        finish(at, ICA_ERR_ERROR);
    } else if (strncmp(line, "+CME ERROR:", 11) == 0) {
        long n;
        if (at->pending)
            at->cme_error = ica_field_int(line + 11, 0, &n) == 0 ? (int)n : -1;
        finish(at, ICA_ERR_CME);
    } else if (at->pending) {
        if (upper_eq(line[0], 'A') && upper_eq(line[1], 'T'))
            return; /* our echo */
        resp_add(at, line, len);
        note_id_line(at, line);
        on_line(at, line, NULL, 0, LINE_RESPONSE);
    } else {
        on_line(at, line, NULL, 0, LINE_OTHER);
    }
}

static void feed_line_byte(ica_at_t *at, uint8_t c)
{
    if (c == '\n') {
        while (at->line_len && at->line[at->line_len - 1] == '\r')
            at->line_len--;
        at->line[at->line_len] = '\0';
        if (at->line_len) {
            int has_payload = at->rx_state == RX_LINE_TAIL;
            if (at->port.log && !at->line_overflow)
                at->port.log(at->port.ctx, ICA_LOG_RX, at->line, at->line_len);
            at->rx_state = RX_LINE;
            handle_line(at, has_payload);
        }
        if (at->rx_state != RX_RAW)
            line_reset(at);
        return;
    }
    if (at->rx_state == RX_LINE_TAIL)
        return; /* the payload's closing quote */
    if (at->in_quote) {
        if (at->escaped)
            at->escaped = 0;
        else if (c == '\\')
            at->escaped = 1;
        else if (c == '"')
            at->in_quote = 0;
    } else if (c == '"') {
        if (payload_starts(at))
            return;
        at->in_quote = 1;
    } else if (c == ',' && at->line_urc) {
        at->commas++;
    } else if (c == ':' && !at->line_urc && at->line_len && at->line[0] == '+' &&
               !memchr(at->line, ':', at->line_len)) {
        at->line_urc = find_urc(at->line, at->line_len);
    }
    if (at->line_len + 1 < sizeof at->line)
        at->line[at->line_len++] = (char)c;
    else
        at->line_overflow = 1;
}

static void feed_byte(ica_at_t *at, uint8_t c)
{
    if (at->rx_state != RX_RAW) {
        feed_line_byte(at, c);
        return;
    }
    if (at->raw_len < at->raw_cap)
        at->raw_dst[at->raw_len] = c;
    at->raw_len++;
    if (--at->raw_left == 0)
        raw_done(at);
}

void ica_at_feed(ica_at_t *at, const uint8_t *data, size_t len)
{
    for (size_t i = 0; i < len; i++)
        feed_byte(at, data[i]);
}

void ica_at_poll(ica_at_t *at)
{
    int c;
    while ((c = at->port.read(at->port.ctx)) >= 0)
        feed_byte(at, (uint8_t)c);
}

int ica_at_wait_until(ica_at_t *at, int (*done)(void *user), void *user, uint32_t timeout_ms)
{
    uint32_t start = now_ms(at);
    if (at->in_handler)
        return ICA_ERR_BUSY;
    for (;;) {
        ica_at_poll(at);
        if (done(user))
            return ICA_OK;
        if (now_ms(at) - start >= timeout_ms)
            return ICA_ERR_TIMEOUT;
        at->port.idle(at->port.ctx);
    }
}

/* ---- commands -------------------------------------------------------------- */

static void cmd_append(ica_at_t *at, const char *s, size_t n)
{
    if (at->cmd_len + n + 1 > sizeof at->cmd) { /* keep room for the CR */
        at->cmd_overflow = 1;
        return;
    }
    memcpy(at->cmd + at->cmd_len, s, n);
    at->cmd_len += n;
}

void ica_cmd_begin(ica_at_t *at, const char *text)
{
    at->cmd_len = 0;
    at->cmd_args = 0;
    at->cmd_overflow = 0;
    cmd_append(at, text, strlen(text));
}

static void cmd_next_arg(ica_at_t *at)
{
    if (at->cmd_args++)
        cmd_append(at, ",", 1);
}

void ica_cmd_strn(ica_at_t *at, const char *s, size_t len)
{
    cmd_next_arg(at);
    cmd_append(at, "\"", 1);
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '"' || s[i] == '\\')
            cmd_append(at, "\\", 1);
        cmd_append(at, &s[i], 1);
    }
    cmd_append(at, "\"", 1);
}

void ica_cmd_str(ica_at_t *at, const char *s)
{
    ica_cmd_strn(at, s, strlen(s));
}

void ica_cmd_int(ica_at_t *at, long value)
{
    char digits[12];
    cmd_next_arg(at);
    cmd_append(at, digits, ica_fmt_int(digits, value));
}

/* Waits for the pending command's final result, a byte at a time (the bytes
 * after it stay in the port). */
static int wait_final(ica_at_t *at, uint32_t timeout_ms)
{
    uint32_t start = now_ms(at);
    while (at->pending) {
        int c = at->port.read(at->port.ctx);
        if (c >= 0)
            feed_byte(at, (uint8_t)c);
        if (at->pending && now_ms(at) - start >= timeout_ms)
            break;
        if (c < 0)
            at->port.idle(at->port.ctx);
    }
    if (!at->pending)
        return at->final;
    if (at->rx_state == RX_RAW && at->raw_kind == RAW_CMD_BIN)
        line_reset(at); /* the block never came whole */
    at->pending = 0;
    return ICA_ERR_TIMEOUT;
}

static void start_pending(ica_at_t *at)
{
    at->pending = 1;
    at->final = FINAL_PENDING;
    at->resp_len = 0;
}

/* Sends the built command (its name noted for its response lines). */
static void send_command(ica_at_t *at)
{
    /* the name the response lines carry: "AT+IMQTTPUB=..." -> "+IMQTTPUB" */
    size_t start = at->cmd_len >= 2 ? 2 : at->cmd_len;
    size_t n = strcspn(at->cmd + start, "=?");
    if (n >= at->cmd_len - start)
        n = at->cmd_len - start;
    if (n >= sizeof at->cmd_name)
        n = sizeof at->cmd_name - 1;
    memcpy(at->cmd_name, at->cmd + start, n);
    at->cmd_name[n] = '\0';
    at->query = start + n < at->cmd_len &&
                (at->cmd[start + n] == '?' || (at->cmd[start + n] == '=' && at->cmd[start + n + 1] == '?'));
    if (at->port.log)
        at->port.log(at->port.ctx, ICA_LOG_TX, at->cmd, at->cmd_len);
    at->cmd[at->cmd_len] = '\r';
    start_pending(at);
    at->port.write(at->port.ctx, (const uint8_t *)at->cmd, at->cmd_len + 1);
}

int ica_cmd_send(ica_at_t *at, uint32_t timeout_ms)
{
    if (at->in_handler || at->script)
        return ICA_ERR_BUSY;
    if (at->cmd_overflow)
        return ICA_ERR_OVERFLOW;
    send_command(at);
    return wait_final(at, timeout_ms);
}

int ica_cmd_send_binary(ica_at_t *at, const uint8_t *data, size_t len, uint32_t timeout_ms)
{
    int rc = ica_cmd_send(at, timeout_ms);
    if (rc != ICA_OK)
        return rc;
    start_pending(at);
    at->port.write(at->port.ctx, data, len);
    return wait_final(at, timeout_ms);
}

int ica_at_cmd(ica_at_t *at, const char *line, uint32_t timeout_ms)
{
    if (at->in_handler || at->script)
        return ICA_ERR_BUSY; /* the command being built stays as it is */
    ica_cmd_begin(at, line);
    return ica_cmd_send(at, timeout_ms);
}

const char *ica_at_response(const ica_at_t *at, const char *name)
{
    size_t name_len = strlen(name);
    for (size_t off = 0; off < at->resp_len; off += strlen(at->resp + off) + 1) {
        const char *line = at->resp + off;
        if (strncmp(line, name, name_len) == 0 && line[name_len] == ':')
            return skip_spaces(line + name_len + 1);
    }
    return NULL;
}

int ica_ota_block(ica_at_t *at, int type, uint8_t *buf, size_t cap, size_t *len, uint32_t timeout_ms)
{
    long crc;
    *len = 0;
    if (at->in_handler || at->script)
        return ICA_ERR_BUSY;
    ica_cmd_begin(at, "AT+IOTABLOCK=");
    ica_cmd_int(at, type);
    at->bin_dst = buf;
    at->bin_cap = cap;
    at->bin_len = 0;
    int rc = ica_cmd_send(at, timeout_ms);
    at->bin_dst = NULL;
    *len = min_size(at->bin_len, cap);
    if (rc != ICA_OK)
        return rc;
    const char *args = ica_at_response(at, "+IOTABLOCK");
    if (*len == 0)
        return ICA_OK; /* end of the image */
    if (!args || ica_field_int(args, 1, &crc) != 0)
        return ICA_ERR_PARSE;
    return ica_crc16(0xFFFFu, buf, *len) == (uint16_t)crc ? ICA_OK : ICA_ERR_CRC;
}

/* ---- checksums ------------------------------------------------------------- */

uint16_t ica_crc16(uint16_t crc, const uint8_t *data, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        crc ^= (uint16_t)(data[i] << 8);
        for (int bit = 0; bit < 8; bit++)
            crc = (crc & 0x8000u) ? (uint16_t)((crc << 1) ^ 0x1021u) : (uint16_t)(crc << 1);
    }
    return crc;
}

/* MD5 (RFC 1321), written from the RFC's description. */
static const uint32_t md5_k[64] = {
    0xd76aa478u, 0xe8c7b756u, 0x242070dbu, 0xc1bdceeeu, 0xf57c0fafu, 0x4787c62au, 0xa8304613u, 0xfd469501u,
    0x698098d8u, 0x8b44f7afu, 0xffff5bb1u, 0x895cd7beu, 0x6b901122u, 0xfd987193u, 0xa679438eu, 0x49b40821u,
    0xf61e2562u, 0xc040b340u, 0x265e5a51u, 0xe9b6c7aau, 0xd62f105du, 0x02441453u, 0xd8a1e681u, 0xe7d3fbc8u,
    0x21e1cde6u, 0xc33707d6u, 0xf4d50d87u, 0x455a14edu, 0xa9e3e905u, 0xfcefa3f8u, 0x676f02d9u, 0x8d2a4c8au,
    0xfffa3942u, 0x8771f681u, 0x6d9d6122u, 0xfde5380cu, 0xa4beea44u, 0x4bdecfa9u, 0xf6bb4b60u, 0xbebfbc70u,
    0x289b7ec6u, 0xeaa127fau, 0xd4ef3085u, 0x04881d05u, 0xd9d4d039u, 0xe6db99e5u, 0x1fa27cf8u, 0xc4ac5665u,
    0xf4292244u, 0x432aff97u, 0xab9423a7u, 0xfc93a039u, 0x655b59c3u, 0x8f0ccc92u, 0xffeff47du, 0x85845dd1u,
    0x6fa87e4fu, 0xfe2ce6e0u, 0xa3014314u, 0x4e0811a1u, 0xf7537e82u, 0xbd3af235u, 0x2ad7d2bbu, 0xeb86d391u,
};
static const uint8_t md5_shift[16] = {7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21};

static void md5_block(uint32_t state[4], const uint8_t block[64])
{
    uint32_t m[16], a = state[0], b = state[1], c = state[2], d = state[3];
    for (int i = 0; i < 16; i++)
        m[i] = (uint32_t)block[4 * i] | (uint32_t)block[4 * i + 1] << 8 | (uint32_t)block[4 * i + 2] << 16 |
               (uint32_t)block[4 * i + 3] << 24;
    for (int i = 0; i < 64; i++) {
        uint32_t f;
        int g;
        if (i < 16) {
            f = (b & c) | (~b & d);
            g = i;
        } else if (i < 32) {
            f = (d & b) | (~d & c);
            g = (5 * i + 1) % 16;
        } else if (i < 48) {
            f = b ^ c ^ d;
            g = (3 * i + 5) % 16;
        } else {
            f = c ^ (b | ~d);
            g = (7 * i) % 16;
        }
        uint32_t s = md5_shift[(i / 16) * 4 + i % 4];
        uint32_t t = a + f + md5_k[i] + m[g];
        a = d;
        d = c;
        c = b;
        b = b + ((t << s) | (t >> (32u - s)));
    }
    state[0] += a;
    state[1] += b;
    state[2] += c;
    state[3] += d;
}

void ica_md5_init(ica_md5_t *md5)
{
    md5->state[0] = 0x67452301u;
    md5->state[1] = 0xefcdab89u;
    md5->state[2] = 0x98badcfeu;
    md5->state[3] = 0x10325476u;
    md5->bytes = 0;
}

void ica_md5_update(ica_md5_t *md5, const uint8_t *data, size_t len)
{
    while (len) {
        size_t used = (size_t)(md5->bytes % 64u);
        size_t n = min_size(64u - used, len);
        memcpy(md5->block + used, data, n);
        md5->bytes += n;
        data += n;
        len -= n;
        if (used + n == 64u)
            md5_block(md5->state, md5->block);
    }
}

void ica_md5_final(ica_md5_t *md5, uint8_t digest[16])
{
    static const uint8_t pad = 0x80, zero = 0;
    uint64_t bits = md5->bytes * 8u;
    uint8_t length[8];
    for (int i = 0; i < 8; i++)
        length[i] = (uint8_t)(bits >> (8 * i));
    ica_md5_update(md5, &pad, 1);
    while (md5->bytes % 64u != 56u)
        ica_md5_update(md5, &zero, 1);
    ica_md5_update(md5, length, 8);
    for (int i = 0; i < 16; i++)
        digest[i] = (uint8_t)(md5->state[i / 4] >> (8 * (i % 4)));
}

void ica_md5_hex(const uint8_t digest[16], char hex[33])
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < 16; i++) {
        hex[2 * i] = digits[digest[i] >> 4];
        hex[2 * i + 1] = digits[digest[i] & 15u];
    }
    hex[32] = '\0';
}
