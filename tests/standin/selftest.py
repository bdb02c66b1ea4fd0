#!/usr/bin/env python3
"""Self-test of the Enapter API stand-in (standin.py beside this file).

Starts the stand-in as the cloud and as the gateway over plain HTTP, and as
the cloud over HTTPS with a certificate made by the openssl command, then
checks its contract (README.md). Prints TAP; exits non-zero on any failure.

    python3 tests/standin/selftest.py
"""

import http.client
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
STANDIN = os.path.join(HERE, "standin.py")
TOKEN = "selftest-token"
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
CONFIG_KEYS = {"mqtt_host", "mqtt_port", "mqtt_credentials", "time_sync_protocol",
               "time_sync_host", "time_sync_port", "hardware_id", "channel_id"}

TESTS = []


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

    def __init__(self, role, workdir, tls=None, canary=None):
        self.role, self.tls = role, tls
        self.port_file = os.path.join(workdir, f"port-{role}-{'tls' if tls else 'plain'}")
        cmd = [sys.executable, STANDIN, "--role", role, "--token", TOKEN, "--port", "0",
               "--port-file", self.port_file, "--quiet"]
        if tls:
            cmd += ["--tls-cert", tls[0], "--tls-key", tls[1]]
        if canary:
            cmd += ["--canary", canary]
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
                  conn=None, extra=None):
        """POSTs to a provisioning endpoint; returns (status, headers, parsed JSON or bytes)."""
        headers = {"Content-Type": ctype, "Accept": "application/json"}
        if token is not None:
            headers["X-Enapter-Auth-Token"] = token
        if allow and not self.tls:
            headers["X-Enapter-Allow-HTTP"] = "true"
        headers.update(extra or {})
        body = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
        status, hdrs, data = self.call("POST", "/v3/provisioning/" + kind, body, headers, conn)
        try:
            return status, hdrs, json.loads(data)
        except ValueError:
            return status, hdrs, data

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


def check_config(cfg, protocol, hardware_id, channel, canary="CANARY"):
    eq(set(cfg), CONFIG_KEYS, "config keys")
    eq(cfg["mqtt_host"], "mqtt.standin.invalid", "mqtt_host")
    eq(cfg["mqtt_port"], 8883 if protocol == "MQTTS" else 1883, "mqtt_port")
    eq((cfg["time_sync_protocol"], cfg["time_sync_host"], cfg["time_sync_port"]),
       ("HTTP", "127.0.0.1", 80), "time sync")
    eq(cfg["hardware_id"], hardware_id, "config.hardware_id")
    eq(cfg["channel_id"], channel, "channel_id")
    cred = cfg["mqtt_credentials"]
    eq(cred["protocol"], protocol, "credentials protocol")
    if protocol == "MQTTS":
        eq(set(cred), {"protocol", "private_key", "certificate", "ca_chain"}, "MQTTS keys")
        check(re.fullmatch(r"-----BEGIN PRIVATE KEY-----\n" + canary +
                           r"-PRIVATE-KEY-\d+\n-----END PRIVATE KEY-----\n", cred["private_key"]),
              f"private key canary: {cred['private_key']!r}")
        check(canary + "-CERT-" in cred["certificate"] and "BEGIN CERT" in cred["certificate"],
              "certificate canary")
        check(canary + "-CERT-" in cred["ca_chain"] and cred["ca_chain"] != cred["certificate"],
              "ca_chain canary")
    else:
        eq(set(cred), {"protocol", "username", "password"}, "MQTT credential keys")
        check(re.fullmatch(canary + r"-PASSWORD-\d+", cred["password"]), "password canary")


def check_id(value, what):
    check(isinstance(value, str) and UUID.match(value), f"{what} is not a uuid4: {value!r}")


def secret(cfg):
    cred = cfg["mqtt_credentials"]
    return cred.get("private_key") or cred.get("password")


def ok200(inst, kind, doc, **kw):
    status, headers, resp = inst.provision(kind, doc, **kw)
    eq(status, 200, f"{kind} status (body {resp!r})")
    eq(headers.get("content-type"), "application/json", f"{kind} content type")
    return resp


