"""A simulated province day, end to end over real HTTP.

Only the radio is simulated. Everything else is the code a deployment runs:
``bluezone serve`` as a process on loopback, device stores on disk, the
scanner path fed by the simulator through bleak's backend interface, a venue
poster decoded from its PNG by zxing-cpp, codes issued through the staff API,
uploads through ``bluezone report`` (the console script, over HTTP), venue
tracing through ``bluezone venue trace``, exports signed and downloaded,
matching on every phone, and declarations sealed with ``bluezone declare``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bluezone import CONSENT_PURPOSES, Device, Tier, load_config, make_transport, pipeline
from bluezone import sync_device as sync
from bluezone.i18n import Message, _, text
from bluezone_ble.sim.engine import simulate
from bluezone_qr_checkin import checkin, poster, qrimage
from bluezone_qr_checkin.payload import parse_url
from bluezone_qr_checkin.venue import VenueSpec, create_venue

from . import crossborder
from .authority import (
    AuthoritySetup,
    DemoError,
    StaffClient,
    create_staff_token,
    run_cli,
    running_server,
    write_deployment,
)
from .day import CHECKIN_OFFICE, HOUR, DayPlan, make_plan

OFFICE_NAME = "Sở Thông tin và Truyền thông Gia Lai"
OFFICE_ADDRESS = "15 Trần Hưng Đạo, Pleiku, Gia Lai"


@dataclass
class StepTime:
    name: str
    seconds: float


@dataclass
class DemoResult:
    """Everything the summary and the HTML report need."""

    workdir: Path
    plan: DayPlan
    day_start: int
    patient_zero: str
    published_f1: str | None
    close_seconds: dict[tuple[str, str], float]  # ground truth, whole day, per pair
    alerts: dict[str, list[dict[str, Any]]]       # citizen → alerts (tier, source, date)
    bytes_downloaded: dict[str, int]
    checked_in: list[str]
    declarations_sent: int
    declarations_at_server: int
    export_keys: list[int]
    steps: list[StepTime] = field(default_factory=list)
    total_seconds: float = 0.0
    report_path: Path | None = None
    closest_m: dict[tuple[str, str], float] = field(default_factory=dict)  # ground truth, per pair
    #: citizen → SHA-256 of everything its phone downloaded (feed, name, bytes, in order)
    downloads_sha256: dict[str, str] = field(default_factory=dict)
    #: citizen → tier label → weighted minutes the phone's own scoring gives the
    #: day's windows of that tier (also below the threshold, so misses can be shown)
    weighted_minutes: dict[str, dict[str, float]] = field(default_factory=dict)
    threshold_minutes: float = 15.0
    #: the second province's cross-border contact (docs/federation.md), None when not run
    cross_border: Any = None


class CountingTransport:
    """Wraps a transport and counts the bytes of every file it downloads, and
    hashes them (feed, name and content, in order): equal digests show that
    phones downloaded the same bytes, not just as many."""

    def __init__(self, inner: Any, digest: Any = None):
        self.inner = inner
        self.bytes = 0
        self.digest = digest if digest is not None else hashlib.sha256()

    async def fetch_batch(self, feed, name):
        batch = await self.inner.fetch_batch(feed, name)
        self.bytes += len(batch.payload)
        self.digest.update(f"{feed}/{name}:{len(batch.payload)}:".encode() + batch.payload)
        return batch

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def _answers(name: str, day: dt.date) -> dict[str, Any]:
    """Plausible declaration answers for a demo citizen (no real person)."""
    n = int(name[1:])
    return {
        "full_name": f"Nguyễn Văn {['An', 'Bình', 'Cường', 'Dũng', 'Hà', 'Lan', 'Minh', 'Tâm'][n % 8]}",
        "year_of_birth": 1960 + n % 45, "gender": ["male", "female"][n % 2], "nationality": "Việt Nam",
        "id_number": f"0641{n:08d}", "phone": f"09{n:08d}", "travel_means": "none",
        "address_province": "64", "address_district": "Pleiku", "address_ward": "Hội Thương",
        "address_street": f"{n + 1} Trần Hưng Đạo",
        "symptom_fever": n % 3 == 0, "symptom_cough": n % 2 == 0, "symptom_difficulty_breathing": False,
        "symptom_sore_throat": n % 4 == 0, "symptom_nausea_vomiting": False, "symptom_diarrhoea": False,
        "symptom_skin_haemorrhage": False, "symptom_skin_rash": False,
        "exposure_close_contact_case": True, "exposure_visited_affected_area": False,
        "exposure_contact_symptomatic": False, "exposure_animal_market": False,
        "chronic_conditions": [], "consent": True,
    }


class ProvinceDay:
    """Runs the day step by step; ``echo`` receives one line per step."""

    def __init__(self, workdir: Path, citizens: int, seed: int, echo: Callable[[str], None] = print,
                 declarations: int = 5):
        self.work = workdir
        self.n = citizens
        self.seed = seed
        self.echo = echo
        self.max_declarations = declarations
        self.steps: list[StepTime] = []
        today = int(time.time()) // 86400 * 86400
        # two days ago: every key of that day has ended and passed the 2 h embargo
        self.day_start = today - 2 * 86400
        self.devices: dict[str, Device] = {}
        self.closest: dict[tuple[str, str], float] = {}
        self.download_digests: dict[str, Any] = {}  # citizen → running SHA-256 of its downloads

    # -- helpers -------------------------------------------------------------------------

    def step(self, message: Message):
        day = self
        name = text(message)  # the integrator's language (the first active one)

        class _Timer:
            def __enter__(self):
                self.t = time.perf_counter()
                day.echo("▸ " + name)

            def __exit__(self, *exc):
                day.steps.append(StepTime(name, time.perf_counter() - self.t))

        return _Timer()

    def store_path(self, citizen: str) -> Path:
        return self.work / "phones" / f"{citizen}.db"

    # -- the day ---------------------------------------------------------------------------

    def run(self) -> DemoResult:
        started = time.perf_counter()
        os.environ["BLUEZONE_KEY_DIR"] = str(self.work / "phones" / "keys")
        plan = make_plan(self.n, self.seed)
        with self.step(_("Authority: keys, deployment files, staff token")):
            setup = write_deployment(self.work / "authority")
            token = create_staff_token(setup)
        with self.step(_("Federation: the national gateway and a second province, Đà Nẵng")):
            fed = crossborder.prepare(self.work, setup)
        with running_server(setup), crossborder.running(fed):
            staff = StaffClient(setup.url, token)
            self.echo("  " + text(_("server: bluezone serve on {url}", url=setup.url)))
            with self.step(_("{n} citizens set up their phones", n=self.n)):
                for c in plan.citizens:
                    self.devices[c] = Device.init(setup.device_config, self.store_path(c), language="vi",
                                                  consents=dict.fromkeys(CONSENT_PURPOSES, True))  # all agreed
            url, tracing_code = self.make_office_venue(setup)
            truth = self.simulate_day(plan, url)
            result = self.authority_and_phones(plan, setup, staff, tracing_code, truth)
            # someone nobody in Gia Lai warned meets a driver from Đà Nẵng the day before
            contact = next(c for c in plan.citizens if c != plan.patient_zero and not self.devices[c].store.alerts())
            with self.step(_("Cross-border: a Đà Nẵng driver who met {contact} reports in Đà Nẵng; the key goes "
                             "Đà Nẵng → gateway → Gia Lai", contact=contact)):
                result.cross_border = crossborder.cross_border_contact(
                    fed, contact, self.devices[contact].store, self.devices[contact].config,
                    self.day_start - 86400 + 10 * HOUR)
        for d in self.devices.values():
            d.store.close()
        result.steps = self.steps
        result.total_seconds = time.perf_counter() - started
        return result

    def make_office_venue(self, setup: AuthoritySetup) -> tuple[str, Path]:
        """The office printed its poster a week ago (a permanent venue)."""
        with self.step(_("Office: venue created, A4 poster (PDF, PNG) and private tracing code")):
            from bluezone_qr_checkin.settings import CheckinSettings

            config = load_config(setup.device_config)
            settings = CheckinSettings.from_config(config)
            created = create_venue(VenueSpec(OFFICE_NAME, OFFICE_ADDRESS, "office_space", 9 * HOUR),
                                   settings.require_public_key(), now=self.day_start - 7 * 86400)
            url = created.url(settings.require_url_base())
            office = self.work / "office"
            office.mkdir(parents=True, exist_ok=True)
            info = parse_url(url, check_time=False)
            pdf = poster.entry_poster_pdf(url, poster.PosterText(info.description, info.address, "", ""))
            (office / "poster.pdf").write_bytes(pdf)
            (office / "poster.png").write_bytes(poster.pdf_to_png(pdf))
            code = office / "tracing-code.bin"
            code.write_bytes(created.tracing_code)
            os.chmod(code, 0o600)
            decoded = qrimage.venue_url_from_image(office / "poster.png")
            if decoded != url:
                raise DemoError(str(_("the poster PNG did not decode to the venue URL")))
            self.echo("  " + text(_("poster: {path} — decoded from the PNG by zxing-cpp", path=office / "poster.pdf")))
        return decoded, code

    def simulate_day(self, plan: DayPlan, venue_url: str) -> dict[tuple[str, str], float]:
        """Run every group through the radio simulator; office-1 checks in by QR."""
        close: dict[tuple[str, str], float] = {}
        with self.step(_("The day: {n} groups (bus, offices, market, homes) through the radio simulator",
                         n=len(plan.groups))):
            for k, group in enumerate(plan.groups):
                start = self.day_start + group.phase.start
                if group.name == CHECKIN_OFFICE:
                    venue = parse_url(venue_url, now=start)
                    for member in group.members:
                        store = self.devices[member].store
                        checkin.check_in(store, venue, now=start + 60 * (k % 5))
                truth = simulate(group.phase.scenario,
                                 [(m, self.devices[m].store) for m in group.members],
                                 seed=self.seed * 1000 + k, start_time=start, duration=group.phase.duration)
                if group.name == CHECKIN_OFFICE:
                    for member in group.members:
                        checkin.check_out(self.devices[member].store, now=start + group.phase.duration)
                for key, pair in truth.pairs.items():
                    close[key] = close.get(key, 0.0) + pair.close_seconds
                    self.closest[key] = min(self.closest.get(key, math.inf), pair.min_distance_m)
            sightings = sum(d.store.sighting_count() for d in self.devices.values())
            self.echo("  " + text(_("{sightings} sightings stored on {phones} phones; {people} people checked in at "
                                    "the office", sightings=sightings, phones=len(self.devices),
                                    people=len(plan.the_checkin_office().members))))
        return close

    def authority_and_phones(self, plan: DayPlan, setup: AuthoritySetup, staff: StaffClient,
                             tracing_code: Path, close: dict[tuple[str, str], float]) -> DemoResult:
        cfg = str(setup.device_config)
        day = dt.date.fromtimestamp(self.day_start)
        f0 = plan.patient_zero
        export_keys: list[int] = []
        with self.step(_("F0: {f0} tests positive; staff issue a code; {f0} uploads with 'bluezone report'", f0=f0)):
            code = staff.issue_code("F0", onset=(day + dt.timedelta(days=1)).isoformat())
            run_cli("report", "--config", cfg, "--store", str(self.store_path(f0)), "--code", code)
        with self.step(_("Venue trace: staff open it, the office uploads with 'bluezone venue trace'")):
            token = staff.venue_trace_token(OFFICE_NAME)
            office = plan.the_checkin_office()
            start, end = self.day_start + office.phase.start, self.day_start + office.phase.start + office.phase.duration
            run_cli("venue", "trace", "--tracing-code", str(tracing_code), "--from", f"@{start}", "--to", f"@{end}",
                    "--token", token, "--config", cfg)
        with self.step(_("Export: a signed GAEN batch (padded with fake keys)")):
            export_keys.append(int(staff.export_now().get("realKeys") or 0))
        bytes_down = {c: 0 for c in plan.citizens}
        with self.step(_("Everyone syncs over HTTP and matches on the phone")):
            asyncio.run(self.sync_all(setup.url, bytes_down))
        f1_candidates = [c for c in plan.citizens if c != f0 and any(
            a.tier is Tier.F1 and a.source == "ble" for a in self.devices[c].store.alerts())]
        published_f1 = None
        if f1_candidates:
            # the F1 with the most people at home is asked to publish (F2 is opt-in per person)
            published_f1 = max(f1_candidates, key=lambda c: (sum(len(g.members) for g in plan.groups_of(c)), c))
            with self.step(_("F1: {f1} is authorised to publish (RECURSIVE) for F2 warnings", f1=published_f1)):
                code = staff.issue_code("F1", onset=(day + dt.timedelta(days=1)).isoformat())
                run_cli("report", "--config", cfg, "--store", str(self.store_path(published_f1)), "--code", code)
                export_keys.append(int(staff.export_now().get("realKeys") or 0))
            with self.step(_("Everyone syncs again: F2 warnings")):
                asyncio.run(self.sync_all(setup.url, bytes_down))
        alerted = [c for c in plan.citizens if self.devices[c].store.alerts()]
        sent = 0
        with self.step(_("Declarations: warned people declare their health ('bluezone declare', sealed)")):
            for c in alerted[: self.max_declarations]:
                answers = self.work / "phones" / f"{c}-answers.json"
                answers.write_text(json.dumps(_answers(c, day), ensure_ascii=False))
                run_cli("declare", "--config", cfg, "--store", str(self.store_path(c)), "--from-json",
                        str(answers), "--link-alert", "--lang", "vi", "--no-keep-copy", "--no-external")
                answers.unlink()
                sent += 1
            at_server = len(staff.declarations())
        alerts = {c: [{"tier": a.tier.label, "source": a.source, "date": a.exposure_date.isoformat(),
                       "isolate_until": a.isolate_until.isoformat(), "message_vi": a.message("vi"),
                       "message_en": a.message("en")}
                      for a in self.devices[c].store.alerts()] for c in plan.citizens}
        result = DemoResult(self.work, plan, self.day_start, f0, published_f1, close, alerts, bytes_down,
                            list(plan.the_checkin_office().members), sent, at_server, export_keys,
                            closest_m=dict(self.closest),
                            downloads_sha256={c: d.hexdigest() for c, d in self.download_digests.items()})
        utc_day = dt.datetime.fromtimestamp(self.day_start, dt.timezone.utc).date()
        result.weighted_minutes = {c: self.weighted_minutes(c, utc_day) for c in plan.citizens}
        result.threshold_minutes = float(load_config(cfg).risk["minimum_minutes_per_day"])
        return result

    def weighted_minutes(self, citizen: str, day: dt.date) -> dict[str, float]:
        """The phone's own scoring of the day's stored windows, per tier. Only F0
        publishes confirmed keys and only the chosen F1 recursive ones, so F1-tier
        windows are the contact with F0 and F2-tier ones with that F1."""
        device = self.devices[citizen]
        windows = pipeline.stored_windows(device.store, {day.isoformat()})
        daily = device.config.pm.hook.bluezone_score_exposure_windows(windows=windows, config=device.config) or []
        return {d.tier.label: round(d.weighted_minutes, 2) for d in daily if d.date == day}

    async def sync_all(self, url: str, bytes_down: dict[str, int]) -> None:
        sem = asyncio.Semaphore(8)

        async def one(citizen: str) -> None:
            device = self.devices[citizen]
            async with sem:
                transport = CountingTransport(make_transport(url, device.config),  # the deployment's own transport
                                              self.download_digests.setdefault(citizen, hashlib.sha256()))
                try:
                    await sync(device.store, device.config, transport, f2_opt_in=device.f2_opt_in,
                               language=device.language)
                finally:
                    await transport.inner.close()
                bytes_down[citizen] += transport.bytes

        await asyncio.gather(*(one(c) for c in self.devices))


def run_province_day(workdir: Path, citizens: int = 80, seed: int = 7, echo: Callable[[str], None] = print,
                     declarations: int = 5) -> DemoResult:
    if not 8 <= citizens <= 500:
        raise DemoError(str(_("citizens must be between {low} and {high}", low=8, high=500)))
    workdir.mkdir(parents=True, exist_ok=True)
    return ProvinceDay(workdir, citizens, seed, echo, declarations).run()
