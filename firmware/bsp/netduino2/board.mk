# Netduino 2 (STM32F205RF)
BOARD_ARCH := -mcpu=cortex-m3 -mthumb -mfloat-abi=soft
BOARD_DEFS :=
