/* at_swap: the smallest firmware the contract can run with a wiring of its own.
 * AT goes out on USART2 and the console is USART1 (app.mk), it prints no boot
 * line, and its verdict is a console line, not an exit code:
 *   pysim run --firmware build/<board>/at_swap.elf --scenario exit-code \
 *     --at-uart USART2 --console-uart USART1 --ready at-byte \
 *     --verdict 'console:^RESULT (?P<result>\w+)'
 * It sends "AT" until the module answers OK (at most 20 tries, 250 ms apart),
 * then prints "RESULT PASS" (or "RESULT FAIL no answer") and idles. */
#include <string.h>
#include "bsp.h"

#define TRIES 20
#define TRY_MS 250u

volatile int tries; /* "AT" sent so far (the debugger test reads it) */

/* Collects module bytes into lines; returns 1 when a line "OK" arrives before
 * `deadline`. */
__attribute__((noinline)) static int got_ok(uint32_t deadline)
{
    static char line[32];
    static unsigned len;
    while ((int32_t)(bsp_millis() - deadline) < 0) {
        int c = bsp_link_read();
        if (c < 0) {
            bsp_idle();
            continue;
        }
        if (c == '\r' || c == '\n') {
            line[len] = '\0';
            len = 0;
            if (strcmp(line, "OK") == 0)
                return 1;
        } else if (len < sizeof line - 1u) {
            line[len++] = (char)c;
        }
    }
    return 0;
}

int main(void)
{
    bsp_init();
    for (tries = 1; tries <= TRIES; tries++) {
        bsp_link_write((const uint8_t *)"AT\r", 3);
        if (got_ok(bsp_millis() + TRY_MS)) {
            bsp_console_puts("RESULT PASS\r\n");
            for (;;)
                bsp_idle();
        }
    }
    bsp_console_puts("RESULT FAIL no answer\r\n");
    for (;;)
        bsp_idle();
}
