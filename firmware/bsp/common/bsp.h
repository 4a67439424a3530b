/* Board support for the STM32 boards QEMU emulates (netduinoplus2, netduino2,
 * stm32vldiscovery): the API every app uses. The board's own facts (USART
 * addresses and IRQs, clock, LED, memory) are in bsp/<board>/board.h and
 * bsp/<board>/memory.ld; the code is shared (bsp/common/).
 *
 * Which USART is which is chosen at build time (make variables, see
 * firmware/README.md): BSP_LINK_UART is the link to the ICA module
 * (interrupt-driven receive into a ring buffer, polled transmit), BSP_CONSOLE_UART
 * the debug console (polled transmit only; 0: no console). Numbers are the
 * board's USART numbers: 1 = USART1, 2 = USART2, ... SysTick gives a 1 ms tick. */
#ifndef BSP_H
#define BSP_H

#include <stddef.h>
#include <stdint.h>

#ifndef BSP_LINK_UART
#define BSP_LINK_UART 1
#endif
#ifndef BSP_CONSOLE_UART
#define BSP_CONSOLE_UART 2
#endif

void bsp_init(void);

/* module link */
void bsp_link_write(const uint8_t *data, size_t len);
/* Next received byte (0..255), or -1 when the ring buffer is empty. */
int bsp_link_read(void);

/* debug console (does nothing when the build has no console) */
void bsp_console_write(const char *data, size_t len);
void bsp_console_puts(const char *s); /* no newline added */

uint32_t bsp_millis(void);

/* The board's LED (register writes only; QEMU does not model the GPIO). */
void bsp_led_set(int on);
int bsp_led_get(void);

/* Sleep until the next interrupt (SysTick or a received byte). */
void bsp_idle(void);

/* Exit through semihosting SYS_EXIT_EXTENDED: QEMU exits with `code`. */
__attribute__((noreturn)) void bsp_exit(int code);

/* Exit code after a CPU fault or an unexpected interrupt. */
#define BSP_EXIT_FAULT 99

#endif
