"""The embedded default's local certificate authority and one signing certificate per agency.

A signed PDF proves itself only against a certificate someone trusts. A deployment uses its
agencies' real certificates (issued under the national root); the embedded default makes its
own: a local CA, then, the first time an agency signs, a certificate for that agency issued by
the CA. All live under `<data>/pki/` (private keys 0600, folders 0700); `ca.pem` is the trust
root `motcua verify-document` checks against. Keys are ECDSA P-256: quick to make, and
accepted by PAdES readers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from activities.keyfiles import KeyFileError, create_once, read_limited

PKI_FOLDER = "pki"
CA_KEY, CA_CERT = "ca.key.pem", "ca.pem"
AGENCIES = "agencies"
CA_YEARS, AGENCY_YEARS = 20, 5

_AGENCY_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
"""Agency codes (`000.00.19.H26`) name certificate files: no separators, no `..`."""

COMMON_NAME_BYTES = 64
"""RFC 5280's ub-common-name, which `cryptography` counts in UTF-8 bytes (and refuses beyond)."""
ORGANIZATION_NAME_CHARACTERS = 64
"""RFC 5280's ub-organization-name, in characters."""
DESCRIPTION = x509.ObjectIdentifier("2.5.4.13")
"""X.520's `description` attribute (up to 1024 characters): where a longer name is kept whole."""


@dataclass(frozen=True)
class Credentials:
    """What signing needs: the agency's key and certificate, and the chain up to the root."""

    key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate
    chain: tuple[x509.Certificate, ...]


class LocalCA:
    """The local CA of one data folder; issues agency certificates on first use."""

    def __init__(self, data_dir: Path) -> None:
        self.folder = data_dir / PKI_FOLDER

    @property
    def root_path(self) -> Path:
        """The trust root's certificate (PEM), present once anything was signed."""
        return self.folder / CA_CERT

    def root(self) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
        """The CA's key and certificate, made on first use."""
        create_once(self.folder, _make_ca, CA_KEY)
        return _load_key(self.folder / CA_KEY), load_certificate(self.folder / CA_CERT)

    def agency(self, code: str, name: str) -> Credentials:
        """The signing credentials of agency `code`, its certificate issued on first use."""
        if not _AGENCY_CODE.match(code) or ".." in code:
            raise ValueError(f"agency code {code!r} cannot name a certificate file")
        ca_key, ca_cert = self.root()
        folder = self.folder / AGENCIES
        key_name, cert_name = f"{code}.key.pem", f"{code}.pem"

        def make() -> dict[str, tuple[bytes, int]]:
            key, cert = _issue(ca_key, ca_cert, code, name)
            return {key_name: (_key_pem(key), 0o600), cert_name: (_cert_pem(cert), 0o644)}

        create_once(folder, make, key_name)
        return Credentials(
            key=_load_key(folder / key_name),
            certificate=load_certificate(folder / cert_name),
            chain=(ca_cert,),
        )


def load_certificate(path: Path) -> x509.Certificate:
    """A PEM certificate; a file that is not one raises ValueError or KeyFileError."""
    return x509.load_pem_x509_certificate(read_limited(path))


def agency_of(certificate: x509.Certificate) -> tuple[str, str]:
    """(name, code) of the agency a certificate was issued to, as `_issue` writes them."""
    subject = certificate.subject

    def first(oid: x509.ObjectIdentifier) -> str:
        found = subject.get_attributes_for_oid(oid)
        return str(found[0].value) if found else ""

    name = first(DESCRIPTION) or first(NameOID.ORGANIZATION_NAME)
    return name or first(NameOID.COMMON_NAME), first(NameOID.ORGANIZATIONAL_UNIT_NAME)


def bounded(text: str, limit: int, *, utf8: bool) -> str:
    """`text` cut at a character boundary to `limit` UTF-8 bytes (`utf8`) or characters, with
    `…` marking a cut: a Vietnamese agency name is often longer than x509 lets a name be."""

    def size(value: str) -> int:
        return len(value.encode()) if utf8 else len(value)

    if size(text) <= limit:
        return text
    while text and size(text + "…") > limit:
        text = text[:-1]
    return text.rstrip(" ,;:–-") + "…"


def _make_ca() -> dict[str, tuple[bytes, int]]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "motcua"),
            x509.NameAttribute(NameOID.COMMON_NAME, "motcua local CA"),
        ]
    )
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365 * CA_YEARS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .sign(key, hashes.SHA256())
    )
    return {CA_KEY: (_key_pem(key), 0o600), CA_CERT: (_cert_pem(cert), 0o644)}


def _issue(
    ca_key: ec.EllipticCurvePrivateKey, ca_cert: x509.Certificate, code: str, name: str
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = name or code
    attributes = [
        x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
        x509.NameAttribute(
            NameOID.ORGANIZATION_NAME, bounded(name, ORGANIZATION_NAME_CHARACTERS, utf8=False)
        ),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, code),
        x509.NameAttribute(NameOID.COMMON_NAME, bounded(name, COMMON_NAME_BYTES, utf8=True)),
    ]
    if len(name) > ORGANIZATION_NAME_CHARACTERS:
        # X.520's description (up to 1024 characters) keeps the whole name for the verifier.
        attributes.append(x509.NameAttribute(DESCRIPTION, name))
    subject = x509.Name(attributes)
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365 * AGENCY_YEARS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    return key, cert


def _load_key(path: Path) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key(read_limited(path), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise KeyFileError(f"{path}: not an elliptic-curve private key")
    return key


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)
