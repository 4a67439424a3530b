/* The demo's debug console lines (see console.h). */
#include "console.h"

#include <string.h>

#include "bsp.h"
#include "ica_at.h"

void t_mem(text_t *t, const char *s, size_t n)
{
    if (n > sizeof t->buf - 2 - t->len)
        n = sizeof t->buf - 2 - t->len; /* keep room for CRLF */
    memcpy(t->buf + t->len, s, n);
    t->len += n;
}

void t_str(text_t *t, const char *s)
{
    t_mem(t, s, strlen(s));
}

void t_int(text_t *t, long v)
{
    char digits[12];
    t_mem(t, digits, ica_fmt_int(digits, v));
}

void t_printable(text_t *t, const uint8_t *data, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char c = data[i] >= 0x20 && data[i] < 0x7F ? (char)data[i] : '.';
        t_mem(t, &c, 1);
    }
}

void t_console(text_t *t)
{
    t->buf[t->len++] = '\r';
    t->buf[t->len++] = '\n';
    bsp_console_write(t->buf, t->len);
    t->len = 0;
}

void console2(const char *a, const char *b)
{
    text_t t = {.len = 0};
    t_str(&t, a);
    t_str(&t, b);
    t_console(&t);
}

void step_ok(const char *step)
{
    text_t t = {.len = 0};
    t_str(&t, "STEP ");
    t_str(&t, step);
    t_str(&t, " ok");
    t_console(&t);
}

void finish(int code)
{
    text_t t = {.len = 0};
    t_str(&t, "DONE ");
    t_int(&t, code);
    t_console(&t);
    bsp_exit(code);
}

void fail(const char *step, const char *reason, int code)
{
    text_t t = {.len = 0};
    t_str(&t, "STEP ");
    t_str(&t, step);
    t_str(&t, " fail ");
    t_str(&t, reason);
    t_console(&t);
    finish(code);
}
