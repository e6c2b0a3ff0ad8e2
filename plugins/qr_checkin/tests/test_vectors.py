"""CrowdNotifier v3 against published vectors and the reference implementation's output."""

from __future__ import annotations

import nacl.public
import pytest

from bluezone_qr_checkin import derive, ibe, records, tracing
from bluezone_qr_checkin import payload as qp
from bluezone_qr_checkin.mcl import G1, G2, Fr, fr_set_hash_of, g2, h1, load_g1, load_g2, pairing
from bluezone_qr_checkin.proto import crowdnotifier_pb2 as pb

H = bytes.fromhex


def test_hkdf_vector(cn_vector):
    for v in cn_vector["hkdf"]:
        keys = derive.payload_keys(H(v["payload"]))
        assert keys.nonce_preid.hex() == v["noncePreId"]
        assert keys.nonce_timekey.hex() == v["nonceTimekey"]
        assert keys.notification_key.hex() == v["notificationKey"]


def test_identity_vector(cn_vector):
    for v in cn_vector["identity"]:
        p = H(v["payload"])
        assert derive.preid(p).hex() == v["preid"]
        assert derive.identity(p, v["startOfInterval"]).hex() == v["identity"]


def test_affected_hours_include_the_end_hour(interop):
    t = interop["timestamps"]
    assert [h // 3600 for h in derive.affected_hours(t["arrivalTime"], t["departureTime"])] == t["visit_affected_hours"]
    assert [h // 3600 for h in derive.affected_hours(t["traceStartTime"], t["traceEndTime"])] == t["trace_affected_hours"]


def test_mcl_conventions(interop):
    c = interop["curve_constants"]
    assert G1.deserialize(H(c["baseG1_hex"])).serialize().hex() == c["baseG1_hex"]
    assert g2.serialize().hex() == c["baseG2_hex"]
    assert h1(b"").serialize().hex() == c["hashAndMapToG1_empty_hex"]
    assert h1(b"abc").serialize().hex() == c["hashAndMapToG1_abc_hex"]
    assert fr_set_hash_of(b"abc").serialize().hex() == c["Fr_setHashOf_abc_hex"]
    assert pairing(G1.deserialize(H(c["baseG1_hex"])), g2).serialize().hex() == c["e_g1_g2_GT_hex"]


def test_reference_payload_parses_and_derives(interop):
    v = interop["venue"]
    raw = qp.payload_from_url(v["qr_url"])
    assert raw.hex() == v["qrCodePayload_hex"]
    assert raw.endswith(b"\x22\x00")  # protobufjs' empty countryData survives: we never re-encode
    info = qp.parse_payload(raw, now=interop["timestamps"]["arrivalTime"])
    assert info.description == v["description"] and info.address == v["address"]
    assert info.start_timestamp == v["decoded"]["locationData"]["startTimestamp"]
    keys = derive.payload_keys(raw)
    assert keys.notification_key.hex() == v["hkdf"]["notificationKey_hex"]
    for step in interop["identity_derivation_steps"]:
        assert derive.preid(raw).hex() == step["preid_hex"]
        assert derive.timekey(keys.nonce_timekey, step["startOfInterval"]).hex() == step["timeKey_hex"]
        assert derive.identity(raw, step["startOfInterval"]).hex() == step["identity_hex"]
        assert h1(H(step["identity_hex"])).serialize().hex() == step["h1_identity_G1_hex"]


def test_master_key_split(interop):
    d = interop["venue"]["derived_keys"]
    ha_sk = H(interop["health_authority"]["secretKey_hex"])
    owner = interop["venue"]["owner_private"]
    msk_ha = nacl.public.SealedBox(nacl.public.PrivateKey(ha_sk)).decrypt(H(owner["cipherTextHealthAuthority_hex"]))
    assert msk_ha.hex() == d["msk_HA_Fr_hex"]
    msk_l = Fr.deserialize(H(owner["masterSecretKeyLocation_Fr_hex"]))
    assert (g2 * msk_l).serialize().hex() == d["mpk_L_G2_hex"]
    assert (g2 * (msk_l + Fr.deserialize(msk_ha))).serialize().hex() == d["mpk_G2_hex"]


def _reference_records(interop):
    return [ibe.IbeCiphertext(H(e["c1_G2_hex"]), H(e["c2_hex"]), H(e["c3_hex"]), H(e["nonce_hex"]))
            for e in interop["visitor_record"]["ibeCiphertextEntries"]]


def _reference_traces(traces):
    out = []
    for t in traces:
        tr = pb.Trace()
        tr.ParseFromString(qp.b64url_decode(t["trace_protobuf_base64url"]))
        out.append(tr)
    return out


def test_reference_records_decrypt_with_reference_traces(interop):
    recs = _reference_records(interop)
    walk = interop["visitor_record"]["ibeCiphertextEntries"][0]["decryption_walkthrough"]
    trace = _reference_traces(interop["traces"])[walk["using_trace_index"]]
    m = ibe.decrypt(bytes(trace.identity), ibe.load_secret_key(trace.secretKeyForIdentity), recs[0])
    assert m is not None and m.decode() == walk["plaintext_utf8"]


def test_bluezone_device_matches_reference_traces(interop):
    """A Bluezone phone holding the reference's records matches its traces, as the reference did."""
    recs = _reference_records(interop)
    expected = {r["trace_index"]: r for r in interop["match_results_same_venue"]}
    for i, trace in enumerate(_reference_traces(interop["traces"])):
        sk = ibe.load_secret_key(trace.secretKeyForIdentity)
        found = [m for r in recs if (m := records.match_record(trace, sk, r)) is not None]
        assert bool(found) == expected[i]["matched"]
        exp = expected[i]["exposure"]
        assert found[0].arrival == exp["startTimestamp"] and found[0].departure == exp["endTimestamp"]
        assert found[0].message == exp["message"]


def test_unrelated_venue_traces_do_not_match(interop):
    recs = _reference_records(interop)
    for trace in _reference_traces(interop["unrelated_venue"]["traces"]):
        sk = ibe.load_secret_key(trace.secretKeyForIdentity)
        assert all(records.match_record(trace, sk, r) is None for r in recs)
    assert all(not r["matched"] for r in interop["unrelated_venue"]["match_results"])


def test_our_authority_reproduces_reference_keys_from_reference_pretraces(interop):
    """Our authority side accepts the reference owner's pre-traces and derives the same sk_id."""
    ha_sk = H(interop["health_authority"]["secretKey_hex"])
    upload = pb.PreTraceUpload(version=3)
    for t in interop["traces"]:
        item = pb.PreTraceWithProof()
        item.ParseFromString(qp.b64url_decode(t["pre_trace_with_proof_base64url"]))
        upload.preTraces.append(item)
    result = tracing.authority_traces(upload, ha_sk, "test")
    assert result.venue.description == interop["venue"]["description"]
    assert [t.secretKeyForIdentity.hex() for t in result.traces] == \
        [t["secretKeyForIdentity_G1_hex"] for t in interop["traces"]]
    recs = _reference_records(interop)
    assert records.match_record(result.traces[0], ibe.load_secret_key(result.traces[0].secretKeyForIdentity), recs[0])


def test_our_owner_pretraces_equal_reference(interop):
    code = pb.QRCodeTrace()
    code.ParseFromString(qp.b64url_decode(interop["venue"]["owner_private"]["qrCodeTrace_protobuf_base64url"]))
    t = interop["timestamps"]
    upload = tracing.owner_pretraces(code, t["traceStartTime"], t["traceEndTime"])
    for ours, ref in zip(upload.preTraces, interop["traces"], strict=True):
        assert ours.preTrace.identity.hex() == ref["pre_trace"]["identity_hex"]
        assert ours.preTrace.partialSecretKeyForIdentityOfLocation.hex() == \
            ref["pre_trace"]["partialSecretKeyForIdentityOfLocation_G1_hex"]
        assert ours.startOfInterval == ref["pre_trace"]["startOfInterval"]


def test_our_records_open_with_reference_style_keys(interop):
    """Records we encrypt for the reference venue open with the reference's published sk_id."""
    t = interop["timestamps"]
    info = qp.parse_url(interop["venue"]["qr_url"], now=t["arrivalTime"])
    ours = records.encrypt_visit(info, t["arrivalTime"], t["departureTime"])
    assert len(ours) == 2
    for trace, rec in zip(_reference_traces(interop["traces"]), ours):
        hit = records.match_record(trace, ibe.load_secret_key(trace.secretKeyForIdentity), rec)
        assert hit is not None and hit.message == "Ca F0 đã đến địa điểm này"
        assert hit.overlap_start == t["arrivalTime"]


def test_pairing_relation(interop):
    mpk = load_g2(H(interop["venue"]["derived_keys"]["mpk_G2_hex"]))
    for t in interop["traces"]:
        sk = load_g1(H(t["secretKeyForIdentity_G1_hex"]))
        assert pairing(h1(H(t["identity_hex"])), mpk) == pairing(sk, g2)
