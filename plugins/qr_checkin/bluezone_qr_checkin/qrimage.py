"""Reading QR codes from photos and screenshots, offline, with zxing-cpp.

zxing-cpp is a real, maintained decoder (the C++ port of ZXing) with wheels
for Python 3.11; it finds codes in camera photos (perspective, blur, low
contrast) as well as in clean renders. No network is involved: a check-in
from a photo works in airplane mode.

The image is whatever file a person (or a message they were sent) points
at, so it is checked before it is decoded: a file over :data:`MAX_IMAGE_BYTES`
or a picture over :data:`MAX_PIXELS` (read from the header; a small PNG can
claim 100 000 × 100 000 pixels and take gigabytes to decode) is refused with
one line, as is anything Pillow cannot read.
"""

from __future__ import annotations

import os
import stat
import struct
import warnings
from pathlib import Path

import zxingcpp
from PIL import Image, UnidentifiedImageError

from bluezone.i18n import Message, _

from . import messages as msg
from .payload import PayloadError

#: Larger than any phone photo or screenshot (a 108 MP JPEG is about 30 MB).
MAX_IMAGE_BYTES = 50 * 1024 * 1024
#: 50 megapixels: every phone camera's usual output; the decode needs 3 bytes a pixel.
MAX_PIXELS = 50_000_000
#: Longer than any URL a venue poster holds; longer arguments are neither a URL nor a file.
MAX_ARGUMENT = 4096
#: Resolution a PDF page is rendered at to find its QR code.
PDF_DPI = 200


class ImageRefused(ValueError):
    """A file given to check-in that we will not try to decode; ``str()`` is
    its message in the deployment's languages."""

    def __init__(self, message: Message):
        self.message = message
        super().__init__(message)


def is_image_path(code: str) -> bool:
    """True when ``code`` names an existing regular file (a photo); False for a URL.

    Never raises on odd input: a very long argument, a name with a NUL byte or
    a path the system cannot look up are "not a file", and the URL parser then
    says clearly that it is not a venue code."""
    if len(code) > MAX_ARGUMENT or "\0" in code or "://" in code:
        return False
    try:
        return stat.S_ISREG(os.stat(code).st_mode)
    except (OSError, ValueError):
        return False


