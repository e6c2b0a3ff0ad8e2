"""``bluezone export``: check and inspect GAEN diagnosis-key exports.

``verify`` is what an integrator runs on a file from any GAEN server (or
ours) before trusting it; ``show`` prints the keys as JSON lines for scripts.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..export import ExportError, load_public_key, read_export
from ..i18n import N_, _, _n, text
from .common import fail
from .i18n_click import Group


def _read(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as e:
        fail(_("cannot read {path}: {reason}", path=path, reason=e.strerror))


@click.group("export", cls=Group, help=N_("GAEN diagnosis-key exports (export.zip = export.bin + export.sig)."))
def export_group() -> None:
    pass


@export_group.command("verify", help=N_("Check the signature, header and protobuf; print the key count."))
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--public-key", "public_keys", multiple=True, required=True, type=click.Path(dir_okay=False),
              help=N_("The authority's P-256 public key, PEM (repeat to trust several)."))
@click.option("--key-length", type=click.Choice(["16", "32"]), default="16", show_default=True,
              help=N_("Key bytes: 16 for gaen, 32 for dp3t-lowcost."))
def verify(file: str, public_keys: tuple[str, ...], key_length: str) -> None:
    data = _read(file)
    try:
        keys = [load_public_key(_read(p)) for p in public_keys]
        export = read_export(data, keys, key_length=int(key_length))
    except ExportError as e:
        fail("{}: {}".format(file, e))
    click.echo(text(_n("{n} key: valid export, region {region}, batch {num}/{size}, signed by key id {key_id!r}",
                      "{n} keys: valid export, region {region}, batch {num}/{size}, signed by key id {key_id!r}",
                      len(export.keys), region=export.region, num=export.batch_num, size=export.batch_size,
                      key_id=export.verified_key_id)))


@export_group.command("show", help=N_("Print one JSON object per key (key_data in hex)."))
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--public-key", "public_keys", multiple=True, type=click.Path(dir_okay=False),
              help=N_("Also verify the signature with this PEM public key."))
@click.option("--key-length", type=click.Choice(["16", "32", "any"]), default="any", show_default=True,
              help=N_("Accept only keys of this many bytes."))
def show(file: str, public_keys: tuple[str, ...], key_length: str) -> None:
    data = _read(file)
    try:
        keys = [load_public_key(_read(p)) for p in public_keys] or None
        export = read_export(data, keys, key_length=None if key_length == "any" else int(key_length))
    except ExportError as e:
        fail("{}: {}".format(file, e))
    for k in export.keys:
        click.echo(json.dumps({
            "key_data": k.key_data.hex(),
            "rolling_start_interval_number": k.rolling_start_interval_number,
            "rolling_period": k.rolling_period,
            "transmission_risk_level": k.transmission_risk_level,
            "report_type": k.report_type.name,
            "days_since_onset_of_symptoms": k.days_since_onset_of_symptoms,
        }))


def register(cli: click.Group) -> None:
    cli.add_command(export_group)
