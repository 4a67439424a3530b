/* Netduino Plus 2: STM32F405RG, Cortex-M4, as QEMU's `netduinoplus2` models it. */
#ifndef BOARD_H
#define BOARD_H

#include "stm32f2f4.h" /* USARTs, RCC, LED on PA5 */

#define BOARD_CPU_HZ 168000000u /* QEMU's netduinoplus2 SYSCLK */
#define BOARD_NUM_IRQS 82u

/* USART1 and USART6 on APB2 (84 MHz), the rest on APB1 (42 MHz); ignored by QEMU */
#define BOARD_BRR_115200(n) (((n) == 1 || (n) == 6) ? 84000000u / 115200u : 42000000u / 115200u)

#endif
