"""``pysim replay``: play one side of a capture's AT UART and report every difference
on the other side.

    pysim replay run.jsonl                     # TE side -> a fresh module (with its cloud)
    pysim replay run.jsonl --firmware fw.elf   # module side -> the firmware in QEMU (no cloud)

Lockstep, not wall-clock: before each chunk of the driving side, the replayer waits
until the replayed part has produced as many bytes as it had at that point of the
capture (or has been quiet for ``--quiet`` seconds), so a module or firmware that is
slower or faster than at capture time is not a difference; only content is.

The watched side is cut into lines (CR LF framing; binary payloads stay inside their
line) and compared with the capture's; each difference is one report line:
``line 14: expected '+IMQTTSTATE:2', got '+IMQTTSTATE:0'``. Differences that come from
the cloud side (a message the cloud sent in the captured run) show up as such: the
replay does not play the cloud's part.
"""

from __future__ import annotations

import argparse
import asyncio
import difflib
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Awaitable, Callable

from pysim.capture import CaptureError, read_capture, record_bytes
from pysim.faults import FaultController
from pysim.help_formatter import HelpFormatter
from pysim.te_parser import RECEIVE_URCS, Prompt, TeParser, line_name
from pysim.trace import escape

EXIT_DIFFERENT = 1
EXIT_USAGE = 2


@dataclass
class ReplayResult:
    drove: str                     # "te2ta" (module replay) or "ta2te" (firmware replay)
    sent_bytes: int = 0
    expected_lines: list[str] = field(default_factory=list)
    got_lines: list[str] = field(default_factory=list)
    differences: list[str] = field(default_factory=list)
    stalls: int = 0                # steps where the replayed side stayed quiet short of the capture
    moved: list[str] = field(default_factory=list)   # lines that came, but elsewhere (timing, not content)

    @property
    def identical(self) -> bool:
        return not self.differences

    def report(self) -> str:
        head = (f"replay: drove {self.sent_bytes} bytes {self.drove}; "
                f"{len(self.expected_lines)} lines expected, {len(self.got_lines)} got")
        if self.moved:
            head += f"; {len(self.moved)} line(s) in another place (asynchronous, timing): " + \
                ", ".join(repr(line) for line in self.moved)
        if self.identical:
            return head + "; identical"
        return "\n".join([head + f"; {len(self.differences)} difference(s):", *self.differences])


def split_lines(data: bytes) -> list[str]:
    """The non-empty CR/LF-separated lines, as printable text."""
    lines, current = [], bytearray()
    for byte in data:
        if byte in (0x0D, 0x0A):
            if current:
                lines.append(escape(bytes(current)))
                current.clear()
        else:
            current.append(byte)
    if current:
        lines.append(escape(bytes(current)))
    return lines


def module_lines(data: bytes) -> list[str]:
    """Module output as a TE reads it (the catalogue's reading, :class:`TeParser`): a line
    per entry, a payload shown with the line that announced it, ``>`` for a prompt, and an
    unfinished tail as a last line of its own."""
    parser = TeParser()
    out = []
    for item in parser.feed(data):
        if isinstance(item, Prompt):
            out.append(">")
            continue
        text = escape(item.text.encode("latin-1"))
        if item.payload and TeParser.binary_length(item) is not None:
            text += f" [{len(item.payload)} bytes: {escape(item.payload)}]"
        out.append(text)
    return out + split_lines(parser.pending())


def diff_lines(expected: list[str], got: list[str]) -> list[str]:
    out = []
    matcher = difflib.SequenceMatcher(a=expected, b=got, autojunk=False)
    for op, a0, a1, b0, b1 in matcher.get_opcodes():
        if op == "equal":
            continue
        if op == "replace":
            for i in range(max(a1 - a0, b1 - b0)):
                want = expected[a0 + i] if a0 + i < a1 else None
                have = got[b0 + i] if b0 + i < b1 else None
                out.append(f"line {a0 + i + 1}: expected {want!r}, got {have!r}" if want is not None and have is not None
                           else f"line {a0 + i + 1}: expected {want!r}, missing" if have is None
                           else f"line {a0 + i + 1}: unexpected {have!r}")
        elif op == "delete":
            out += [f"line {i + 1}: expected {expected[i]!r}, missing" for i in range(a0, a1)]
        else:
            out += [f"line {a0 + 1}: unexpected {got[j]!r}" for j in range(b0, b1)]
    return out


class Watched:
    """Bytes the replayed side produces, with a way to wait for a count or for quiet."""

    def __init__(self) -> None:
        self.data = bytearray()
        self._changed = asyncio.Event()

    def add(self, data: bytes) -> None:
        self.data += data
        self._changed.set()

    async def reach(self, count: int, quiet: float) -> bool:
        """True once ``count`` bytes came; False after ``quiet`` s without a new byte."""
        while len(self.data) < count:
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), quiet)
            except asyncio.TimeoutError:
                return False
        return True


