"""The fleet's independent observer on Debian's ``mosquitto_sub`` (package
mosquitto-clients): the C client subscribes as the service user and prints one line a
message, ``<arrival> <topic> <payload>`` (``-F '%U %t %p'``: ``%U`` is the Unix time in
nanoseconds that mosquitto_sub took when the message arrived); a thread of ours reads
the lines and notes them (:class:`pysim.fleet.arrivals.Arrivals`). mosquitto_sub
flushes its output after every message, so a line is readable as soon as it arrives.
It costs far less CPU a message than the paho observer (``benchmarks/bench_observer.py``).

Subscribed before ``start`` returns: first ``mosquitto_pub`` publishes a retained
marker on a telemetry topic of a device that does not exist
(``/<pk>/pysim-observer-<random>/user/telemetry``), then mosquitto_sub subscribes; the
broker hands a new subscription its retained messages only after it has taken it, so
the marker's line proves the telemetry subscription is in place (with one filter, so no
other subscription to trust). mosquitto_sub clears the retained marker
(``--remove-retained``: every retained message it is handed at its subscription, which
on the fleet's fresh broker is only the marker). The marker is never counted. A client
at a time: mosquitto binds a client's identifier to its user name, so the two never
overlap. A refused login fails ``start`` with mosquitto_pub's one line.

The password is never on a command line (``/proc/<pid>/cmdline`` is readable by every
local user): both tools read their default options from ``$XDG_CONFIG_HOME/<tool>``,
which here is a 0600 file in a 0700 directory of ours, removed as soon as mosquitto_sub
is subscribed (it reads it once, at its start) and in any case by ``stop``.

mosquitto_sub is started by the reader thread and gets ``SIGKILL`` when that thread (or
the process) ends (:mod:`pysim.orphans`); ``stop`` terminates it (``SIGKILL``
after 5 s) and waits for it and the thread. Payloads are taken to be one line (the
fleet's telemetry is one-line JSON): a payload's further lines count as unparsed."""

from __future__ import annotations

import fcntl
import os
import secrets
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from pysim.orphans import killed_with_parent
from pysim.peers import host_port

from .arrivals import Arrivals, stat_cpu_s, thread_cpu_s
from .mosquitto import write_private
from .plan import PRODUCT_KEY

MOSQUITTO_SUB = "mosquitto_sub"
MARKER_PREFIX = "pysim-observer-"
STOP_GRACE = 5.0
BATCH_S = 0.01          # the reader's pause between reads: lines gather meanwhile
PIPE_BYTES = 1 << 20    # the pipe from mosquitto_sub (Linux's default limit for a pipe's size)
F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)


def mosquitto_pub_for(executable: str) -> str:
    """mosquitto_pub of the same installation as ``executable``."""
    path = Path(executable)
    return str(path.with_name("mosquitto_pub")) if path.parent != Path(".") else "mosquitto_pub"


