"""``bluezone authority init``: a whole deployment in one folder, consistent by construction.

A province's first day used to mean learning from the demo's work folder
that a deployment is two files (the phones' and the server's), making three
key pairs with three different tools, and copying public halves between
files by hand. :func:`scaffold` writes all of it at once, then loads both
files the way every command will and cross-checks them (the server signs
with the key the phones trust, holds the venue secret whose public half the
posters use), so the folder works before anyone edits it.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from urllib.parse import urlsplit

from bluezone.i18n import _

from .keymaking import (
    DECLARATIONS_PRIVATE,
    DECLARATIONS_PUBLIC,
    EXPORT_PRIVATE,
    EXPORT_PUBLIC,
    VENUE_PRIVATE,
    VENUE_PUBLIC,
    KeyMakingError,
    make_declaration_keys,
    make_export_keys,
    make_venue_keys,
    x25519_public_of,
)

PHONES_FILE = "province.toml"
SERVER_FILE = "server.toml"
README = "README.md"
GITIGNORE = ".gitignore"
#: the secret files in the folder, and what the server creates beside them
SECRETS = (EXPORT_PRIVATE, DECLARATIONS_PRIVATE, VENUE_PRIVATE)
SERVER_DATA = ("server.db", "server.secrets", "exports/")
#: every file init writes: one of them present means a deployment is there already
MADE = (PHONES_FILE, SERVER_FILE, README, GITIGNORE, EXPORT_PUBLIC, DECLARATIONS_PUBLIC, VENUE_PUBLIC, *SECRETS,
        "server.db")


class ScaffoldError(Exception):
    """The folder holds a deployment already, or the new one did not check; the message says what."""


@dataclass(frozen=True)
class Deployment:
    """What :func:`scaffold` asks for."""

    province: str
    url: str = "http://127.0.0.1:8452"
    region: str = "452"
    timezone: str = "Asia/Ho_Chi_Minh"
    port: int = 8452
    admin: str = "admin"
    #: where venue posters' QR codes point (https); None: the server's address + /checkin when it is https
    poster_url: str | None = None


@dataclass(frozen=True)
class Scaffolded:
    folder: Path
    phones_file: Path
    server_file: Path
    admin: str
    admin_password: str


def venue_plugin_installed() -> bool:
    """The ``[qr_checkin]`` section is written only where its plugin can read it
    (a section nobody claims is a 'config check' error)."""
    return any(ep.name == "qr-checkin" for ep in entry_points(group="bluezone"))


def _hosts_in_country(url: str) -> str:
    host = urlsplit(url).hostname or ""
    local = [host] if host in ("127.0.0.1", "localhost", "::1") else []
    return ", ".join(f'"{h}"' for h in [".vn", *local])


def phones_toml(d: Deployment, declaration_public: str, venue_public: str, venue_section: bool) -> str:
    """The phones' file: public halves only, published with the app."""
    venue = (f'[qr_checkin]\n# venue posters seal the authority\'s half of each venue key to this public key\n'
             f'authority_public_key = "{venue_public}"\n' if venue_section else
             f'# [qr_checkin] needs the bluezone-qr-checkin plugin; its key is in {VENUE_PUBLIC}\n')
    url_base = urlsplit(d.url)
    poster = d.poster_url or (f"https://{url_base.netloc}/checkin" if url_base.scheme == "https" else None)
    if venue_section and poster:
        venue += f'url_base = "{poster}"   # start of every poster\'s QR URL\n'
    elif venue_section:
        venue += "# url_base = \"https://…\"   # set it (the https address posters point to) before 'venue create'\n"
    return f"""# Bluezone deployment for {d.province}: the PHONES' file (public; ship it with the app).
# Made by 'bluezone authority init'; check it with: bluezone config check {PHONES_FILE}

[deployment]
name = "{d.province}"
region = "{d.region}"              # the export region (Vietnam's mobile country code is 452)
languages = ["vi", "en"]    # the first is the default for alerts
timezone = "{d.timezone}"

[plugins]
disabled = []

[schedule]
name = "gaen"

[retention]
days = 14

[risk]
attenuation_thresholds_db = [58, 63, 68]
minimum_minutes_per_day = 15
isolation_days = 14

[authority]
url = "{d.url}"
export_keys = [ {{ key_id = "{d.region}", key_version = "v1", public_key = "{EXPORT_PUBLIC}" }} ]
declaration_public_key = "{declaration_public}"

{venue}
[privacy]
notice_version = "1"
controller = "Sở Y tế tỉnh {d.province}"
# contact_email = "..."; contact_phone = "..."; protection_contact = "..."   (fill in before going live)
hosts_in_country = [{_hosts_in_country(d.url)}]
"""


