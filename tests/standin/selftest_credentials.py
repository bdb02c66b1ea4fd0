#!/usr/bin/env python3
"""Self-test of the Enapter API stand-in (standin.py beside this file): the
real MQTTS sets it hands out (checked with python3-cryptography against the
CA of GET /_standin/ca), their lifetime from --cert-lifetime and POST
/_standin/settings, where a config states its protocol, the settings' checks
and reset, and how long minting takes (README.md).
Prints TAP; exits non-zero on any failure.

    python3 tests/standin/selftest_credentials.py
"""

import subprocess
import sys
import time

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from selftest_util import (
    S, STANDIN, TOKEN, YEAR, body, check, check_config, check_errors, check_set, eq,
    fresh_device, main, ok200, test)
from standin_pki import CA_NAME, Authority, validity

DEFAULTS = {"cert_lifetime": YEAR, "not_before_offset": 0, "protocol_at": "credentials"}


def mqtts(inst, kind="ucm", **over):
    """Provisions @kind over MQTTS; returns (device id, its credentials)."""
    r = ok200(inst, kind, body(kind, **over))
    return r.get("device_id") or r["gateway_device_id"], r["config"]["mqtt_credentials"]


@test("GET /_standin/ca: a self-signed EC P-256 CA certificate, the same after reset")
def _():
    c = S["cloud"]
    pem = c.ca()
    eq(pem.count("-----BEGIN CERTIFICATE-----"), 1, "one certificate")
    ca = x509.load_pem_x509_certificate(pem.encode())
    eq([a.value for a in ca.subject.get_attributes_for_oid(NameOID.COMMON_NAME)], [CA_NAME],
       "subject CN")
    eq(ca.issuer, ca.subject, "self-issued")
    ca.public_key().verify(ca.signature, ca.tbs_certificate_bytes,
                           ec.ECDSA(ca.signature_hash_algorithm))
    check(isinstance(ca.public_key(), ec.EllipticCurvePublicKey)
          and ca.public_key().curve.name == "secp256r1", "the CA key is EC P-256")
    bc = ca.extensions.get_extension_for_class(x509.BasicConstraints)
    check(bc.critical and bc.value.ca, "basicConstraints CA:TRUE, critical")
    ku = ca.extensions.get_extension_for_class(x509.KeyUsage).value
    check(ku.key_cert_sign, "keyUsage keyCertSign")
    start, end = validity(ca)
    check(start <= time.time() - 20 * YEAR and end >= time.time() + 1000 * YEAR,
          "the CA is valid whatever a test's clock")
    c.reset()
    c.ca_pem = None
    eq(c.ca(), pem, "the CA after a reset")
    check(S["gateway"].ca() != pem, "another stand-in has its own CA")


@test("MQTTS sets are real: the key is the certificate's, the CA signed it, fresh each time")
def _():
    c, g = S["cloud"], S["gateway"]
    c.reset()
    seen = set()
    for inst, kind in ((c, "ucm"), (c, "embedded"), (c, "gateway"), (g, "ucm"), (g, "embedded")):
        for _ in range(2):      # the second time: reprovisioning, a fresh set
            device_id, cred = mqtts(inst, kind)
            cert = check_set(inst, cred, device_id)
            eq(cred["ca_chain"], inst.ca(), "ca_chain")
            check(cert.serial_number not in seen, "the serial number repeats")
            check(cred["private_key"] not in seen, "the key repeats")
            seen |= {cert.serial_number, cred["private_key"]}
            check("PRIVATE KEY-----" in cred["private_key"], "the PEM marker tests grep for")
            check(inst.canary not in cred["private_key"], "private keys carry no canary")


@test("lifetime: 365 days by default, notBefore exactly now (whole seconds)")
def _():
    c = S["cloud"]
    c.reset()
    before = int(time.time())
    device_id, cred = mqtts(c)
    after = int(time.time())
    start, end = validity(check_set(c, cred, device_id))
    check(before <= start <= after, f"notBefore {start} not within {before}..{after}")
    eq(end - start, 31536000, "lifetime")


@test("--cert-lifetime sets the default lifetime, and reset goes back to it")
def _():
    s = S["short"]
    device_id, cred = mqtts(s)
    check_set(s, cred, device_id, lifetime=7200)
    eq(s.settings(), dict(DEFAULTS, cert_lifetime=7200), "the settings of --cert-lifetime 7200")
    s.settings(cert_lifetime=5)
    s.reset()
    device_id, cred = mqtts(s)
    check_set(s, cred, device_id, lifetime=7200)


@test("--cert-lifetime out of range: the stand-in does not start")
def _():
    for value in ("0", "-5", "x", str(10 ** 12)):
        proc = subprocess.run([sys.executable, STANDIN, "--role", "cloud", "--token", TOKEN,
                               "--cert-lifetime", value], capture_output=True, text=True,
                              timeout=30)
        eq(proc.returncode, 2, f"--cert-lifetime {value}: exit status ({proc.stderr!r})")
        check("--cert-lifetime" in proc.stderr, f"{value}: the message names the option")


