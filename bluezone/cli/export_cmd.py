"""``bluezone export``: check and inspect GAEN diagnosis-key exports.

``verify`` is what an integrator runs on a file from any GAEN server (or
ours) before trusting it; ``show`` prints the keys as JSON lines for scripts.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..export import ExportError, load_public_key, read_export
from .common import fail


def _read(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as e:
        fail(f"cannot read {path}: {e.strerror}")


@click.group("export")
def export_group() -> None:
    """GAEN diagnosis-key exports (export.zip = export.bin + export.sig)."""


@export_group.command("verify")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--public-key", "public_keys", multiple=True, required=True, type=click.Path(dir_okay=False),
              help="The authority's P-256 public key, PEM (repeat to trust several).")
@click.option("--key-length", type=click.Choice(["16", "32"]), default="16", show_default=True,
              help="Key bytes: 16 for gaen, 32 for dp3t-lowcost.")
def verify(file: str, public_keys: tuple[str, ...], key_length: str) -> None:
    """Check the signature, header and protobuf; print the key count."""
    data = _read(file)
    try:
        keys = [load_public_key(_read(p)) for p in public_keys]
        export = read_export(data, keys, key_length=int(key_length))
    except ExportError as e:
        fail(f"{file}: {e}")
    click.echo(
        f"{len(export.keys)} keys: valid export, region {export.region}, batch {export.batch_num}/{export.batch_size}, "
        f"signed by key id {export.verified_key_id!r}"
    )


@export_group.command("show")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--public-key", "public_keys", multiple=True, type=click.Path(dir_okay=False),
              help="Also verify the signature with this PEM public key.")
@click.option("--key-length", type=click.Choice(["16", "32", "any"]), default="any", show_default=True,
              help="Accept only keys of this many bytes.")
def show(file: str, public_keys: tuple[str, ...], key_length: str) -> None:
    """Print one JSON object per key (key_data in hex)."""
    data = _read(file)
    try:
        keys = [load_public_key(_read(p)) for p in public_keys] or None
        export = read_export(data, keys, key_length=None if key_length == "any" else int(key_length))
    except ExportError as e:
        fail(f"{file}: {e}")
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
