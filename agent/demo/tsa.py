"""The demo's RFC 3161 timestamp authority on loopback, answered by ``openssl ts -reply``.

The demo PKI's issuing CA issues a timestamping certificate (extended key usage
id-kp-timeStamping, critical, as RFC 3161 requires) that names the demo's CRL and OCSP
responder like the other demo certificates, and records it in the responder's database, so a
verifier that wants revocation data for the timestamp (PAdES-B-LT) finds it. ``POST /tsa`` with an
``application/timestamp-query`` body is answered by a real ``openssl ts -reply`` run once per
request; a small HTTP server bound to 127.0.0.1 only carries it, on a daemon thread of the
process that started it (it ends with its owner at the latest; ``stop()`` ends it sooner).

For the demo (``kyso-agent demo``) and the tests only.
"""

from __future__ import annotations

import datetime as dt
import http.server
import logging
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from agent.demo.ocsp_index import record_issued
from agent.demo.pki import PkiUrls, TestCA, urls_of, with_revocation_urls
from agent.errors import KysoError
from agent.files import atomic_write

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
MAX_QUERY_BYTES = 16 * 1024  # a timestamp query is ~60 bytes
OPENSSL_TIMEOUT_SECONDS = 10.0
TSA_POLICY_OID = "1.3.6.1.4.1.59999.1.3"  # the demo's own policy arc (never a real CA's)


def ensure_tsa_certificate(ca_dir: Path) -> tuple[Path, Path]:
    """``tsa.pem``/``tsa.key`` in the demo CA directory, issued by the issuing CA once, and
    recorded in the demo responder's database. A certificate made by an older version without
    the revocation addresses the demo PKI now has is issued again (new key): B-LT signatures
    stamped with it could never carry the timestamp's revocation data."""
    cert_path, key_path = ca_dir / "tsa.pem", ca_dir / "tsa.key"
    ca = TestCA.load(ca_dir)
    urls = urls_of(ca.issuing_cert)
    if cert_path.exists() and key_path.exists():
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        if urls is None or _names_revocation(cert):
            record_issued(ca, [(cert, False)])
            return cert_path, key_path
    cert, key_pem = _issue(ca, urls)
    # The key first: a stop in between leaves the old certificate, which is issued again.
    atomic_write(key_path, key_pem, overwrite=True, mode=0o600)
    atomic_write(cert_path, cert.public_bytes(serialization.Encoding.PEM), overwrite=True)
    record_issued(ca, [(cert, False)])
    return cert_path, key_path


def _names_revocation(cert: x509.Certificate) -> bool:
    try:
        cert.extensions.get_extension_for_class(x509.CRLDistributionPoints)
    except x509.ExtensionNotFound:
        return False
    return True


def _issue(ca: TestCA, urls: PkiUrls | None) -> tuple[x509.Certificate, bytes]:
    """A timestamping certificate and its key (PEM), with CRL DP and AIA (OCSP, caIssuers)
    on ``urls`` when the demo has a responder."""
    issuer, issuer_key = ca.issuing_cert, ca.issuing_key
    key = rsa.generate_private_key(65537, 2048)
    now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    builder = (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Kyso Test PKI"),
                    x509.NameAttribute(NameOID.COMMON_NAME, "Kyso Test Timestamp Authority"),
                ]
            )
        )
        .issuer_name(issuer.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(min(issuer.not_valid_after_utc, now + dt.timedelta(days=3650)))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, False, False, False, False),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
            critical=False,
        )
    )
    if urls is not None:
        builder = with_revocation_urls(builder, urls)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return builder.sign(issuer_key, hashes.SHA256()), key_pem


def _config(ca_dir: Path, work: Path) -> Path:
    cert, key = ensure_tsa_certificate(ca_dir)
    serial = work / "tsaserial"
    serial.write_text("01\n")
    config = work / "tsa.cnf"
    config.write_text(
        "[ tsa ]\n"
        "default_tsa = kyso_demo_tsa\n"
        "[ kyso_demo_tsa ]\n"
        f"serial = {serial}\n"
        "crypto_device = builtin\n"
        f"signer_cert = {cert}\n"
        f"certs = {ca_dir / 'chain.pem'}\n"
        f"signer_key = {key}\n"
        "signer_digest = sha256\n"
        f"default_policy = {TSA_POLICY_OID}\n"
        "digests = sha1, sha256, sha384, sha512\n"
        "accuracy = secs:1\n"
        "ordering = yes\n"
        "tsa_name = yes\n"
        "ess_cert_id_chain = no\n"
        "ess_cert_id_alg = sha256\n"
    )
    return config


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:
        declared = self.headers.get("Content-Length") or ""
        length = int(declared) if declared.isdigit() else 0
        if self.path != "/tsa" or not 0 < length <= MAX_QUERY_BYTES:
            self._send(400, b"bad request\n", "text/plain")
            return
        query = self.rfile.read(length)
        reply = self.server.answer(query)
        if reply is None:
            self._send(500, b"timestamping failed\n", "text/plain")
        else:
            self._send(200, reply, "application/timestamp-reply")

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        log.debug("tsa: " + format, *args)


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int, config: Path, work: Path, openssl: str) -> None:
        super().__init__((LOOPBACK, port), _Handler)
        self.config = config
        self.work = work
        self.openssl = openssl
        self.lock = threading.Lock()  # one openssl at a time: the serial file is shared

    def answer(self, query: bytes) -> bytes | None:
        with self.lock, tempfile.TemporaryDirectory(dir=self.work) as tmp:
            query_file, reply_file = Path(tmp) / "q.tsq", Path(tmp) / "r.tsr"
            query_file.write_bytes(query)
            try:
                subprocess.run(
                    [
                        self.openssl,
                        "ts",
                        "-reply",
                        "-config",
                        str(self.config),
                        "-queryfile",
                        str(query_file),
                        "-out",
                        str(reply_file),
                    ],
                    capture_output=True,
                    timeout=OPENSSL_TIMEOUT_SECONDS,
                    check=True,
                )
                return reply_file.read_bytes()
            except (subprocess.SubprocessError, OSError):
                log.warning("openssl ts -reply failed", exc_info=True)
                return None


class TimestampAuthority:
    """The demo TSA on ``http://127.0.0.1:PORT/tsa``; ``port=0`` picks a free port."""

    def __init__(self, ca_dir: Path, port: int = 0) -> None:
        openssl = shutil.which("openssl")
        if openssl is None:
            raise KysoError(
                "INTERNAL_ERROR", {"detail": "the demo timestamp authority needs openssl"}
            )
        self._work = Path(tempfile.mkdtemp(prefix="kyso-tsa-"))
        self._server = _Server(port, _config(ca_dir, self._work), self._work, openssl)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="kyso-demo-tsa", daemon=True
        )

    @property
    def url(self) -> str:
        """Where to send timestamp queries."""
        return f"http://{LOOPBACK}:{self._server.server_address[1]}/tsa"

    def start(self) -> TimestampAuthority:
        """Start answering; returns self."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop answering and remove the working files."""
        self._server.shutdown()
        self._server.server_close()
        shutil.rmtree(self._work, ignore_errors=True)

    def __enter__(self) -> TimestampAuthority:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
