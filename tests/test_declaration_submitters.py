"""The ``ncovi-submitter`` against a local stand-in NCOVI endpoint (a real
aiohttp server on 127.0.0.1 that validates every payload with JSON Schema):
mapping, retries, idempotency, and failures reported — never dropped."""

from __future__ import annotations

import json

import jsonschema
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bluezone.config import load_config
from bluezone.declarations import Field, Submission, build_form, make_declaration, seal, submit_all
from bluezone.declarations.fixtures import TODAY, good_answers, write_deployment
from bluezone.declarations.ncovi import NcoviSubmitter, to_ncovi_json
from bluezone.declarations.submit import SubmitError
from bluezone.plugins import make_plugin_manager

_BOOLS = {"type": "object", "additionalProperties": {"type": "boolean"}}
_DATE = {"type": ["string", "null"], "pattern": r"^\d{2}/\d{2}/\d{4}$"}
NCOVI_PAYLOAD_SCHEMA = {
    "type": "object",
    "required": ["phienBan", "nguon", "ngayKhai", "thongTinCaNhan", "diChuyen", "diaChiLienLac", "trieuChung",
                 "lichSuPhoiNhiem", "benhNen", "camKet"],
    "properties": {
        "phienBan": {"type": "string", "pattern": "^ncovi/1"},
        "nguon": {"const": "bluezone"},
        "ngayKhai": _DATE,
        "thongTinCaNhan": {"type": "object", "required": ["hoTen", "namSinh", "gioiTinh", "soGiayTo", "soDienThoai"],
                           "properties": {"hoTen": {"type": "string", "minLength": 2},
                                          "namSinh": {"type": "integer"},
                                          "gioiTinh": {"enum": ["nam", "nu", "khac"]},
                                          "soDienThoai": {"type": "string", "pattern": r"^(0|\+)\d+$"}}},
        "diChuyen": {"type": "object", "properties": {"ngayKhoiHanh": _DATE, "ngayDen": _DATE,
                                                       "tinhThanhDaDen": {"type": "array", "items": {"type": "string"}}}},
        "diaChiLienLac": {"type": "object", "required": ["tinhThanh", "quanHuyen", "phuongXa", "soNhaDuong"]},
        "trieuChung": {**_BOOLS, "required": ["sot", "ho", "khoTho", "dauHong", "buonNon", "tieuChay",
                                              "xuatHuyetNgoaiDa", "noiBanNgoaiDa"]},
        "lichSuPhoiNhiem": _BOOLS,
        "benhNen": {"type": "array", "items": {"type": "string"}},
        "camKet": {"const": True},
    },
    "not": {"anyOf": [{"required": ["linkage"]}, {"required": ["sealed"]}]},
}


class StandIn:
    """A stand-in NCOVI endpoint. ``fail_first`` requests get ``fail_status``."""

    def __init__(self, fail_first: int = 0, fail_status: int = 503):
        self.fail_first = fail_first
        self.fail_status = fail_status
        self.requests: list[dict] = []
        self.accepted: dict[str, dict] = {}

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        key = request.headers.get("Idempotency-Key", "")
        self.requests.append({"key": key, "body": body})
        if len(self.requests) <= self.fail_first:
            headers = {"Retry-After": "0"} if self.fail_status == 429 else {}
            return web.json_response({"error": "busy"}, status=self.fail_status, headers=headers)
        try:
            data = json.loads(body)
        except ValueError as e:
            return web.json_response({"error": f"not JSON: {e}"}, status=400)
        try:
            jsonschema.validate(data, NCOVI_PAYLOAD_SCHEMA)
        except jsonschema.ValidationError as e:
            return web.json_response({"error": f"invalid payload at {e.json_path}: {e.message}"}, status=422)
        if not key:
            return web.json_response({"error": "Idempotency-Key required"}, status=400)
        self.accepted.setdefault(key, data)
        return web.json_response({"maToKhai": f"NC-{list(self.accepted).index(key) + 1:05d}"}, status=201)


@pytest.fixture
async def standin():
    made = []

    async def make(**kw):
        s = StandIn(**kw)
        app = web.Application()
        app.router.add_post("/api/tokhai", s.handle)
        server = TestServer(app, host="127.0.0.1")
        await server.start_server()
        s.url = str(server.make_url("/api/tokhai"))
        made.append(server)
        return s

    yield make
    for server in made:
        await server.close()


def deployment(tmp_path, url, attempts=4):
    path, pair = write_deployment(tmp_path, declarations=(
        '[declarations]\nsubmitters = ["ncovi"]\n\n'
        f'[declarations.ncovi]\nurl = "{url}"\nattempts = {attempts}\nbackoff_seconds = 0.01\ntimeout_seconds = 5\n'))
    return load_config(path), pair


def submission(config, pair, **changes):
    form = build_form(config)
    d = make_declaration(form, good_answers(**changes), language="vi", today=TODAY)
    return Submission(seal(d, pair.private_key.public_key), d, form)


