# STM32VLDISCOVERY (STM32F100RB): 8 KiB of RAM, so a smaller receive ring and
# smaller AT client buffers (the demo's commands and payloads fit in them).
BOARD_ARCH := -mcpu=cortex-m3 -mthumb -mfloat-abi=soft
BOARD_DEFS := -DBSP_RX_RING_SIZE=256 -DICA_AT_CMD_MAX=384 -DICA_AT_PAYLOAD_MAX=256 -DICA_AT_RESP_MAX=256 \
              -DICA_AT_LINE_MAX=160
