"""Fuzzing of the module model: harnesses shared by the hypothesis tests (tests/fuzz) and
the coverage-guided atheris fuzzers (``make fuzz``); see docs/fuzzing.md."""