# ------------------------------------------------------------------- tests
# S holds the running stand-ins: S["cloud"], S["gateway"], S["tls"].
S = {}


@test("startup: banner line and port file")
def _():
    for inst in S.values():
        scheme = "https" if inst.tls else "http"
        want = f"standin: listening on {scheme}://127.0.0.1:{inst.port} role={inst.role}\n"
        eq(inst.banner, want, "banner")
        eq(inst.port_text, f"{inst.port}\n", "port file")


@test("cloud: ucm success shape (MQTTS and MQTT)")
def _():
    c = S["cloud"]
    r = ok200(c, "ucm", body("ucm"))
    eq(list(r), ["config", "device_id", "slug"], "ucm keys")
    check_id(r["device_id"], "device_id")
    eq(r["slug"], "my-ucm", "slug")
    check_config(r["config"], "MQTTS", "HW-UCM-1", "ucm")
    r = ok200(c, "ucm", body("ucm", hardware_id="HW-UCM-MQTT", protocol="MQTT"))
    check_config(r["config"], "MQTT", "HW-UCM-MQTT", "ucm")
    eq(r["config"]["mqtt_credentials"]["username"], "user-" + r["device_id"], "username")


@test("cloud: embedded success shape")
def _():
    for dt in ("ELECTROLYSER", "DRYER", "WATER_TANK"):
        r = ok200(S["cloud"], "embedded", body("embedded", device_type=dt, hardware_id="HW-" + dt))
        eq(list(r), ["config", "device_id", "slug"], "embedded keys")
        check_id(r["device_id"], "device_id")
        eq(r["slug"], "my-electrolyser", "slug")
        check_config(r["config"], "MQTTS", "HW-" + dt, "ucm")


@test("cloud: standalone success shape and slug derivation")
def _():
    c = S["cloud"]
    r = ok200(c, "standalone", body("standalone"))
    eq(list(r), ["device_id", "slug"], "standalone keys")
    check_id(r["device_id"], "device_id")
    eq(r["slug"], "my-device", "slug")
    for name, slug in (("  Hello,  World!! ", "hello-world"), ("!!!", "device"),
                       ("Ä-Büro 7", "b-ro-7"), ("x" * 70, "x" * 64)):
        eq(ok200(c, "standalone", body("standalone", name=name))["slug"], slug, f"slug of {name!r}")


@test("cloud: lua_device success shape (slug as requested)")
def _():
    r = ok200(S["cloud"], "lua_device", body("lua_device", slug="shape-slug"))
    eq(list(r), ["device_id", "slug"], "lua keys")
    check_id(r["device_id"], "device_id")
    eq(r["slug"], "shape-slug", "slug")


@test("cloud: gateway success shape")
def _():
    r = ok200(S["cloud"], "gateway", body("gateway"))
    eq(list(r), ["config", "gateway_device_id"], "gateway keys")
    check_id(r["gateway_device_id"], "gateway_device_id")
    check_config(r["config"], "MQTTS", "HW-GW-1", "gw")
    r = ok200(S["cloud"], "gateway", body("gateway", hardware_id="HW-GW-INT",
                                          site_location={"latitude": 52, "longitude": -13}))
    check_id(r["gateway_device_id"], "gateway_device_id with integer location")


@test("cloud: vucm, link_master, link_slave are 404 unsupported_on_target")
def _():
    for kind in ("vucm", "link_master", "link_slave"):
        status, _, doc = S["cloud"].provision(kind, body(kind))
        eq(status, 404, f"{kind} status")
        check_errors(doc, "unsupported_on_target", kind)


@test("gateway: ucm, vucm, embedded, standalone, lua_device success shapes")
def _():
    g = S["gateway"]
    r = ok200(g, "ucm", body("ucm", protocol="MQTT"))
    eq(list(r), ["config", "device_id", "slug"], "ucm keys")
    check_config(r["config"], "MQTT", "HW-UCM-1", "ucm", canary="GWCANARY")
    r = ok200(g, "vucm", body("vucm"))
    eq(list(r), ["device_id"], "vucm keys")
    check_id(r["device_id"], "vucm device_id")
    r = ok200(g, "embedded", body("embedded", device_type="DRYER"))
    check_config(r["config"], "MQTTS", "HW-EL-1", "ucm", canary="GWCANARY")
    eq(list(ok200(g, "standalone", body("standalone"))), ["device_id", "slug"], "standalone keys")
    eq(ok200(g, "lua_device", body("lua_device"))["slug"], "gas-sensor-1", "lua slug")