def server_toml(phones: str, d: Deployment, venue_section: bool) -> str:
    """The server's file: the phones' file, plus where the server's secrets and data live."""
    text = phones.replace("the PHONES' file (public; ship it with the app)",
                          "the SERVER's file (keep it on the server)", 1)
    text = text.replace(f"bluezone config check {PHONES_FILE}", f"bluezone config check {SERVER_FILE}", 1)
    if venue_section:
        text = text.replace("[qr_checkin]\n", f'[qr_checkin]\nauthority_secret_key_file = "{VENUE_PRIVATE}"\n', 1)
    return text + f"""
[server]
host = "127.0.0.1"          # behind the province's reverse proxy; see docs/deployment.md
port = {d.port}
database = "server.db"
export_dir = "exports"
signing_key = "{EXPORT_PRIVATE}"
secrets_file = "server.secrets"
"""


def readme(d: Deployment) -> str:
    """Which file goes where and what must stay secret, in Vietnamese then English."""
    return f"""# Bluezone — {d.province}

Tạo bởi `bluezone authority init`. / Made by `bluezone authority init`.

## Tiếng Việt

| Tệp | Đặt ở đâu | Bí mật? |
|---|---|---|
| `{PHONES_FILE}`, `{EXPORT_PUBLIC}` | phát hành cùng ứng dụng, cho mọi điện thoại | công khai |
| `{SERVER_FILE}` | máy chủ (`bluezone serve --config {SERVER_FILE}`) | không chứa khóa, nhưng chỉ ra khóa bí mật |
| `{EXPORT_PRIVATE}` | chỉ trên máy chủ: ký các tệp khóa xuất | **BÍ MẬT** (0600) |
| `{VENUE_PRIVATE}` | chỉ trên máy chủ: truy vết địa điểm | **BÍ MẬT** (0600) |
| `{DECLARATIONS_PRIVATE}` | máy tính ngoại tuyến của cán bộ mở tờ khai y tế, KHÔNG để trên máy chủ | **BÍ MẬT** (0600) |
| `{DECLARATIONS_PUBLIC}`, `{VENUE_PUBLIC}` | bản công khai (đã chép vào hai tệp .toml) | công khai |
| `server.db`, `server.secrets`, `exports/` | máy chủ tạo ra khi chạy | `server.secrets` là **BÍ MẬT** |

Tài khoản quản trị cổng thông tin `{d.admin}` đã được tạo; mật khẩu chỉ in ra một lần — hãy đổi
bằng `bluezone authority staff passwd {d.admin} --config {SERVER_FILE}`. Trước khi đưa vào sử dụng:
đặt `[authority] url` là địa chỉ công khai của máy chủ, điền thông tin liên hệ trong `[privacy]`,
rồi kiểm tra cả hai tệp bằng `bluezone config check`. Không bao giờ đưa tệp bí mật vào git
(`.gitignore` đã liệt kê chúng) và sao lưu chúng ở nơi an toàn: mất khóa ký nghĩa là mọi điện
thoại phải cập nhật tệp cấu hình.

## English

| File | Where it goes | Secret? |
|---|---|---|
| `{PHONES_FILE}`, `{EXPORT_PUBLIC}` | shipped with the app, to every phone | public |
| `{SERVER_FILE}` | the server (`bluezone serve --config {SERVER_FILE}`) | holds no key, but names the secret ones |
| `{EXPORT_PRIVATE}` | the server only: signs the key exports | **SECRET** (0600) |
| `{VENUE_PRIVATE}` | the server only: venue tracing | **SECRET** (0600) |
| `{DECLARATIONS_PRIVATE}` | the offline computer of the staff who open health declarations, NOT the server | **SECRET** (0600) |
| `{DECLARATIONS_PUBLIC}`, `{VENUE_PUBLIC}` | public halves (already copied into both .toml files) | public |
| `server.db`, `server.secrets`, `exports/` | made by the server when it runs | `server.secrets` is **SECRET** |

The portal admin account `{d.admin}` was created; its password was printed once — change it with
`bluezone authority staff passwd {d.admin} --config {SERVER_FILE}`. Before going live: set
`[authority] url` to the server's public address, fill in the contacts in `[privacy]`, and check
both files with `bluezone config check`. Never commit the secret files (`.gitignore` lists them)
and back them up somewhere safe: a lost signing key means every phone needs a new file.
"""


