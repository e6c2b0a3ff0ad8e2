"""The paper-log replacement: a visitor log for people without smartphones.

At the entrance kiosk a visitor types a name and phone number. The entry is
sealed at once to the health authority's public key (libsodium sealed box):
the venue's own machine cannot read it back, not even a minute later. Only
the hour of the visit is kept in clear, so the kiosk can delete entries after
14 days (on every start, and every hour while it runs: a kiosk is left on
for weeks) and hand over, within a venue trace, exactly the entries of the
traced window. Deleted entries are overwritten (``secure_delete``), not
left in the file's free space. The authority opens them; nobody else can.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import nacl.public

from bluezone.i18n import Message, _

RETENTION_DAYS = 14
#: How often a running kiosk purges (retention is counted in hours, so an hour late at most).
PURGE_EVERY_SECONDS = 3600.0


class KioskError(ValueError):
    """A log entry that cannot be recorded (missing name or phone)."""


@dataclass(frozen=True, slots=True)
class LogEntry:
    name: str
    phone: str
    arrival: int

    def problems(self) -> list[Message]:
        out: list[Message] = []
        if not self.name.strip() or len(self.name) > 100:
            out.append(_("A name is required (at most 100 characters)"))
        digits = "".join(ch for ch in self.phone if ch.isdigit())
        if not 8 <= len(digits) <= 15 or any(ch not in "0123456789 +-.()" for ch in self.phone):
            out.append(_("Invalid phone number"))
        return out


class VisitorLog:
    """A kiosk's log file: sealed entries with their hour, mode 0600."""

    def __init__(self, path: str | os.PathLike, authority_public_key: bytes, *,
                 retention_days: int = RETENTION_DAYS, clock=time.time):
        self.path = Path(path)
        self.box = nacl.public.SealedBox(nacl.public.PublicKey(authority_public_key))
        self.retention_days = retention_days
        self.clock = clock
        if not self.path.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600))
        os.chmod(self.path, 0o600)
        self.conn = self._connect()
        self._stop = threading.Event()
        self._purger: threading.Thread | None = None
        self.conn.execute("CREATE TABLE IF NOT EXISTS entries (id INTEGER PRIMARY KEY, hour INTEGER NOT NULL,"
                          " sealed BLOB NOT NULL)")
        self.purge()

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(str(self.path), isolation_level=None, timeout=30)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA secure_delete=ON")
        return conn

    def start_purging(self, every: float = PURGE_EVERY_SECONDS) -> None:
        """Purge every ``every`` seconds in a background thread (with its own
        connection) until :meth:`close`: the interactive kiosk waits on its
        prompt for hours, so a purge tied to entries would wait for the next
        visitor."""
        if self._purger is not None:
            return

        def run() -> None:
            conn = self._connect()
            try:
                while not self._stop.wait(every):
                    self._purge_on(conn, int(self.clock()))
            finally:
                conn.close()

        self._purger = threading.Thread(target=run, name="kiosk-purge", daemon=True)
        self._purger.start()

    def close(self) -> None:
        self._stop.set()
        if self._purger is not None:
            self._purger.join()
        self.conn.close()

    def __enter__(self) -> "VisitorLog":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def record(self, name: str, phone: str, arrival: int | None = None) -> int:
        """Seal and store one entry; returns its row id."""
        entry = LogEntry(name.strip(), phone.strip(), int(self.clock()) if arrival is None else int(arrival))
        problems = entry.problems()
        if problems:
            raise KioskError("; ".join(str(p) for p in problems))
        plain = json.dumps({"name": entry.name, "phone": entry.phone, "arrival": entry.arrival},
                           ensure_ascii=False).encode()
        # pad to a fixed size so the ciphertext length does not hint at the name's length
        plain = plain + b" " * max(0, 256 - len(plain))
        cur = self.conn.execute("INSERT INTO entries (hour, sealed) VALUES (?, ?)",
                                (entry.arrival // 3600, bytes(self.box.encrypt(plain))))
        return int(cur.lastrowid)  # type: ignore[arg-type]  # set by every INSERT

    def purge(self, now: int | None = None) -> int:
        return self._purge_on(self.conn, int(self.clock()) if now is None else now)

    def _purge_on(self, conn: sqlite3.Connection, now: int) -> int:
        cutoff_hour = (now - self.retention_days * 86_400) // 3600
        gone = conn.execute("DELETE FROM entries WHERE hour < ?", (cutoff_hour,)).rowcount
        if gone:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # old page images leave the WAL too
        return gone

    def count(self) -> int:
        return self.conn.execute("SELECT count(*) FROM entries").fetchone()[0]

    def sealed_between(self, start: int, end: int) -> list[bytes]:
        """The sealed entries of the hours touched by ``[start, end]`` (for a trace upload)."""
        rows = self.conn.execute("SELECT sealed FROM entries WHERE hour BETWEEN ? AND ? ORDER BY id",
                                 (start // 3600, end // 3600)).fetchall()
        return [bytes(r[0]) for r in rows]


def open_entries(sealed: list[bytes], authority_secret_key: bytes) -> list[LogEntry]:
    """The authority's side: open released entries."""
    box = nacl.public.SealedBox(nacl.public.PrivateKey(authority_secret_key))
    out = []
    for s in sealed:
        d = json.loads(box.decrypt(s).decode().rstrip(" "))
        out.append(LogEntry(d["name"], d["phone"], int(d["arrival"])))
    return out
