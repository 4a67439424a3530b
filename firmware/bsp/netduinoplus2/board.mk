# Netduino Plus 2 (STM32F405RG)
BOARD_ARCH := -mcpu=cortex-m4 -mthumb -mfloat-abi=soft
BOARD_DEFS :=