@test("gateway: link_master then link_slave success shapes")
def _():
    g = S["gateway"]
    master = ok200(g, "link_master", body("link_master"))
    eq(list(master), ["device_id"], "link_master keys")
    check_id(master["device_id"], "link_master device_id")
    slave = ok200(g, "link_slave", body("link_slave", master_device_id=master["device_id"]))
    eq(list(slave), ["device_id"], "link_slave keys")
    check_id(slave["device_id"], "link_slave device_id")
    check(slave["device_id"] != master["device_id"], "slave and master differ")


@test("gateway: gateway endpoint is 404 unsupported_on_target")
def _():
    status, _, doc = S["gateway"].provision("gateway", body("gateway"))
    eq(status, 404, "status")
    check_errors(doc, "unsupported_on_target", "gateway on gateway")


@test("link_slave with an unknown master is 404 not_found")
def _():
    doc = body("link_slave", master_device_id="nope")
    status, _, doc = S["gateway"].provision("link_slave", doc)
    eq(status, 404, "status")
    check_errors(doc, "not_found", "unknown master")
    eq(doc["errors"][0]["details"], {"field": "master_device_id"}, "details")


@test("401 on a wrong or missing token")
def _():
    for token in ("wrong", None, ""):
        status, _, doc = S["cloud"].provision("ucm", body("ucm"), token=token)
        eq(status, 401, f"status with token {token!r}")
        check_errors(doc, "unauthorized", "401")


@test("400 http_not_allowed without X-Enapter-Allow-HTTP on plain HTTP")
def _():
    status, _, doc = S["cloud"].provision("ucm", body("ucm"), allow=False)
    eq(status, 400, "status without header")
    check_errors(doc, "http_not_allowed", "400")
    status, _, _ = S["cloud"].provision("ucm", body("ucm"), allow=False,
                                        extra={"X-Enapter-Allow-HTTP": "false"})
    eq(status, 400, "status with header false")


@test("422 on a missing field")
def _():
    doc = body("ucm")
    del doc["protocol"]
    status, _, resp = S["cloud"].provision("ucm", doc)
    eq(status, 422, "status")
    check_errors(resp, "invalid_request", "missing")
    eq(resp["errors"][0]["details"], {"field": "protocol"}, "details")


@test("422 on an extra field, one error per problem")
def _():
    doc = body("standalone", colour="red")
    del doc["name"]
    status, _, resp = S["cloud"].provision("standalone", doc)
    eq(status, 422, "status")
    check_errors(resp, "invalid_request", "extra")
    eq(sorted(e["details"]["field"] for e in resp["errors"]), ["colour", "name"], "fields")


@test("422 on wrong types, bad enums and a bad site_location")
def _():
    cases = [("ucm", body("ucm", name=7), "name"),
             ("ucm", body("ucm", protocol="HTTP"), "protocol"),
             ("embedded", body("embedded", device_type="TOASTER"), "device_type"),
             ("gateway", body("gateway", site_location={"latitude": "52", "longitude": 13}),
              "site_location.latitude"),
             ("gateway", body("gateway", site_location={"latitude": True, "longitude": 13}),
              "site_location.latitude"),
             ("gateway", body("gateway", site_location={"latitude": 1}), "site_location.longitude"),
             ("gateway", body("gateway", site_location={"latitude": 1, "longitude": 2, "z": 3}),
              "site_location.z"),
             ("gateway", body("gateway", site_location=[1, 2]), "site_location")]
    for kind, doc, field in cases:
        status, _, resp = S["cloud"].provision(kind, doc)
        eq(status, 422, f"{kind} {field} status")
        check_errors(resp, "invalid_request", field)
        eq(resp["errors"][0]["details"], {"field": field}, f"{field} details")


