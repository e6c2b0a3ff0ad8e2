"""User-facing text in Vietnamese and English, in one place.

Every message a person reads is ``"<tiếng Việt> / <English>"`` so that a
kiosk or a phone shows both without knowing the reader's language.
"""

from __future__ import annotations


def both(vi: str, en: str) -> str:
    return f"{vi} / {en}"


NOT_A_VENUE_CODE = both(
    "Mã QR này không phải mã check-in địa điểm Bluezone",
    "This QR code is not a Bluezone venue check-in code",
)
DAMAGED_CODE = both("Mã QR bị hỏng hoặc không đầy đủ", "The QR code is damaged or incomplete")
WRONG_VERSION = both("Phiên bản mã QR không được hỗ trợ", "Unsupported QR code version")
NOT_YET_VALID = both("Mã QR của sự kiện chưa có hiệu lực", "This event's QR code is not valid yet")
EXPIRED = both("Mã QR của sự kiện đã hết hạn", "This event's QR code has expired")
NO_QR_IN_IMAGE = both("Không tìm thấy mã QR trong ảnh", "No QR code found in the image")
IMAGE_REFUSED = both("Ảnh quá lớn, không kiểm tra mã QR", "The image is too large to look for a QR code in")
