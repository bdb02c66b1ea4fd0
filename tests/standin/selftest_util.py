"""What the stand-in's self-tests (selftest_*.py beside this file) share: the
stand-in processes they start, requests to them, checks of the answers (the
MQTTS sets with python3-cryptography), and the TAP runner.

Each selftest_*.py registers its tests with @test and ends with
sys.exit(main(ROLES)), ROLES naming the stand-ins it needs ("cloud",
"gateway", "tls" and "short", kept in S under those names: STARTERS).
"""

import http.client
import json
import os
import re
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import time
import traceback

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from standin_pki import validity

HERE = os.path.dirname(os.path.abspath(__file__))
STANDIN = os.path.join(HERE, "standin.py")
TOKEN = "selftest-token"
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
CONFIG_KEYS = {"mqtt_host", "mqtt_port", "mqtt_credentials", "time_sync_protocol",
               "time_sync_host", "time_sync_port", "hardware_id", "channel_id"}
YEAR = 365 * 86400

TESTS = []
# S holds the running stand-ins: S["cloud"], S["gateway"], S["tls"], S["short"].
S = {}


def test(name):
    def register(fn):
        TESTS.append((name, fn))
        return fn
    return register


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def eq(got, want, what):
    check(got == want, f"{what}: got {got!r}, want {want!r}")


