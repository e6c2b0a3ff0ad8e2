"""Federation failures, each against a real gateway (aiohttp over mutual TLS on
loopback, real X.509 from the operator's CA, its own database: a SQLite file
or a PostgreSQL database, ``gateway_database``) and real province servers'
databases:

* the gateway down: the province queues, retries, nothing lost, nothing twice
  (also when the gateway's answer is lost after it stored the batch);
* no certificate, a certificate of another CA, an unregistered province: nothing;
* bad signature, malformed bytes, another province's origin, a reused tag: refused
  with a JSON error code, nothing stored;
* a gateway that alters a key: the importer refuses the batch and reports it;
* consent and report types decide which keys leave; retention deletes old batches.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import secrets
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp import web

from bluezone.models import ExposureKey, ReportType
from bluezone_authority.gateway import certs, encoding
from bluezone_authority.gateway.app import Gateway, create_app, utc_date
from bluezone_authority.gateway.client import GatewayClient, GatewayError
from bluezone_authority.gateway.federation import run_round, status
from bluezone_authority.gateway.province import FederationSettings
from bluezone_authority.gateway.settings import GatewaySettings
from bluezone_authority.server import AuthorityServer
from bluezone_authority.server.errors import ApiError
from bluezone_authority.server.keys import public_pem
from bluezone_authority.server.process import free_port
from bluezone_authority.server.testing import NOW, Clock, settings_for

DN, GL = "48", "64"


@dataclass
class Fed:
    tmp: Path
    port: int
    clock: Clock
    gateway: Gateway
    provinces: dict[str, AuthorityServer]
    runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def settings(self, origin: str, other: str, **kw) -> FederationSettings:
        cert = self.tmp / f"{origin}.pem"
        return FederationSettings(gateway_url=self.url, origin=origin, client_cert=cert,
                                  client_key=cert.with_suffix(".key"), ca=self.tmp / "ca" / "ca.pem",
                                  import_from=(other,), **kw,
                                  signing_keys=({"origin": other, "public_key": str(self.tmp / f"{other}.sign.pem")},))

    async def start(self) -> None:
        ctx = certs.server_context(self.tmp / "ca" / "ca.pem", self.tmp / "gateway.pem", self.tmp / "gateway.key")
        self.runner = web.AppRunner(create_app(self.gateway, background=False), access_log=None)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port, ssl_context=ctx).start()

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None


@pytest.fixture
async def fed(tmp_path, gateway_database, request):
    """The gateway and two province servers, all on SQLite files or all on PostgreSQL databases."""
    certs.init_ca(tmp_path / "ca")
    certs.issue(tmp_path / "ca", "gateway", tmp_path / "gateway", server_hosts=["127.0.0.1"])
    clock = Clock(NOW)
    gw = Gateway(GatewaySettings(database=gateway_database, ca=tmp_path / "ca" / "ca.pem",
                                 cert=tmp_path / "gateway.pem", key=tmp_path / "gateway.key"), clock=clock)
    provinces = {}
    for code in (DN, GL):
        certs.issue(tmp_path / "ca", code, tmp_path / code)
        where = {}
        if gateway_database.startswith("postgresql://"):
            where["database"] = request.getfixturevalue("postgresql_cluster").new_database("p")
        server = AuthorityServer(settings_for(tmp_path / f"p{code}", **where), clock=clock)
        pem = public_pem(server.keys.export_key)
        (tmp_path / f"{code}.sign.pem").write_text(pem)
        gw.store.add_province(code, pem, NOW)
        provinces[code] = server
    f = Fed(tmp_path, free_port(), clock, gw, provinces)
    yield f
    await f.stop()
    gw.close()
    for s in provinces.values():
        s.close()


def add_keys(server: AuthorityServer, n: int, *, share: bool = True,
             report_type: ReportType = ReportType.CONFIRMED_TEST) -> list[bytes]:
    """Keys as the publish path stores them, published already (available_at in the past)."""
    day = NOW // 86400 * 144 - 3 * 144
    keys = [secrets.token_bytes(16) for _ in range(n)]
    with server.db.transaction() as c:
        c.executemany("INSERT INTO exposure_keys (key_data, rolling_start, rolling_period, transmission_risk,"
                      " report_type, dsos, created_at, available_at, share_beyond) VALUES (?,?,?,?,?,?,?,?,?)",
                      [(k, day, 144, 4, int(report_type), 1, NOW - 7200, NOW - 3600, int(share)) for k in keys])
    return keys


def stored_keys(gw: Gateway) -> set[bytes]:
    return {k.key.key_data for (data,) in gw.store.db.all("SELECT data FROM batches")
            for k in encoding.decode(data).keys}


async def test_gateway_down_the_province_queues_and_retries_nothing_lost_or_twice(fed):
    dn = fed.provinces[DN]
    keys = add_keys(dn, 3)
    settings = fed.settings(DN, GL)
    down = await run_round(dn, settings)  # nothing listens on the gateway's port yet
    assert down.error == "unreachable" and len(down.batched) == 1 and down.sent == []
    assert status(dn)["outboxPending"] == 1
    assert status(dn)["lastRound"] == {"at": NOW, "error": "unreachable"}  # staff see why (API, portal)

    await fed.start()
    up = await run_round(dn, settings)
    assert up.error is None and up.batched == [] and up.sent == down.batched
    assert status(dn)["lastRound"] == {"at": NOW, "error": None}
    assert fed.gateway.store.count() == 1 and stored_keys(fed.gateway) == set(keys)

    # the gateway stored the batch but its answer was lost: the resend is recognised, not stored twice
    with dn.db.transaction() as c:
        c.execute("UPDATE fed_outbox SET sent_at = NULL")
    again = await run_round(dn, settings)
    assert again.error is None and again.sent == down.batched
    assert fed.gateway.store.count() == 1 and status(dn)["outboxPending"] == 0

    more = add_keys(dn, 2)
    await run_round(dn, settings)
    assert fed.gateway.store.count() == 2 and stored_keys(fed.gateway) == set(keys) | set(more)


async def test_without_a_valid_client_certificate_a_province_gets_nothing(fed):
    dn = fed.provinces[DN]
    add_keys(dn, 2)
    await fed.start()
    await run_round(dn, fed.settings(DN, GL))
    assert fed.gateway.store.count() == 1
    base = fed.settings(GL, DN)

    # no client certificate: the TLS handshake is refused
    no_cert = GatewayClient(base)
    no_cert.ssl = certs.client_context(base.ca, None, None)
    # a certificate of another CA, with the right province name
    certs.init_ca(fed.tmp / "rogue")
    rogue = certs.issue(fed.tmp / "rogue", GL, fed.tmp / "rogue-gl")
    other_ca = GatewayClient(base)
    other_ca.ssl = certs.client_context(base.ca, rogue.cert, rogue.key)
    for client in (no_cert, other_ca):
        try:
            with pytest.raises(GatewayError) as refused:
                await client.download("2026-05-28", None)
            assert refused.value.code == "unreachable"
        finally:
            await client.close()

    # a certificate from the operator's CA for a province the gateway does not know
    certs.issue(fed.tmp / "ca", "99", fed.tmp / "99")
    unknown = GatewayClient(FederationSettings(**{**base.__dict__, "origin": "99", "client_cert": fed.tmp / "99.pem",
                                                  "client_key": fed.tmp / "99.key"}))
    try:
        data = encoding.encode("99", [encoding.FederatedKey(ExposureKey(b"k" * 16, 1, 144, 1, ReportType(1)))])
        with pytest.raises(GatewayError) as refused:
            await unknown.upload("t99", data, encoding.sign(data, fed.provinces[GL].keys.export_key))
        assert (refused.value.status, refused.value.code) == (403, "unknown_province")
    finally:
        await unknown.close()
    assert fed.gateway.store.count() == 1


async def test_the_gateway_refuses_bad_batches_with_a_json_error_and_stores_nothing(fed):
    await fed.start()
    dn_key = fed.provinces[DN].keys.export_key
    key = encoding.FederatedKey(ExposureKey(b"a" * 16, 2_960_000, 144, 4, ReportType.CONFIRMED_TEST, 2))
    good = encoding.encode(DN, [key])
    client = GatewayClient(fed.settings(DN, GL))
    try:
        cases = [
            ("t1", good, encoding.sign(good, fed.provinces[GL].keys.export_key), 400, "bad_signature"),
            ("t2", good[:-3], encoding.sign(good[:-3], dn_key), 400, "malformed_batch"),
            ("t3", encoding.encode(GL, [key]), encoding.sign(encoding.encode(GL, [key]), dn_key), 403,
             "origin_mismatch"),
            ("no tag!", good, encoding.sign(good, dn_key), 400, "invalid_batch_tag"),
        ]
        for tag, data, sig, http, code in cases:
            with pytest.raises(GatewayError) as refused:
                await client.upload(tag, data, sig)
            assert (refused.value.status, refused.value.code) == (http, code), tag
            assert refused.value.message  # a one-line text beside the code
        assert fed.gateway.store.count() == 0
        assert await client.upload("t4", good, encoding.sign(good, dn_key)) is True
        other = encoding.encode(DN, [encoding.FederatedKey(ExposureKey(b"b" * 16, 2_960_000, 144, 4,
                                                                       ReportType.CONFIRMED_TEST, 2))])
        with pytest.raises(GatewayError) as refused:
            await client.upload("t4", other, encoding.sign(other, dn_key))
        assert (refused.value.status, refused.value.code) == (409, "duplicate_batch_tag")
        stored = fed.gateway.store.get("t4")
        assert stored is not None and stored.data == good  # unaltered
        assert fed.gateway.audit(stored.date, "t4")["keyCount"] == 1
        # a trailing newline or another script's digits is not a tag or a date (it was only an empty lookup)
        for date, after, code in ((stored.date, "t4\n", "invalid_batch_tag"), (stored.date + "\n", None, "invalid_date"),
                                  ("\uff12\uff10\uff12\uff16" + stored.date[4:], None, "invalid_date")):
            with pytest.raises(ApiError) as refused:
                fed.gateway.download(date, after)
            assert (refused.value.status, refused.value.code) == (400, code), (date, after)
        assert fed.gateway.download(stored.date, None)[0] == stored
    finally:
        await client.close()


async def test_a_gateway_that_alters_a_key_is_detected_by_the_importer(fed, caplog):
    dn, gl = fed.provinces[DN], fed.provinces[GL]
    await fed.start()
    sent = add_keys(dn, 3)
    await run_round(dn, fed.settings(DN, GL))
    # the gateway's operator (or an attacker there) changes one key's transmission risk
    tag, data = fed.gateway.store.db.one("SELECT tag, data FROM batches")
    altered = bytearray(data)
    altered[7 + 1 + len(DN) + 4 + 16 + 6] ^= 0x01
    encoding.decode(bytes(altered))  # still well formed: only the signature can tell
    fed.gateway.store.db.execute("UPDATE batches SET data = ? WHERE tag = ?", (bytes(altered), tag))

    with caplog.at_level(logging.WARNING, logger="bluezone.federation"):
        result = await run_round(gl, fed.settings(GL, DN))
    assert [(r.origin, r.result) for r in result.imported] == [(DN, "bad_signature")]
    assert not set(sent) & {r[0] for r in gl.db.all("SELECT key_data FROM exposure_keys")}
    s = status(gl)
    assert s["batchesRefused"] == 1 and s["keysImported"] == 0 and s["refused"][0]["reason"] == "bad_signature"
    assert any("refused: bad_signature" in r.getMessage() for r in caplog.records)


async def test_only_consented_confirmed_keys_leave_and_imports_keep_their_fields(fed):
    dn, gl = fed.provinces[DN], fed.provinces[GL]
    await fed.start()
    shared = add_keys(dn, 2)
    kept = add_keys(dn, 2, share=False)
    f1 = add_keys(dn, 1, report_type=ReportType.RECURSIVE)
    revoked = add_keys(dn, 1, report_type=ReportType.REVOKED)
    await run_round(dn, fed.settings(DN, GL))
    assert stored_keys(fed.gateway) == set(shared)
    await run_round(dn, fed.settings(DN, GL, include_recursive=True))
    assert stored_keys(fed.gateway) == set(shared) | set(f1)
    assert not (set(kept) | set(revoked)) & stored_keys(fed.gateway)

    first = await run_round(gl, fed.settings(GL, DN))
    assert sorted(r.new_keys for r in first.imported) == [1, 2]
    rows = gl.db.all("SELECT key_data, transmission_risk, report_type, dsos, origin FROM exposure_keys")
    assert {r[0] for r in rows} == set(shared) | set(f1)
    assert {r[1:] for r in rows if r[0] in shared} == {(4, int(ReportType.CONFIRMED_TEST), 1, DN)}
    second = await run_round(gl, fed.settings(GL, DN))  # incremental: nothing new, nothing twice
    assert second.imported == [] and len(gl.db.all("SELECT 1 FROM exposure_keys")) == 3
    # an imported key is never sent on (its province sent it already)
    await run_round(gl, fed.settings(GL, DN, include_recursive=True))
    assert fed.gateway.store.count() == 2


async def test_retention_deletes_batches_after_the_window(fed):
    await fed.start()
    add_keys(fed.provinces[DN], 1)
    await run_round(fed.provinces[DN], fed.settings(DN, GL))
    await run_round(fed.provinces[GL], fed.settings(GL, DN))
    assert fed.provinces[DN].db.all("SELECT tag FROM fed_outbox") and fed.provinces[GL].db.all(
        "SELECT tag FROM fed_imports")
    fed.clock.t = NOW + 13 * 86400
    assert fed.gateway.purge() == 0
    fed.clock.t = NOW + 15 * 86400
    assert fed.gateway.purge() == 1 and fed.gateway.store.count() == 0
    # the provinces' own records of batches (the outbox holds keys) go with the keys
    fed.clock.t = NOW + 40 * 86400
    for province in fed.provinces.values():
        province.purge()
    assert fed.provinces[DN].db.all("SELECT tag FROM fed_outbox") == []
    assert fed.provinces[GL].db.all("SELECT tag FROM fed_imports") == []


def test_encoding_matches_the_vector_in_the_docs():
    """docs/federation.md writes the bytes of one batch down; the encoder must give exactly those."""
    import re

    doc = (Path(__file__).parents[2] / "docs" / "federation.md").read_text()
    block = re.search(r"<!-- vector -->\n```\n(.*?)```", doc, re.S)
    assert block, "docs/federation.md lost its test vector"
    expected = bytes.fromhex("".join(block.group(1).split()))
    keys = [encoding.FederatedKey(ExposureKey(bytes(range(16, 32)), 2_950_000, 144, 6,
                                              ReportType.CONFIRMED_CLINICAL_DIAGNOSIS, None), ("64",)),
            encoding.FederatedKey(ExposureKey(bytes(range(16)), 2_950_144, 144, 2, ReportType.CONFIRMED_TEST, -3))]
    assert encoding.encode("48", keys) == expected
    back = encoding.decode(expected)
    assert back.origin == "48" and [k.key.key_data for k in back.keys] == [bytes(range(16)), bytes(range(16, 32))]
    assert back.keys[0].key.days_since_onset_of_symptoms == -3 and back.keys[1].relevant_to == ("64",)
    assert back.keys[1].relevant_for("64") and not back.keys[1].relevant_for("01") and back.keys[0].relevant_for("01")


async def test_a_signed_batch_with_keys_out_of_the_window_imports_only_the_sane_ones(fed):
    """A province's signature vouches for who sent a key, not that its dates make sense: a key
    whose rolling start is in the future or older than 14 days must never reach this province's
    export (phones would hold it for weeks, or match nothing), the rest of the batch still counts."""
    dn, gl = fed.provinces[DN], fed.provinces[GL]
    await fed.start()
    today = NOW // 600 // 144 * 144
    starts = {"sane": today - 2 * 144, "future": today + 30 * 144, "past": today - 60 * 144}
    keys = {name: secrets.token_bytes(16) for name in starts}
    batch = [encoding.FederatedKey(ExposureKey(keys[n], starts[n], 144, 4, ReportType.CONFIRMED_TEST, 1))
             for n in starts]
    data = encoding.encode(DN, sorted(batch, key=lambda f: f.key.key_data))
    fed.gateway.upload(DN, "absurd-1", base64.b64encode(encoding.sign(data, dn.keys.export_key)).decode(), data)

    result = await run_round(gl, fed.settings(GL, DN))
    assert [(r.origin, r.result, r.new_keys) for r in result.imported] == [(DN, "imported", 1)]
    assert {r[0] for r in gl.db.all("SELECT key_data FROM exposure_keys")} == {keys["sane"]}
async def test_a_signed_batch_with_absurd_key_dates_or_onset_imports_only_the_sane_keys(fed):
    """A province's own signature does not make its keys sane: the importer applies
    the same window as a phone upload (not older than the key age limit, not in the
    future) and GAEN's days-since-onset range, key by key; the sane keys still come in."""
    import base64
    dn, gl = fed.provinces[DN], fed.provinces[GL]
    await fed.start()
    day = NOW // 86400 * 144 - 3 * 144

    def key(start: int, dsos: int | None = 1) -> encoding.FederatedKey:
        return encoding.FederatedKey(ExposureKey(secrets.token_bytes(16), start, 144, 4,
                                                 ReportType.CONFIRMED_TEST, dsos))
    good = key(day)
    absurd = [key(0), key(2**32 - 1), key(day + 10 * 144), key(day - 400 * 144), key(day, dsos=100)]
    data = encoding.encode(DN, [good, *absurd])
    fed.gateway.upload(DN, "absurd-1", base64.b64encode(encoding.sign(data, dn.keys.export_key)).decode(), data)

    result = await run_round(gl, fed.settings(GL, DN))
    assert [(r.origin, r.result, r.keys, r.new_keys) for r in result.imported] == [(DN, "imported", 6, 1)]
    assert {r[0] for r in gl.db.all("SELECT key_data FROM exposure_keys")} == {good.key.key_data}


