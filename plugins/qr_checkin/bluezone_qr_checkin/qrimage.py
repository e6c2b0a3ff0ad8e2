"""Reading QR codes from photos and screenshots, offline, with zxing-cpp.

zxing-cpp is a real, maintained decoder (the C++ port of ZXing) with wheels
for Python 3.11; it finds codes in camera photos (perspective, blur, low
contrast) as well as in clean renders. No network is involved: a check-in
from a photo works in airplane mode.
"""

from __future__ import annotations

from pathlib import Path

import zxingcpp
from PIL import Image, UnidentifiedImageError

from . import messages as msg
from .payload import PayloadError


def decode_image(path: str | Path) -> list[str]:
    """Every QR text found in the image at ``path`` (possibly none)."""
    try:
        with Image.open(path) as img:
            img.load()
            rgb = img.convert("RGB")
    except (UnidentifiedImageError, OSError) as e:
        raise PayloadError(msg.NO_QR_IN_IMAGE, f"cannot read image: {e}") from None
    results = zxingcpp.read_barcodes(rgb, formats=zxingcpp.BarcodeFormat.QRCode)
    return [r.text for r in results if r.valid]


def venue_url_from_image(path: str | Path) -> str:
    """The one venue URL in an image; other apps' codes are skipped, none is an error."""
    texts = decode_image(path)
    if not texts:
        raise PayloadError(msg.NO_QR_IN_IMAGE)
    for t in texts:
        if "#" in t and "v=3" in t:
            return t
    raise PayloadError(msg.NOT_A_VENUE_CODE, f"found: {texts[0][:60]!r}")
