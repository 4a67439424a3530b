/* The demo's debug console (USART2): the lines the harness reads
 * (docs/ARCHITECTURE.md, firmware/README.md) and the exit codes. */
#ifndef DEMO_CONSOLE_H
#define DEMO_CONSOLE_H

#include <stddef.h>
#include <stdint.h>

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

/* A line (or JSON text) being built; the t_* helpers truncate, keeping room for CRLF. */
typedef struct {
    char buf[256];
    size_t len;
} text_t;

void t_mem(text_t *t, const char *s, size_t n);
void t_str(text_t *t, const char *s);
void t_int(text_t *t, long v);
void t_printable(text_t *t, const uint8_t *data, size_t n); /* control characters as '.' */
void t_console(text_t *t);                                  /* the line and CRLF; t is emptied */

void console2(const char *a, const char *b);                /* the line a + b */
void step_ok(const char *step);                             /* STEP <step> ok */
__attribute__((noreturn)) void finish(int code);            /* DONE <code>, then exit */
__attribute__((noreturn)) void fail(const char *step, const char *reason, int code);

#endif