async def test_the_mapped_declaration_is_accepted_by_the_stand_in(standin, tmp_path):
    s = await standin()
    config, pair = deployment(tmp_path, s.url)
    [result] = await submit_all(submission(config, pair), ["ncovi"], config)
    assert result.ok and result.receipt == "NC-00001" and result.attempts == 1
    [data] = s.accepted.values()
    assert data["thongTinCaNhan"]["hoTen"] == "Nguyễn Thị Lan"
    assert data["thongTinCaNhan"]["gioiTinh"] == "nu"
    assert data["trieuChung"]["ho"] is True and data["trieuChung"]["sot"] is False
    assert data["diChuyen"]["tinhThanhDaDen"] == ["64", "79"]
    assert data["diaChiLienLac"]["tinhThanh"] == "64"
    assert data["benhNen"] == ["hypertension"]


async def test_transient_failures_are_retried_with_one_idempotency_key(standin, tmp_path):
    s = await standin(fail_first=2, fail_status=503)
    config, pair = deployment(tmp_path, s.url)
    [result] = await submit_all(submission(config, pair), ["ncovi"], config)
    assert result.ok and result.attempts == 3
    assert len(s.requests) == 3 and len({r["key"] for r in s.requests}) == 1
    assert len(s.accepted) == 1


async def test_rate_limits_are_retried(standin, tmp_path):
    s = await standin(fail_first=1, fail_status=429)
    config, pair = deployment(tmp_path, s.url)
    [result] = await submit_all(submission(config, pair), ["ncovi"], config)
    assert result.ok and result.attempts == 2


async def test_persistent_failure_is_reported_after_every_attempt(standin, tmp_path):
    s = await standin(fail_first=100, fail_status=502)
    config, pair = deployment(tmp_path, s.url, attempts=3)
    [result] = await submit_all(submission(config, pair), ["ncovi"], config)
    assert not result.ok and result.attempts == 3 and len(s.requests) == 3
    assert "HTTP 502" in result.error and "busy" in result.error
    assert "NOT delivered after 3 attempts" in result.line("en")
    assert "KHÔNG gửi được sau 3 lần thử" in result.line("vi")
    assert "KHÔNG gửi được sau 3 lần thử" in result.line("vi")


async def test_a_refused_payload_is_not_retried_and_says_why(standin, tmp_path):
    s = await standin()
    config, pair = deployment(tmp_path, s.url)
    sub = submission(config, pair)
    bad = Submission(sub.sealed, type(sub.declaration)(sub.declaration.schema, "vi", TODAY,
                                                       {**sub.declaration.answers, "gender": "x"}), sub.form)
    [result] = await submit_all(bad, ["ncovi"], config)
    assert not result.ok and result.attempts == 1 and len(s.requests) == 1
    assert "HTTP 422" in result.error and "gioiTinh" in result.error
    assert s.accepted == {}


async def test_an_unreachable_endpoint_and_a_missing_url_are_reported(tmp_path):
    config, pair = deployment(tmp_path, "http://127.0.0.1:9/api", attempts=2)
    [result] = await submit_all(submission(config, pair), ["ncovi"], config)
    assert not result.ok and result.attempts == 2 and "network" in result.error
    (tmp_path / "b").mkdir()
    path, pair2 = write_deployment(tmp_path / "b")
    plain = load_config(path)
    results = await submit_all(submission(plain, pair2), ["ncovi", "nonexistent"], plain)
    assert [r.ok for r in results] == [False, False]
    assert "url is not configured" in results[0].error and "no submitter named 'nonexistent'" in results[1].error


async def test_province_fields_travel_under_truongBoSung_and_linkage_never(standin, tmp_path):
    from bluezone.declarations import Linkage
    from bluezone.hookspecs import hookimpl
    from bluezone.models import Tier

    class Extra:
        @hookimpl
        def bluezone_declaration_form(self, form, config):
            form.add_field(Field("vaccine_doses", "health", "integer", "Vaccine doses",
                                 minimum=0, maximum=5))

    s = await standin()
    config, pair = deployment(tmp_path, s.url)
    pm = make_plugin_manager(enabled=[])
    pm.register(Extra(), "extra")
    form = build_form(config, pm=pm)
    d = make_declaration(form, good_answers(vaccine_doses=2), today=TODAY, linkage=Linkage(Tier.F1, TODAY, "98765432"))
    body = to_ncovi_json(Submission(b"", d, form))
    assert body["truongBoSung"] == {"vaccine_doses": 2}
    assert "98765432" not in json.dumps(body) and "F1" not in json.dumps(body)
    assert "exposure_date" not in json.dumps(body)
    submitter = NcoviSubmitter(config)
    assert (await submitter.submit(Submission(b"", d, form))).startswith("NC-")


async def test_retry_policy_gives_up_on_non_retryable_errors_at_once():
    from bluezone.declarations.submit import RetryPolicy, with_retries

    calls = []

    async def op(n):
        calls.append(n)
        raise SubmitError("nope", retryable=False)

    with pytest.raises(SubmitError) as e:
        await with_retries(op, RetryPolicy(5, 0, 0))
    assert calls == [1] and e.value.attempts == 1
