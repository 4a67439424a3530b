/* Board support for the Netduino Plus 2 (STM32F405) as QEMU models it.
 *
 * USART1 (QEMU -serial 0) is the link to the ICA module: interrupt-driven
 * receive into a ring buffer, polled transmit. USART2 (QEMU -serial 1) is the
 * debug console: polled transmit only. SysTick gives a 1 ms tick. */
#ifndef BSP_H
#define BSP_H

#include <stddef.h>
#include <stdint.h>

void bsp_init(void);

/* module link (USART1) */
void bsp_link_write(const uint8_t *data, size_t len);
/* Next received byte (0..255), or -1 when the ring buffer is empty. */
int bsp_link_read(void);

/* debug console (USART2) */
void bsp_console_write(const char *data, size_t len);
void bsp_console_puts(const char *s); /* no newline added */

uint32_t bsp_millis(void);

/* LED on GPIOA pin 5 (register writes only; QEMU does not model the GPIO). */
void bsp_led_set(int on);
int bsp_led_get(void);

/* Sleep until the next interrupt (SysTick or a received byte). */
void bsp_idle(void);

/* Exit through semihosting SYS_EXIT_EXTENDED: QEMU exits with `code`. */
__attribute__((noreturn)) void bsp_exit(int code);

#endif