async def test_a_province_without_f2_imports_no_recursive_keys_and_counts_them(fed):
    """A province with ``[server] recursive_reports`` off publishes no F1 (RECURSIVE) keys, so its
    phones are never warned as F2. Keys imported from another province go into its own export, so
    it must not take F1 keys from there either. One real batch signed by Đà Nẵng holds both kinds:
    the confirmed keys come in; the F1 keys are left out and counted in the import's result, in
    fed_imports and in the status. A province with F2 on takes the same batch whole."""
    dn = fed.provinces[DN]
    await fed.start()
    confirmed = add_keys(dn, 2)
    f1 = add_keys(dn, 3, report_type=ReportType.RECURSIVE)
    await run_round(dn, fed.settings(DN, GL, include_recursive=True))
    assert stored_keys(fed.gateway) == set(confirmed) | set(f1) and fed.gateway.store.count() == 1

    no_f2 = AuthorityServer(settings_for(fed.tmp / "p64-no-f2", recursive_reports=False), clock=fed.clock)
    try:
        result = await run_round(no_f2, fed.settings(GL, DN))
        assert [(r.result, r.keys, r.new_keys, r.skipped_recursive) for r in result.imported] == [
            ("imported", 5, 2, 3)]
        assert result.as_json()["imports"][0]["skippedRecursive"] == 3
        assert {r[0] for r in no_f2.db.all("SELECT key_data FROM exposure_keys")} == set(confirmed)
        assert [tuple(r) for r in no_f2.db.all("SELECT key_count, imported_keys, result FROM fed_imports")] == [
            (5, 2, "imported skipped_recursive=3")]
        s = status(no_f2)
        assert (s["batchesImported"], s["keysImported"], s["keysSkippedRecursive"], s["batchesRefused"]) == (1, 2, 3, 0)
        assert s["origins"] == [{"origin": DN, "batchesImported": 1, "keysImported": 2, "keysSkippedRecursive": 3,
                                 "batchesRefused": 0}]
        assert s["lastRound"]["error"] is None
    finally:
        no_f2.close()

    with_f2 = await run_round(fed.provinces[GL], fed.settings(GL, DN))
    assert [(r.new_keys, r.skipped_recursive) for r in with_f2.imported] == [(5, 0)]
    assert status(fed.provinces[GL])["keysSkippedRecursive"] == 0


