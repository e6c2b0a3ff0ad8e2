"""The portal shows keys waiting for their embargo and lets a case officer
revoke a false report, against the real server on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from bluezone.models import ExposureKey, ReportType, interval_number
from bluezone.transports import HttpTransport
from bluezone.upload import upload_with_code
from bluezone_authority.portal.testing import start
from bluezone_authority.server.testing import NOW, past_keys


@pytest.fixture
async def running(tmp_path):
    r = await start(tmp_path, users=(("officer", "case-officer"),))
    yield r
    await r.http.close()


def utc(ts: int) -> str:
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


async def test_embargo_on_the_dashboard_and_revocation_from_the_codes_page(running):
    r = running
    async with r.client() as c:
        await c.login("officer")
        page = await c.get("/portal/")
        assert page.by_id("embargo-none") == "Không có khoá nào đang chờ."
        issued = await c.submit("/portal/codes", "/portal/codes", {"tier": "F0", "reportType": "likely"})
        ref = re.search(r"\): ([0-9a-f]{24})$", issued.by_id("issued-ref")).group(1)
        today = ExposureKey(b"\x02" * 16, interval_number(NOW) // 144 * 144, interval_number(NOW) % 144)
        async with HttpTransport(r.url, retries=0) as t:
            await upload_with_code(t, issued.by_id("issued-code"), past_keys(2) + [today])

        page = await c.get("/portal/")
        release = (today.rolling_start_interval_number + 144) * 600 + 7200  # the end of its UTC day + the embargo
        row = re.search(r'<table id="embargo-table">.*?<tbody>(.*?)</tbody>', page.text, re.S).group(1)
        assert re.findall(r'<td class="(\w+)">([^<]*)</td>', row) == [
            ("keys", "1"), ("from", utc(release)), ("by", utc(release + 3600))]
        assert page.by_id("embargo-ready") == "Sẵn sàng cho lần xuất tiếp theo: 2 khoá, 0 sửa đổi."

        done = await c.submit("/portal/codes", "/portal/codes/revoke", {"codeId": ref})
        assert done.status == 200 and done.by_id("revoke-result").startswith("Đã thu hồi 3 khoá")
        assert {r_[0] for r_ in r.server.db.all("SELECT report_type FROM exposure_keys")} == {int(ReportType.REVOKED)}
        again = await c.submit("/portal/codes", "/portal/codes/revoke", {"codeId": ref})
        assert again.status == 409 and again.by_id("revoke-error") == "các khoá của mã này đã được thu hồi"
        unknown = await c.submit("/portal/codes", "/portal/codes/revoke", {"codeId": "nothing"})
        assert unknown.status == 404 and unknown.by_id("revoke-error")
        page = await c.get("/portal/")
        assert page.by_id("embargo-none")  # a revoked key is never published, so nothing waits
