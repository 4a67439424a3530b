# at_swap: AT on USART2, console on USART1 (the demo's wiring swapped)
LINK_UART    := 2
CONSOLE_UART := 1