@test("422 on a wrong Content-Type, bad JSON, or a non-object body")
def _():
    c = S["cloud"]
    for kw in ({"ctype": "text/plain"}, {"ctype": None}):
        status, _, resp = c.provision("ucm", body("ucm"), **{k: v or "" for k, v in kw.items()})
        eq(status, 422, f"status {kw}")
        check_errors(resp, "invalid_request", "content type")
    eq(c.provision("ucm", body("ucm"), ctype="application/json; charset=utf-8")[0], 200,
       "charset parameter allowed")
    for raw in (b"{", b"[]", b"\xff\xfe", b"", b'{"site_id": NaN}'):
        status, _, resp = c.provision("ucm", raw)
        eq(status, 422, f"status for {raw!r}")
        check_errors(resp, "invalid_request", repr(raw))


@test("reprovisioning: same device id, fresh credentials")
def _():
    c, g = S["cloud"], S["gateway"]
    for inst, kind in ((c, "ucm"), (c, "embedded"), (c, "gateway")):
        doc = body(kind, hardware_id="HW-REPRO-" + kind)
        a, b = ok200(inst, kind, doc), ok200(inst, kind, doc)
        key = "gateway_device_id" if kind == "gateway" else "device_id"
        eq(b[key], a[key], f"{kind} id on reprovisioning")
        check(secret(a["config"]) != secret(b["config"]), f"{kind} credentials must change")
        other = ok200(inst, kind, body(kind, hardware_id="HW-REPRO-" + kind, site_id="site-2"))
        check(other[key] != a[key], f"{kind} on another site is another device")
    first = ok200(c, "ucm", body("ucm", hardware_id="HW-REPRO-ucm"))
    mqtt = ok200(c, "ucm", body("ucm", hardware_id="HW-REPRO-ucm", protocol="MQTT"))
    eq(mqtt["device_id"], first["device_id"], "ucm id when switching to MQTT")
    eq(mqtt["config"]["mqtt_credentials"]["protocol"], "MQTT", "credentials follow the protocol")
    for kind in ("vucm", "link_master"):
        doc = body(kind, hardware_id="HW-REPRO-" + kind)
        eq(ok200(g, kind, doc)["device_id"], ok200(g, kind, doc)["device_id"], f"{kind} id")
    doc = body("standalone", name="Repro standalone")
    a, b = ok200(c, "standalone", doc), ok200(c, "standalone", doc)
    eq(b, a, "standalone reprovisioning")


@test("lua_device: the same runtime_id and slug again is 409 conflict")
def _():
    c = S["cloud"]
    ok200(c, "lua_device", body("lua_device", slug="twice"))
    status, _, doc = c.provision("lua_device", body("lua_device", slug="twice", name="Other"))
    eq(status, 409, "status")
    check_errors(doc, "conflict", "409")
    ok200(c, "lua_device", body("lua_device", slug="twice", runtime_id="runtime-2"))


@test("unknown path 404, wrong method 405, unknown control 404")
def _():
    c = S["cloud"]
    status, _, data = c.call("POST", "/v3/provisioning/toaster", b"{}",
                             {"X-Enapter-Auth-Token": TOKEN})
    eq(status, 404, "unknown endpoint")
    check_errors(json.loads(data), "not_found", "unknown endpoint")
    status, headers, _ = c.call("GET", "/v3/provisioning/ucm")
    eq((status, headers.get("allow")), (405, "POST"), "GET on an endpoint")
    eq(c.call("GET", "/_standin/nothing")[0], 404, "unknown control")
    eq(c.call("GET", "/_standin/reset")[0], 405, "GET reset")


@test("fault: status with Retry-After header, default errors body")
def _():
    c = S["cloud"]
    c.reset()
    c.faults({"path": "/v3/provisioning/ucm", "status": 503, "headers": {"Retry-After": 2}})
    status, headers, doc = c.provision("ucm", body("ucm"))
    eq(status, 503, "status")
    eq(headers.get("retry-after"), "2", "Retry-After")
    check_errors(doc, "injected_fault", "503")
    eq(c.provision("ucm", body("ucm"))[0], 200, "next request is normal")
    c.faults({"status": 429, "headers": {"Retry-After": "1"}})
    status, headers, _ = c.provision("standalone", body("standalone"))
    eq((status, headers.get("retry-after")), (429, "1"), "429 on any path")


