"""Alert messages (vi and en) and the console sink."""

from __future__ import annotations

import datetime as dt

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
