"""A citizen's device: a deployment file plus one device store.

Every citizen command takes ``--config`` (``$BLUEZONE_CONFIG``) and
``--store`` (``$BLUEZONE_STORE``), the same options the plugins' commands
(check-in, trace, declare) use, so one pair of environment variables sets up
a shell for one phone. ``bluezone init`` creates the store and records the
person's choices (language, F2 opt-in) in the store's ``meta`` table; they
never leave the phone.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import Config, load_config
from .i18n import _
from .store import DeviceStore
from .transport import make_transport

SETTINGS_DEFAULTS = {"language": "", "f2_opt_in": "1", "keep_declarations": "0", "initialised_at": ""}


class DeviceError(Exception):
    """The device cannot be used as asked; the message says what to do next."""


@dataclass
class Device:
    config: Config
    store: DeviceStore
    _transport: Any = None

    # -- life cycle ------------------------------------------------------------------

    @classmethod
    def init(cls, config_path: str | Path, store_path: str | Path, *, consents: Mapping[str, bool],
             language: str | None = None, f2_opt_in: bool = True, clock: Any = time.time) -> "Device":
        """Create the store and record the person's choices. ``consents`` is the
        decision for every purpose of :data:`bluezone.consent.PURPOSES` (a
        purpose left out is refused: silence is not consent); F2 is on only
        when both ``f2_opt_in`` and the ``f2`` consent say so."""
        from . import consent
        from .privacy.notice import PrivacySettings

        config = load_config(config_path)
        unknown = sorted(set(consents) - set(consent.PURPOSES))
        if unknown:
            raise DeviceError(f"unknown consent purpose(s): {', '.join(unknown)}")
        if Path(store_path).exists():
            raise DeviceError(_("{path} already exists; this phone is set up (try 'bluezone status')",
                                path=store_path))
        lang = language or config.languages[0]
        if lang not in config.languages:
            raise DeviceError(_("language {language!r} is not offered here ({offered})", language=lang,
                                offered=", ".join(config.languages)))
        store = DeviceStore(store_path, retention_days=config.retention_days, clock=clock, plugins=config.pm)
        device = cls(config, store)
        with store.transaction():
            store.set_meta("language", lang)
            store.set_meta("f2_opt_in", "1" if f2_opt_in else "0")
            store.set_meta("initialised_at", str(int(clock())))
            store.set_meta("deployment", config.name)
            decided = {p: bool(consents.get(p, False)) for p in consent.PURPOSES}
            decided["f2"] = decided["f2"] and f2_opt_in
            consent.record(store, decided, config.typed(PrivacySettings).notice_version, int(clock()))
        store.current_key(config.schedule())  # the first key, so broadcasting can start
        return device

    @classmethod
    def open(cls, config_path: str | Path, store_path: str | Path, *, clock: Any = time.time) -> "Device":
        config = load_config(config_path)
        if not Path(store_path).exists():
            raise DeviceError(_("no device store at {store}. Set this phone up first: "
                                "bluezone init --config {config} --store {store}", store=store_path,
                                config=config_path))
        store = DeviceStore(store_path, retention_days=config.retention_days, create=False, clock=clock,
                            plugins=config.pm)
        return cls(config, store)

    async def aclose(self) -> None:
        if self._transport is not None:
            await self._transport.close()
            self._transport = None
        self.store.close()

    # -- settings (stored on the phone only) ---------------------------------------------

    def setting(self, name: str) -> str:
        return self.store.get_meta(name, SETTINGS_DEFAULTS[name]) or SETTINGS_DEFAULTS[name]

    @property
    def language(self) -> str:
        return self.setting("language") or self.config.languages[0]

    @property
    def f2_opt_in(self) -> bool:
        return self.setting("f2_opt_in") == "1"

    # -- collaborators --------------------------------------------------------------------

    def schedule(self) -> Any:
        return self.config.schedule()

    def transport(self) -> Any:
        if self._transport is None:
            self._transport = make_transport(self.config.authority_url, self.config)
        return self._transport