@test("fault: delay, then normal handling")
def _():
    c = S["cloud"]
    c.reset()
    c.faults({"delay": 0.4})
    t0 = time.monotonic()
    r = ok200(c, "ucm", body("ucm"))
    check(time.monotonic() - t0 >= 0.4, "answer came too early")
    check_id(r["device_id"], "delayed answer")
    c.faults({"delay": 0.3, "status": 500})
    t0 = time.monotonic()
    eq(c.provision("ucm", body("ucm"))[0], 500, "delayed status")
    check(time.monotonic() - t0 >= 0.3, "status came too early")


@test("fault: drop closes without a response, recorded with status null")
def _():
    c = S["cloud"]
    c.reset()
    c.faults({"drop": True})
    try:
        c.provision("ucm", body("ucm"))
        raise AssertionError("expected the connection to be dropped")
    except (http.client.RemoteDisconnected, ConnectionError):
        pass
    eq(ok200(c, "ucm", body("ucm"))["slug"], "my-ucm", "next request is normal")
    eq([r["status"] for r in c.requests()], [None, 200], "recorded statuses")


@test("fault: raw body with a 2xx status")
def _():
    c = S["cloud"]
    c.reset()
    c.faults([{"body": "not json {"}, {"status": 201, "body": '{"device_id": "../etc"}'}])
    status, _, data = c.call("POST", "/v3/provisioning/ucm", json.dumps(body("ucm")).encode(),
                             {"X-Enapter-Auth-Token": TOKEN})
    eq((status, data), (200, b"not json {"), "raw body, default status 200")
    status, _, doc = c.provision("ucm", body("ucm"))
    eq((status, doc), (201, {"device_id": "../etc"}), "raw body with status")


@test("fault: count N, count -1 and path matching")
def _():
    c = S["cloud"]
    c.reset()
    c.faults({"status": 502, "count": 2})
    got = [c.provision("ucm", body("ucm"))[0] for _ in range(3)]
    eq(got, [502, 502, 200], "count 2")
    c.faults([{"path": "/v3/provisioning/standalone", "status": 500, "count": -1},
              {"status": 504}])
    eq(c.provision("ucm", body("ucm"))[0], 504, "ucm passes the standalone fault")
    eq([c.provision("standalone", body("standalone"))[0] for _ in range(3)], [500] * 3, "forever")
    eq(c.provision("ucm", body("ucm"))[0], 200, "504 was used once")
    c.reset()
    eq(c.provision("standalone", body("standalone"))[0], 200, "reset clears faults")


@test("fault: trickle sends the body one byte per delay")
def _():
    c = S["cloud"]
    c.reset()
    c.faults({"trickle": True, "delay": 0.05, "status": 200, "body": "abcdefgh"})
    conn = c.connect()
    conn.request("POST", "/v3/provisioning/ucm", b"{}", {"Content-Type": "application/json"})
    t0 = time.monotonic()
    resp = conn.getresponse()
    t_headers = time.monotonic() - t0
    data = resp.read()
    total = time.monotonic() - t0
    conn.close()
    eq(data, b"abcdefgh", "body")
    check(t_headers < 0.2 and total >= 0.35, f"timing headers {t_headers:.2f}s total {total:.2f}s")
    c.faults({"trickle": True, "delay": 0.002})          # trickle the normal answer
    eq(ok200(c, "standalone", body("standalone"))["slug"], "my-device", "trickled normal answer")


@test("fault: silence reads the request, says nothing, closes")
def _():
    c = S["cloud"]
    c.reset()
    c.faults({"silence": 0.4})
    t0 = time.monotonic()
    try:
        c.provision("ucm", body("ucm"))
        raise AssertionError("expected no response")
    except (http.client.RemoteDisconnected, ConnectionError):
        pass
    check(time.monotonic() - t0 >= 0.4, "closed too early")
    reqs = c.requests()
    eq((len(reqs), reqs[0]["status"], reqs[0]["json"]), (1, None, body("ucm")), "recorded")


