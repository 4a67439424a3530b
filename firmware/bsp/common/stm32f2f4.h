/* USARTs, RCC and LED for the STM32F2 and STM32F4 boards (same RCC and GPIO layout,
 * RM0033/RM0090): USART addresses and IRQs, every USART clock on, LED on PA5. Included by their board.h. */
#ifndef BSP_STM32F2F4_H
#define BSP_STM32F2F4_H

#include "stm32.h"

/* USART1..6 (QEMU -serial 0..5) */
#define BOARD_USART1_BASE 0x40011000u
#define BOARD_USART1_IRQ 37u
#define BOARD_USART2_BASE 0x40004400u
#define BOARD_USART2_IRQ 38u
#define BOARD_USART3_BASE 0x40004800u
#define BOARD_USART3_IRQ 39u
#define BOARD_USART4_BASE 0x40004C00u
#define BOARD_USART4_IRQ 52u
#define BOARD_USART5_BASE 0x40005000u
#define BOARD_USART5_IRQ 53u
#define BOARD_USART6_BASE 0x40011400u
#define BOARD_USART6_IRQ 71u
#define RCC_AHB1ENR REG32(0x40023830u)
#define RCC_APB1ENR REG32(0x40023840u)
#define RCC_APB2ENR REG32(0x40023844u)

static inline void board_clocks_enable(void)
{
    RCC_AHB1ENR |= 1u;                /* GPIOA */
    RCC_APB1ENR |= 0xFu << 17;        /* USART2, USART3, UART4, UART5 */
    RCC_APB2ENR |= (1u << 4) | (1u << 5); /* USART1, USART6 */
}

/* LED on PA5 */
#define GPIOA_MODER REG32(0x40020000u)
#define GPIOA_BSRR REG32(0x40020018u)
#define LED_PIN 5u

static inline void board_led_init(void)
{
    GPIOA_MODER = (GPIOA_MODER & ~(3u << (2u * LED_PIN))) | (1u << (2u * LED_PIN));
}

static inline void board_led_write(int on)
{
    GPIOA_BSRR = on ? (1u << LED_PIN) : (1u << (LED_PIN + 16u));
}

#endif