def signed(origin: str, keys: list[bytes], signing_key) -> tuple[bytes, bytes]:
    """A canonical batch of ``keys`` (published three days ago) and its signature."""
    day = NOW // 86400 * 144 - 3 * 144
    data = encoding.encode(origin, [encoding.FederatedKey(ExposureKey(k, day, 144, 4, ReportType.CONFIRMED_TEST, 1))
                                    for k in keys])
    return data, encoding.sign(data, signing_key)


async def test_a_key_stored_under_one_tag_is_refused_under_another_even_at_volume(fed):
    """EFGS stores a key once: a batch holding a key the gateway already has
    (under another tag, from any province) is refused whole with
    ``duplicate_keys`` and nothing of it is stored, with tens of thousands of
    keys on each side. Retention deletes the keys' digests with their batch."""
    await fed.start()
    dn_key, gl_key = fed.provinces[DN].keys.export_key, fed.provinces[GL].keys.export_key
    dn, gl = GatewayClient(fed.settings(DN, GL)), GatewayClient(fed.settings(GL, DN))
    store = fed.gateway.store
    try:
        first = [secrets.token_bytes(16) for _ in range(20_000)]
        assert await dn.upload("dn-1", *signed(DN, first, dn_key)) is True
        assert store.stored_keys() == 20_000

        # Gia Lai: 20,000 new keys and one of Đà Nẵng's
        fresh = [secrets.token_bytes(16) for _ in range(20_000)]
        clashing = signed(GL, [*fresh, first[12_345]], gl_key)
        with pytest.raises(GatewayError) as refused:
            await gl.upload("gl-1", *clashing)
        assert (refused.value.status, refused.value.code) == (409, "duplicate_keys")
        assert "dn-1" in refused.value.message
        # the clashing key is named by its place in the batch, so the uploader can send the rest again
        order = [k.key.key_data for k in encoding.decode(clashing[0]).keys]
        assert refused.value.detail["duplicateKeys"] == [order.index(first[12_345])]
        # Đà Nẵng's own keys again under a new tag (a province's outbox restored from an old backup)
        with pytest.raises(GatewayError) as again:
            await dn.upload("dn-2", *(restored := signed(DN, [*first[:10], secrets.token_bytes(16)], dn_key)))
        assert again.value.code == "duplicate_keys" and "10" in again.value.message
        order = [k.key.key_data for k in encoding.decode(restored[0]).keys]
        assert again.value.detail["duplicateKeys"] == sorted(order.index(k) for k in first[:10])
        assert store.count() == 1 and store.stored_keys() == 20_000  # nothing of either batch
        assert store.get("gl-1") is None and store.get("dn-2") is None

        assert await gl.upload("gl-2", *signed(GL, fresh, gl_key)) is True
        assert store.count() == 2 and store.stored_keys() == 40_000
        assert stored_keys(fed.gateway) == set(first) | set(fresh)

        fed.clock.t = NOW + 15 * 86400
        assert fed.gateway.purge() == 2 and store.stored_keys() == 0
        assert await gl.upload("gl-1", *clashing) is True  # the digests went with their batches
    finally:
        await dn.close()
        await gl.close()