@test("faults: invalid fault documents are 400 and queue nothing")
def _():
    c = S["cloud"]
    c.reset()
    for bad in ({"status": "503"}, {"colour": 1}, {"count": 0}, {"delay": -1}, {"drop": 1},
                {"status": 99}, {"headers": {"X": "a\r\nb"}}, {"headers": {"X:Y": "1"}},
                {"headers": {"X": None}}, {"headers": []}, [{"status": 500}, 3], "x"):
        status, doc = c.control("POST", "faults", bad)
        eq(status, 400, f"status for {bad!r}")
        check_errors(doc, "invalid_fault", repr(bad))
    eq(c.provision("ucm", body("ucm"))[0], 200, "nothing was queued")


@test("/_standin/requests records provisioning requests only, in order")
def _():
    c = S["cloud"]
    c.reset()
    c.faults({"status": 500})
    c.provision("ucm", body("ucm"), extra={"X-Custom": "1"})
    c.provision("standalone", b"{oops")
    c.stats()
    reqs = c.requests()
    eq(len(reqs), 2, "count (control requests are not recorded)")
    first, second = reqs
    eq(set(first), {"method", "path", "headers", "body", "json", "status", "time"}, "entry keys")
    eq((first["method"], first["path"], first["status"]), ("POST", "/v3/provisioning/ucm", 500),
       "first")
    eq(first["headers"].get("x-enapter-auth-token"), TOKEN, "lower-case header names")
    eq(first["headers"].get("x-custom"), "1", "custom header")
    eq(json.loads(first["body"]), body("ucm"), "raw body")
    eq(first["json"], body("ucm"), "parsed body")
    eq((second["body"], second["json"], second["status"]), ("{oops", None, 422), "second")
    check(isinstance(first["time"], float) and first["time"] <= second["time"], "times")


@test("/_standin/stats counts requests and connections since reset")
def _():
    c = S["cloud"]
    c.reset()
    for _ in range(3):
        c.provision("ucm", body("ucm"))
    st = c.stats()
    eq(set(st), {"connections", "requests", "tls_handshakes", "provisioning_connections"}, "keys")
    # three provisioning connections plus the new one asking for the stats
    eq((st["requests"], st["connections"], st["tls_handshakes"], st["provisioning_connections"]),
       (3, 4, 0, 3), "stats")


@test("reset forgets devices: the same hardware id gets a new device")
def _():
    c = S["cloud"]
    doc = body("ucm", hardware_id="HW-RESET")
    before = ok200(c, "ucm", doc)["device_id"]
    eq(ok200(c, "ucm", doc)["device_id"], before, "same before reset")
    c.reset()
    check(ok200(c, "ucm", doc)["device_id"] != before, "new device after reset")
    eq(c.requests()[0]["status"], 200, "records restart after reset")


@test("keep-alive: two requests on one connection count one connection")
def _():
    c = S["cloud"]
    c.reset()
    conn = c.connect()
    ok200(c, "ucm", body("ucm"), conn=conn)
    eq(c.provision("ucm", body("ucm"), token="bad", conn=conn)[0], 401, "error keeps connection")
    eq(c.provision("ucm", {"x": 1}, conn=conn)[0], 422, "422 keeps connection")
    ok200(c, "standalone", body("standalone"), conn=conn)
    st = c.stats(conn=conn)
    conn.close()
    eq((st["connections"], st["provisioning_connections"], st["requests"]), (1, 1, 4), "stats")


@test("Expect: 100-continue works; chunked bodies are refused with 411 and a close")
def _():
    c = S["cloud"]
    status, _, _ = c.provision("ucm", body("ucm"), extra={"Expect": "100-continue"})
    eq(status, 200, "Expect: 100-continue")
    doc = json.dumps(body("ucm")).encode()
    conn = c.connect()
    conn.request("POST", "/v3/provisioning/ucm", body=iter([doc]),
                 headers={"X-Enapter-Auth-Token": TOKEN, "X-Enapter-Allow-HTTP": "true",
                          "Content-Type": "application/json"}, encode_chunked=True)
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    eq((resp.status, resp.getheader("Connection")), (411, "close"), f"chunked ({data!r})")
    check_errors(json.loads(data), "bad_request", "411")