async def lockstep(records: list[dict], drive: str, send: Callable[[bytes], Awaitable[None]],
                   watched: Watched, *, quiet: float = 0.5, fix: Callable[[bytes], bytes] = lambda b: b,
                   mask: Callable[[bytes], bytes] = lambda b: b,
                   cloud: Callable[[dict], Awaitable[None]] | None = None) -> ReplayResult:
    """Play ``drive``-direction UART records (``fix`` applied) in lockstep with what the
    replayed side produces (compared after ``mask``); ``cloud`` plays event records."""
    result = ReplayResult(drive)
    expected = bytearray()
    for record in records:
        if record.get("link") == "event":
            if cloud is not None:
                if not await watched.reach(len(expected), quiet):
                    result.stalls += 1
                await cloud(record)
            continue
        data = record_bytes(record)
        if record["dir"] == drive:
            if not await watched.reach(len(expected), quiet):
                result.stalls += 1
            data = fix(data)
            await send(data)
            result.sent_bytes += len(data)
        else:
            expected += data
    await watched.reach(len(expected), quiet)
    await asyncio.sleep(0)      # nothing more is owed, but let a last burst land
    lines = module_lines if drive == "te2ta" else split_lines
    result.expected_lines = lines(mask(bytes(expected)))   # both sides masked alike
    result.got_lines = lines(mask(bytes(watched.data)))
    result.differences, result.moved = split_moves(result.expected_lines, result.got_lines)
    return result


# result URCs (`+CMD:<id>,<status>`), state URCs and receive URCs (with the OK that is
# their own, DECISIONS §11) come when the network says, not when the TE asks: their place
# among the other lines is timing; whether they come is content
ASYNC = re.compile(r"^\+I[A-Z]+:\d+,\d+$|^\+IMQTTSTATE:\d$")


def is_async(line: str) -> bool:
    return bool(ASYNC.match(line)) or line_name(line) in RECEIVE_URCS


def split_moves(expected: list[str], got: list[str]) -> tuple[list[str], list[str]]:
    """(differences, moved lines): the lines are compared in order without the asynchronous
    URCs; those are compared as a set (one in another place is a move, not a difference)."""
    from collections import Counter

    ordered_want, places_want = _split_async(expected)
    ordered_have, places_have = _split_async(got)
    differences = diff_lines(ordered_want, ordered_have)
    want = Counter({line: len(at) for line, at in places_want.items()})
    have = Counter({line: len(at) for line, at in places_have.items()})
    differences += [f"asynchronous line expected {line!r}, missing" for line in (want - have).elements()]
    differences += [f"asynchronous line unexpected {line!r}" for line in (have - want).elements()]
    moved = [line for line, at in places_want.items() if line in places_have and places_have[line] != at]
    return differences, moved


def _split_async(lines: list[str]) -> tuple[list[str], dict[str, list[int]]]:
    """(the other lines in order, each asynchronous line -> how many other lines came
    before each time it came); a receive URC takes the OK right after it along."""
    ordered: list[str] = []
    places: dict[str, list[int]] = {}
    i = 0
    while i < len(lines):
        line = lines[i]
        if is_async(line):
            places.setdefault(line, []).append(len(ordered))
            if line_name(line) in RECEIVE_URCS and i + 1 < len(lines) and lines[i + 1] == "OK":
                i += 1
        else:
            ordered.append(line)
        i += 1
    return ordered, places


def uart_records(path: Path | str) -> tuple[dict, list[dict]]:
    """The capture's header and its AT UART records, with the cloud's own publishes (the
    events a module replay plays back), in time order."""
    header, records = read_capture(path)
    uart = [r for r in records if r.get("link") == "uart" or is_cloud_publish(r)]
    if not any(r.get("link") == "uart" for r in uart):
        raise CaptureError(f"{path}: no AT UART records to replay")
    return header, sorted(uart, key=lambda r: r["t"])


def is_cloud_publish(record: dict) -> bool:
    """What the cloud's side did of its own accord: a message it published, an OTA image it announced."""
    if record.get("link") != "event":
        return False
    return record.get("kind") == "ota.image" or (
        record.get("kind") == "mqtt.publish" and record.get("detail", {}).get("source") == "cloud")


def capture_device(header: dict, device: tuple[str, str, str] | None) -> tuple[str, str, str]:
    from pysim.session import DEMO_DEVICE

    if device is not None:
        return device
    captured = tuple(header.get("meta", {}).get("device") or ())
    if captured and captured != DEMO_DEVICE[:2]:
        raise ValueError(f"the capture's device {'/'.join(captured)} needs --device PK:DN:SECRET")
    return DEMO_DEVICE


def unmask(secret: str | None) -> Callable[[bytes], bytes]:
    """Put the device secret back where the capture starred it."""
    if not secret:
        return lambda data: data
    stars, real = b"*" * len(secret), secret.encode("latin-1")
    return lambda data: data.replace(stars, real)


