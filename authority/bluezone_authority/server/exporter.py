"""Published feeds: signed batches, an index per feed, a static directory.

Every feed (``keys``, ``venue-traces``, ...) is a numbered list of signed
files. A batch is stored in the database (its bytes too) in the same
transaction that marks its keys exported, and then mirrored into
``export_dir/<feed>/`` with ``index.txt`` (file names oldest first). The
directory is derived state: :func:`sync_directory` rebuilds it from the
database after a crash, so a static web server or CDN can serve it unchanged.

Key batches follow the Google key server: a non-empty batch of fewer than
``min_batch_keys`` real keys is padded to ``min_batch_keys + random(0..pad)``
with fake keys, so the file size does not reveal how many people reported.
Each fake key is drawn on its own (:func:`fake_key`): random key bytes, a
whole day (every published key is one, see :mod:`.publish`), and each other
field drawn from what the batch's real keys hold *in aggregate*, the
transmission risk derived from the drawn report type and onset as for a real
key. A fake copied field by field from one real key would repeat that
key's day and onset; drawn field by field, fakes make the count of keys of
any day, report type or onset say nothing about the number of reporters.
"""

from __future__ import annotations

import hashlib
import os
import random
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bluezone.feeds import sign_payload
from bluezone.i18n import _
from bluezone.models import INTERVALS_PER_DAY, ExposureKey, ReportType

from .database import lock_in
from .db import ServerDB
from .errors import bad_request
from .keys import ServerKeys
from .settings import ServerSettings

FEED_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")
KEYS_FEED = "keys"
MAX_KEYS_PER_FILE = 500_000


@dataclass(frozen=True)
class Batch:
    feed: str
    seq: int
    name: str
    start_ts: int
    end_ts: int
    real_items: int
    size: int


def check_feed_name(feed: str) -> str:
    if not isinstance(feed, str) or not FEED_NAME.match(feed):
        raise bad_request("invalid_feed", _("feed names are 1-32 of a-z, 0-9 and '-'"))
    return feed


def fake_key(real: list[ExposureKey], rng: random.Random) -> ExposureKey:
    """One fake key whose every field is drawn independently from the real keys' values.

    Day, report type and days since onset are each drawn from the batch's
    real keys as a whole (so the mix of values of the padded file is the mix
    of the real one); the transmission risk is then derived as the server
    derives a real key's, so no combination appears that a real key could
    not have."""
    from .publish import transmission_risk

    start = rng.choice(real).rolling_start_interval_number
    report_type = rng.choice(real).report_type
    dsos = rng.choice(real).days_since_onset_of_symptoms
    return ExposureKey(secrets.token_bytes(16), start, INTERVALS_PER_DAY, transmission_risk(report_type, dsos),
                       report_type, dsos)


def pad_keys(real: list[ExposureKey], minimum: int, spread: int,
             rng: random.Random | None = None) -> list[ExposureKey]:
    """Real keys plus fake ones (:func:`fake_key`) up to ``minimum + random(0..spread)``."""
    if not real or len(real) >= minimum:
        return list(real)
    rng = rng or random.SystemRandom()
    target = minimum + rng.randint(0, spread)
    return list(real) + [fake_key(real, rng) for _ in range(target - len(real))]


def _next_seq(conn, feed: str) -> int:
    lock_in(conn, f"feed:{feed}")  # PostgreSQL: one new file per feed at a time (SQLite: BEGIN IMMEDIATE)
    return conn.execute("SELECT coalesce(max(seq), 0) + 1 FROM batches WHERE feed = ?", (feed,)).fetchone()[0]


def _last_end(conn, feed: str) -> int | None:
    row = conn.execute("SELECT max(end_ts) FROM batches WHERE feed = ?", (feed,)).fetchone()
    return row[0]


#: The PostgreSQL channel new batches are announced on (:class:`.announce.PgNotifySource`).
BATCH_CHANNEL = "bluezone_batches"


def _insert_batch(conn, feed: str, seq: int, start: int, end: int, real: int, data: bytes, now: int) -> Batch:
    name = f"{start}-{end}-{seq:05d}.zip"
    conn.execute("INSERT INTO batches (feed, seq, name, start_ts, end_ts, created_at, real_items, data, sha256)"
                 " VALUES (?,?,?,?,?,?,?,?,?)",
                 (feed, seq, name, start, end, now, real, data, hashlib.sha256(data).hexdigest()))
    if getattr(conn, "dialect", "sqlite") == "postgresql":
        # delivered to every worker's LISTEN on commit, never for a rolled-back batch; the name only
        conn.execute("SELECT pg_notify(?, ?)", (BATCH_CHANNEL, name))
    return Batch(feed, seq, name, start, end, real, len(data))


def build_key_batch(db: ServerDB, keys: ServerKeys, settings: ServerSettings, *, now: int,
                    imported: bool = False) -> Batch | None:
    """Export every key whose embargo has passed and that is not yet in a
    file (revoked keys never are), and announce keys revised since their
    file under ``revised_keys`` with their new report type.

    ``imported``: the keys imported from other provinces instead
    (docs/federation.md), in a file of their own whose region is
    :data:`~bluezone.export.OTHER_PROVINCE_REGION`, so a phone can say a
    warning came from another province (and no more) from the one feed.

    Returns ``None`` when there is nothing to publish (no empty files).
    """
    with db.exclusive("export"):  # one exporter at a time across workers (lock first, then the write transaction)
        return _build_key_batch(db, keys, settings, now, imported)


