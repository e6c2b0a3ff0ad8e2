"""Printable A4 posters: the entry QR for the door, the tracing code for the safe.

One layout, drawn once with reportlab into a PDF; the PNG is that PDF
rendered by PDFium (pypdfium2), so what is tested by decoding the PNG is
exactly what the printer gets. The entry QR is 16 × 16 cm (the issue asks at
least 15 cm so phones read it from a distance); every text is printed in each
of the deployment's languages (the first one larger), with a font that has
Vietnamese diacritics (DejaVu Sans).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import qrcode
import qrcode.constants
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import cm, mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas

from bluezone.i18n import N_, _, active_languages
from bluezone.i18n import text as i18n_text

#: Side of the QR symbol itself (finder pattern to finder pattern), quiet zone excluded.
ENTRY_QR_SIZE = 16 * cm
TRACING_QR_SIZE = 12 * cm
QUIET_ZONE = 4
FONT_CANDIDATES = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/local/share/fonts/DejaVuSans.ttf",
    "/Library/Fonts/DejaVuSans.ttf",
]
FONT = "BluezoneSans"


class PosterError(RuntimeError):
    """The poster cannot be drawn (no font with Vietnamese glyphs)."""


def _register_font() -> None:
    if FONT in pdfmetrics.getRegisteredFontNames():
        return
    for path in FONT_CANDIDATES:
        if Path(path).exists():
            pdfmetrics.registerFont(TTFont(FONT, path))
            return
    raise PosterError(_("No DejaVu Sans font found (needed for Vietnamese text); "
                        "install it, e.g. 'apt-get install fonts-dejavu-core'"))


def qr_matrix(text: str) -> list[list[bool]]:
    """The module matrix (with a 4-module quiet zone), error correction M."""
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=QUIET_ZONE)
    qr.add_data(text)
    qr.make(fit=True)
    return qr.get_matrix()


def _draw_qr(c: canvas.Canvas, text: str, top: float, symbol: float) -> float:
    """Draw a QR whose symbol (without quiet zone) is ``symbol`` wide, centred,
    its quiet zone starting at ``top``; returns the bottom y."""
    matrix = qr_matrix(text)
    n = len(matrix)
    module = symbol / (n - 2 * QUIET_ZONE)
    size = module * n
    x, y = (A4[0] - size) / 2, top - size
    c.setFillColorRGB(1, 1, 1)
    c.rect(x, y, size, size, stroke=0, fill=1)
    c.setFillColorRGB(0, 0, 0)
    for row, cells in enumerate(matrix):
        for col, dark in enumerate(cells):
            if dark:
                # slight overlap avoids hairline gaps between modules in some viewers
                c.rect(x + col * module, y + size - (row + 1) * module, module * 1.02, module * 1.02,
                       stroke=0, fill=1)
    return y


def _centred(c: canvas.Canvas, text: str, y: float, size: float) -> None:
    c.setFont(FONT, size)
    width = A4[0]
    while pdfmetrics.stringWidth(text, FONT, size) > width - 2 * cm and size > 6:
        size -= 0.5
        c.setFont(FONT, size)
    c.drawCentredString(width / 2, y, text)


@dataclass(frozen=True, slots=True)
class PosterText:
    name: str
    address: str
    room: str = ""
    validity: str = ""


ENTRY_TITLE = N_("Scan to check in with Bluezone")
ENTRY_HELP = [
    N_("Your check-in stays on your phone. The venue does not learn who you are."),
    N_("No smartphone? Please sign the visitor log at the reception."),
]
TRACING_TITLE = N_("TRACING CODE — KEEP SECRET, DO NOT DISPLAY")
TRACING_HELP = [
    N_("Use only when the health authority asks to trace this venue."),
    N_("Lost: tracing is impossible. Leaked: the authority's part is still needed."),
]


def _in_each_language(msgid: str) -> list[str]:
    """One line per deployment language (the same text once)."""
    lines: list[str] = []
    for language in active_languages():
        shown = i18n_text(msgid, language)
        if shown not in lines:
            lines.append(shown)
    return lines


def _title_lines(msgid: str, first: float, others: float) -> list[tuple[str, float]]:
    return [(line, first if i == 0 else others) for i, line in enumerate(_in_each_language(msgid))]


def entry_poster_pdf(url: str, text: PosterText) -> bytes:
    """The A4 entry poster with a 16 cm QR code, as PDF bytes."""
    _register_font()
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4)
    c.setTitle(i18n_text(_("Bluezone check-in — {name}", name=text.name)))
    w, h = A4
    y = h - 2 * cm
    for line, size in _title_lines(ENTRY_TITLE, 15, 13):
        _centred(c, line, y, size)
        y -= size * 1.4
    y -= 0.3 * cm
    _centred(c, text.name + (f" — {text.room}" if text.room else ""), y, 20)
    y -= 0.8 * cm
    _centred(c, text.address, y, 12)
    y = _draw_qr(c, url, y - 0.2 * cm, ENTRY_QR_SIZE) - 0.3 * cm
    for line in (shown for msgid in ENTRY_HELP for shown in _in_each_language(msgid)):
        _centred(c, line, y, 10)
        y -= 0.55 * cm
    if text.validity:
        _centred(c, text.validity, 1.5 * cm, 8)
    c.showPage()
    c.save()
    return buf.getvalue()


def tracing_code_pdf(code_text: str, text: PosterText) -> bytes:
    """The owner's private tracing code, printable, with a warning to keep it safe."""
    _register_font()
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4)
    c.setTitle(i18n_text(_("Bluezone tracing code — {name}", name=text.name)))
    w, h = A4
    y = h - 2 * cm
    for line, size in _title_lines(TRACING_TITLE, 14, 12):
        _centred(c, line, y, size)
        y -= size * 1.5
    _centred(c, text.name + (f" — {text.room}" if text.room else ""), y, 16)
    y -= 0.8 * cm
    _centred(c, text.address, y, 11)
    y = _draw_qr(c, code_text, y - 0.2 * cm, TRACING_QR_SIZE) - 0.3 * cm
    for line in (shown for msgid in TRACING_HELP for shown in _in_each_language(msgid)):
        _centred(c, line, y, 9)
        y -= 0.5 * cm
    c.showPage()
    c.save()
    return buf.getvalue()


def pdf_to_png(pdf: bytes, dpi: int = 150) -> bytes:
    """Render page 1 of a PDF with PDFium (what the printer would print)."""
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(pdf)
    try:
        page = doc[0]
        image = page.render(scale=dpi / 72).to_pil()
        out = io.BytesIO()
        image.save(out, format="PNG", dpi=(dpi, dpi))
        return out.getvalue()
    finally:
        doc.close()


def pdf_page_size_mm(pdf: bytes) -> tuple[float, float]:
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(pdf)
    try:
        w, h = doc[0].get_size()
        return w / mm, h / mm
    finally:
        doc.close()