@test("malformed requests get an answer and do not hurt the server")
def _():
    c = S["cloud"]
    for raw in (b"GARBAGE\r\n\r\n", b"\x16\x03\x01\x00\xff\x01\x00\r\n\r\n",
                b"POST /v3/provisioning/ucm HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
                b"POST /v3/provisioning/ucm HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n",
                b"POST /v3/provisioning/ucm HTTP/1.1\r\nContent-Length: \xc2\xb2\r\n\r\n",
                b"BREW /pot HTTP/1.1\r\n\r\n", b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n",
                b"POST /v3/provisioning/ucm HTTP/1.1\r\nContent-Length: 100\r\n\r\n{",
                b"\r\n"):
        with socket.create_connection(("127.0.0.1", c.port), timeout=5) as s:
            s.sendall(raw)
            s.shutdown(socket.SHUT_WR)
            reply = b""
            while chunk := s.recv(65536):
                reply += chunk
        check(reply == b"" or re.match(rb"HTTP/1\.[01] [45]\d\d ", reply),
              f"{raw[:40]!r}: {reply[:80]!r}")
    ok200(c, "ucm", body("ucm"))


@test("64 concurrent connections are all served")
def _():
    c = S["cloud"]
    c.reset()
    results, lock = [], threading.Lock()

    def one(i):
        try:
            status = c.provision("ucm", body("ucm", hardware_id=f"HW-PAR-{i}"))[0]
        except Exception as exc:   # reported below
            status = repr(exc)
        with lock:
            results.append(status)
    threads = [threading.Thread(target=one, args=(i,)) for i in range(64)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    eq(results, [200] * 64, "statuses")
    st = c.stats()
    eq((st["requests"], st["connections"]), (64, 65), "requests, connections (+1 for stats)")


@test("https: success without X-Enapter-Allow-HTTP, handshakes and keep-alive")
def _():
    t = S["tls"]
    t.reset()
    conn = t.connect()
    r = ok200(t, "ucm", body("ucm"), conn=conn)
    check_config(r["config"], "MQTTS", "HW-UCM-1", "ucm")
    ok200(t, "gateway", body("gateway"), conn=conn)
    st = t.stats(conn=conn)
    conn.close()
    eq((st["connections"], st["tls_handshakes"], st["requests"]), (1, 1, 2), "stats")
    eq(t.provision("ucm", body("ucm"), token="nope")[0], 401, "401 over https")


@test("https: plain HTTP to the TLS port gets no HTTP answer")
def _():
    t = S["tls"]
    t.reset()
    conn = http.client.HTTPConnection("127.0.0.1", t.port, timeout=5)
    try:
        conn.request("GET", "/_standin/stats")
        resp = conn.getresponse()
        raise AssertionError(f"plain HTTP answered {resp.status}")
    except (http.client.HTTPException, ConnectionError, OSError):
        pass
    finally:
        conn.close()
    st = t.stats()
    eq((st["connections"], st["tls_handshakes"]), (2, 1), "failed handshake not counted")


@test("SIGTERM and SIGINT stop the stand-in with status 0")
def _():
    codes = [S["cloud"].stop(signal.SIGTERM), S["gateway"].stop(signal.SIGINT),
             S["tls"].stop(signal.SIGTERM)]
    eq(codes, [0, 0, 0], "exit statuses")


def make_cert(workdir):
    cert, key = os.path.join(workdir, "cert.pem"), os.path.join(workdir, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                    "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                    "-days", "2", "-keyout", key, "-out", cert],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return cert, key


def main():
    print(f"1..{len(TESTS)}", flush=True)
    workdir = tempfile.mkdtemp(prefix="standin-selftest-")
    failed = 0
    try:
        try:
            S["cloud"] = Standin("cloud", workdir)
            S["gateway"] = Standin("gateway", workdir, canary="GWCANARY")
            S["tls"] = Standin("cloud", workdir, tls=make_cert(workdir))
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


if __name__ == "__main__":
    sys.exit(main())