def _build_key_batch(db: ServerDB, keys: ServerKeys, settings: ServerSettings, now: int,
                     imported: bool) -> Batch | None:
    from bluezone.export import OTHER_PROVINCE_REGION, write_export  # the GAEN format lives in bluezone.export

    columns = "key_data, rolling_start, rolling_period, transmission_risk, report_type, dsos"
    with db.transaction() as conn:
        lock_in(conn, f"feed:{KEYS_FEED}")  # before choosing the keys: two exports never take the same ones
        rows = conn.execute(
            f"SELECT {columns} FROM exposure_keys WHERE batch IS NULL AND available_at <= ? AND report_type != ?"
            f" AND origin IS {'NOT ' if imported else ''}NULL ORDER BY key_data LIMIT ?",
            (now, int(ReportType.REVOKED), MAX_KEYS_PER_FILE)).fetchall()
        revised_rows = [] if imported else conn.execute(
            f"SELECT {columns} FROM exposure_keys WHERE revised_at IS NOT NULL AND revised_batch IS NULL"
            " AND batch IS NOT NULL ORDER BY key_data LIMIT ?", (MAX_KEYS_PER_FILE,)).fetchall()
        if not rows and not revised_rows:
            return None
        real = [ExposureKey(r[0], r[1], r[2], r[3], ReportType(r[4]), r[5]) for r in rows]
        revised = [ExposureKey(r[0], r[1], r[2], r[3], ReportType(r[4]), r[5]) for r in revised_rows]
        padded = pad_keys(real, settings.min_batch_keys, settings.pad_random_keys)
        seq = _next_seq(conn, KEYS_FEED)
        start = _last_end(conn, KEYS_FEED) or (now - settings.batch_minutes * 60)
        end = max(now, start + 1)
        region = OTHER_PROVINCE_REGION if imported else settings.region
        data = write_export(padded, keys.export_key, region=region, batch_num=1, batch_size=1,
                            start_timestamp=start, end_timestamp=end, key_id=settings.key_id,
                            key_version=settings.key_version, revised_keys=revised)
        batch = _insert_batch(conn, KEYS_FEED, seq, start, end, len(real) + len(revised), data, now)
        if rows:
            marks = ",".join("?" * len(rows))
            conn.execute(f"UPDATE exposure_keys SET batch = ? WHERE key_data IN ({marks})",
                         [batch.name, *[r[0] for r in rows]])
        if revised_rows:
            marks = ",".join("?" * len(revised_rows))
            conn.execute(f"UPDATE exposure_keys SET revised_batch = ? WHERE key_data IN ({marks})",
                         [batch.name, *[r[0] for r in revised_rows]])
    sync_directory(db, settings.export_dir, feeds=[KEYS_FEED])
    return batch


def publish_payload(db: ServerDB, keys: ServerKeys, settings: ServerSettings, feed: str, payload: bytes, *,
                    start_ts: int, end_ts: int, now: int, real_items: int = 1, conn: Any = None) -> Batch:
    """Sign ``payload`` and append it to ``feed`` (any feed but ``keys``).

    With ``conn`` the batch joins the caller's open transaction and the
    export directory is left for the caller to sync after its commit."""
    check_feed_name(feed)
    if feed == KEYS_FEED:
        raise ValueError("the keys feed is written by build_key_batch only")
    if not isinstance(payload, (bytes, bytearray)) or not payload:
        raise ValueError("payload must be non-empty bytes")
    data = sign_payload(bytes(payload), keys.export_key, key_id=settings.key_id, key_version=settings.key_version)
    if conn is not None:
        return _insert_batch(conn, feed, _next_seq(conn, feed), int(start_ts), int(end_ts), real_items, data, now)
    with db.exclusive("export"):
        with db.transaction() as c:
            batch = _insert_batch(c, feed, _next_seq(c, feed), int(start_ts), int(end_ts), real_items, data, now)
        sync_directory(db, settings.export_dir, feeds=[feed])
    return batch


def index_text(db: ServerDB, feed: str) -> str:
    names = [r[0] for r in db.all("SELECT name FROM batches WHERE feed = ? ORDER BY seq", (feed,))]
    return "".join(f"{n}\n" for n in names)


def etag_of(text: str) -> str:
    return '"' + hashlib.sha256(text.encode()).hexdigest()[:32] + '"'


def batch_data(db: ServerDB, feed: str, name: str) -> bytes | None:
    row = db.one("SELECT data FROM batches WHERE feed = ? AND name = ?", (feed, name))
    return row[0] if row else None


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def sync_directory(db: ServerDB, export_dir: Path, feeds: list[str] | None = None) -> None:
    """Make ``export_dir`` mirror the database: every batch file, an index per
    feed, nothing else (files of purged batches are removed). Files are
    written before the index that names them, so a CDN never lists a missing file.

    Holds the ``export`` lock: the folder has one writer at a time, whichever
    worker asks. Never call it inside a write transaction (the lock is taken
    before the database's, everywhere)."""
    with db.exclusive("export"):
        _sync_directory(db, export_dir, feeds)


def _sync_directory(db: ServerDB, export_dir: Path, feeds: list[str] | None) -> None:
    feeds = feeds or [r[0] for r in db.all("SELECT DISTINCT feed FROM batches")]
    for feed in feeds:
        folder = Path(export_dir) / feed
        folder.mkdir(parents=True, exist_ok=True)
        wanted = {}
        for name, sha in db.all("SELECT name, sha256 FROM batches WHERE feed = ? ORDER BY seq", (feed,)):
            wanted[name] = sha
            path = folder / name
            if not path.exists() or hashlib.sha256(path.read_bytes()).hexdigest() != sha:
                data = batch_data(db, feed, name)
                if data is not None:  # listed by the query above, so present unless purged meanwhile
                    _write_atomic(path, data)
        _write_atomic(folder / "index.txt", index_text(db, feed).encode())
        for path in folder.glob("*.zip"):
            if path.name not in wanted:
                path.unlink()
