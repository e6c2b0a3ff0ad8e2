"""The portal's federation page, on a real server with the portal on 127.0.0.1.

Its figures come from real federation records: a real round against a gateway
that is down (the outbox keeps a batch, the round's error is kept), and real
batches signed by another province's key going through the real importer
(one imported with an F1 key left out, one refused for its signature, one from
a province whose key is not configured), and one of its own batches the gateway
refused for good. Only administrators see the page (the
staff API's federation status is theirs too), in both languages, and it shows
no key.
"""

from __future__ import annotations

import base64
import html
import importlib.util
import re
import secrets
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec

from bluezone.models import ExposureKey, ReportType
from bluezone_authority.gateway import certs, encoding, importer, outbox
from bluezone_authority.gateway.client import Downloaded
from bluezone_authority.gateway.federation import run_round
from bluezone_authority.portal.testing import start
from bluezone_authority.server.keys import public_pem
from bluezone_authority.server.process import free_port
from bluezone_authority.server.testing import NOW

DN, GL, QN = "48", "64", "51"
# the check-in plugin's pages off where it is installed (the authority's own lane has it not)
NO_PLUGIN_PAGES = '\n[plugins]\ndisabled = ["qr-checkin"]\n' if importlib.util.find_spec("bluezone_qr_checkin") else ""


def federation_section(tmp: Path, gateway_port: int) -> str:
    """Gia Lai's [federation]: real certificates from a real CA, a gateway nobody listens on."""
    certs.init_ca(tmp / "ca")
    certs.issue(tmp / "ca", GL, tmp / GL)
    return (f'\n[federation]\ngateway_url = "https://127.0.0.1:{gateway_port}"\norigin = "{GL}"\n'
            f'client_cert = "{GL}.pem"\nclient_key = "{GL}.key"\nca = "ca/ca.pem"\nimport_from = ["{DN}", "{QN}"]\n'
            f'signing_keys = [ {{ origin = "{DN}", public_key = "{DN}.sign.pem" }} ]\n')


def key(report_type: ReportType = ReportType.CONFIRMED_TEST) -> encoding.FederatedKey:
    return encoding.FederatedKey(ExposureKey(secrets.token_bytes(16), NOW // 86400 * 144 - 2 * 144, 144, 4,
                                             report_type, 1))


def batch(tag: str, origin: str, keys: list[encoding.FederatedKey], signer: ec.EllipticCurvePrivateKey) -> Downloaded:
    data = encoding.encode(origin, keys)
    return Downloaded(tag, origin, encoding.sign(data, signer), data, None)


def cell(page: str, row_attr: str, cls: str) -> str:
    m = re.search(rf'<tr {row_attr}>.*?class="{cls}">([^<]*)<', page, re.S)
    assert m, (row_attr, cls)
    return m.group(1).strip()


