/* Netduino 2: STM32F205RF, Cortex-M3, as QEMU's `netduino2` models it. */
#ifndef BOARD_H
#define BOARD_H

#include "stm32f2f4.h" /* USARTs, RCC, LED on PA5 */

#define BOARD_CPU_HZ 120000000u /* QEMU's netduino2 SYSCLK */
#define BOARD_NUM_IRQS 81u

/* USART1 and USART6 on APB2 (60 MHz), the rest on APB1 (30 MHz); ignored by QEMU */
#define BOARD_BRR_115200(n) (((n) == 1 || (n) == 6) ? 60000000u / 115200u : 30000000u / 115200u)

#endif
