"""A throwaway certificate authority for the cloud's TLS listener (MQTT over TLS,
``AT+IMQTTMODE=1``): a CA and a server certificate for 127.0.0.1 and localhost,
made once per process with Debian's ``openssl`` and kept in a temporary directory."""

from __future__ import annotations

import atexit
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class TlsFiles:
    ca_file: Path     # what clients trust
    cert_file: Path   # the server's certificate, signed by the CA
    key_file: Path


class TlsUnavailable(RuntimeError):
    pass


_cached: TlsFiles | None = None


def local_authority() -> TlsFiles:
    """The process's CA and server certificate (EC P-256, valid 30 days)."""
    global _cached
    if _cached is not None:
        return _cached
    openssl = shutil.which("openssl")
    if openssl is None:
        raise TlsUnavailable("no `openssl` on PATH: the cloud serves MQTT without TLS")
    directory = Path(tempfile.mkdtemp(prefix="pysim-tls-"))
    atexit.register(shutil.rmtree, directory, True)
    ca_key, ca, key, csr, cert = (directory / n for n in ("ca.key", "ca.pem", "server.key", "server.csr",
                                                          "server.pem"))
    ext = directory / "san.ext"
    ext.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n")

    def run(*args: str) -> None:
        subprocess.run([openssl, *args], check=True, capture_output=True)

    curve = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    run("req", "-x509", *curve, "-keyout", str(ca_key), "-out", str(ca), "-days", "30",
        "-subj", "/CN=pysim test CA")
    run("req", *curve, "-keyout", str(key), "-out", str(csr), "-subj", "/CN=127.0.0.1")
    run("x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key), "-CAcreateserial",
        "-out", str(cert), "-days", "30", "-extfile", str(ext))
    _cached = TlsFiles(ca, cert, key)
    return _cached
