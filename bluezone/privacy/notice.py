"""The ``[privacy]`` section and the processing notice built from it.

The notice is what Vietnam's Personal Data Protection Law (91/2025/QH15)
and its Decree 356/2025/NĐ-CP ask a controller to tell the person before
processing: for each purpose, which data, who receives it, how long it is
kept, and who is responsible and how to reach them. The purposes, data and
recipients follow from what the software does, so they are written here;
who the controller is, how to reach them and the notice's version come from
the deployment file, so each province states its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..settings import FROM_SCHEMA, section_settings

SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "The processing notice: who is responsible for the data and how to reach them.",
    "properties": {
        "notice_version": {"type": "string", "minLength": 1, "maxLength": 32, "default": "1",
                           "description": "recorded with every consent; raise it when the notice changes"},
        "controller": {"type": "string", "minLength": 1, "maxLength": 200,
                       "description": "who decides the purposes (e.g. the provincial health department)"},
        "controller_address": {"type": "string", "maxLength": 300},
        "contact_email": {"type": "string", "maxLength": 200},
        "contact_phone": {"type": "string", "maxLength": 50},
        "protection_contact": {"type": "string", "maxLength": 200,
                               "description": "the person or unit in charge of personal-data protection"},
        "processors": {"type": "array", "items": {"type": "string", "maxLength": 200}, "default": [],
                       "description": "others who process data for the controller (hosting, CDN, NCOVI...)"},
        "hosts_in_country": {"type": "array", "items": {"type": "string", "minLength": 1, "maxLength": 253},
                             "default": [".vn"],
                             "description": "host names (or '.suffix'es) taken to be inside the country; "
                                            "'config check' warns about configured URLs elsewhere"},
    },
    "additionalProperties": False,
    "default": {},
}


@section_settings(SCHEMA)
class PrivacySettings:
    """``[privacy]``: the controller, its contact, the notice version and the in-country hosts."""

    notice_version: str = FROM_SCHEMA
    controller: str | None = FROM_SCHEMA
    controller_address: str | None = FROM_SCHEMA
    contact_email: str | None = FROM_SCHEMA
    contact_phone: str | None = FROM_SCHEMA
    protection_contact: str | None = FROM_SCHEMA
    processors: tuple[str, ...] = FROM_SCHEMA
    hosts_in_country: tuple[str, ...] = FROM_SCHEMA


@dataclass(frozen=True, slots=True)
class PurposeNotice:
    """What one purpose processes, in both languages: ``(vi, en)`` pairs."""

    purpose: str
    data: tuple[str, str]
    recipients: tuple[str, str]
    retention: tuple[str, str]


def purposes(retention_days: int) -> list[PurposeNotice]:
    """The notice's per-purpose part, from what the software actually does."""
    d = retention_days
    kept = (f"{d} ngày trên điện thoại, rồi tự động xóa", f"{d} days on this phone, then deleted automatically")
    return [
        PurposeNotice(
            "bluetooth",
            ("mã Bluetooth ngẫu nhiên thay đổi mỗi 10–20 phút của máy bạn và của máy ở gần, thời điểm và "
             "cường độ tín hiệu; khóa hằng ngày của máy bạn",
             "the rotating random Bluetooth identifiers of your phone and of phones nearby, with time and "
             "signal strength; your phone's daily keys"),
            ("không ai: chỉ khi bạn báo cáo bằng mã của cơ quan y tế, khóa của bạn (không phải danh bạ tiếp xúc) "
             "được gửi tới máy chủ của cơ quan y tế và công bố ẩn danh",
             "nobody: only if you report with a health-authority code are your keys (never your contacts) "
             "sent to the health authority's server and published without your identity"),
            kept),
        PurposeNotice(
            "venues",
            ("địa điểm bạn check-in (từ mã QR), giờ đến và giờ đi",
             "the venues you check in at (from their QR code), arrival and departure times"),
            ("không ai: các lần check-in chỉ ở trên điện thoại; so khớp với truy vết địa điểm diễn ra trên máy",
             "nobody: check-ins stay on this phone; matching against venue traces happens on it"),
            kept),
        PurposeNotice(
            "f2",
            ("khóa đã công bố của người F1 được so khớp với mã Bluetooth đã ghi nhận; kết quả (ngày, mức) lưu trên máy",
             "published keys of F1 contacts matched against the identifiers recorded; results (day, tier) "
             "kept on this phone"),
            ("không ai", "nobody"),
            kept),
        PurposeNotice(
            "declarations",
            ("nội dung tờ khai y tế bạn điền (dữ liệu sức khỏe: dữ liệu cá nhân nhạy cảm)",
             "the health declaration you fill in (health data: sensitive personal data)"),
            ("cơ quan y tế, chỉ ở dạng niêm phong bằng khóa công khai của họ; máy chủ không đọc được",
             "the health authority, sealed to its public key only; the server cannot read it"),
            (f"máy chủ giữ bản niêm phong {d} ngày; bản trên máy chỉ khi bạn chọn giữ, tối đa {d} ngày",
             f"the server keeps the sealed copy {d} days; a copy on this phone only if you choose, at most "
             f"{d} days")),
        PurposeNotice(
            "submitters",
            ("nội dung tờ khai, theo mẫu quốc gia", "the declaration's content, in the national form"),
            ("bên nộp hộ bên ngoài mà tỉnh cấu hình (ví dụ NCOVI), chỉ khi bạn đồng ý cho từng tờ khai",
             "the external submitter the province configures (for example NCOVI), only when you agree "
             "for that declaration"),
            ("theo quy định của bên nhận", "as the receiving service's own rules say")),
    ]


NOT_SET = ("(chưa cấu hình trong tệp triển khai)", "(not set in the deployment file)")


def controller_lines(p: PrivacySettings, lang: str) -> list[tuple[str, str]]:
    """``(label, value)`` rows of the controller and its contacts, in ``lang``."""
    vi = lang == "vi"
    missing = NOT_SET[0] if vi else NOT_SET[1]
    rows = [
        ("Bên kiểm soát dữ liệu" if vi else "Data controller", p.controller or missing),
        ("Địa chỉ" if vi else "Address", p.controller_address or missing),
        ("Email", p.contact_email or missing),
        ("Điện thoại" if vi else "Phone", p.contact_phone or missing),
        ("Phụ trách bảo vệ dữ liệu cá nhân" if vi else "Data-protection contact", p.protection_contact or missing),
    ]
    if p.processors:
        rows.append(("Bên xử lý" if vi else "Processors", "; ".join(p.processors)))
    rows.append(("Phiên bản thông báo" if vi else "Notice version", p.notice_version))
    return rows


def notice_dict(p: PrivacySettings, retention_days: int, deployment: str) -> dict[str, Any]:
    """The whole notice as JSON-ready data, both languages (``bluezone privacy --json``)."""
    return {
        "deployment": deployment,
        "notice_version": p.notice_version,
        "controller": {"name": p.controller, "address": p.controller_address, "email": p.contact_email,
                       "phone": p.contact_phone, "protection_contact": p.protection_contact,
                       "processors": list(p.processors)},
        "retention_days": retention_days,
        "purposes": [{"purpose": n.purpose, "data": {"vi": n.data[0], "en": n.data[1]},
                      "recipients": {"vi": n.recipients[0], "en": n.recipients[1]},
                      "retention": {"vi": n.retention[0], "en": n.retention[1]}}
                     for n in purposes(retention_days)],
    }
