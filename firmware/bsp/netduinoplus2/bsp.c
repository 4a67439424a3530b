/* Register-level BSP for the STM32F405 under QEMU (see bsp.h). */
#include "bsp.h"

#define REG32(addr) (*(volatile uint32_t *)(addr))

/* USART register offsets and bits (RM0090 §30.6) */
#define USART1_BASE 0x40011000u
#define USART2_BASE 0x40004400u
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

/* RCC: not modelled by QEMU, written anyway as real hardware needs it */
#define RCC_AHB1ENR REG32(0x40023830u)
#define RCC_APB1ENR REG32(0x40023840u)
#define RCC_APB2ENR REG32(0x40023844u)

#define GPIOA_BASE 0x40020000u
#define GPIO_MODER(b) REG32((b) + 0x00u)
#define GPIO_BSRR(b) REG32((b) + 0x18u)
#define LED_PIN 5u

#define SYST_CSR REG32(0xE000E010u)
#define SYST_RVR REG32(0xE000E014u)
#define SYST_CVR REG32(0xE000E018u)
#define CPU_HZ 168000000u /* QEMU's netduinoplus2 SYSCLK */

/* NVIC: USART1 is IRQ 37, bit 5 of the second enable/clear word */
#define NVIC_ISER1 REG32(0xE000E104u)
#define NVIC_ICER1 REG32(0xE000E184u)
#define USART1_IRQ_BIT (1u << (37u - 32u))

#define RX_RING_SIZE 2048u /* power of two */

static volatile uint8_t rx_ring[RX_RING_SIZE];
static volatile uint32_t rx_head; /* written by the ISR */
static volatile uint32_t rx_tail; /* written by the main loop */
static volatile int rx_irq_masked;
static volatile uint32_t ticks;
static int led_state;

void bsp_init(void)
{
    RCC_AHB1ENR |= 1u;         /* GPIOA */
    RCC_APB1ENR |= 1u << 17;   /* USART2 */
    RCC_APB2ENR |= 1u << 4;    /* USART1 */

    GPIO_MODER(GPIOA_BASE) = (GPIO_MODER(GPIOA_BASE) & ~(3u << (2u * LED_PIN))) | (1u << (2u * LED_PIN));
    bsp_led_set(0);

    USART_BRR(USART2_BASE) = 0x2D9u; /* 115200 at 84 MHz APB1 (ignored by QEMU) */
    USART_CR1(USART2_BASE) = CR1_UE | CR1_TE;

    USART_BRR(USART1_BASE) = 0x5B2u; /* 115200 at 168 MHz APB2 (ignored by QEMU) */
    USART_CR1(USART1_BASE) = CR1_UE | CR1_TE | CR1_RE | CR1_RXNEIE;
    NVIC_ISER1 = USART1_IRQ_BIT;

    SYST_RVR = CPU_HZ / 1000u - 1u;
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
void USART1_IRQHandler(void)
{
    while (USART_SR(USART1_BASE) & SR_RXNE) {
        uint32_t head = rx_head;
        if (head - rx_tail >= RX_RING_SIZE) {
            NVIC_ICER1 = USART1_IRQ_BIT;
            rx_irq_masked = 1;
            return;
        }
        rx_ring[head % RX_RING_SIZE] = (uint8_t)USART_DR(USART1_BASE);
        rx_head = head + 1u;
    }
}

int bsp_link_read(void)
{
    uint32_t tail = rx_tail;
    if (tail == rx_head)
        return -1;
    int byte = rx_ring[tail % RX_RING_SIZE];
    rx_tail = tail + 1u;
    if (rx_irq_masked) {
        rx_irq_masked = 0;
        NVIC_ISER1 = USART1_IRQ_BIT;
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
    uart_write(USART1_BASE, data, len);
}

void bsp_console_write(const char *data, size_t len)
{
    uart_write(USART2_BASE, (const uint8_t *)data, len);
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
    GPIO_BSRR(GPIOA_BASE) = led_state ? (1u << LED_PIN) : (1u << (LED_PIN + 16u));
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

void bsp_exit(int code)
{
    /* SYS_EXIT_EXTENDED: r0 = 0x20, r1 -> {ADP_Stopped_ApplicationExit, code} */
    static volatile uint32_t block[2];
    block[0] = 0x20026u;
    block[1] = (uint32_t)code;
    register uint32_t r0 __asm("r0") = 0x20u;
    register volatile uint32_t *r1 __asm("r1") = block;
    __asm volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
    for (;;)
        __asm volatile("wfi");
}
