/* Helpers for bsp/<board>/board.h: register access and USART lookup by number. */
#ifndef BSP_STM32_H
#define BSP_STM32_H

#include <stdint.h>

#define REG32(addr) (*(volatile uint32_t *)(addr))

/* BSP_USART_BASE(2) -> BOARD_USART2_BASE, BSP_USART_IRQ(2) -> BOARD_USART2_IRQ */
#define BSP_PASTE3_(a, b, c) a##b##c
#define BSP_PASTE3(a, b, c) BSP_PASTE3_(a, b, c)
#define BSP_USART_BASE(n) BSP_PASTE3(BOARD_USART, n, _BASE)
#define BSP_USART_IRQ(n) BSP_PASTE3(BOARD_USART, n, _IRQ)

#endif