async def test_the_gateway_handlers_keep_database_work_off_the_event_loop_on_postgresql(fed):
    """On PostgreSQL each handler's database work runs in a worker thread (a
    network round trip must not stall every other request); on SQLite it
    stays on the event loop, as the key server does."""
    import threading

    await fed.start()
    db = fed.gateway.store.db
    threads: list[int] = []
    # every way the store reaches the database: a transaction, or one statement
    # (on PostgreSQL a read outside a transaction is one autocommit statement)
    real = {name: getattr(db, name) for name in ("transaction", "one", "all")}

    def watching(fn):
        def watched(*args, **kw):  # the real call, noting which thread made it
            threads.append(threading.get_ident())
            return fn(*args, **kw)
        return watched
    for name, fn in real.items():
        setattr(db, name, watching(fn))
    loop_thread = threading.get_ident()
    client = GatewayClient(fed.settings(DN, GL))
    date = utc_date(NOW)
    try:
        await client.upload("t1", *signed(DN, [secrets.token_bytes(16)], fed.provinces[DN].keys.export_key))
        uploaded = len(threads)
        got = await client.download(date, None)
        assert got is not None and got.tag == "t1"
        downloaded = len(threads)
        async with client.session.get(f"{fed.url}/v1/batches/audit/{date}/t1", ssl=client.ssl) as resp:
            assert resp.status == 200
    finally:
        for name, fn in real.items():
            setattr(db, name, fn)
        await client.close()
    assert uploaded >= 1
    if db.kind == "postgresql":  # each route reached the database
        assert uploaded < downloaded < len(threads)
        assert loop_thread not in threads
    else:
        assert set(threads) == {loop_thread}


