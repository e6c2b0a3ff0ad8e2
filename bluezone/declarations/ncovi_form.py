"""The default form: the Vietnamese domestic health declaration (NCOVI / tokhaiyte.vn), version 1.

Questions follow the 2020–2021 form as replicated publicly: personal details,
travel, contact address, symptoms and exposure in the last 14 days, chronic
conditions, consent. Changing a question's meaning means a new ``VERSION``
(old declarations keep the version they were answered under); a province
adding its own questions uses the hook instead (see docs/declarations.md).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from .fields import Choice, Field, FieldError, tr
from .form import Form
from .provinces import province_choices

FORM_ID = "ncovi"
VERSION = 1

SYMPTOMS: dict[str, tuple[str, str]] = {
    "fever": ("Sốt", "Fever"),
    "cough": ("Ho", "Cough"),
    "difficulty_breathing": ("Khó thở", "Difficulty breathing"),
    "sore_throat": ("Đau họng", "Sore throat"),
    "nausea_vomiting": ("Buồn nôn / nôn", "Nausea or vomiting"),
    "diarrhoea": ("Tiêu chảy", "Diarrhoea"),
    "skin_haemorrhage": ("Xuất huyết ngoài da", "Skin haemorrhage"),
    "skin_rash": ("Nổi ban ngoài da", "Skin rash"),
}

EXPOSURES: dict[str, tuple[str, str]] = {
    "close_contact_case": ("Tiếp xúc gần (< 2 m) với người bệnh hoặc nghi ngờ mắc COVID-19",
                           "Close contact (< 2 m) with a case or a suspected case"),
    "visited_affected_area": ("Đến hoặc ở tại khu vực có dịch", "Visited or stayed in an affected area"),
    "contact_symptomatic": ("Tiếp xúc với người có biểu hiện sốt, ho, khó thở",
                            "Contact with a person with fever, cough or difficulty breathing"),
    "animal_market": ("Đến trang trại hoặc chợ động vật sống", "Visited a farm or a live-animal market"),
}

CHRONIC: dict[str, tuple[str, str]] = {
    "liver": ("Bệnh gan mãn tính", "Chronic liver disease"),
    "blood": ("Bệnh máu mãn tính", "Chronic blood disease"),
    "lung": ("Bệnh phổi mãn tính", "Chronic lung disease"),
    "kidney": ("Bệnh thận mãn tính", "Chronic kidney disease"),
    "cardiovascular": ("Bệnh tim mạch", "Cardiovascular disease"),
    "hypertension": ("Huyết áp cao", "Hypertension"),
    "immunodeficiency": ("Suy giảm miễn dịch", "Immunodeficiency"),
    "transplant": ("Người nhận ghép tạng, tủy xương", "Organ or bone-marrow transplant"),
    "diabetes": ("Tiểu đường", "Diabetes"),
    "cancer": ("Ung thư", "Cancer"),
}

TRAVEL_MEANS = {
    "none": ("Không di chuyển", "Did not travel"),
    "aircraft": ("Máy bay", "Aircraft"),
    "ship": ("Tàu thuyền", "Ship"),
    "car": ("Ô tô", "Car"),
    "train": ("Tàu hoả", "Train"),
    "other": ("Khác", "Other"),
}

_TRAVELLED = tuple(k for k in TRAVEL_MEANS if k != "none")


def _choices(table: dict[str, tuple[str, str]]) -> tuple[Choice, ...]:
    return tuple(Choice(code, tr(vi, en)) for code, (vi, en) in table.items())


def _travel_dates(form: Form, a: dict[str, Any], today: dt.date) -> list[FieldError]:
    """Arrival not before departure, and travel within the 14 days asked about."""
    out = []
    dep, arr = a.get("departure_date"), a.get("arrival_date")
    if dep and arr and arr < dep:
        out.append(form.get("arrival_date").error(tr("không được trước ngày khởi hành",
                                                       "must not be before the departure date")))
    if dep and dt.date.fromisoformat(dep) < today - dt.timedelta(days=14):
        out.append(form.get("departure_date").error(tr("chỉ khai chuyến đi trong 14 ngày qua",
                                                         "only travel in the last 14 days is declared")))
    return out


def _consent_given(form: Form, a: dict[str, Any], today: dt.date) -> list[FieldError]:
    if a.get("consent") is not True:
        return [form.get("consent").error(tr("cần đồng ý để gửi tờ khai", "consent is needed to submit"))]
    return []


def ncovi_form() -> Form:
    """A fresh copy of the default form (the hook may change it freely)."""
    form = Form(
        form_id=FORM_ID,
        version=VERSION,
        title=tr("Tờ khai y tế", "Health declaration"),
        sections={
            "personal": tr("Thông tin cá nhân", "Personal details"),
            "travel": tr("Di chuyển", "Travel"),
            "address": tr("Địa chỉ liên lạc tại Việt Nam", "Contact address in Vietnam"),
            "symptoms": tr("Trong 14 ngày qua, anh/chị có thấy xuất hiện dấu hiệu nào sau đây không?",
                           "In the last 14 days, have you had any of these symptoms?"),
            "exposure": tr("Trong 14 ngày qua, anh/chị có", "In the last 14 days, did you have"),
            "health": tr("Bệnh nền", "Chronic conditions"),
            "consent": tr("Cam kết", "Consent"),
        },
        consent=tr("Dữ liệu bạn cung cấp chỉ dùng cho mục đích phòng chống dịch.",
                   "The data you give is used only for epidemic prevention."),
    )
    provinces = province_choices()
    add = form.fields.append
    add(Field("full_name", "personal", "text", tr("Họ và tên", "Full name"), required=True,
              min_length=2, max_length=100, letters_only=True))
    add(Field("year_of_birth", "personal", "year", tr("Năm sinh", "Year of birth"), required=True, minimum=1900))
    add(Field("gender", "personal", "choice", tr("Giới tính", "Gender"), required=True,
              choices=(Choice("male", tr("Nam", "Male")), Choice("female", tr("Nữ", "Female")),
                       Choice("other", tr("Khác", "Other")))))
    add(Field("nationality", "personal", "text", tr("Quốc tịch", "Nationality"), required=True,
              min_length=2, max_length=56, letters_only=True, default="Việt Nam"))
    add(Field("id_number", "personal", "id_number", tr("Số CMND/CCCD/hộ chiếu", "ID or passport number"),
              required=True))
    add(Field("phone", "personal", "phone", tr("Số điện thoại", "Phone number"), required=True))
    add(Field("email", "personal", "email", tr("Email", "Email")))
    add(Field("travel_means", "travel", "choice", tr("Phương tiện di chuyển", "Means of travel"),
              required=True, choices=_choices(TRAVEL_MEANS), default="none"))
    add(Field("vehicle_number", "travel", "text", tr("Số hiệu phương tiện", "Vehicle number"),
              max_length=20, pattern=r"[0-9A-Za-z][0-9A-Za-z .\-/]*",
              pattern_message=tr("chỉ chữ, số, dấu chấm, gạch", "letters, digits, dots, hyphens only"),
              required=True, when=("travel_means", _TRAVELLED)))
    add(Field("seat", "travel", "text", tr("Số ghế", "Seat"), max_length=10,
              pattern=r"[0-9A-Za-z-]+", pattern_message=tr("chỉ chữ và số", "letters and digits only"),
              when=("travel_means", _TRAVELLED)))
    add(Field("departure_date", "travel", "date", tr("Ngày khởi hành", "Departure date"),
              required=True, when=("travel_means", _TRAVELLED)))
    add(Field("arrival_date", "travel", "date", tr("Ngày đến", "Arrival date"),
              required=True, when=("travel_means", _TRAVELLED)))
    add(Field("provinces_visited", "travel", "multichoice",
              tr("Tỉnh/thành đã đến trong 14 ngày qua", "Provinces visited in the last 14 days"),
              choices=provinces, when=("travel_means", _TRAVELLED)))
    add(Field("address_province", "address", "choice", tr("Tỉnh/thành", "Province"), required=True,
              choices=provinces))
    add(Field("address_district", "address", "text", tr("Quận/huyện", "District"), required=True, max_length=100))
    add(Field("address_ward", "address", "text", tr("Phường/xã", "Ward or commune"), required=True, max_length=100))
    add(Field("address_street", "address", "text", tr("Số nhà, đường", "House number and street"),
              required=True, max_length=200))
    for code, (vi, en) in SYMPTOMS.items():
        add(Field(f"symptom_{code}", "symptoms", "boolean", tr(vi, en), required=True))
    for code, (vi, en) in EXPOSURES.items():
        add(Field(f"exposure_{code}", "exposure", "boolean", tr(vi, en), required=True))
    add(Field("chronic_conditions", "health", "multichoice",
              tr("Bệnh nền (chọn nếu có)", "Chronic conditions (choose any)"), choices=_choices(CHRONIC)))
    add(Field("consent", "consent", "boolean",
              tr("Tôi cam kết thông tin khai là đúng và đồng ý dùng cho phòng chống dịch",
                 "I confirm this is true and agree to its use for epidemic prevention"), required=True))
    form.checks.extend([_travel_dates, _consent_given])
    return form


def symptom_fields(form: Form) -> list[str]:
    """Symptom answers (base and province-added), for triage."""
    return [f.id for f in form.fields if f.section == "symptoms"]
