/* STM32VLDISCOVERY: STM32F100RB, Cortex-M3, as QEMU's `stm32vldiscovery` models it. */
#ifndef BOARD_H
#define BOARD_H

#include "stm32.h"

#define BOARD_CPU_HZ 24000000u /* QEMU's stm32vldiscovery SYSCLK */
#define BOARD_NUM_IRQS 61u

/* RM0041: USART1..3 (QEMU -serial 0..2) */
#define BOARD_USART1_BASE 0x40013800u
#define BOARD_USART1_IRQ 37u
#define BOARD_USART2_BASE 0x40004400u
#define BOARD_USART2_IRQ 38u
#define BOARD_USART3_BASE 0x40004800u
#define BOARD_USART3_IRQ 39u
/* every bus at 24 MHz; ignored by QEMU */
#define BOARD_BRR_115200(n) (24000000u / 115200u)

#define RCC_APB2ENR REG32(0x40021018u)
#define RCC_APB1ENR REG32(0x4002101Cu)

static inline void board_clocks_enable(void)
{
    RCC_APB2ENR |= (1u << 4) | (1u << 14); /* GPIOC, USART1 */
    RCC_APB1ENR |= 3u << 17;               /* USART2, USART3 */
}

/* green LED on PC9 */
#define GPIOC_CRH REG32(0x40011004u)
#define GPIOC_BSRR REG32(0x40011010u)
#define LED_PIN 9u

static inline void board_led_init(void)
{
    /* CRH nibble of pin 9: output, push-pull, 2 MHz */
    GPIOC_CRH = (GPIOC_CRH & ~(0xFu << 4u * (LED_PIN - 8u))) | (0x2u << 4u * (LED_PIN - 8u));
}

static inline void board_led_write(int on)
{
    GPIOC_BSRR = on ? (1u << LED_PIN) : (1u << (LED_PIN + 16u));
}

#endif