async def test_postgresql_batches_are_numbered_in_the_order_they_commit(tmp_path, postgresql_cluster):
    """On PostgreSQL uploads run side by side. If a batch could be numbered
    before another yet commit after it, a province that had read "everything
    after the later one" would never see it. So an upload waits while another
    holds the upload lock (as an upload in flight does), and meanwhile the
    gateway still answers downloads: the wait is in a worker thread, not on
    the event loop."""
    import psycopg
    from cryptography.hazmat.primitives.asymmetric import ec

    from bluezone_authority.gateway.store import UPLOAD_LOCK
    from bluezone_authority.server.database import lock_key

    # lock_timeout bounds the wait, so code that waited on the event loop fails instead of hanging the test
    url = postgresql_cluster.new_database("gw") + "&options=-c%20lock_timeout%3D20s"
    certs.init_ca(tmp_path / "ca")
    certs.issue(tmp_path / "ca", "gateway", tmp_path / "gateway", server_hosts=["127.0.0.1"])
    dn_key = ec.generate_private_key(ec.SECP256R1())
    gw = Gateway(GatewaySettings(database=url, ca=tmp_path / "ca" / "ca.pem", cert=tmp_path / "gateway.pem",
                                 key=tmp_path / "gateway.key"), clock=Clock(NOW))
    for code in (DN, GL):
        certs.issue(tmp_path / "ca", code, tmp_path / code)
        gw.store.add_province(code, public_pem(dn_key), NOW)
    (tmp_path / f"{DN}.sign.pem").write_text(public_pem(dn_key))
    (tmp_path / f"{GL}.sign.pem").write_text(public_pem(dn_key))
    fed = Fed(tmp_path, free_port(), Clock(NOW), gw, {})
    await fed.start()
    dn, gl = GatewayClient(fed.settings(DN, GL)), GatewayClient(fed.settings(GL, DN))
    date = utc_date(NOW)
    try:
        slow_data, slow_sig = signed(DN, [secrets.token_bytes(16)], dn_key)
        with psycopg.connect(url) as slow:  # an upload in flight: it holds the lock and has drawn its number
            slow.execute("SELECT pg_advisory_xact_lock(%s)", (lock_key(UPLOAD_LOCK),))
            slow.execute("INSERT INTO batches (tag, date, origin, uploader, uploaded_at, key_count, data, signature,"
                         " sha256) VALUES ('slow', %s, %s, %s, %s, 1, %s, %s, 'x')",
                         (date, DN, DN, NOW, slow_data, slow_sig))
            upload = asyncio.create_task(dn.upload("fast", *signed(DN, [secrets.token_bytes(16)], dn_key)))
            while gw.store.db.one("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")[0] == 0:
                assert not upload.done(), upload  # it must wait for the lock, not commit ahead of 'slow'
                await asyncio.sleep(0.05)
            assert await asyncio.wait_for(gl.download(date, None), 30) is None  # answered meanwhile: nothing yet
            assert not upload.done()
        assert await asyncio.wait_for(upload, 30) is True
        first = await gl.download(date, None)
        assert first is not None and (first.tag, first.next_tag) == ("slow", "fast")
    finally:
        await dn.close()
        await gl.close()
        await fed.stop()
        gw.close()


