/* The demo's ica_at port (see port.h). */
#include "port.h"

#include <string.h>

#include "bsp.h"
#include "console.h"

#ifndef DEMO_LOG_AT
#define DEMO_LOG_AT 0
#endif

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

/* `LOG > <sent>` / `LOG < <received>`; what follows "AUTH=" (the device
 * secret) is not shown. */
static void port_log(void *ctx, ica_log_dir_t dir, const char *line, size_t len)
{
    text_t t = {.len = 0};
    size_t shown = len;
    (void)ctx;
    for (size_t i = 0; dir == ICA_LOG_TX && i + 5 <= len; i++) {
        if (memcmp(line + i, "AUTH=", 5) == 0) {
            shown = i + 5;
            break;
        }
    }
    t_str(&t, dir == ICA_LOG_TX ? "LOG > " : "LOG < ");
    t_printable(&t, (const uint8_t *)line, shown);
    if (shown < len)
        t_str(&t, "...");
    t_console(&t);
}

const ica_port_t demo_port = {
    .write = port_write,
    .read = port_read,
    .millis = port_millis,
    .idle = port_idle,
    .log = DEMO_LOG_AT ? port_log : NULL,
};
