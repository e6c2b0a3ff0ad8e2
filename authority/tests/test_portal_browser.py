"""The portal in a real headless browser: Debian's chromium driven by Playwright.

A real ``bluezone serve`` subprocess on 127.0.0.1; a staff account made with
``bluezone authority staff add``; the officer logs in through the page and
issues an F0 code; a device uploads its keys with that code over the http
transport; an export is built on demand through the staff API; the upload
and the export appear on the dashboard in the browser, in Vietnamese and
in English. A screenshot is written for people to look at.

``make test`` installs chromium (``make test-deps``); this test installs it
too when it runs as root on Debian and it is missing.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import pytest

from bluezone.export import read_export
from bluezone_authority.portal.testing import PASSWORD, write_config
from bluezone_authority.server.testing import past_keys
from bluezone.transport import FeedState
from bluezone.upload import upload_with_code
from bluezone.transports import HttpTransport

pytestmark = pytest.mark.browser

BLUEZONE = str(Path(sys.executable).with_name("bluezone"))
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--no-first-run"]


def ensure_chromium() -> str:
    """Debian's chromium (never Playwright's download, which needs the internet)."""
    if not os.path.exists(CHROMIUM) and hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run("apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium",
                       shell=True, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if not os.path.exists(CHROMIUM):
        pytest.fail("chromium is missing: run `make test-deps` (apt-get install chromium)")
    return CHROMIUM


def run_cli(*args: str, stdin: str | None = None) -> str:
    out = subprocess.run([BLUEZONE, *args], input=stdin, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout


async def start_serve(cfg: Path) -> tuple[asyncio.subprocess.Process, str]:
    proc = await asyncio.create_subprocess_exec(
        BLUEZONE, "serve", "--config", str(cfg), "--port", "0",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    line = (await asyncio.wait_for(proc.stdout.readline(), 60)).decode()
    m = re.search(r"http://[\d.]+:\d+", line)
    if not m:
        proc.kill()
        pytest.fail(line + (await proc.stderr.read()).decode())
    return proc, m.group(0)


async def test_officer_issues_a_code_in_the_browser_and_the_upload_and_export_show_on_the_dashboard(tmp_path):
    from playwright.async_api import async_playwright, expect

    chromium = ensure_chromium()
    cfg = write_config(tmp_path)
    assert "officer (admin)" in run_cli("authority", "staff", "add", "--config", str(cfg), "--username", "officer",
                                        "--name", "Nguyễn Thị Lan", "--role", "admin", "--password-stdin",
                                        stdin=PASSWORD + "\n")
    api_token = run_cli("authority", "token", "create", "--config", str(cfg), "--name", "exporter",
                        "--role", "admin").splitlines()[0]
    proc, url = await start_serve(cfg)
    csp_problems: list[str] = []
    try:
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, headless=True)
            context = await browser.new_context(locale="vi-VN", viewport={"width": 1280, "height": 900})
            page = await context.new_page()
            page.on("console", lambda m: csp_problems.append(m.text) if "Content Security Policy" in m.text else None)

            # 1. log in through the page (Vietnamese by default)
            await page.goto(url + "/portal/")
            assert "/portal/login" in page.url
            await page.get_by_label("Tên đăng nhập").fill("officer")
            await page.get_by_label("Mật khẩu").fill(PASSWORD)
            await page.get_by_role("button", name="Đăng nhập").click()
            await page.wait_for_url(url + "/portal/")
            await expect(page.locator("#total-uploads")).to_have_text("0")
            cookies = {c["name"]: c for c in await context.cookies()}
            assert cookies["bz_session"]["httpOnly"] and cookies["bz_session"]["sameSite"] == "Strict"
            assert "bz_session" not in await page.evaluate("document.cookie")  # scripts cannot read it

            # 2. issue an F0 code through the page
            await page.get_by_role("link", name="Cấp mã xác minh").click()
            onset = (dt.datetime.now(dt.timezone.utc).date() - dt.timedelta(days=3)).isoformat()
            await page.get_by_label("Xét nghiệm dương tính").check()
            await page.get_by_label("Ngày khởi phát triệu chứng").fill(onset)
            await page.get_by_role("button", name="Cấp mã", exact=True).click()
            await page.wait_for_url(url + "/portal/codes")
            await expect(page.locator("#issued-code")).to_have_text(re.compile(r"^\s*\d{8}\s*$"))
            code = (await page.locator("#issued-code").inner_text()).strip()
            assert re.fullmatch(r"\d{8}", code)
            assert "chỉ hiển thị một lần" in await page.locator("#code-once").inner_text()

            # 3. a device uploads its keys with that code (http transport, real requests)
            keys = past_keys(5, now=int(time.time()))
            async with HttpTransport(url, retries=0) as t:
                result = await upload_with_code(t, code, keys)
                assert result.receipt.inserted == 5

                # 4. an export on demand, as an operator's script would (staff API)
                async with aiohttp.ClientSession() as s:
                    async with s.post(url + "/v1/authority/exports",
                                      headers={"Authorization": f"Bearer {api_token}"}) as resp:
                        exported = await resp.json()
                assert exported["realKeys"] == 5
                batches, _ = await t.download("keys", FeedState())
            public = [{"key_id": "452", "key_version": "v1",
                       "pem": (await _export_pem(cfg))}]
            published = {k.key_data for k in read_export(batches[0].payload, public).keys}
            assert {k.key_data for k in keys} <= published

            # 5. the dashboard in the browser shows the upload and the export
            await page.get_by_role("link", name="Tổng quan").click()
            await page.wait_for_url(url + "/portal/")
            await expect(page.locator("#total-uploads")).to_have_text("1")
            await expect(page.locator("#total-keys")).to_have_text("5")
            await expect(page.locator("#total-exports")).to_have_text("1")
            await expect(page.locator("#codes-redeemed")).to_have_text("1")
            today = dt.datetime.now(dt.timezone.utc).date().isoformat()
            row = page.locator(f'#per-day tr[data-day="{today}"]')
            await expect(row.locator(".uploads-f0")).to_have_text("1")
            await expect(row.locator(".exports")).to_have_text("1")
            shot = tmp_path / "portal-dashboard.png"
            await page.screenshot(path=str(shot), full_page=True)
            assert shot.stat().st_size > 10_000
            if os.environ.get("BLUEZONE_SCREENSHOT_DIR"):
                shutil.copy(shot, os.environ["BLUEZONE_SCREENSHOT_DIR"])

            # 6. the page going back to the issued code does not show it again
            # (it was a no-store answer to a POST: chromium will not show it from its cache)
            from playwright.async_api import Error as PlaywrightError

            try:
                await page.go_back()
            except PlaywrightError as e:
                assert "ERR_CACHE_MISS" in str(e)
            await expect(page.locator("#issued-code")).to_have_count(0)

            # 7. the federation page, from the administrator's menu: this deployment does not federate
            await page.goto(url + "/portal/")
            await page.get_by_role("link", name="Liên tỉnh").click()
            await page.wait_for_url(url + "/portal/federation")
            await expect(page.locator("h1")).to_have_text("Liên kết với các tỉnh khác")
            await expect(page.locator("#fed-pending")).to_have_text("0")
            await expect(page.locator("#fed-off")).to_be_visible()

            # 8. language switch, then log out
            await page.goto(url + "/portal/")
            await page.get_by_role("link", name="English").click()
            await page.wait_for_url(url + "/portal/")
            await expect(page.locator("h1")).to_have_text("The last 14 days")
            assert await page.locator("html").get_attribute("lang") == "en"
            await page.get_by_role("button", name="Log out").click()
            await page.wait_for_url(re.compile(r".*/portal/login\?bye=1$"))
            await page.goto(url + "/portal/")
            assert "/portal/login" in page.url
            await browser.close()
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), 30)
    assert csp_problems == []  # the pages need no inline script or style


async def _export_pem(cfg: Path) -> str:
    from bluezone.config import load_config
    from bluezone_authority.server.keys import load_or_create
    from bluezone_authority.server.settings import ServerSettings

    s = ServerSettings.from_config(load_config(cfg))
    return load_or_create(s.secrets_file, s.signing_key).export_public_pem()


async def test_the_language_switch_in_the_browser_offers_the_deployments_languages(tmp_path, monkeypatch):
    """A deployment in Vietnamese and the ``qps`` pseudo-locale: the switch
    shows both, each named in itself; after switching, every word on the
    page is the catalogue's (bracketed), and switching back gives Vietnamese."""
    from playwright.async_api import async_playwright, expect

    from bluezone.i18n import ENV_LOCALE_DIRS
    from bluezone.i18n.pseudo import pseudo, untranslated, write_pseudo_catalogues

    root = Path(__file__).resolve().parents[2]
    localedir = write_pseudo_catalogues(
        [("bluezone", root / "bluezone" / "i18n" / "locale" / "bluezone.pot"),
         ("bluezone_authority", root / "authority" / "bluezone_authority" / "locale" / "bluezone_authority.pot")],
        tmp_path / "locale")
    monkeypatch.setenv(ENV_LOCALE_DIRS, str(localedir))  # for the commands and the server below
    chromium = ensure_chromium()
    plugins_off = '\n[plugins]\ndisabled = ["qr-checkin"]\n' if _has_qr() else ""  # its texts are its own domain's
    cfg = write_config(tmp_path, languages=("vi", "qps"), extra=plugins_off)
    run_cli("authority", "staff", "add", "--config", str(cfg), "--username", "officer", "--name", "Lan",
            "--role", "admin", "--password-stdin", stdin=PASSWORD + "\n")
    proc, url = await start_serve(cfg)
    try:
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, headless=True)
            page = await (await browser.new_context(locale="vi-VN")).new_page()
            await page.goto(url + "/portal/login")
            await page.get_by_label("Tên đăng nhập").fill("officer")
            await page.get_by_label("Mật khẩu").fill(PASSWORD)
            await page.get_by_role("button", name="Đăng nhập").click()
            await page.wait_for_url(url + "/portal/")
            await expect(page.locator("h1")).to_have_text("Tổng quan 14 ngày qua")
            await page.get_by_role("link", name=pseudo("English")).click()  # the pseudo-locale's name for itself
            await page.wait_for_url(url + "/portal/")
            await expect(page.locator("h1")).to_have_text(pseudo("The last 14 days"))
            assert await page.locator("html").get_attribute("lang") == "qps"
            shown = await page.locator("body").inner_text()
            assert untranslated(shown, ["Lan", "officer", "UTC"]) == [], untranslated(shown, ["Lan", "officer", "UTC"])
            await page.get_by_role("link", name="Tiếng Việt").click()
            await page.wait_for_url(url + "/portal/")
            await expect(page.locator("h1")).to_have_text("Tổng quan 14 ngày qua")
            await browser.close()
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), 30)


def _has_qr() -> bool:
    import importlib.util

    return importlib.util.find_spec("bluezone_qr_checkin") is not None