# --- a batch refused for good does not block the outbox -----------------------------------------

async def two_pending(fed) -> tuple[list[bytes], list[bytes], str, str]:
    """Two of Đà Nẵng's batches waiting in its outbox, oldest first: each made by a
    round while nothing listens on the gateway's port (so each round ends ``unreachable``)."""
    dn, settings = fed.provinces[DN], fed.settings(DN, GL)
    first = add_keys(dn, 2)
    r1 = await run_round(dn, settings)
    fed.clock.t = NOW + 60
    second = add_keys(dn, 2)
    r2 = await run_round(dn, settings)
    assert r1.error == r2.error == "unreachable" and len(r1.batched) == len(r2.batched) == 1
    return first, second, r1.batched[0], r2.batched[0]


async def test_a_batch_the_gateway_refuses_for_good_is_set_aside_and_the_round_goes_on(fed, caplog):
    """Đà Nẵng's older batch holds a key the gateway has already (in a batch of Gia
    Lai's, as an outbox restored from a backup would): the gateway refuses it with
    ``duplicate_keys`` at every try. It is marked refused with that code, the newer
    batch is still sent and Gia Lai's batch imported in the same round, and the
    refused one is never sent again. Staff see it (status: the API's and the portal's)."""
    dn, gl = fed.provinces[DN], fed.provinces[GL]
    settings = fed.settings(DN, GL)
    first, second, old_tag, new_tag = await two_pending(fed)
    await fed.start()
    fresh = [secrets.token_bytes(16) for _ in range(2)]
    client = GatewayClient(fed.settings(GL, DN))
    try:
        assert await client.upload("gl-1", *signed(GL, [first[0], *fresh], gl.keys.export_key)) is True
    finally:
        await client.close()

    with caplog.at_level(logging.WARNING, logger="bluezone.federation"):
        result = await run_round(dn, settings)
    assert result.error is None
    assert result.refused == [(old_tag, "duplicate_keys")] and result.sent == [new_tag]
    assert result.as_json()["refused"] == [{"batchTag": old_tag, "reason": "duplicate_keys"}]
    assert result.released == 1  # first[1]: the gateway named only first[0]
    assert [(r.tag, r.origin, r.result, r.new_keys) for r in result.imported] == [
        ("gl-1", GL, "imported", 2), (new_tag, DN, "skipped", 0)]  # its own batch comes back, skipped
    assert set(fresh) <= {r[0] for r in dn.db.all("SELECT key_data FROM exposure_keys")}
    assert stored_keys(fed.gateway) == {first[0], *fresh, *second}
    assert any(old_tag in r.getMessage() and "duplicate_keys" in r.getMessage() for r in caplog.records)

    s = status(dn)
    assert (s["outboxPending"], s["batchesSent"], s["outboxRefused"]) == (0, 1, 1)
    assert [(b["batchTag"], b["reason"], b["keys"], b["at"]) for b in s["outboxRefusedBatches"]] == [
        (old_tag, "duplicate_keys", 2, NOW + 60)]
    assert s["lastRound"] == {"at": NOW + 60, "error": None}

    # the refused batch stays aside (not sent, not refused again); the key the gateway did not
    # hold leaves in a new batch of its own, and nothing else is sent twice
    again = await run_round(dn, settings)
    assert (again.error, again.refused, again.released) == (None, [], 0)
    assert len(again.batched) == 1 and again.sent == again.batched
    assert [(r.tag, r.result) for r in again.imported] == [(again.batched[0], "skipped")]
    assert stored_keys(fed.gateway) == {first[0], first[1], *fresh, *second}
    assert fed.gateway.store.count() == 3 and status(dn)["outboxRefused"] == 1
    last = await run_round(dn, settings)
    assert (last.batched, last.sent, last.refused, last.imported) == ([], [], [], [])


