"""Write the committed seed corpora and the AT dictionary (run from the repository root):

    python -m fuzz.make_seeds

fuzz/corpus/at_engine/: command lines made from the catalogue (fuzz/at_lines.py);
fuzz/corpus/mqtt_codec/: well-formed broker packets of every kind the client reads;
fuzz/at.dict: the libFuzzer dictionary of command names and syntax.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from fuzz.at_lines import dictionary, seed_inputs

ROOT = Path(__file__).resolve().parent
MQTT_SEEDS = [
    b"\x20\x02\x00\x00", b"\x20\x02\x00\x05", b"\x20\x02\x01\x00",
    b"\x30\x07\x00\x03/t/hello", b"\x32\x09\x00\x03/t/\x00\x07hi", b"\x34\x09\x00\x03/t/\x00\x08hi",
    b"\x40\x02\x00\x01", b"\x50\x02\x00\x02", b"\x62\x02\x00\x08", b"\x70\x02\x00\x02",
    b"\x90\x03\x00\x03\x01", b"\x90\x03\x00\x03\x80", b"\xb0\x02\x00\x04", b"\xd0\x00",
    b"\x30\xff\xff\xff\x7f", b"\x30\x80\x80\x80\x80\x01", b"\xe0\x00", b"\x00\x00",
]


def write(directory: Path, inputs: list[bytes]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for data in inputs:
        (directory / hashlib.sha1(data).hexdigest()).write_bytes(data)


def main() -> None:
    write(ROOT / "corpus" / "at_engine", seed_inputs(64))
    # the first byte of an MQTT input picks the start state and chunk size (fuzz/mqtt_harness.py)
    write(ROOT / "corpus" / "mqtt_codec", [bytes([mode]) + packet + MQTT_SEEDS[0]
                                            for mode in (1, 5) for packet in MQTT_SEEDS])
    lines = ['"' + "".join("\\x%02x" % b for b in token) + '"' for token in dictionary()]
    (ROOT / "at.dict").write_text("# libFuzzer dictionary of the AT command set (fuzz/make_seeds.py)\n"
                                  + "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
