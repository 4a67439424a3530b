/* crash: a firmware that faults on purpose, for the crash report (docs/debugging.md).
 * Prints "BOOT crash", answers nothing, and after CRASH_AFTER_MS reads a sensor
 * register at an address where nothing is mapped: a bus fault, escalated to
 * HardFault. The BSP's fault handler prints the FAULT line and exits with 99. */
#include "bsp.h"

#ifndef CRASH_AFTER_MS
#define CRASH_AFTER_MS 50u
#endif

#define SENSOR_REG ((volatile uint32_t *)0x60000000u) /* external memory bank: nothing there */

volatile uint32_t last_sample; /* read by the debugger test */

__attribute__((noinline)) static uint32_t read_sensor(void)
{
    return *SENSOR_REG; /* faults here */
}

__attribute__((noinline)) static void sample(void)
{
    last_sample = read_sensor() + 1u;
}

int main(void)
{
    bsp_init();
    bsp_console_puts("BOOT crash\r\n");
    uint32_t start = bsp_millis();
    while (bsp_millis() - start < CRASH_AFTER_MS)
        bsp_idle();
    sample();
    bsp_console_puts("DONE survived\r\n");
    return 1;
}