@test("settings: cert_lifetime and not_before_offset shape the next sets")
def _():
    c = S["cloud"]
    c.reset()
    eq(c.settings(), DEFAULTS, "the defaults")
    eq(c.settings(cert_lifetime=60, not_before_offset=-3600),
       dict(DEFAULTS, cert_lifetime=60, not_before_offset=-3600), "the settings in force")
    before = int(time.time())
    device_id, cred = mqtts(c)
    cert = check_set(c, cred, device_id, lifetime=60, not_before=check_start(cred, before - 3600))
    check(validity(cert)[1] < time.time(), "already expired: notAfter is before now")
    eq(c.settings(not_before_offset=86400)["cert_lifetime"], 60, "one key changes, others stay")
    before = int(time.time())
    device_id, cred = mqtts(c, "gateway")
    check_set(c, cred, device_id, lifetime=60, not_before=check_start(cred, before + 86400))
    c.settings(cert_lifetime=1, not_before_offset=0)
    device_id, cred = mqtts(c, "embedded")
    check_set(c, cred, device_id, lifetime=1)


def check_start(cred, earliest):
    """notBefore of @cred's certificate, checked to be @earliest or a
    second or two after it (the request took that long)."""
    start = validity(x509.load_pem_x509_certificate(cred["certificate"].encode()))[0]
    check(earliest <= start <= earliest + 5, f"notBefore {start}, expected about {earliest}")
    return start


@test("settings: protocol_at places the protocol in the credentials, the config or both")
def _():
    c = S["cloud"]
    device_id = fresh_device(c, "standalone")
    for place in ("config", "both", "credentials"):
        eq(c.settings(protocol_at=place)["protocol_at"], place, "protocol_at in force")
        for protocol in ("MQTTS", "MQTT"):
            r = ok200(c, "ucm", body("ucm", protocol=protocol))
            check_config(c, r["config"], protocol, "HW-UCM-1", "ucm", r["device_id"], place)
            status, _, doc = c.generate(device_id, {"protocol": protocol})
            eq(status, 200, "generate_config")
            check_config(c, doc["config"], protocol, device_id.replace("-", "").upper(), "ucm",
                         device_id, place)
            if place != "credentials":
                eq(list(doc["config"])[:3], ["mqtt_host", "mqtt_port", "mqtt_protocol"],
                   "mqtt_protocol follows mqtt_port")
        r = ok200(c, "gateway", body("gateway"))
        check_config(c, r["config"], "MQTTS", "HW-GW-1", "gw", r["gateway_device_id"], place)


@test("settings: a bad document is 400 invalid_settings and changes nothing")
def _():
    c = S["cloud"]
    c.reset()
    good = c.settings(cert_lifetime=1234, protocol_at="both")
    bad = [{"cert_lifetime": 0}, {"cert_lifetime": -1}, {"cert_lifetime": 1.5},
           {"cert_lifetime": "60"}, {"cert_lifetime": True}, {"cert_lifetime": None},
           {"cert_lifetime": 10 ** 12}, {"not_before_offset": 0.5},
           {"not_before_offset": False}, {"not_before_offset": 10 ** 10},
           {"not_before_offset": -10 ** 10}, {"protocol_at": "CONFIG"},
           {"protocol_at": "mqtt_protocol"}, {"protocol_at": 1}, {"colour": "red"},
           {"cert_lifetime": 60, "protocol_at": "nowhere"},
           {"not_before_offset": 5, "canary": "X"}, [], "cert_lifetime", 60, None]
    for doc in bad:
        status, resp = c.control("POST", "settings", doc)
        eq(status, 400, f"status for {doc!r}")
        check_errors(resp, "invalid_settings", repr(doc))
        eq(c.settings(), good, f"the settings after {doc!r}")
    for raw in (b"", b"{", b"{}{}"):
        status, _, data = c.call("POST", "/_standin/settings", raw,
                                 {"Content-Type": "application/json"})
        eq(status, 400, f"status for {raw!r}")
    eq(c.settings(), good, "the settings after raw bodies")
    eq(c.settings(not_before_offset=-300), dict(good, not_before_offset=-300), "negative offset")


@test("reset restores the command-line settings; wrong methods are 405")
def _():
    c = S["cloud"]
    c.settings(cert_lifetime=99, not_before_offset=7, protocol_at="config")
    c.reset()
    eq(c.settings(), DEFAULTS, "after reset")
    for method, name, allow in (("GET", "settings", "POST"), ("PUT", "settings", "POST"),
                                ("POST", "ca", "GET"), ("DELETE", "ca", "GET")):
        status, headers, _ = c.call(method, "/_standin/" + name, b"{}")
        eq((status, headers.get("allow")), (405, allow), f"{method} {name}")
    eq(c.requests(), [], "control requests are not recorded")


@test("minting is fast: a few ms per set at most")
def _():
    authority = Authority()
    n = 200
    t0 = time.perf_counter()
    for i in range(n):
        authority.mint(f"device-{i}", YEAR)
    per_set = (time.perf_counter() - t0) / n * 1000
    print(f"# standin_pki: {per_set:.2f} ms per MQTTS set ({n} sets)")
    check(per_set < 5, f"{per_set:.2f} ms per set")
    c = S["cloud"]
    c.reset()
    conn = c.connect()
    t0 = time.perf_counter()
    for i in range(n):
        ok200(c, "ucm", body("ucm", hardware_id=f"HW-FAST-{i}"), conn=conn)
    per_request = (time.perf_counter() - t0) / n * 1000
    conn.close()
    print(f"# stand-in: {per_request:.2f} ms per MQTTS ucm request on one connection")
    check(per_request < 20, f"{per_request:.2f} ms per request")


if __name__ == "__main__":
    sys.exit(main(("cloud", "gateway", "short")))
