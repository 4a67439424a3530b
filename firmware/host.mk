# Host builds of the AT library (included from the Makefile): unit tests and the fuzzer.
#   make host-test                  the library's unit tests, host gcc with ASan + UBSan
#   make fuzz [FUZZ_SECONDS=60]     libFuzzer (clang) with ASan + UBSan on module-side bytes,
#                                   seeded from fuzz/corpus; prints the inputs executed
#        [FUZZ_RUNS=N FUZZ_SEED=S]  a fixed number of runs with a fixed seed (CI's short pass)

HOSTCC     ?= gcc
FUZZCC     ?= clang
HOST_FLAGS := -std=c99 -O1 -g -Wall -Wextra -Werror -fsanitize=address,undefined -fno-sanitize-recover=all
LIB_DIR    := lib/ica_at
LIB_FILES  := $(wildcard $(LIB_DIR)/*.c $(LIB_DIR)/*.h)

FUZZ_SECONDS ?= 60
FUZZ_RUNS    ?=
FUZZ_SEED    ?= 0
# new inputs the fuzzer finds go here, never into the committed seeds; a crashing input to FUZZ_CRASH<sha1>
FUZZ_WORK    ?= $(BUILD)/fuzz-corpus
FUZZ_CRASH   ?= $(BUILD)/fuzz-crash-

.PHONY: host-test fuzz

$(BUILD)/test_ica_at: tests/test_ica_at.c $(LIB_FILES) | $(BUILD)
	$(HOSTCC) $(HOST_FLAGS) -I$(LIB_DIR) -o $@ tests/test_ica_at.c $(LIB_DIR)/ica_at.c

host-test: $(BUILD)/test_ica_at
	$(BUILD)/test_ica_at

$(BUILD)/fuzz_ica_at: fuzz/fuzz_ica_at.c $(LIB_FILES) | $(BUILD)
	@command -v $(FUZZCC) >/dev/null || { echo "fuzz: needs clang with libFuzzer (make deps installs clang libclang-rt-dev)"; exit 1; }
	$(FUZZCC) $(filter-out -Werror,$(HOST_FLAGS)) -Werror -fsanitize=fuzzer -I$(LIB_DIR) -o $@ \
	    fuzz/fuzz_ica_at.c $(LIB_DIR)/ica_at.c

fuzz: $(BUILD)/fuzz_ica_at
	@mkdir -p $(FUZZ_WORK) $(dir $(FUZZ_CRASH))
	@start=$$(date +%s); \
	  $(BUILD)/fuzz_ica_at -max_total_time=$(FUZZ_SECONDS) $(if $(FUZZ_RUNS),-runs=$(FUZZ_RUNS)) -seed=$(FUZZ_SEED) \
	    -timeout=10 -max_len=4096 -print_final_stats=1 -artifact_prefix=$(FUZZ_CRASH) $(FUZZ_WORK) fuzz/corpus \
	    > $(BUILD)/fuzz.log 2>&1; rc=$$?; \
	  runs=$$(sed -n 's/^stat::number_of_executed_units: *//p' $(BUILD)/fuzz.log); \
	  if [ $$rc -ne 0 ]; then tail -40 $(BUILD)/fuzz.log; echo "fuzz_ica_at: FAILED after $${runs:-?} inputs (log: $(BUILD)/fuzz.log)"; exit 1; fi; \
	  echo "fuzz_ica_at: $$runs inputs executed, 0 failures in $$(( $$(date +%s) - start )) s (seed $(FUZZ_SEED), corpus $$(ls $(FUZZ_WORK) | wc -l) + $$(ls fuzz/corpus | wc -l) seeds)"