async def answering(fed, status: int, code: str) -> web.AppRunner:
    """On the gateway's port, behind its mutual TLS: something that answers every
    upload with HTTP ``status`` and the error ``code`` (no JSON body when empty)."""
    async def upload(request: web.Request) -> web.Response:
        await request.read()
        if not code:
            return web.Response(status=status, text="Bad Gateway")
        return web.json_response({"error": {"code": code, "message": "try later"}}, status=status)
    app = web.Application()
    app.router.add_post("/v1/batches/upload", upload)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    ctx = certs.server_context(fed.tmp / "ca" / "ca.pem", fed.tmp / "gateway.pem", fed.tmp / "gateway.key")
    await web.TCPSite(runner, "127.0.0.1", fed.port, ssl_context=ctx).start()
    return runner


async def test_a_gateway_down_or_failing_keeps_every_batch_pending_nothing_lost_or_twice(fed):
    """Unreachable, 503, 429, a 5xx whatever code it names, a 502 without a body:
    the gateway's side, not the batch's. The round stops, both batches stay pending
    (none is set aside), and once the gateway is back both are sent, once."""
    dn, settings = fed.provinces[DN], fed.settings(DN, GL)
    first, second, old_tag, new_tag = await two_pending(fed)
    s = status(dn)
    assert (s["outboxPending"], s["outboxRefused"], s["outboxRefusedBatches"]) == (2, 0, [])
    for http, code in ((503, "unavailable"), (429, "too_many_requests"), (500, "malformed_batch"), (502, "")):
        runner = await answering(fed, http, code)
        try:
            result = await run_round(dn, settings)
        finally:
            await runner.cleanup()
        assert (result.error, result.sent, result.refused) == (code or "http_error", [], []), http
        s = status(dn)
        assert (s["outboxPending"], s["outboxRefused"]) == (2, 0), http

    await fed.start()
    up = await run_round(dn, settings)
    assert (up.error, up.sent, up.refused) == (None, [old_tag, new_tag], [])
    assert fed.gateway.store.count() == 2 and stored_keys(fed.gateway) == set(first) | set(second)
    assert (status(dn)["outboxPending"], status(dn)["batchesSent"]) == (0, 2)