class Standin:
    """One stand-in process on an ephemeral port."""

    def __init__(self, role, workdir, tls=None, canary=None, extra=()):
        self.role, self.tls, self.canary = role, tls, canary or "CANARY"
        name = "tls" if tls else "-".join(extra) or "plain"
        self.port_file = os.path.join(workdir, f"port-{role}-{name}")
        cmd = [sys.executable, STANDIN, "--role", role, "--token", TOKEN, "--port", "0",
               "--port-file", self.port_file, "--quiet", *extra]
        if tls:
            cmd += ["--tls-cert", tls[0], "--tls-key", tls[1]]
        if canary:
            cmd += ["--canary", canary]
        self.ca_pem = None
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        self.banner = self.proc.stdout.readline()
        deadline = time.monotonic() + 10
        while not os.path.exists(self.port_file):
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError(f"stand-in {role} did not start")
            time.sleep(0.02)
        with open(self.port_file) as f:
            self.port_text = f.read()
        self.port = int(self.port_text)
        self.context = None
        if tls:
            self.context = ssl.create_default_context(cafile=tls[0])

    def connect(self, timeout=10):
        if self.tls:
            return http.client.HTTPSConnection("127.0.0.1", self.port, timeout=timeout,
                                               context=self.context)
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def call(self, method, path, body=None, headers=None, conn=None):
        """Returns (status, lower-case headers, body bytes)."""
        own = conn is None
        conn = conn or self.connect()
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
        finally:
            if own:
                conn.close()

    def provision(self, kind, doc, token=TOKEN, allow=True, ctype="application/json",
                  conn=None, extra=None, path=None):
        """POSTs to a provisioning endpoint (or @path); returns (status,
        headers, parsed JSON or bytes)."""
        headers = {"Content-Type": ctype, "Accept": "application/json"}
        if token is not None:
            headers["X-Enapter-Auth-Token"] = token
        if allow and not self.tls:
            headers["X-Enapter-Allow-HTTP"] = "true"
        headers.update(extra or {})
        body = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
        status, hdrs, data = self.call("POST", path or "/v3/provisioning/" + kind, body,
                                       headers, conn)
        try:
            return status, hdrs, json.loads(data)
        except ValueError:
            return status, hdrs, data

    def generate(self, device_id, doc, **kw):
        """POST /v3/devices/<device_id>/generate_config, as provision()."""
        return self.provision("generate_config", doc, path=generate_path(device_id), **kw)

    def control(self, method, name, doc=None, conn=None):
        body = None if doc is None else json.dumps(doc).encode()
        status, _, data = self.call(method, "/_standin/" + name, body,
                                    {"Content-Type": "application/json"}, conn)
        return status, json.loads(data)

    def reset(self):
        eq(self.control("POST", "reset")[0], 200, "reset status")

    def faults(self, faults):
        status, doc = self.control("POST", "faults", faults)
        eq(status, 200, f"queueing faults {faults}")
        return doc

    def stats(self, conn=None):
        return self.control("GET", "stats", conn=conn)[1]

    def requests(self):
        return self.control("GET", "requests")[1]

    def settings(self, **changes):
        """POSTs @changes to /_standin/settings; returns the settings in force."""
        status, doc = self.control("POST", "settings", changes)
        eq(status, 200, f"settings {changes} ({doc})")
        return doc

    def ca(self):
        """GET /_standin/ca: the CA certificate's PEM (the first answer, kept)."""
        if self.ca_pem is None:
            status, headers, data = self.call("GET", "/_standin/ca")
            eq((status, headers.get("content-type")), (200, "application/x-pem-file"), "ca")
            self.ca_pem = data.decode()
        return self.ca_pem

    def stop(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()
        finally:
            self.proc.stdout.close()


# ------------------------------------------------------------ request bodies

def body(kind, **over):
    docs = {
        "ucm": {"site_id": "site-1", "hardware_id": "HW-UCM-1", "name": "My UCM",
                "protocol": "MQTTS"},
        "vucm": {"site_id": "site-1", "hardware_id": "HW-VUCM-1", "name": "My VUCM"},
        "embedded": {"device_type": "ELECTROLYSER", "site_id": "site-1", "hardware_id": "HW-EL-1",
                     "name": "My Electrolyser", "protocol": "MQTTS"},
        "link_master": {"site_id": "site-1", "hardware_id": "HW-LM-1", "name": "Enapter Link 1"},
        "link_slave": {"site_id": "site-1", "hardware_id": "HW-LS-1", "name": "ENP-AO6 BCC4",
                       "master_device_id": "unset"},
        "standalone": {"site_id": "site-1", "name": "My Device"},
        "lua_device": {"runtime_id": "runtime-1", "blueprint_id": "bp-1", "name": "Gas sensor",
                       "slug": "gas-sensor-1"},
        "gateway": {"site_id": "site-1", "hardware_id": "HW-GW-1", "gateway_version": "3.0.0",
                    "site_name": "My Site", "site_timezone": "Europe/Berlin",
                    "site_location": {"latitude": 52.520008, "longitude": 13.404954}},
    }
    return {**docs[kind], **over}


def check_errors(doc, code, status_what):
    check(isinstance(doc, dict) and isinstance(doc.get("errors"), list) and doc["errors"],
          f"{status_what}: not an errors body: {doc!r}")
    for e in doc["errors"]:
        eq(set(e), {"code", "message", "details"}, f"{status_what}: error keys")
        check(isinstance(e["message"], str) and isinstance(e["details"], dict),
              f"{status_what}: error field types {e!r}")
    eq(doc["errors"][0]["code"], code, f"{status_what}: error code")


def generate_path(device_id):
    return f"/v3/devices/{device_id}/generate_config"


def check_config(inst, cfg, protocol, hardware_id, channel, device_id, protocol_at="credentials"):
    """@cfg is a config of @inst's for @protocol, with a real set (MQTTS)
    for @device_id; @hardware_id None: the config has none."""
    keys = CONFIG_KEYS | ({"mqtt_protocol"} if protocol_at != "credentials" else set())
    eq(set(cfg), keys - ({"hardware_id"} if hardware_id is None else set()), "config keys")
    eq(cfg["mqtt_host"], "mqtt.standin.invalid", "mqtt_host")
    eq(cfg["mqtt_port"], 8883 if protocol == "MQTTS" else 1883, "mqtt_port")
    eq((cfg["time_sync_protocol"], cfg["time_sync_host"], cfg["time_sync_port"]),
       ("HTTP", "127.0.0.1", 80), "time sync")
    eq(cfg.get("hardware_id"), hardware_id, "config.hardware_id")
    eq(cfg["channel_id"], channel, "channel_id")
    cred = dict(cfg["mqtt_credentials"])
    eq(cfg.get("mqtt_protocol"), None if protocol_at == "credentials" else protocol,
       "config.mqtt_protocol")
    eq(cred.pop("protocol", None), None if protocol_at == "config" else protocol,
       "mqtt_credentials.protocol")
    if protocol == "MQTTS":
        eq(set(cred), {"private_key", "certificate", "ca_chain"}, "MQTTS keys")
        check_set(inst, cred, device_id)
    else:
        eq(set(cred), {"username", "password"}, "MQTT credential keys")
        eq(cred["username"], "user-" + device_id, "username")
        check(re.fullmatch(inst.canary + r"-PASSWORD-\d+", cred["password"]), "password canary")


def check_set(inst, cred, device_id, lifetime=YEAR, not_before=None):
    """@cred is a real set of @inst's: a PKCS#8 EC P-256 key, its
    certificate (CN @device_id, @lifetime seconds from @not_before, or from
    about now) signed by the CA of GET /_standin/ca, ca_chain that CA.
    Returns the certificate."""
    check(cred["private_key"].startswith("-----BEGIN PRIVATE KEY-----\n")
          and cred["private_key"].endswith("-----END PRIVATE KEY-----\n"),
          f"private key is not PKCS#8 PEM: {cred['private_key'][:40]!r}")
    key = serialization.load_pem_private_key(cred["private_key"].encode(), None)
    check(isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name == "secp256r1",
          "the key is not EC P-256")
    cert = x509.load_pem_x509_certificate(cred["certificate"].encode())
    eq(cred["certificate"].count("-----BEGIN CERTIFICATE-----"), 1, "one certificate")
    spki = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    eq(cert.public_key().public_bytes(*spki), key.public_key().public_bytes(*spki),
       "the certificate's public key is the private key's")
    eq(cred["ca_chain"], inst.ca(), "ca_chain is the CA of GET /_standin/ca")
    ca = x509.load_pem_x509_certificate(inst.ca().encode())
    eq(cert.issuer, ca.subject, "issuer")
    # raises InvalidSignature unless the CA's key signed it
    ca.public_key().verify(cert.signature, cert.tbs_certificate_bytes,
                           ec.ECDSA(cert.signature_hash_algorithm))
    cn = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    eq([a.value for a in cn], [device_id], "subject CN")
    start, end = validity(cert)
    if not_before is None:
        check(time.time() - 30 <= start <= time.time(), f"notBefore {start} is not now")
    else:
        eq(start, not_before, "notBefore")
    eq(end - start, lifetime, "notAfter - notBefore")
    return cert


def check_id(value, what):
    check(isinstance(value, str) and UUID.match(value), f"{what} is not a uuid4: {value!r}")


def secret(cfg):
    cred = cfg["mqtt_credentials"]
    return cred.get("private_key") or cred.get("password")


def fresh_device(inst, kind):
    """Resets @inst, then provisions a @kind device with body(kind); returns its id."""
    inst.reset()
    return ok200(inst, kind, body(kind))["device_id"]


def not_found_device(doc, device_id, what):
    check_errors(doc, "not_found", what)
    eq(doc["errors"][0]["details"], {"device_id": device_id}, f"{what}: details")


def ok200(inst, kind, doc, **kw):
    status, headers, resp = inst.provision(kind, doc, **kw)
    eq(status, 200, f"{kind} status (body {resp!r})")
    eq(headers.get("content-type"), "application/json", f"{kind} content type")
    return resp


def make_cert(workdir):
    cert, key = os.path.join(workdir, "cert.pem"), os.path.join(workdir, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                    "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                    "-days", "2", "-keyout", key, "-out", cert],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return cert, key


# How each stand-in of S is started.
STARTERS = {
    "cloud": lambda workdir: Standin("cloud", workdir),
    "gateway": lambda workdir: Standin("gateway", workdir, canary="GWCANARY"),
    "tls": lambda workdir: Standin("cloud", workdir, tls=make_cert(workdir)),
    "short": lambda workdir: Standin("cloud", workdir, extra=("--cert-lifetime", "7200")),
}


def main(roles):
    """Starts the stand-ins named in @roles, runs the registered tests and
    prints TAP; returns the exit status."""
    print(f"1..{len(TESTS)}", flush=True)
    workdir = tempfile.mkdtemp(prefix="standin-selftest-")
    failed = 0
    try:
        try:
            for role in roles:
                S[role] = STARTERS[role](workdir)
            setup_error = None
        except Exception as exc:
            setup_error = f"setup failed: {exc!r}"
        for n, (name, fn) in enumerate(TESTS, 1):
            try:
                if setup_error:
                    raise AssertionError(setup_error)
                fn()
                print(f"ok {n} - {name}", flush=True)
            except Exception:
                failed += 1
                print(f"not ok {n} - {name}", flush=True)
                for line in traceback.format_exc().rstrip().splitlines():
                    print(f"# {line}")
    finally:
        for inst in S.values():
            inst.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    if failed:
        print(f"# {failed} of {len(TESTS)} failed")
    return 1 if failed else 0