def _open_checked(path: str | Path) -> Image.Image:
    try:
        size = os.stat(path).st_size
    except OSError as e:
        raise PayloadError(msg.NO_QR_IN_IMAGE, f"cannot read image: {e.strerror or e}") from None
    if size > MAX_IMAGE_BYTES:
        raise ImageRefused(_("The image is too large to look for a QR code in ({size} MiB, more than {limit} MiB)",
                             size=size // (1024 * 1024), limit=MAX_IMAGE_BYTES // (1024 * 1024)))
    img = Image.open(path)  # reads the header only
    w, h = img.size
    if w * h > MAX_PIXELS:
        img.close()
        raise ImageRefused(_("The image is too large to look for a QR code in ({width} × {height} pixels, "
                             "more than {limit} megapixels)", width=w, height=h, limit=MAX_PIXELS // 1_000_000))
    return img


def decode_image(path: str | Path) -> list[str]:
    """Every QR text found in the image at ``path`` (possibly none)."""
    if is_pdf(path):
        return _decode_rgb(_render_pdf(path))
    try:
        with warnings.catch_warnings():
            # Pillow only warns between its own limit and twice it; make that an error too.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with _open_checked(path) as img:
                img.load()
                rgb = img.convert("RGB")
    except ImageRefused:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageRefused(_("The image is too large to look for a QR code in")) from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError, struct.error, MemoryError) as e:
        # Pillow's decoders raise several types on damaged files; all mean "not a picture we can read".
        raise PayloadError(msg.NO_QR_IN_IMAGE, f"cannot read image: {e}") from None
    return _decode_rgb(rgb)


def _decode_rgb(rgb: Image.Image) -> list[str]:
    results = zxingcpp.read_barcodes(rgb, formats=zxingcpp.BarcodeFormat.QRCode)  # type: ignore[arg-type]  # one format is accepted
    return [r.text for r in results if r.valid]


def is_pdf(path: str | Path) -> bool:
    """True when the file starts like a PDF (the printed tracing code, or a poster)."""
    try:
        with open(path, "rb") as f:
            return f.read(5) == b"%PDF-"
    except OSError:
        return False


def _render_pdf(path: str | Path) -> Image.Image:
    """Page 1 of a PDF as an RGB picture, rendered with PDFium (already what
    turns the poster into its PNG, so no second PDF library): at 200 dpi a
    tracing code's QR modules are several pixels wide, which the decoder
    needs; the page size is checked first, like a photo's."""
    import pypdfium2 as pdfium

    try:
        if os.stat(path).st_size > MAX_IMAGE_BYTES:
            raise ImageRefused(_("The file is too large to look for a QR code in (more than {limit} MiB)",
                                 limit=MAX_IMAGE_BYTES // (1024 * 1024)))
        doc = pdfium.PdfDocument(str(path))
    except (OSError, pdfium.PdfiumError) as e:
        raise PayloadError(msg.NO_QR_IN_IMAGE, f"cannot read PDF: {e}") from None
    try:
        if len(doc) < 1:
            raise PayloadError(msg.NO_QR_IN_IMAGE, "empty PDF")
        page = doc[0]
        width, height = page.get_size()
        scale = PDF_DPI / 72
        if width * height * scale * scale > MAX_PIXELS:
            raise ImageRefused(_("The image is too large to look for a QR code in"))
        return page.render(scale=scale).to_pil().convert("RGB")
    except pdfium.PdfiumError as e:
        raise PayloadError(msg.NO_QR_IN_IMAGE, f"cannot render PDF: {e}") from None
    finally:
        doc.close()


#: The prefix of the text in a printed tracing code's QR (then the code in base64url).
TRACING_PREFIX = "bluezone-trace:"


def tracing_code_bytes(path: str | Path) -> bytes:
    """The venue owner's tracing code from any form it was kept in: the
    ``tracing-code.bin`` file, the printed ``tracing-code.pdf``, a photo or
    scan of the print, or a text file holding the QR's text. Decoding is the
    check-in's (zxing-cpp); the caller checks the bytes are a tracing code."""
    from .payload import b64url_decode

    raw = Path(path).read_bytes()
    if raw.startswith(TRACING_PREFIX.encode()):
        return b64url_decode(raw[len(TRACING_PREFIX):].decode().strip())
    if not (is_pdf(path) or _looks_like_picture(raw)):
        return raw
    texts = decode_image(path)
    for t in texts:
        if t.startswith(TRACING_PREFIX):
            return b64url_decode(t[len(TRACING_PREFIX):].strip())
    if not texts:
        raise PayloadError(msg.NO_QR_IN_IMAGE)
    raise PayloadError(msg.NOT_A_TRACING_CODE, f"found: {texts[0][:60]!r}")


def _looks_like_picture(raw: bytes) -> bool:
    """A file Pillow can open (PNG, JPEG, …): the tracing code's own bytes are protobuf, never an image."""
    import io

    try:
        with Image.open(io.BytesIO(raw[:MAX_IMAGE_BYTES])) as img:
            return bool(img.format)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError, struct.error):
        return False


def venue_url_from_image(path: str | Path) -> str:
    """The one venue URL in an image; other apps' codes are skipped, none is an error."""
    texts = decode_image(path)
    if not texts:
        raise PayloadError(msg.NO_QR_IN_IMAGE)
    for t in texts:
        if "#" in t and "v=3" in t:
            return t
    raise PayloadError(msg.NOT_A_VENUE_CODE, f"found: {texts[0][:60]!r}")
