/* Startup shared by the STM32 boards: vector table (size and the link USART's
 * IRQ from board.h), Reset_Handler (copies .data, zeroes .bss, calls main, exits
 * through semihosting with main's return value), and the fault handler. */
#include <stdint.h>
#include "bsp.h"
#include "board.h"

extern uint32_t _sidata, _sdata, _edata, _sbss, _ebss, _estack;
extern int main(void);

void Reset_Handler(void);
void Default_Handler(void);
void SysTick_Handler(void);
void bsp_link_irq(void);
void bsp_fault_report(const uint32_t *frame, uint32_t exception);

void Reset_Handler(void)
{
    const uint32_t *src = &_sidata;
    for (uint32_t *dst = &_sdata; dst < &_edata; )
        *dst++ = *src++;
    for (uint32_t *dst = &_sbss; dst < &_ebss; )
        *dst++ = 0;
    bsp_exit(main());
}

/* Faults and unexpected interrupts: hands the stacked frame (MSP or PSP, from
 * EXC_RETURN bit 2) and the exception number to bsp_fault_report. */
__attribute__((naked)) void Default_Handler(void)
{
    __asm volatile(
        "tst lr, #4\n"
        "ite eq\n"
        "mrseq r0, msp\n"
        "mrsne r0, psp\n"
        "mrs r1, ipsr\n"
        "b bsp_fault_report\n");
}

#define LINK_IRQN BSP_USART_IRQ(BSP_LINK_UART)

__attribute__((section(".isr_vector"), used))
static void (*const vector_table[16u + BOARD_NUM_IRQS])(void) = {
    [0] = (void (*)(void))&_estack,
    [1] = Reset_Handler,
    [2 ... 14] = Default_Handler, /* faults, SVCall, PendSV */
    [15] = SysTick_Handler,
    [16 ... 16u + LINK_IRQN - 1u] = Default_Handler,
    [16u + LINK_IRQN] = bsp_link_irq,
    [16u + LINK_IRQN + 1u ... 16u + BOARD_NUM_IRQS - 1u] = Default_Handler,
};
