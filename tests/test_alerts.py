"""Alert messages (vi and en) and the console sink."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from bluezone.config import config_from_dict
from bluezone.matching.alerts import build_alert
from bluezone.matching.fixtures import deployment, new_signing_key
from bluezone.models import Exposure, Tier

_, PEM = new_signing_key()
CONFIG = config_from_dict(deployment(PEM, risk={"isolation_days": 10}))


def alert(tier=Tier.F1, source="ble", sources=None):
    return build_alert(Exposure(tier, source, dt.date(2024, 5, 3), 900, 15), CONFIG.risk, CONFIG.languages, 1_714_700_000,
                       sources)


def test_f1_message_in_both_languages_says_date_and_what_to_do():
    a = alert()
    assert a.isolate_until == dt.date(2024, 5, 13)
    vi, en = a.messages["vi"], a.messages["en"]
    for phrase in ("F1", "03/05/2024", "13/05/2024", "khai báo y tế", "trạm y tế", "cách ly", "ca bệnh"):
        assert phrase in vi
    for phrase in ("F1", "2024-05-03", "2024-05-13", "declare your health", "local health station", "self-isolate"):
        assert phrase in en


def test_f2_and_a_plugin_worded_source_differ():
    """The core words Bluetooth only; a plugin's source (venue check-in is the
    QR plugin's) is worded by what ``bluezone_alert_sources`` returns."""
    words = {"ultrasound": "by ultrasound"}  # no catalogue translates it here: English in every language
    f2, other = alert(Tier.F2), alert(source="ultrasound", sources=words)
    assert "F2" in f2.messages["vi"] and "F1" in f2.messages["en"]
    assert "by ultrasound" in other.messages["vi"] and "by ultrasound" in other.messages["en"]
    assert "qua Bluetooth" in alert().messages["vi"] and "qua Bluetooth" not in other.messages["vi"]
    assert "Bluetooth" in alert().messages["en"] and "Bluetooth" not in other.messages["en"]


def test_alert_id_is_the_exposure_id_so_it_is_stored_once(tmp_path):
    """The same exposure built twice (a batch processed again) is one alert in
    the store; another tier of the same day is another alert."""
    from bluezone.store import DeviceStore

    a, b = alert(), alert()
    assert a.exposure_id == b.exposure_id
    assert alert(Tier.F2).exposure_id != a.exposure_id
    store = DeviceStore(tmp_path / "phone.db")
    try:
        assert store.add_alert(a) is True and store.add_alert(b) is False
        assert store.add_alert(alert(Tier.F2)) is True
        assert sorted(x.tier.name for x in store.alerts()) == ["F1", "F2"]
    finally:
        store.close()


def test_messages_carry_no_identifying_detail():
    a = alert()
    for text in a.messages.values():
        assert "900" not in text  # no score, no key, no identifier: date and advice only


def test_console_sink_prints_the_persons_language(capsys):
    CONFIG.pm.hook.bluezone_deliver_alert(alert=alert(), language="en", config=CONFIG)
    out = capsys.readouterr().out
    assert out.startswith("[F1] F1 WARNING: On 2024-05-03")


def test_a_source_worded_per_language_by_hand_is_refused_by_name():
    """The hook returns one msgid per source (translated by the catalogue), not a {language: text} table."""
    from bluezone.matching.alerts import alert_sources

    class Hook:
        def bluezone_alert_sources(self):
            return [{"ultrasound": {"vi": "qua sóng siêu âm", "en": "by ultrasound"}}]

    class PM:
        hook = Hook()

    with pytest.raises(ValueError, match="'ultrasound' must map to one English text"):
        alert_sources(PM())


def _exposure(details: dict[str, Any]) -> Exposure:
    return Exposure(Tier.F1, "ble", dt.date(2024, 5, 3), 900, 15, details)


def test_an_alert_from_another_provinces_keys_says_so_after_the_advice_in_every_language():
    """Keys from the national gateway mark their exposures ``origin`` (never
    which province); the person reads the usual warning followed by one more
    sentence. The mark is compared by value: a feed that reads its exposures'
    details from JSON (a plugin's, or one given back by the store) has an equal
    string, not the module's own object."""
    from bluezone.i18n import text
    from bluezone.matching.alerts import _OTHER_PROVINCE_TEXT, OTHER_PROVINCE

    plain = build_alert(_exposure({}), CONFIG.risk, CONFIG.languages, 1_714_700_000)
    ours = build_alert(_exposure({"origin": "452"}), CONFIG.risk, CONFIG.languages, 1_714_700_000)
    details = json.loads(json.dumps({"origin": OTHER_PROVINCE}))
    theirs = build_alert(_exposure(details), CONFIG.risk, CONFIG.languages, 1_714_700_000)
    assert ours.messages == plain.messages  # any other origin adds nothing
    assert "tỉnh, thành phố khác" in text(_OTHER_PROVINCE_TEXT, "vi")  # the sentence is translated
    for lang in ("vi", "en"):
        assert theirs.messages[lang] == plain.messages[lang] + " " + text(_OTHER_PROVINCE_TEXT, lang)
    assert "another province" not in plain.messages["en"]


class _Hook:
    def __init__(self, results: list[dict[str, str]]) -> None:
        self.results = results

    def bluezone_alert_sources(self) -> list[dict[str, str]]:
        return self.results


class _PM:
    def __init__(self, *results: dict[str, str]) -> None:
        self.hook = _Hook(list(results))


def test_two_plugins_may_word_a_source_alike_but_not_differently():
    """Two plugins naming the same source (e.g. two venue plugins sharing a
    helper) are fine when their words are the same, whether the very same
    string or an equal one from another module; different words for one source
    are refused by name, whichever plugin comes first."""
    from bluezone.matching.alerts import alert_sources

    words = "at a venue you checked in to"
    equal = "".join(["at a venue ", "you checked in to"])  # an equal text made elsewhere: another object
    assert equal is not words
    assert alert_sources(_PM({"venue": words}, {"venue": words})) == {"venue": words}
    assert alert_sources(_PM({"venue": words}, {"venue": equal}, {"ble2": "by radio"})) == {
        "venue": words, "ble2": "by radio"}
    for first, second in (("at a venue", "at a shop"), ("at a shop", "at a venue")):
        with pytest.raises(ValueError, match="two plugins word the source 'venue'"):
            alert_sources(_PM({"venue": first}, {"venue": second}))


def test_a_date_pattern_the_c_library_refuses_gives_the_iso_date_not_a_lost_alert(tmp_path, monkeypatch):
    """A catalogue's date pattern that ``strftime`` cannot use (here one with a
    lone surrogate, which a UTF-7 catalogue can hold; on Windows a trailing
    ``%`` is enough) must not stop the alert from being made: the
    unambiguous ISO date is shown instead, and the rest stays translated."""
    from babel.messages.catalog import Catalog
    from babel.messages.mofile import write_mo

    from bluezone import i18n
    from bluezone.matching.alerts import DATE_FORMAT

    catalog = Catalog(locale="vi", domain="bluezone", charset="utf-7")
    catalog.add(DATE_FORMAT, "%d\ud800%m")
    out = tmp_path / "vi" / "LC_MESSAGES"
    out.mkdir(parents=True)
    with open(out / "bluezone.mo", "wb") as f:
        write_mo(f, catalog)
    monkeypatch.setenv(i18n.ENV_LOCALE_DIRS, str(tmp_path))
    vi = alert().messages["vi"]
    assert "2024-05-03" in vi and "2024-05-13" in vi and "03/05/2024" not in vi
    assert "khai báo y tế" in vi  # the other texts still come from the core's catalogue
