/* crash: a firmware that faults on purpose, for the crash report (docs/debugging.md).
 * Prints "BOOT crash", then after CRASH_AFTER_MS averages a batch of samples that
 * turns out to be empty: an integer division by zero, which traps (CCR.DIV_0_TRP)
 * as a UsageFault, escalated to HardFault. The BSP's fault handler prints the
 * FAULT line and exits with 99. */
#include <stdint.h>
#include "bsp.h"

#ifndef CRASH_AFTER_MS
#define CRASH_AFTER_MS 50u
#endif

#define SCB_CCR (*(volatile uint32_t *)0xE000ED14u)
#define CCR_DIV_0_TRP (1u << 4)

volatile uint32_t samples_seen; /* how many samples the batch held (none) */

__attribute__((noinline)) static uint32_t average(uint32_t sum, uint32_t count)
{
    return sum / count; /* faults here when count is 0 */
}

__attribute__((noinline)) static uint32_t report_batch(void)
{
    return average(1000u, samples_seen);
}

int main(void)
{
    bsp_init();
    SCB_CCR |= CCR_DIV_0_TRP;
    bsp_console_puts("BOOT crash\r\n");
    uint32_t start = bsp_millis();
    while (bsp_millis() - start < CRASH_AFTER_MS)
        bsp_idle();
    uint32_t mean = report_batch();
    bsp_console_puts(mean ? "DONE survived\r\n" : "DONE survived 0\r\n");
    return 1;
}
