"""Smoke tests of the firmware images themselves in QEMU (netduinoplus2).

Low-level on purpose: plain sockets, no module and no cloud. Python listens on
two free ports first; QEMU connects USART1 (-serial 0, the module link) and
USART2 (-serial 1, the debug console) to them.
"""
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

FIRMWARE = Path(__file__).resolve().parents[2] / "firmware"
TIMEOUT = 20.0

pytestmark = pytest.mark.skipif(
    shutil.which("qemu-system-arm") is None or shutil.which("arm-none-eabi-gcc") is None,
    reason="needs qemu-system-arm and arm-none-eabi-gcc",
)


def build(target: str) -> Path:
    subprocess.run(["make", "-s", "-C", str(FIRMWARE), target], check=True, capture_output=True)
    return FIRMWARE / target


def listener() -> socket.socket:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(1)
    sock.settimeout(TIMEOUT)
    return sock


class Board:
    """One QEMU instance with its link and console sockets."""

    def __init__(self, elf: Path):
        self._listeners = [listener(), listener()]
        ports = [s.getsockname()[1] for s in self._listeners]
        cmd = ["qemu-system-arm", "-M", "netduinoplus2", "-display", "none", "-monitor", "none"]
        for i, port in enumerate(ports):
            cmd += ["-chardev", f"socket,id=s{i},host=127.0.0.1,port={port},nodelay=on",
                    "-serial", f"chardev:s{i}"]
        cmd += ["-kernel", str(elf), "-semihosting-config", "enable=on,target=native"]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.link = self.console = None
        try:
            self.link, _ = self._listeners[0].accept()
            self.console, _ = self._listeners[1].accept()
        except BaseException:
            self.close()
            raise
        for sock in (self.link, self.console):
            sock.settimeout(TIMEOUT)
        self._console_buf = b""

    def console_line(self) -> bytes:
        while b"\n" not in self._console_buf:
            chunk = self.console.recv(256)
            if not chunk:
                raise EOFError(f"console closed, got {self._console_buf!r}")
            self._console_buf += chunk
        line, _, self._console_buf = self._console_buf.partition(b"\n")
        return line.rstrip(b"\r")

    def read_link(self, n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = self.link.recv(n - len(data))
            if not chunk:
                raise EOFError(f"link closed, got {data!r}")
            data += chunk
        return data

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(TIMEOUT)
        if self.proc.stderr:
            self.proc.stderr.close()
        for sock in (self.link, self.console, *self._listeners):
            if sock is not None:
                sock.close()


@pytest.fixture
def board_for():
    boards = []

    def start(target: str) -> Board:
        board = Board(build(target))
        boards.append(board)
        return board

    yield start
    for board in boards:
        board.close()


def test_uart_echo_boots_echoes_and_exits_with_code(board_for):
    board = board_for("build/uart_echo.elf")
    assert board.console_line() == b"BOOT uart-echo"
    payload = bytes(range(256)).replace(b"\r", b"").replace(b"\n", b"") + b"\r\n"
    board.link.sendall(payload)
    assert board.read_link(len(payload)) == payload
    board.link.sendall(b"EXIT 7\r")
    assert board.read_link(7) == b"EXIT 7\r"
    assert board.proc.wait(TIMEOUT) == 7


def test_demo_boots_and_starts_with_at(board_for):
    board = board_for("build/demo.elf")
    line = board.console_line()
    assert line.startswith(b"BOOT ica-demo fw=")
    assert board.read_link(3) == b"AT\r"
