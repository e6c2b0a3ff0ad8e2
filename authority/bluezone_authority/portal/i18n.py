"""The portal's words in Vietnamese and English.

One table, one entry per message, both languages side by side so a
translator sees them together; a test checks that every key used in a
template exists here in both languages. The language comes from the
``bz_lang`` cookie (set by the switch in the header), else the browser's
``Accept-Language``, else the deployment's ``default_language``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

LANGUAGES = ("vi", "en")

#: key -> (Vietnamese, English)
MESSAGES: dict[str, tuple[str, str]] = {
    "app_name": ("Cổng cán bộ y tế Bluezone", "Bluezone health-authority portal"),
    "skip": ("Bỏ qua, tới nội dung chính", "Skip to main content"),
    "lang_switch": ("Ngôn ngữ", "Language"),
    "nav": ("Điều hướng", "Navigation"),
    "nav_dashboard": ("Tổng quan", "Dashboard"),
    "nav_codes": ("Cấp mã xác minh", "Verification codes"),
    "nav_declarations": ("Tờ khai y tế", "Health declarations"),
    "signed_in_as": ("Đăng nhập: {name} ({role})", "Signed in as {name} ({role})"),
    "logout": ("Đăng xuất", "Log out"),
    "privacy_footer": ("Máy chủ không biết ai đã được cảnh báo: việc đối chiếu diễn ra trên điện thoại của người dân.",
                       "The server never knows who was warned: matching happens on people's phones."),
    # login
    "login_title": ("Đăng nhập", "Log in"),
    "username": ("Tên đăng nhập", "User name"),
    "password": ("Mật khẩu", "Password"),
    "login_button": ("Đăng nhập", "Log in"),
    "login_failed": ("Sai tên đăng nhập hoặc mật khẩu.", "Wrong user name or password."),
    "login_locked": ("Tài khoản tạm khoá do nhập sai nhiều lần. Thử lại sau {minutes} phút hoặc nhờ quản trị viên mở khoá.",
                     "This account is locked after repeated failures. Try again in {minutes} minutes or ask an administrator to unlock it."),
    "login_rate_limited": ("Quá nhiều lần thử. Hãy đợi một phút.", "Too many attempts. Wait a minute."),
    "login_busy": ("Đang có quá nhiều lần đăng nhập cùng lúc. Hãy thử lại sau giây lát.",
                   "Too many logins at once. Try again in a moment."),
    "login_hint": ("Tài khoản do quản trị viên tạo bằng lệnh: bluezone authority staff add",
                   "Accounts are created by an administrator with: bluezone authority staff add"),
    "session_expired": ("Phiên làm việc đã hết hạn. Hãy đăng nhập lại.", "Your session has ended. Please log in again."),
    "logged_out": ("Đã đăng xuất.", "You are logged out."),
    "csrf_failed": ("Biểu mẫu đã hết hạn hoặc không hợp lệ. Hãy tải lại trang và thử lại.",
                    "The form has expired or is not valid. Reload the page and try again."),
    "forbidden": ("Tài khoản của bạn không có quyền này (cần vai trò {roles}).",
                  "Your account may not do this (needs the role {roles})."),
    "not_found": ("Không có trang này.", "There is no such page."),
    "bad_form": ("Biểu mẫu gửi lên không phải văn bản hợp lệ. Hãy tải lại trang và thử lại.",
                 "The form sent is not valid text. Reload the page and try again."),
    "error_title": ("Không thực hiện được", "That did not work"),
    "back_dashboard": ("Về trang tổng quan", "Back to the dashboard"),
    # dashboard
    "dashboard_title": ("Tổng quan 14 ngày qua", "The last 14 days"),
    "dashboard_intro": ("Chỉ có số đếm. Máy chủ không lưu danh tính, địa chỉ IP hay vị trí, và không biết ai đã được cảnh báo.",
                        "Counts only. The server keeps no identities, IP addresses or locations, and does not know who was warned."),
    "day_utc": ("Ngày (UTC)", "Day (UTC)"),
    "uploads": ("Lượt gửi khoá", "Key uploads"),
    "uploads_f0": ("Gửi khoá F0", "F0 uploads"),
    "uploads_f1": ("Gửi khoá F1", "F1 uploads"),
    "keys_uploaded": ("Khoá đã nhận", "Keys received"),
    "exports": ("Lô khoá đã công bố", "Key exports published"),
    "codes_issued": ("Mã đã cấp", "Codes issued"),
    "codes_redeemed": ("Mã đã dùng", "Codes redeemed"),
    "codes_expired": ("Mã hết hạn chưa dùng", "Codes expired unused"),
    "codes_pending": ("Mã còn hiệu lực", "Codes still valid"),
    "declarations": ("Tờ khai đã nhận", "Declarations received"),
    "totals": ("Tổng", "Totals"),
    "chart_uploads": ("Lượt gửi khoá mỗi ngày", "Key uploads per day"),
    "chart_exports": ("Lô khoá công bố mỗi ngày", "Exports per day"),
    "table_caption": ("Số đếm theo ngày (UTC)", "Counts per day (UTC)"),
    "export_now": ("Công bố lô khoá ngay", "Publish a key batch now"),
    "export_done": ("Đã công bố lô {batch} ({keys} khoá thật).", "Published batch {batch} ({keys} real keys)."),
    "export_empty": ("Không có khoá mới để công bố.", "No new keys to publish."),
    "admin_actions": ("Thao tác quản trị", "Administrator actions"),
    # codes
    "codes_title": ("Cấp mã xác minh", "Issue a verification code"),
    "codes_intro": ("Mã chỉ hiển thị một lần và chỉ dùng được một lần. Người dân nhập mã vào ứng dụng để tự nguyện gửi khoá của mình.",
                    "A code is shown once and works once. The person enters it in their app to upload their own keys, voluntarily."),
    "tier": ("Đối tượng", "Who"),
    "tier_f0": ("F0 — ca bệnh đã xác nhận", "F0 — a confirmed case"),
    "tier_f1": ("F1 — tiếp xúc gần, để cảnh báo F2", "F1 — a close contact, to warn F2 contacts"),
    "tier_f1_disabled": ("Triển khai này không bật cảnh báo F2 ([server] recursive_reports = false).",
                         "This deployment does not publish F1 reports ([server] recursive_reports = false)."),
    "report_type": ("Cơ sở xác nhận F0", "How the F0 was confirmed"),
    "rt_confirmed": ("Xét nghiệm dương tính", "Positive test"),
    "rt_likely": ("Chẩn đoán lâm sàng", "Clinical diagnosis"),
    "onset_date": ("Ngày khởi phát triệu chứng", "Symptom onset date"),
    "test_date": ("Ngày xét nghiệm (nếu không rõ ngày khởi phát)", "Test date (when the onset is unknown)"),
    "date_hint": ("Không quá 14 ngày trước.", "At most 14 days ago."),
    "kind": ("Loại mã", "Kind of code"),
    "kind_short": ("8 chữ số, hiệu lực 15 phút (đọc qua điện thoại)", "8 digits, valid 15 minutes (read out by phone)"),
    "kind_long": ("16 ký tự, hiệu lực 24 giờ (gửi bằng văn bản)", "16 characters, valid 24 hours (sent in writing)"),
    "issue_button": ("Cấp mã", "Issue the code"),
    "code_issued_title": ("Mã xác minh", "Verification code"),
    "code_once": ("Mã này chỉ hiển thị một lần. Máy chủ chỉ lưu dạng băm, không thể hiển thị lại.",
                  "This code is shown only once. The server keeps only a keyed hash and cannot show it again."),
    "code_expires": ("Hết hạn lúc {when}.", "Expires at {when}."),
    "code_for": ("Loại báo cáo: {what}", "Report type: {what}"),
    "code_tell": ("Hướng dẫn người dân: mở ứng dụng Bluezone → Gửi khoá → nhập mã; hoặc chạy: bluezone report --code MÃ",
                  "Tell the person: open the Bluezone app → Report → enter the code; or run: bluezone report --code CODE"),
    "rt_name_1": ("Xét nghiệm dương tính (F0)", "Confirmed test (F0)"),
    "rt_name_2": ("Chẩn đoán lâm sàng (F0)", "Clinical diagnosis (F0)"),
    "rt_name_3": ("Tự báo cáo", "Self report"),
    "rt_name_4": ("F1 — cảnh báo F2 (đệ quy)", "F1 — F2 warnings (recursive)"),
    "issue_another": ("Cấp mã khác", "Issue another code"),
    "code_ref": ("Mã tham chiếu (lưu lại để thu hồi nếu là báo cáo sai): {id}",
                 "Code reference (keep it to revoke a false report): {id}"),
    # revocation (a false positive)
    "revoke_title": ("Thu hồi báo cáo sai", "Revoke a false report"),
    "revoke_intro": ("Chỉ báo cáo nghi nhiễm (chẩn đoán lâm sàng) chưa được sửa đổi mới thu hồi được. Các điện thoại đã "
                     "nhận cảnh báo sẽ rút lại cảnh báo sau lần xuất tệp tiếp theo.",
                     "Only a likely (clinical) report not yet revised can be revoked. Phones that were warned "
                     "withdraw the warning after the next export."),
    "revoke_code_id": ("Mã tham chiếu của mã xác minh", "Reference of the verification code"),
    "revoke_button": ("Thu hồi", "Revoke"),
    "revoke_done": ("Đã thu hồi {n} khoá; sẽ công bố ở lần xuất tệp tiếp theo.",
                    "Revoked {n} keys; announced in the next export."),
    # embargo
    "embargo_title": ("Khoá đang chờ hết thời gian giữ lại", "Keys waiting for their embargo"),
    "embargo_intro": ("Khoá còn đang phát (hoặc vừa kết thúc chưa đủ {hours} giờ) được giữ lại đến khi kết thúc + {hours} "
                      "giờ, rồi vào lần xuất tệp đầu tiên sau đó (mỗi {minutes} phút).",
                      "A key still on the air at upload (or ended less than {hours} h before) is held until its end "
                      "+ {hours} h, then goes into the first export after that (every {minutes} min)."),
    "embargo_none": ("Không có khoá nào đang chờ.", "No keys are waiting."),
    "embargo_keys": ("Số khoá", "Keys"),
    "embargo_from": ("Được công bố từ (UTC)", "Publishable from (UTC)"),
    "embargo_by": ("Có trong tệp chậm nhất (UTC)", "In an export by (UTC)"),
    "embargo_ready": ("Sẵn sàng cho lần xuất tiếp theo: {n} khoá, {r} sửa đổi.",
                      "Ready for the next export: {n} keys, {r} revisions."),
    "any_time": ("không giới hạn", "any time"),
    # declarations
    "decl_title": ("Tờ khai y tế (đã niêm phong)", "Health declarations (sealed)"),
    "decl_intro": ("Máy chủ chỉ lưu bản mã hoá mà nó không đọc được. Tải về rồi mở ngoại tuyến trên máy giữ khoá bí mật của cơ quan y tế:",
                   "The server stores ciphertext it cannot read. Download it and open it offline, on the machine that holds the authority's private key:"),
    "decl_count": ("{n} tờ khai, {size} byte.", "{n} declarations, {size} bytes."),
    "decl_download_all": ("Tải tất cả (.jsonl)", "Download all (.jsonl)"),
    "decl_download": ("Tải", "Download"),
    "decl_received": ("Nhận lúc (giờ, UTC)", "Received (hour, UTC)"),
    "decl_form": ("Mẫu", "Form"),
    "decl_size": ("Kích thước (byte)", "Size (bytes)"),
    "decl_id": ("Mã biên nhận", "Receipt"),
    "decl_none": ("Chưa có tờ khai nào.", "No declarations yet."),
    "decl_per_day": ("Tờ khai mỗi ngày", "Declarations per day"),
    "decl_quota": ("Giới hạn lưu trữ: {n} / {max_n} tờ khai, {mib} / {max_mib} MiB ({pct}%).",
                   "Storage cap: {n} / {max_n} declarations, {mib} / {max_mib} MiB ({pct}%)."),
    "decl_quota_full": ("Đã đạt giới hạn: máy chủ đang từ chối tờ khai mới (507) cho đến khi tờ khai cũ hết hạn "
                        "hoặc quản trị viên nâng [server] declaration_quota_count / declaration_quota_bytes.",
                        "The cap is reached: the server refuses new declarations (507) until old ones expire "
                        "or an administrator raises [server] declaration_quota_count / declaration_quota_bytes."),
    "decl_latest": ("Hiển thị {shown} tờ khai mới nhất trong số {n}; tải tất cả để có đủ.",
                    "Showing the latest {shown} of {n}; download all for every one."),
}



def translator(lang: str, messages: dict[str, tuple[str, str]] | None = None) -> Callable[..., str]:
    """``t(key, **fields)`` for one language; a missing key is an error, not silent English.
    ``messages`` is the portal's table (the core's plus its plugins' pages' words)."""
    i = 0 if lang == "vi" else 1
    table = MESSAGES if messages is None else messages

    def t(key: str, **fields: object) -> str:
        text = table[key][i]
        return text.format(**fields) if fields else text

    return t


def role_name(role: str, lang: str, roles: dict[str, Any] | None = None) -> str:
    """A role's words (:class:`bluezone_authority.server.staff.StaffRole`; the core's
    when ``roles`` is not given); an unknown role shows as its name."""
    if roles is None:
        from ..server.staff import CORE_ROLES

        roles = {r.name: r for r in CORE_ROLES}
    known = roles.get(role)
    return known.label(lang) if known else role


def pick_language(cookie: str | None, accept_language: str | None, default: str) -> str:
    """Cookie first, then the first supported language in Accept-Language, then the default."""
    if cookie in LANGUAGES:
        return cookie
    for part in (accept_language or "").split(","):
        tag = part.split(";")[0].strip().lower()[:2]
        if tag in LANGUAGES:
            return tag
    return default
