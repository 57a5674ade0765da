"""Throwaway TLS material for fakes the client insists on reaching over TLS (Gemini Live: always wss)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import trustme


@dataclass(frozen=True)
class TlsFiles:
    ca_file: Path  # what the client trusts (GEMINI_CA_FILE)
    cert_file: Path  # server certificate chain for 127.0.0.1 and localhost
    key_file: Path


def make_tls_files(directory: Path) -> TlsFiles:
    """A fresh CA and a server certificate for 127.0.0.1/localhost, written as PEM under `directory`."""
    ca = trustme.CA()
    server_cert = ca.issue_cert("127.0.0.1", "localhost")
    files = TlsFiles(directory / "ca.pem", directory / "server-chain.pem", directory / "server-key.pem")
    ca.cert_pem.write_to_path(str(files.ca_file))
    server_cert.cert_chain_pems[0].write_to_path(str(files.cert_file))
    for extra in server_cert.cert_chain_pems[1:]:
        extra.write_to_path(str(files.cert_file), append=True)
    server_cert.private_key_pem.write_to_path(str(files.key_file))
    return files
