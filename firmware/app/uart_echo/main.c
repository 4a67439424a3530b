/* uart_echo: a smoke-test firmware for the emulator backends.
 * Prints "BOOT uart-echo" on the console (USART2), echoes every USART1 byte back
 * on USART1, and on the line "EXIT <n>\r" exits through semihosting with code n. */
#include "bsp.h"

#define LINE_MAX 32

int main(void)
{
    char line[LINE_MAX];
    unsigned len = 0;

    bsp_init();
    bsp_console_puts("BOOT uart-echo\r\n");
    for (;;) {
        int c = bsp_link_read();
        if (c < 0) {
            bsp_idle();
            continue;
        }
        uint8_t byte = (uint8_t)c;
        bsp_link_write(&byte, 1);
        if (byte == '\r' || byte == '\n') {
            if (len > 5 && line[0] == 'E' && line[1] == 'X' && line[2] == 'I' && line[3] == 'T' && line[4] == ' ') {
                int code = 0;
                for (unsigned i = 5; i < len && line[i] >= '0' && line[i] <= '9'; i++)
                    code = code * 10 + (line[i] - '0');
                bsp_console_puts("DONE exit\r\n");
                bsp_exit(code);
            }
            len = 0;
        } else if (len < LINE_MAX) {
            line[len++] = (char)byte;
        }
    }
}