def existing(folder: Path) -> list[Path]:
    """The files of a deployment already in ``folder``."""
    return [folder / name for name in MADE if (folder / name).exists()]


def scaffold(folder: Path, d: Deployment, admin_password: str | None = None) -> Scaffolded:
    """Write a complete deployment into ``folder`` (made if missing), create
    the first portal admin, and cross-check both files. Refuses a folder that
    holds any file of a deployment, before writing anything."""
    found = existing(folder)
    if found:
        raise ScaffoldError(str(_("{folder} already holds a deployment ({files}); refusing to overwrite it",
                                  folder=folder, files=", ".join(p.name for p in found))))
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ScaffoldError(str(_("cannot create {folder}: {reason}", folder=folder, reason=e.strerror or e))) from None
    try:
        make_export_keys(folder)
        declarations = make_declaration_keys(folder)
        venue = make_venue_keys(folder)
    except KeyMakingError as e:
        raise ScaffoldError(str(e)) from None
    with_venue = venue_plugin_installed()
    phones = phones_toml(d, declarations.public_text, venue.public_text, with_venue)
    (folder / PHONES_FILE).write_text(phones, encoding="utf-8")
    (folder / SERVER_FILE).write_text(server_toml(phones, d, with_venue), encoding="utf-8")
    (folder / README).write_text(readme(d), encoding="utf-8")
    (folder / GITIGNORE).write_text("# secrets and server data: never commit them\n"
                                    + "".join(f"{name}\n" for name in (*SECRETS, *SERVER_DATA)), encoding="utf-8")
    problems = cross_check(folder)
    if problems:
        raise ScaffoldError("; ".join(problems))
    password = admin_password or secrets.token_urlsafe(15)
    _create_admin(folder / SERVER_FILE, d, password)
    return Scaffolded(folder, folder / PHONES_FILE, folder / SERVER_FILE, d.admin, password)


def _create_admin(server_file: Path, d: Deployment, password: str) -> None:
    from bluezone.config import load_config

    from .portal.users import UserError, add_user
    from .server import AuthorityServer

    server = AuthorityServer.from_config(load_config(server_file))
    try:
        add_user(server.db, d.admin, f"Quản trị {d.province}", "admin", password, server.now(), server.roles)
    except UserError as e:
        raise ScaffoldError(str(e.args[0])) from None
    finally:
        server.close()


def cross_check(folder: Path) -> list[str]:
    """What does not fit between the two files and the keys in ``folder``
    (both files must also pass every check ``config check`` makes)."""
    from cryptography.hazmat.primitives import serialization

    from bluezone.config import ConfigError, load_config

    from .server.keys import public_pem

    out: list[str] = []
    configs = []
    for name in (PHONES_FILE, SERVER_FILE):
        try:
            configs.append(load_config(folder / name))
        except ConfigError as e:
            out.extend(p.format(str(folder / name)) for p in e.problems)
    if out:
        return out
    phones, server = configs
    if phones.data["authority"] != server.data["authority"] or phones.data["deployment"] != server.data["deployment"]:
        out.append(str(_("the [authority] or [deployment] sections of the two files differ")))
    signing = serialization.load_pem_private_key((folder / EXPORT_PRIVATE).read_bytes(), None)
    trusted = [k["pem"].strip() for k in phones.export_public_keys()]
    if public_pem(signing).strip() not in trusted:  # type: ignore[arg-type]
        out.append(str(_("the phones do not trust the server's export signing key")))
    venue_public = phones.section("qr_checkin").get("authority_public_key")
    if venue_public is not None and venue_public != x25519_public_of(folder / VENUE_PRIVATE):
        out.append(str(_("the venue authority public key does not belong to the server's secret key")))
    if phones.data["authority"].get("declaration_public_key") != x25519_public_of(folder / DECLARATIONS_PRIVATE):
        out.append(str(_("the declaration public key does not belong to the declaration private key")))
    return out
