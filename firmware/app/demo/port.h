/* The ica_at port of the demo: USART1 through the BSP, SysTick, WFI, and the
 * log hook when DEMO_LOG_AT is 1. */
#ifndef DEMO_PORT_H
#define DEMO_PORT_H

#include "ica_at.h"

extern const ica_port_t demo_port;

#endif
