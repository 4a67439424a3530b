/* Register-level BSP shared by the STM32 boards (see bsp.h). The USART register
 * layout (SR, DR, BRR, CR1) is the same on the F1, F2 and F4 families; the
 * board's addresses, IRQs, clock and LED come from bsp/<board>/board.h. */
#include "bsp.h"
#include "board.h"

/* USART register offsets and bits (RM0090 §30.6, RM0041 §24.6) */
#define USART_SR(b) REG32((b) + 0x00u)
#define USART_DR(b) REG32((b) + 0x04u)
#define USART_BRR(b) REG32((b) + 0x08u)
#define USART_CR1(b) REG32((b) + 0x0Cu)
#define SR_RXNE (1u << 5)
#define SR_TXE (1u << 7)
#define CR1_RE (1u << 2)
#define CR1_TE (1u << 3)
#define CR1_RXNEIE (1u << 5)
#define CR1_UE (1u << 13)

#define SYST_CSR REG32(0xE000E010u)
#define SYST_RVR REG32(0xE000E014u)
#define SYST_CVR REG32(0xE000E018u)

#define LINK_BASE BSP_USART_BASE(BSP_LINK_UART)
#define LINK_IRQN BSP_USART_IRQ(BSP_LINK_UART)
#if BSP_CONSOLE_UART
#define CONSOLE_BASE BSP_USART_BASE(BSP_CONSOLE_UART)
#endif
#if BSP_CONSOLE_UART == BSP_LINK_UART
#error "BSP_CONSOLE_UART and BSP_LINK_UART must differ"
#endif

/* NVIC enable/clear words for the link's IRQ */
#define NVIC_ISER(n) REG32(0xE000E100u + 4u * ((n) / 32u))
#define NVIC_ICER(n) REG32(0xE000E180u + 4u * ((n) / 32u))
#define LINK_IRQ_BIT (1u << (LINK_IRQN % 32u))

#ifndef BSP_RX_RING_SIZE
#define BSP_RX_RING_SIZE 2048u /* power of two; boards with little RAM set less */
#endif
#if BSP_RX_RING_SIZE & (BSP_RX_RING_SIZE - 1u)
#error "BSP_RX_RING_SIZE must be a power of two"
#endif

static volatile uint8_t rx_ring[BSP_RX_RING_SIZE];
static volatile uint32_t rx_head; /* written by the ISR */
static volatile uint32_t rx_tail; /* written by the main loop */
static volatile int rx_irq_masked;
static volatile uint32_t ticks;
static int led_state;

void bsp_init(void)
{
    board_clocks_enable(); /* RCC: not modelled by QEMU, written as real hardware needs it */
    board_led_init();
    bsp_led_set(0);

#if BSP_CONSOLE_UART
    USART_BRR(CONSOLE_BASE) = BOARD_BRR_115200(BSP_CONSOLE_UART); /* ignored by QEMU */
    USART_CR1(CONSOLE_BASE) = CR1_UE | CR1_TE;
#endif
    USART_BRR(LINK_BASE) = BOARD_BRR_115200(BSP_LINK_UART);
    USART_CR1(LINK_BASE) = CR1_UE | CR1_TE | CR1_RE | CR1_RXNEIE;
    NVIC_ISER(LINK_IRQN) = LINK_IRQ_BIT;

    SYST_RVR = BOARD_CPU_HZ / 1000u - 1u;
    SYST_CVR = 0;
    SYST_CSR = 7u; /* processor clock, interrupt, enable */
}

void SysTick_Handler(void)
{
    ticks++;
}

/* Moves one byte from DR into the ring. When the ring is full the interrupt is
 * masked in the NVIC and the byte stays in DR: QEMU then holds back further
 * bytes (back-pressure), and bsp_link_read() unmasks once there is room. */
void bsp_link_irq(void)
{
    while (USART_SR(LINK_BASE) & SR_RXNE) {
        uint32_t head = rx_head;
        if (head - rx_tail >= BSP_RX_RING_SIZE) {
            NVIC_ICER(LINK_IRQN) = LINK_IRQ_BIT;
            rx_irq_masked = 1;
            return;
        }
        rx_ring[head % BSP_RX_RING_SIZE] = (uint8_t)USART_DR(LINK_BASE);
        rx_head = head + 1u;
    }
}

int bsp_link_read(void)
{
    uint32_t tail = rx_tail;
    if (tail == rx_head)
        return -1;
    int byte = rx_ring[tail % BSP_RX_RING_SIZE];
    rx_tail = tail + 1u;
    if (rx_irq_masked) {
        rx_irq_masked = 0;
        NVIC_ISER(LINK_IRQN) = LINK_IRQ_BIT;
    }
    return byte;
}