async def test_administrators_see_the_outbox_the_last_error_and_the_imports_per_province(tmp_path):
    dn_key = ec.generate_private_key(ec.SECP256R1())
    (tmp_path / f"{DN}.sign.pem").write_text(public_pem(dn_key))
    extra = NO_PLUGIN_PAGES + federation_section(tmp_path, free_port())
    # recursive_reports off: this province takes no F1 keys from the others
    r = await start(tmp_path, recursive=False, users=(("admin", "admin"), ("officer", "case-officer")), extra=extra)
    server = r.server
    r.clock.t = NOW
    # one of Gia Lai's own keys, shared beyond the province: the round batches it, the gateway is down
    with server.db.transaction() as c:
        c.execute("INSERT INTO exposure_keys (key_data, rolling_start, rolling_period, transmission_risk, report_type,"
                  " dsos, created_at, available_at, share_beyond) VALUES (?,?,?,?,?,?,?,?,1)",
                  (secrets.token_bytes(16), NOW // 86400 * 144 - 144, 144, 4, 1, 1, NOW - 7200, NOW - 3600))
    assert server.federation is not None
    down = await run_round(server, server.federation)
    assert down.error == "unreachable" and len(down.batched) == 1
    # an older batch of Gia Lai's that the gateway refused for good (set aside by a round: federation.run_round)
    with server.db.transaction() as c:
        c.execute("INSERT INTO exposure_keys (key_data, rolling_start, rolling_period, transmission_risk, report_type,"
                  " dsos, created_at, available_at, share_beyond) VALUES (?,?,?,?,?,?,?,?,1)",
                  (secrets.token_bytes(16), NOW // 86400 * 144 - 144, 144, 4, 1, 1, NOW - 7200, NOW - 3600))
        [refused_tag] = outbox.fill(c, server.federation, server.keys.export_key, NOW)
        outbox.mark_refused(c, refused_tag, "duplicate_keys", NOW)
    # three batches from other provinces through the real importer
    good = [key(), key(), key(ReportType.RECURSIVE)]
    forged = [key()]
    with server.db.transaction() as c:
        for b in (batch("dn-1", DN, good, dn_key), batch("dn-2", DN, forged, ec.generate_private_key(ec.SECP256R1())),
                  batch("qn-1", QN, [key()], dn_key)):
            importer.import_batch(c, "2026-05-28", b, own_origin=GL, import_from=(DN, QN),
                                  public_keys=server.federation.public_keys(), now=NOW, accept_recursive=False)
    shown_keys = [k.key.key_data for k in good + forged]
    try:
        async with r.client() as c:
            assert "/portal/login" in (await c.get("/portal/federation")).url  # no session: the login page
            await c.login("admin")
            c.session.cookie_jar.update_cookies({"bz_lang": "en"})
            en = await c.get("/portal/federation")
            assert en.status == 200 and '<html lang="en">' in en.text
            page = html.unescape(en.text)
            assert en.by_id("fed-pending") == "1" and en.by_id("fed-sent") == "0"
            assert en.by_id("fed-outbox-refused") == "1"
            assert refused_tag in page and "some of its keys are stored at the gateway already" in page
            assert "unreachable" in page and "the gateway could not be reached" in page
            assert "Gateway: https://127.0.0.1:" in page and f"This province's code: {GL}." in page
            assert "neither sends F1 keys nor imports them" in page
            row = f'data-origin="{DN}"'
            assert [cell(page, row, c) for c in ("batches", "keys", "skipped-f1", "refused")] == ["1", "2", "1", "1"]
            assert [cell(page, f'data-origin="{QN}"', c) for c in ("batches", "keys", "refused")] == ["0", "0", "1"]
            assert "dn-2" in page and "bad_signature" in page and "the signature does not match" in page
            assert "qn-1" in page and "no_signing_key" in page
            assert 'href="/portal/federation" aria-current="page"' in en.text  # in the menu, marked current
            for k in shown_keys:  # nothing about people: no key in any form
                assert k.hex() not in page.lower() and base64.b64encode(k).decode() not in page

            c.session.cookie_jar.update_cookies({"bz_lang": "vi"})
            vi = await c.get("/portal/federation")
            assert '<html lang="vi">' in vi.text and vi.by_id("fed-pending") == "1"
            assert "Liên kết với các tỉnh khác" in html.unescape(vi.text)
            assert vi.by_id("fed-outbox-refused") == "1" and "some of its keys are stored" not in vi.text
        async with r.client() as c:
            await c.login("officer")
            refused = await c.get("/portal/federation")
            assert refused.status == 403 and "fed-pending" not in refused.text
            assert 'href="/portal/federation"' not in (await c.get("/portal/")).text  # not in the officer's menu
    finally:
        await r.http.close()
        server.close()


async def test_a_province_that_does_not_federate_says_so(tmp_path):
    r = await start(tmp_path, extra=NO_PLUGIN_PAGES)
    try:
        async with r.client() as c:
            await c.login("admin")
            c.session.cookie_jar.update_cookies({"bz_lang": "en"})
            page = await c.get("/portal/federation")
            assert page.status == 200 and "no [federation] section" in html.unescape(page.text)
            assert page.by_id("fed-pending") == "0" and "No federation round has run yet." in page.text
            assert 'id="fed-no-imports"' in page.text and 'id="fed-refused"' not in page.text
    finally:
        await r.http.close()
        r.server.close()