class MosquittoSubObserver(Arrivals):
    name = "mosquitto_sub"

    def __init__(self, url: str, password: str, product_key: str = PRODUCT_KEY, qos: int = 1,
                 username: str = "service", client_id: str = "pysim-fleet-observer",
                 executable: str = MOSQUITTO_SUB) -> None:
        super().__init__(url, product_key, qos)
        if "\n" in password or "\n" in username:
            raise ValueError("the observer's user name and password must be one line")
        self.username, self._password, self.client_id = username, password, client_id
        self.executable = executable
        self.marker = f"{MARKER_PREFIX}{secrets.token_hex(6)}"
        self.proc: subprocess.Popen | None = None
        self.dir: Path | None = None
        self._thread: threading.Thread | None = None
        self._changed = threading.Event()    # subscribed (the marker came), or mosquitto_sub ended
        self._subscribed = False
        self._spawn_error: str | None = None
        self._stderr = None
        self._stopping = False

    @staticmethod
    def available(executable: str = MOSQUITTO_SUB) -> bool:
        return shutil.which(executable) is not None and shutil.which(mosquitto_pub_for(executable)) is not None

    def _address(self) -> list[str]:
        host, port = host_port(self.url)
        return ["-h", host, "-p", str(port)]

    def command(self) -> list[str]:
        """mosquitto_sub's command line (no secret in it)."""
        return [self.executable, *self._address(), "-i", self.client_id, "-q", str(self.qos), "-k", "60",
                "--nodelay", "--remove-retained", "-t", self.topic, "-F", "%U %t %p"]

    def _environment(self) -> dict[str, str]:
        # TZ: a fixed zone spares mosquitto_sub a stat of /etc/localtime twice a message (%U is UTC anyway)
        return {**os.environ, "XDG_CONFIG_HOME": str(self.dir), "TZ": "UTC0"}

    def start(self, timeout: float = 10.0) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="pysim-observer-"))     # 0700
        options = f"-u {self.username}\n-P {self._password}\n"
        for tool in ("mosquitto_sub", "mosquitto_pub"):
            write_private(self.dir / tool, options)
        try:
            self._publish_marker(timeout)
            self._stderr = tempfile.TemporaryFile()     # no name: nothing to remove
            self._thread = threading.Thread(target=self._read, name="pysim-fleet-observer", daemon=True)
            self._thread.start()
            if not self._changed.wait(timeout):
                raise ConnectionError(f"the fleet's observer (mosquitto_sub) could not subscribe on {self.url}: "
                                      f"no answer within {timeout:g} s")
            if not self._subscribed:
                raise ConnectionError(f"the fleet's observer (mosquitto_sub) could not subscribe on {self.url}: "
                                      f"{self._spawn_error or self._last_error_line()}")
        except BaseException:
            self.stop()
            raise
        finally:
            self._remove_dir()

    def _publish_marker(self, timeout: float) -> None:
        topic = f"/{self.product_key}/{self.marker}/user/telemetry"
        try:
            done = subprocess.run([mosquitto_pub_for(self.executable), *self._address(),
                                   "-i", f"{self.client_id}-marker", "-q", "1", "-r", "-t", topic, "-m", "observer ready"],
                                  env=self._environment(), stdin=subprocess.DEVNULL, capture_output=True,
                                  timeout=timeout)
        except subprocess.TimeoutExpired:
            raise ConnectionError(f"the fleet's observer could not publish its marker on {self.url}: "
                                  f"no answer within {timeout:g} s") from None
        if done.returncode != 0:
            lines = (done.stderr or done.stdout).decode(errors="replace").strip().splitlines()
            raise ConnectionError(f"the fleet's observer (mosquitto_pub) could not log in on {self.url}: "
                                  f"{_one_line(lines[0] if lines else f'exit code {done.returncode}')}")

    def _read(self) -> None:
        """The reader thread: start mosquitto_sub (it dies with this thread), note its lines."""
        try:
            self.proc = subprocess.Popen(self.command(), env=self._environment(), stdin=subprocess.DEVNULL,
                                         stdout=subprocess.PIPE, stderr=self._stderr, bufsize=0,
                                         preexec_fn=killed_with_parent)   # its output has no reader left
        except OSError as error:
            self._spawn_error = f"{self.executable}: {error.strerror or error}"
            self._changed.set()
            return
        if self._stopping:               # stop() came while it was starting
            self.proc.terminate()
        try:
            self._note_lines(self.proc.stdout.fileno())
        finally:
            self.proc.stdout.close()
            self._changed.set()

    def _note_lines(self, fd: int) -> None:
        """Read mosquitto_sub's output in batches (its arrival times are its own: reading
        late changes none) until it ends, and note each line."""
        try:
            fcntl.fcntl(fd, F_SETPIPE_SZ, PIPE_BYTES)   # room for far more than a batch
        except OSError:
            pass
        marker, note, names = self.marker.encode(), self.note, {}
        rest = b""
        while True:
            data = os.read(fd, PIPE_BYTES)
            if not data:
                break
            lines = (rest + data).split(b"\n")
            rest = lines.pop()
            for line in lines:
                try:
                    stamp, topic, payload = line.split(b" ", 2)
                    t = float(stamp)
                except ValueError:           # a payload's further line, or not ours at all
                    self.count += 1
                    self.unparsed += 1
                    continue
                parts = topic.split(b"/", 3)
                device = parts[2] if len(parts) >= 3 else b""
                name = names.get(device)
                if name is None:
                    if device.startswith(MARKER_PREFIX.encode()):
                        if device == marker:     # ours: subscribed; an older observer's: ignored
                            self._subscribed = True
                            self._changed.set()
                        continue
                    name = names[device] = device.decode(errors="replace")
                note(name, payload, t)
            if len(data) < PIPE_BYTES:
                time.sleep(BATCH_S)          # let lines gather: one wake-up a batch, not a line

    def cpu_s(self) -> float:
        """mosquitto_sub's process and the reader thread."""
        process = stat_cpu_s(f"/proc/{self.proc.pid}/stat") if self.proc is not None else 0.0
        return process + thread_cpu_s(self._thread)

    def _last_error_line(self) -> str:
        if self.proc is not None:
            try:
                self.proc.wait(STOP_GRACE)
            except subprocess.TimeoutExpired:
                pass
        code = self.proc.returncode if self.proc is not None else None
        if self._stderr is None:
            return f"exit code {code}"
        self._stderr.seek(0)
        lines = self._stderr.read().decode(errors="replace").strip().splitlines()
        return _one_line(lines[0]) if lines else f"mosquitto_sub ended with exit code {code}"

    def _remove_dir(self) -> None:
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    def stop(self) -> None:
        self._stopping = True
        proc = self.proc
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(STOP_GRACE)
            except subprocess.TimeoutExpired:
                proc.kill()
        if self._thread is not None:
            self._thread.join()
        if self.proc is not None:
            self.proc.wait()
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None
        self._remove_dir()


def _one_line(text: str) -> str:
    return text.removeprefix("Error: ").removeprefix("Connection error: ").strip()