async def replay_module(path: Path | str, *, device: tuple[str, str, str] | None = None,
                        quiet: float = 0.5, module_options: dict | None = None,
                        faults: list[str] = ()) -> ReplayResult:
    """Drive a fresh module (and an in-process cloud holding ``device``) with the TE side;
    ``faults``: module fault specs to apply to it (to see what a change of behaviour does)."""
    from peripherals.ica import Faults, IcaModule, ModuleConfig
    from pysim.cloud import Cloud

    header, records = uart_records(path)
    device = capture_device(header, device)
    async with Cloud() as cloud:
        cloud.registry.add(*device)
        # the module faults the captured run had (an OTA block corrupted on its first send)
        captured = header.get("meta", {}).get("module_faults") or {}
        ota_faults = Faults(corrupt_ota_blocks=set(captured.get("corrupt_ota_blocks", ())),
                            corrupt_ota_image=bool(captured.get("corrupt_ota_image")))
        config = ModuleConfig(**{"faults": ota_faults, **(module_options or {})})
        config.use_cloud(cloud.addresses)
        module = IcaModule(config, events=cloud.events)
        controller = FaultController(module=module, events=cloud.events)
        for spec in faults:
            controller.apply(spec)
        watched = Watched()
        module.on_output = watched.add
        try:
            async def send(data: bytes) -> None:
                module.feed(data)

            async def play_cloud(record: dict) -> None:
                detail = record["detail"]
                if record["kind"] == "ota.image":
                    image = cloud.ota.add_image(detail["data"].encode("latin-1"), detail["version"])
                    await cloud.ota.announce(device[0], device[1], image)
                else:
                    await cloud.publish(detail["topic"], detail["payload"].encode("latin-1"), qos=detail.get("qos"))
            return await lockstep(records, "te2ta", send, watched, quiet=quiet, fix=unmask(device[2]),
                                  cloud=play_cloud)
        finally:
            await module.stop()


async def replay_firmware(path: Path | str, firmware: Path, *, board: str = "netduinoplus2",
                          emulator: str | None = None, quiet: float = 0.5, boot_timeout: float = 20.0,
                          device: tuple[str, str, str] | None = None) -> ReplayResult:
    """Drive the firmware with the module side of the capture (no module, no cloud)."""
    from pysim.emulators import get_emulator
    from pysim.session import BOOT_LINE

    header, records = uart_records(path)
    secret = capture_device(header, device)[2].encode("latin-1")
    emu = get_emulator(emulator)
    await emu.start(Path(firmware), board)
    reader_task = None
    try:
        assert emu.console is not None and emu.uart is not None
        await emu.console.wait_for_line(BOOT_LINE, timeout=boot_timeout)
        watched = Watched()

        async def read() -> None:
            while data := await emu.uart.reader.read(4096):
                watched.add(data)
        reader_task = asyncio.ensure_future(read())

        async def send(data: bytes) -> None:
            emu.uart.writer.write(data)
            await emu.uart.writer.drain()
        return await lockstep(records, "ta2te", send, watched, quiet=quiet,
                              mask=lambda data: data.replace(secret, b"*" * len(secret)))
    finally:
        if reader_task is not None:
            reader_task.cancel()
            await asyncio.gather(reader_task, return_exceptions=True)
        await emu.stop()


# ---- command line (registered in pysim/cli.py) ------------------------------------
def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "replay", help="replay a capture's AT UART against a module or a firmware, report differences",
        formatter_class=HelpFormatter)
    p.add_argument("capture", type=Path, help="a capture written by `pysim run --capture` (JSON lines)")
    p.add_argument("--firmware", type=Path, default=None,
                   help="drive this firmware with the module side (default: drive a module with the TE side)")
    p.add_argument("--emulator", default=None, choices=["qemu", "renode"], help="for --firmware")
    p.add_argument("--device", default=None, metavar="PK:DN:SECRET",
                   help="the device the cloud holds and whose starred secret is put back "
                        "(default: the demo device when the capture is of it)")
    p.add_argument("--fault", action="append", default=[], metavar="SPEC",
                   help="a module fault for the replayed module (docs/faults.md), repeatable")
    p.add_argument("--quiet", type=float, default=1.0,
                   help="seconds of silence after which the replayed side is taken to have said all it will")


def main(args: argparse.Namespace) -> int:
    device = None
    if args.device:
        parts = args.device.split(":", 2)
        if len(parts) != 3 or not all(parts):
            print(f"pysim replay: --device: expected PK:DN:SECRET, got {args.device!r}", file=sys.stderr)
            return EXIT_USAGE
        device = (parts[0], parts[1], parts[2])
    if not args.capture.is_file():
        print(f"pysim replay: no capture file {args.capture}", file=sys.stderr)
        return EXIT_USAGE
    try:
        if args.firmware is not None:
            if not args.firmware.is_file():
                raise FileNotFoundError(f"no firmware at {args.firmware}")
            result = asyncio.run(replay_firmware(args.capture, args.firmware, emulator=args.emulator,
                                                 quiet=args.quiet, device=device))
        else:
            result = asyncio.run(replay_module(args.capture, device=device, quiet=args.quiet, faults=args.fault))
    except (CaptureError, ValueError, FileNotFoundError) as error:
        print(f"pysim replay: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    print(result.report())
    return 0 if result.identical else EXIT_DIFFERENT
