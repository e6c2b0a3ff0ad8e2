"""The national federation gateway (``bluezone gateway``), shaped like the
EU's EFGS: provinces upload signed batches of diagnosis keys over mutual TLS
and download the other provinces' batches by date and batch tag.

Modules, one job each: :mod:`.encoding` (the signed canonical batch bytes),
:mod:`.certs` (the operator's CA and the provinces' TLS certificates),
:mod:`.store` (the gateway's SQL, on the key server's database layer:
SQLite or PostgreSQL), :mod:`.app` (the HTTP routes), :mod:`.settings`, and the
province side: :mod:`.client`, :mod:`.outbox`, :mod:`.importer`.
"""
