"""The portal shows keys waiting for their embargo and issues a "negative"
code with which the reporting phone revokes a false report, against the real
server on 127.0.0.1. The issued page names no code reference: nothing on the
server leads from a code to the keys it published."""

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
        assert 'id="issued-ref"' not in issued.text and issued.by_id("issued-code")
        today = ExposureKey(b"\x02" * 16, interval_number(NOW) // 144 * 144, interval_number(NOW) % 144)
        async with HttpTransport(r.url, retries=0) as t:
            first = await upload_with_code(t, issued.by_id("issued-code"), past_keys(2) + [today])

        page = await c.get("/portal/")
        release = (today.rolling_start_interval_number + 144) * 600 + 7200  # the end of its UTC day + the embargo
        row = re.search(r'<table id="embargo-table">.*?<tbody>(.*?)</tbody>', page.text, re.S).group(1)
        assert re.findall(r'<td class="(\w+)">([^<]*)</td>', row) == [
            ("keys", "1"), ("from", utc(release)), ("by", utc(release + 3600))]
        assert page.by_id("embargo-ready") == "Sẵn sàng cho lần xuất tiếp theo: 2 khoá, 0 sửa đổi."

        page = await c.get("/portal/codes")
        assert 'value="negative"' in page.text and page.by_id("negative-hint")
        negative = await c.submit("/portal/codes", "/portal/codes", {"tier": "F0", "reportType": "negative"})
        assert negative.by_id("issued-type") == "Loại báo cáo: Xét nghiệm âm tính: thu hồi một báo cáo trước đó"
        async with HttpTransport(r.url, retries=0) as t:
            done = await upload_with_code(t, negative.by_id("issued-code"), first.keys, first.receipt.revision)
        assert done.receipt.revised == 3
        assert {r_[0] for r_ in r.server.db.all("SELECT report_type FROM exposure_keys")} == {int(ReportType.REVOKED)}
        gone = await c.submit("/portal/codes", "/portal/codes/revoke", {"codeId": "x"})
        assert gone.status in (404, 405)  # the revoke-by-code-reference form is gone
        page = await c.get("/portal/")
        assert page.by_id("embargo-none")  # a revoked key is never published, so nothing waits