static void uart_write(uint32_t base, const uint8_t *data, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        while (!(USART_SR(base) & SR_TXE))
            ;
        USART_DR(base) = data[i];
    }
}

void bsp_link_write(const uint8_t *data, size_t len)
{
    uart_write(LINK_BASE, data, len);
}

void bsp_console_write(const char *data, size_t len)
{
#if BSP_CONSOLE_UART
    uart_write(CONSOLE_BASE, (const uint8_t *)data, len);
#else
    (void)data;
    (void)len;
#endif
}

void bsp_console_puts(const char *s)
{
    size_t len = 0;
    while (s[len])
        len++;
    bsp_console_write(s, len);
}

uint32_t bsp_millis(void)
{
    return ticks;
}

void bsp_led_set(int on)
{
    led_state = on != 0;
    board_led_write(led_state);
}

int bsp_led_get(void)
{
    return led_state;
}

void bsp_idle(void)
{
    /* Interrupts off while checking, so a byte arriving just before WFI still
     * wakes it (a pending interrupt ends WFI even with PRIMASK set). */
    __asm volatile("cpsid i" ::: "memory");
    if (rx_tail == rx_head)
        __asm volatile("wfi");
    __asm volatile("cpsie i" ::: "memory");
}

/* Semihosting call: r0 = operation, r1 = argument. */
static uint32_t semihost(uint32_t op, const volatile void *arg)
{
    register uint32_t r0 __asm("r0") = op;
    register const volatile void *r1 __asm("r1") = arg;
    __asm volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

void bsp_exit(int code)
{
    /* SYS_EXIT_EXTENDED: r1 -> {ADP_Stopped_ApplicationExit, code} */
    static volatile uint32_t block[2];
    block[0] = 0x20026u;
    block[1] = (uint32_t)code;
    semihost(0x20u, block);
    for (;;)
        __asm volatile("wfi");
}

/* ---- fault report --------------------------------------------------------------
 * A fault or an unexpected interrupt prints one line and exits with
 * BSP_EXIT_FAULT. The line (the harness symbolizes pc and lr, see
 * docs/debugging.md):
 *   FAULT <exception> pc=0x... lr=0x... sp=0x... xpsr=0x... r0=0x... r1=0x...
 *         r2=0x... r3=0x... r12=0x... cfsr=0x... hfsr=0x... mmfar=0x... bfar=0x...
 * It goes to the console, or to the emulator's output (semihosting SYS_WRITE0)
 * when the build has no console. */

#define SCB_CFSR REG32(0xE000ED28u)
#define SCB_HFSR REG32(0xE000ED2Cu)
#define SCB_MMFAR REG32(0xE000ED34u)
#define SCB_BFAR REG32(0xE000ED38u)

static char *put_str(char *out, const char *s)
{
    while (*s)
        *out++ = *s++;
    return out;
}

static char *put_hex(char *out, const char *name, uint32_t value)
{
    static const char digits[] = "0123456789abcdef";
    out = put_str(out, name);
    out = put_str(out, "=0x");
    for (int shift = 28; shift >= 0; shift -= 4)
        *out++ = digits[(value >> shift) & 0xFu];
    return out;
}

static const char *exception_name(uint32_t number)
{
    switch (number) {
    case 2: return "NMI";
    case 3: return "HardFault";
    case 4: return "MemManage";
    case 5: return "BusFault";
    case 6: return "UsageFault";
    default: return "unexpected-interrupt";
    }
}

/* frame: the stacked r0-r3, r12, lr, pc, xpsr of the interrupted code */
void bsp_fault_report(const uint32_t *frame, uint32_t exception)
{
    static char line[256];
    static const char *const names[] = {"r0", "r1", "r2", "r3", "r12"};
    char *out = put_str(line, "FAULT ");
    out = put_str(out, exception_name(exception));
    out = put_hex(out, " exception", exception);
    out = put_hex(out, " pc", frame[6]);
    out = put_hex(out, " lr", frame[5]);
    out = put_hex(out, " sp", (uint32_t)(frame + 8));
    out = put_hex(out, " xpsr", frame[7]);
    for (unsigned i = 0; i < 5; i++) {
        *out++ = ' ';
        out = put_hex(out, names[i], frame[i]);
    }
    out = put_hex(out, " cfsr", SCB_CFSR);
    out = put_hex(out, " hfsr", SCB_HFSR);
    out = put_hex(out, " mmfar", SCB_MMFAR);
    out = put_hex(out, " bfar", SCB_BFAR);
    out = put_str(out, "\r\n");
    *out = '\0';
#if BSP_CONSOLE_UART
    bsp_console_write(line, (size_t)(out - line));
#else
    semihost(0x04u, line); /* SYS_WRITE0 */
#endif
    bsp_exit(BSP_EXIT_FAULT);
}
