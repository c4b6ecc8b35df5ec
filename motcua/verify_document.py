"""Checking a signed PDF offline: who signed it, when, and whether a byte changed since.

A document passes only if it carries exactly one signature, the signature is intact (the
signed bytes hash to what was signed), it covers the whole file (nothing appended after
signing, not even an incremental update a PDF reader would accept), and the signer's
certificate chains to the trust root: the local CA of the data folder, or a root given.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from activities.pki import agency_of

VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")

MAX_PDF = 50 * 1024 * 1024
"""A receipt or a result is some tens of kilobytes; a file over this is not one of ours."""


class DocumentError(Exception):
    """The file cannot be checked at all (unreadable, too big, not a PDF)."""


@dataclass
class DocumentCheck:
    """What the check found; `ok` only when nothing is wrong."""

    agency: str | None = None
    agency_code: str | None = None
    signed_at: datetime | None = None
    modified: bool = False
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def lines(self) -> list[str]:
        """The report: signer, time, modification, verdict."""
        out = []
        if self.agency is not None:
            out.append(f"signed by: {self.agency} ({self.agency_code or 'no agency code'})")
        if self.signed_at is not None:
            at = self.signed_at.astimezone(VIETNAM).isoformat(sep=" ", timespec="seconds")
            out.append(f"signed at: {at}")
        out.append(f"modified after signing: {'YES' if self.modified else 'no'}")
        out += [f"REFUSED {problem}" for problem in self.problems]
        out.append("valid" if self.ok else "NOT valid")
        return out


def read_pdf(path: Path) -> bytes:
    """The file's bytes, refusing what is too big or not a PDF at all."""
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_PDF + 1)
    except OSError as err:
        raise DocumentError(f"{path}: {err.strerror or err}") from err
    if len(data) > MAX_PDF:
        raise DocumentError(f"{path}: larger than {MAX_PDF // (1024 * 1024)} MiB")
    if not data.startswith(b"%PDF-"):
        raise DocumentError(f"{path}: not a PDF file")
    return data


async def check(data: bytes, root: x509.Certificate) -> DocumentCheck:
    """Validate the signature of the PDF `data` against the trust root `root`."""
    from asn1crypto import x509 as asn1_x509
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import async_validate_pdf_signature
    from pyhanko.sign.validation.status import SignatureCoverageLevel
    from pyhanko_certvalidator import ValidationContext

    result = DocumentCheck()
    trust = asn1_x509.Certificate.load(root.public_bytes(serialization.Encoding.DER))
    try:
        signatures = PdfFileReader(io.BytesIO(data), strict=False).embedded_signatures
    except Exception as err:  # pyHanko raises many kinds on a damaged file
        result.modified = True
        result.problems.append(f"the PDF no longer parses ({type(err).__name__})")
        return result
    if len(signatures) != 1:
        result.problems.append(f"{len(signatures)} signatures, expected exactly one")
        return result
    try:
        status = await async_validate_pdf_signature(
            signatures[0], ValidationContext(trust_roots=[trust], allow_fetching=False)
        )
    except Exception as err:  # a damaged signature dictionary or CMS structure
        result.modified = True
        result.problems.append(f"the signature cannot be read ({type(err).__name__})")
        return result
    certificate = x509.load_der_x509_certificate(status.signing_cert.dump())
    result.agency, result.agency_code = agency_of(certificate)
    result.signed_at = status.signer_reported_dt
    if not status.intact:
        result.modified = True
        result.problems.append("the signed bytes do not match the signature")
    elif not status.valid:
        result.problems.append("the signature does not verify with the signer's certificate")
    elif not status.trusted:
        result.problems.append("the signer's certificate does not chain to the trust root")
    if status.coverage != SignatureCoverageLevel.ENTIRE_FILE:
        result.modified = True
        result.problems.append("bytes were added after the signature")
    return result
