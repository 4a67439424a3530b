/* Startup for the STM32F405: vector table, Reset_Handler (copies .data, zeroes
 * .bss, calls main, exits through semihosting with main's return value). */
#include <stdint.h>
#include "bsp.h"

extern uint32_t _sidata, _sdata, _edata, _sbss, _ebss, _estack;
extern int main(void);

void Reset_Handler(void);
void Default_Handler(void);
void SysTick_Handler(void);
void USART1_IRQHandler(void);

void Reset_Handler(void)
{
    const uint32_t *src = &_sidata;
    for (uint32_t *dst = &_sdata; dst < &_edata; )
        *dst++ = *src++;
    for (uint32_t *dst = &_sbss; dst < &_ebss; )
        *dst++ = 0;
    bsp_exit(main());
}

void Default_Handler(void)
{
    bsp_exit(99);
}

#define NUM_IRQS 82u /* STM32F405 */
#define USART1_IRQN 37u

__attribute__((section(".isr_vector"), used))
static void (*const vector_table[16u + NUM_IRQS])(void) = {
    [0] = (void (*)(void))&_estack,
    [1] = Reset_Handler,
    [2 ... 14] = Default_Handler, /* faults, SVCall, PendSV */
    [15] = SysTick_Handler,
    [16 ... 16u + USART1_IRQN - 1u] = Default_Handler,
    [16u + USART1_IRQN] = USART1_IRQHandler,
    [16u + USART1_IRQN + 1u ... 16u + NUM_IRQS - 1u] = Default_Handler,
};
