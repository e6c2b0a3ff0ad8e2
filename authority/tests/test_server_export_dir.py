"""The export folder is derived state: when the server starts it rebuilds the
folder from the database, so a CDN origin whose files were lost, damaged or
joined by a stray file serves exactly the signed batches again."""

from __future__ import annotations

import hashlib

from bluezone_authority.server import AuthorityServer
from bluezone_authority.server.testing import NOW, Clock, settings_for


def test_the_export_folder_is_rebuilt_from_the_database_on_start(tmp_path):
    settings = settings_for(tmp_path)
    server = AuthorityServer(settings, clock=Clock(NOW))
    names = [server.publish_payload("venues", f"batch {i}".encode(), start_ts=NOW - 3600, end_ts=NOW).name
             for i in range(3)]
    folder = settings.export_dir / "venues"
    server.write_feed_files("venues")
    good = {n: (folder / n).read_bytes() for n in names}
    index = (folder / "index.txt").read_text()
    assert index.split() == names
    server.close()

    (folder / names[0]).unlink()                      # lost
    (folder / names[1]).write_bytes(b"not a batch")   # damaged
    (folder / "stray.zip").write_bytes(b"junk")       # never published
    (folder / "index.txt").unlink()

    AuthorityServer(settings, clock=Clock(NOW)).close()
    assert sorted(p.name for p in folder.iterdir()) == sorted([*names, "index.txt"])
    assert {n: hashlib.sha256((folder / n).read_bytes()).digest() for n in names} == \
        {n: hashlib.sha256(b).digest() for n, b in good.items()}
    assert (folder / "index.txt").read_text() == index
