"""A throwaway certificate authority for the cloud's TLS listener (MQTT over TLS,
``AT+IMQTTMODE=1``): a CA and a server certificate for 127.0.0.1, ::1 and localhost,
made once per process with the ``cryptography`` library (EC P-256, SHA-256, valid 30
days) and kept in a private temporary directory (mode 0700, keys 0600) removed at exit."""

from __future__ import annotations

import atexit
import datetime
import ipaddress
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALID_DAYS = 30


@dataclass(frozen=True)
class TlsFiles:
    ca_file: Path     # what clients trust
    cert_file: Path   # the server's certificate, signed by the CA
    key_file: Path


class TlsUnavailable(RuntimeError):
    """No TLS files could be made (kept for callers that fall back to plain MQTT)."""


_cached: TlsFiles | None = None


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def make_authority(directory: Path) -> TlsFiles:
    """Write a new CA and a server certificate signed by it into ``directory``."""
    now = datetime.datetime.now(datetime.timezone.utc)
    validity = (now - datetime.timedelta(minutes=5), now + datetime.timedelta(days=VALID_DAYS))
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = (x509.CertificateBuilder()
               .subject_name(_name("pysim test CA")).issuer_name(_name("pysim test CA"))
               .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(validity[0]).not_valid_after(validity[1])
               .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
               .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                            content_commitment=False, key_encipherment=False,
                                            data_encipherment=False, key_agreement=False,
                                            encipher_only=False, decipher_only=False), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
               .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(_name("127.0.0.1")).issuer_name(ca_cert.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(validity[0]).not_valid_after(validity[1])
            .add_extension(x509.SubjectAlternativeName([
                x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.IPAddress(ipaddress.ip_address("::1")),
                x509.DNSName("localhost")]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))

    def write(name: str, data: bytes, mode: int) -> Path:
        path = directory / name
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        return path

    pem = serialization.Encoding.PEM
    private = dict(encoding=pem, format=serialization.PrivateFormat.PKCS8,
                   encryption_algorithm=serialization.NoEncryption())
    write("ca.key", ca_key.private_bytes(**private), 0o600)
    return TlsFiles(ca_file=write("ca.pem", ca_cert.public_bytes(pem), 0o644),
                    cert_file=write("server.pem", cert.public_bytes(pem), 0o644),
                    key_file=write("server.key", key.private_bytes(**private), 0o600))


def local_authority() -> TlsFiles:
    """The process's CA and server certificate, made on first use."""
    global _cached
    if _cached is None:
        directory = Path(tempfile.mkdtemp(prefix="pysim-tls-"))   # mode 0700
        atexit.register(shutil.rmtree, directory, True)
        _cached = make_authority(directory)
    return _cached