async def test_a_federation_round_keeps_database_work_off_the_event_loop_on_postgresql(fed):
    """As the request handlers do: on PostgreSQL every transaction of a round
    (filling the outbox, marking batches sent, importing, recording the round)
    runs in a worker thread, so phones are answered while the database works;
    on SQLite it stays on the event loop."""
    import threading

    dn, gl = fed.provinces[DN], fed.provinces[GL]
    await fed.start()
    add_keys(gl, 2)
    await run_round(gl, fed.settings(GL, DN))  # a batch of Gia Lai's to import
    add_keys(dn, 2)
    backend = dn.db.backend
    threads: list[int] = []
    real = backend.transaction

    def watched():  # the real transaction, noting which thread opened it
        threads.append(threading.get_ident())
        return real()
    backend.transaction = watched  # type: ignore[method-assign]
    try:
        result = await run_round(dn, fed.settings(DN, GL))
    finally:
        backend.transaction = real  # type: ignore[method-assign]
    assert len(result.sent) == 1 and [r.result for r in result.imported] == ["imported", "skipped"]
    assert len(threads) >= 4  # fill, pending, mark sent, import, record (and the reads)
    loop_thread = threading.get_ident()
    if backend.kind == "postgresql":
        assert loop_thread not in threads
    else:
        assert set(threads) == {loop_thread}


@pytest.mark.parametrize("detail", [{}, {"duplicateKeys": []}, {"duplicateKeys": [2]}, {"duplicateKeys": [-1]},
                                    {"duplicateKeys": ["0"]}, {"duplicateKeys": [True]}, {"duplicateKeys": 0},
                                    {"duplicateKeys": [0.0]}])
def test_a_duplicate_keys_answer_that_does_not_name_keys_well_releases_nothing(detail):
    """A gateway's positions are checked before a key is moved: out of the batch,
    not whole numbers, or missing, and nothing is released."""
    from bluezone_authority.gateway.outbox import clashing_positions

    assert clashing_positions(detail, 2) is None
    assert clashing_positions({"duplicateKeys": [1, 0]}, 2) == {0, 1}
