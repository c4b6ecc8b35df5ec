"""Signed PDFs of the documents a citizen keeps: the receipt and the result.

The HTML a form renders to stays the preview; for these kinds the same HTML is also printed to
PDF with WeasyPrint, with a verification block added at the foot of the page (the dossier's
code, its public status URL and a QR code of that URL), then signed PAdES-style with pyHanko
by the issuing agency's certificate (`activities.pki`). Anyone holding the trust root can
check offline who issued the document and that not a byte changed: `motcua verify-document`.

Templates come from procedure authors: WeasyPrint is given a URL fetcher that loads nothing
but `data:` URLs, so a template cannot pull a local file or a remote page into a PDF.
"""

from __future__ import annotations

import base64
import io
import os
import threading
from pathlib import Path
from urllib.parse import quote

from markupsafe import escape

from activities.payloads import RenderForm
from activities.pki import Credentials, LocalCA
from procedures.models import FormKind

PUBLIC_URL = os.environ.get("MOTCUA_PUBLIC_URL", "http://localhost:8000").rstrip("/")
"""Base URL of the public web app; a dossier's status page is `<PUBLIC_URL>/tra-cuu/<code>`."""

FONTS_CSS = """
body { font-family: "Times New Roman", "DejaVu Serif", "Noto Serif", serif; }
table.motcua-proof { margin-top: 10mm; border-top: 1px solid #000; font-size: 10pt;
                     width: 100%; page-break-inside: avoid; }
table.motcua-proof td { vertical-align: middle; padding: 3mm 3mm 0 0; }
table.motcua-proof img { width: 26mm; height: 26mm; }
table.motcua-proof .url { white-space: nowrap; }
"""
"""Vietnamese needs a font with its diacritics: Debian's DejaVu (fonts-dejavu-core) or Noto
(fonts-noto-core) come after the templates' Times New Roman, which Debian does not ship."""

_LOCK = threading.Lock()
"""WeasyPrint (Pango, fontconfig) is not documented as thread-safe: one PDF at a time."""


def status_url(dossier_code: str, base: str = PUBLIC_URL) -> str:
    """The dossier's public status page, which the QR code on its documents opens."""
    return f"{base.rstrip('/')}/tra-cuu/{quote(dossier_code, safe='')}"


def proof_block(dossier_code: str, agency_name: str, url: str) -> str:
    """The verification block printed at the foot of a signed document (escaped HTML)."""
    import segno

    svg = segno.make(url, error="m").svg_inline(scale=4, border=2)
    qr = base64.b64encode(svg.encode()).decode()
    return (
        '<table class="motcua-proof"><tr>'
        f'<td><img src="data:image/svg+xml;base64,{qr}" alt="QR"></td>'
        "<td>"
        f"Mã tra cứu hồ sơ: <b>{escape(dossier_code)}</b><br>"
        f'Tra cứu tình trạng hồ sơ: <span class="url">{escape(url)}</span><br>'
        f"Văn bản điện tử được ký số bởi {escape(agency_name)}. "
        "Kiểm tra chữ ký: <code>motcua verify-document</code>."
        "</td></tr></table>"
    )


def with_proof(html: str, block: str) -> str:
    """`html` with `block` at the end of its body (or appended if it has no `</body>`)."""
    at = html.lower().rfind("</body>")
    return html + block if at < 0 else html[:at] + block + html[at:]


def render_pdf(html: str) -> bytes:
    """Print `html` to PDF; nothing outside `data:` URLs is loaded."""
    from weasyprint import CSS, HTML
    from weasyprint.urls import URLFetcher

    fetch = URLFetcher(allowed_protocols={"data"})
    with _LOCK:
        return bytes(
            HTML(string=html, url_fetcher=fetch).write_pdf(stylesheets=[CSS(string=FONTS_CSS)])
        )


def sign_pdf(pdf: bytes, credentials: Credentials, reason: str, location: str) -> bytes:
    """Sign `pdf` PAdES-style (CAdES detached, SHA-256) with the agency's credentials."""
    from asn1crypto import keys as asn1_keys
    from asn1crypto import x509 as asn1_x509
    from cryptography.hazmat.primitives import serialization
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    der = serialization.Encoding.DER
    key = asn1_keys.PrivateKeyInfo.load(
        credentials.key.private_bytes(
            der, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    cert = asn1_x509.Certificate.load(credentials.certificate.public_bytes(der))
    chain = [asn1_x509.Certificate.load(c.public_bytes(der)) for c in credentials.chain]
    signer = signers.SimpleSigner(
        signing_cert=cert, signing_key=key, cert_registry=SimpleCertificateStore.from_certs(chain)
    )
    meta = signers.PdfSignatureMetadata(
        field_name="motcua",
        md_algorithm="sha256",
        subfilter=fields.SigSeedSubFilter.PADES,
        reason=reason,
        location=location,
    )
    out = signers.PdfSigner(meta, signer).sign_pdf(IncrementalPdfFileWriter(io.BytesIO(pdf)))
    return bytes(out.getbuffer())


class SignedCopies:
    """Signed PDF copies of the forms a citizen keeps, by the issuing agency of one data folder."""

    KINDS = frozenset({FormKind.RECEIPT, FormKind.RESULT})

    def __init__(self, data_dir: Path, public_url: str = PUBLIC_URL) -> None:
        self.ca = LocalCA(data_dir)
        self.public_url = public_url

    def make(self, request: RenderForm, html: str) -> bytes:
        """The signed PDF of a rendered form: the HTML, the verification block, the signature.

        The signer is the agency the form names as its issuer (`dossier.agency` of the
        context), else the receiving agency the dossier code starts with.
        """
        dossier = request.context.get("dossier")
        agency = dossier.get("agency") if isinstance(dossier, dict) else None
        agency = agency if isinstance(agency, dict) else {}
        code = str(agency.get("code") or request.dossier_code.rsplit("-", 2)[0])
        name = str(agency.get("name") or code)
        url = status_url(request.dossier_code, self.public_url)
        pdf = render_pdf(with_proof(html, proof_block(request.dossier_code, name, url)))
        reason = f"{request.form.title} – hồ sơ {request.dossier_code}"
        return sign_pdf(pdf, self.ca.agency(code, name), reason=reason, location=name)
