# Host builds of the AT library (included from the Makefile): unit tests and the fuzzer.
#   make host-test                 the library's unit tests, host gcc with ASan + UBSan

HOSTCC     ?= gcc
HOST_FLAGS := -std=c99 -O1 -g -Wall -Wextra -Werror -fsanitize=address,undefined -fno-sanitize-recover=all
LIB_DIR    := lib/ica_at
LIB_FILES  := $(wildcard $(LIB_DIR)/*.c $(LIB_DIR)/*.h)

.PHONY: host-test

$(BUILD)/test_ica_at: tests/test_ica_at.c $(LIB_FILES) | $(BUILD)
	$(HOSTCC) $(HOST_FLAGS) -I$(LIB_DIR) -o $@ tests/test_ica_at.c $(LIB_DIR)/ica_at.c

host-test: $(BUILD)/test_ica_at
	$(BUILD)/test_ica_at
