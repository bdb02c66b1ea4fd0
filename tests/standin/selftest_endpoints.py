#!/usr/bin/env python3
"""Self-test of the Enapter API stand-in (standin.py beside this file): its
provisioning endpoints and generate_config on the cloud and the gateway over
plain HTTP, each kind's answer, the errors in the documented order,
reprovisioning and the routes (README.md).
Prints TAP; exits non-zero on any failure.

    python3 tests/standin/selftest_endpoints.py
"""

import json
import sys

from selftest_util import (
    S, TOKEN, body, check, check_config, check_errors, check_id, eq, fresh_device, generate_path,
    main, not_found_device, ok200, secret, test)

# What each kind's generate_config answer holds: (hardware_id of body(kind),
# channel_id), the device id's key in the provisioning answer.
GENERATED = {"ucm": ("HW-UCM-1", "ucm"), "embedded": ("HW-EL-1", "ucm"),
             "gateway": ("HW-GW-1", "gw"), "vucm": ("HW-VUCM-1", "ucm"),
             "link_master": ("HW-LM-1", "ucm"), "link_slave": ("HW-LS-1", "ucm"),
             "standalone": (None, "ucm"), "lua_device": (None, "ucm")}


def provision_all(inst, kinds):
    """Provisions one device of each of @kinds (link_slave under a new
    link_master); returns {kind: device_id}."""
    ids = {}
    for kind in kinds:
        extra = {"master_device_id": ids["link_master"]} if kind == "link_slave" else {}
        r = ok200(inst, kind, body(kind, **extra))
        ids[kind] = r.get("device_id") or r["gateway_device_id"]
    return ids


def generated(inst, device_id, protocol):
    status, headers, doc = inst.generate(device_id, {"protocol": protocol})
    eq((status, headers.get("content-type")), (200, "application/json"),
       f"generate_config {protocol} status (body {doc!r})")
    eq(list(doc), ["config"], "generate_config answer keys")
    return doc["config"]


@test("cloud: ucm success shape (MQTTS and MQTT)")
def _():
    c = S["cloud"]
    r = ok200(c, "ucm", body("ucm"))
    eq(list(r), ["config", "device_id", "slug"], "ucm keys")
    check_id(r["device_id"], "device_id")
    eq(r["slug"], "my-ucm", "slug")
    check_config(c, r["config"], "MQTTS", "HW-UCM-1", "ucm", r["device_id"])
    r = ok200(c, "ucm", body("ucm", hardware_id="HW-UCM-MQTT", protocol="MQTT"))
    check_config(c, r["config"], "MQTT", "HW-UCM-MQTT", "ucm", r["device_id"])


@test("cloud: embedded success shape")
def _():
    for dt in ("ELECTROLYSER", "DRYER", "WATER_TANK"):
        r = ok200(S["cloud"], "embedded", body("embedded", device_type=dt, hardware_id="HW-" + dt))
        eq(list(r), ["config", "device_id", "slug"], "embedded keys")
        check_id(r["device_id"], "device_id")
        eq(r["slug"], "my-electrolyser", "slug")
        check_config(S["cloud"], r["config"], "MQTTS", "HW-" + dt, "ucm", r["device_id"])


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
    check_config(S["cloud"], r["config"], "MQTTS", "HW-GW-1", "gw", r["gateway_device_id"])
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
    check_config(g, r["config"], "MQTT", "HW-UCM-1", "ucm", r["device_id"])
    r = ok200(g, "vucm", body("vucm"))
    eq(list(r), ["device_id"], "vucm keys")
    check_id(r["device_id"], "vucm device_id")
    r = ok200(g, "embedded", body("embedded", device_type="DRYER"))
    check_config(g, r["config"], "MQTTS", "HW-EL-1", "ucm", r["device_id"])
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


@test("generate_config: every kind on each role, MQTTS and MQTT, fresh each time")
def _():
    for role, kinds in (("cloud", ("ucm", "embedded", "gateway", "standalone", "lua_device")),
                        ("gateway", ("link_master", "link_slave", "ucm", "vucm", "embedded",
                                     "standalone", "lua_device"))):
        inst = S[role]
        inst.reset()
        for kind, device_id in provision_all(inst, kinds).items():
            hardware_id, channel = GENERATED[kind]
            hardware_id = hardware_id or device_id.replace("-", "").upper()
            first = None
            for protocol in ("MQTTS", "MQTT", "MQTTS"):
                cfg = generated(inst, device_id, protocol)
                check_config(inst, cfg, protocol, hardware_id, channel, device_id)
                check(secret(cfg) != first, f"{role} {kind}: the same set twice")
                first = first or secret(cfg)
        # the canary counter counts every config handed out, generated ones too
        ucm = ok200(inst, "ucm", body("ucm", protocol="MQTT", hardware_id="HW-COUNT"))
        n = len([k for k in kinds if k in ("ucm", "embedded", "gateway")]) + 3 * len(kinds) + 1
        eq(ucm["config"]["mqtt_credentials"]["password"], f"{inst.canary}-PASSWORD-{n}",
           f"{role}: password number")


@test("generate_config: a device the stand-in never made is 404 not_found")
def _():
    c, g = S["cloud"], S["gateway"]
    c.reset()
    g.reset()
    for device_id in ("0b0e8c1e-1111-4a4a-8888-000000000001", "no-such-device", "a%20b"):
        status, _, doc = c.generate(device_id, {"protocol": "MQTTS"})
        eq(status, 404, f"{device_id}: status")
        not_found_device(doc, device_id.replace("%20", " "), device_id)
    # made on the other role: unknown here
    gw_only = ok200(g, "vucm", body("vucm"))["device_id"]
    status, _, doc = c.generate(gw_only, {"protocol": "MQTT"})
    eq(status, 404, "a gateway device asked of the cloud")
    not_found_device(doc, gw_only, "other role")
    # made before the last reset: unknown
    g.reset()
    status, _, doc = g.generate(gw_only, {"protocol": "MQTT"})
    eq(status, 404, "a device made before the reset")
    not_found_device(doc, gw_only, "after reset")


@test("generate_config: headers checked first, then the body, then the device (422 shape)")
def _():
    c = S["cloud"]
    device_id = fresh_device(c, "standalone")
    unknown = "not-made-here"
    for dev in (device_id, unknown):
        status, _, doc = c.generate(dev, {"protocol": "MQTTS"}, token="wrong")
        eq(status, 401, f"{dev}: bad token")
        check_errors(doc, "unauthorized", "401")
        status, _, doc = c.generate(dev, {"protocol": "MQTTS"}, allow=False)
        eq(status, 400, f"{dev}: no X-Enapter-Allow-HTTP")
        check_errors(doc, "http_not_allowed", "400")
        status, _, doc = c.generate(dev, {"protocol": "MQTTS"}, ctype="text/plain")
        eq((status, doc["errors"][0]["details"]), (422, {"header": "Content-Type"}),
           f"{dev}: Content-Type")
    cases = [({}, ["protocol"]), ({"protocol": "HTTP"}, ["protocol"]),
             ({"protocol": 1}, ["protocol"]), ({"protocol": None}, ["protocol"]),
             ({"protocol": "MQTTS", "hardware_id": "x"}, ["hardware_id"]),
             ({"protocol": "mqtts", "extra": 1}, ["extra", "protocol"])]
    for dev in (device_id, unknown):
        for doc, fields in cases:
            status, _, resp = c.generate(dev, doc)
            eq(status, 422, f"{dev} {doc}: status")
            check_errors(resp, "invalid_request", repr(doc))
            eq(sorted(e["details"]["field"] for e in resp["errors"]), fields, f"{doc}: fields")
        for raw in (b"[]", b"{", b'"MQTTS"', b""):
            status, _, resp = c.generate(dev, raw)
            eq(status, 422, f"{dev} {raw!r}: status")
            check_errors(resp, "invalid_request", repr(raw))
    eq(c.generate(device_id, {"protocol": "MQTT"}, ctype="application/json; charset=utf-8")[0],
       200, "charset parameter allowed")


@test("generate_config: wrong method 405, paths that are no endpoint 404")
def _():
    c = S["cloud"]
    device_id = fresh_device(c, "ucm")
    for method in ("GET", "PUT", "DELETE"):
        status, headers, _ = c.call(method, generate_path(device_id))
        eq((status, headers.get("allow")), (405, "POST"), f"{method} generate_config")
    for path in ("/v3/devices//generate_config", f"/v3/devices/{device_id}/generate_config/x",
                 f"/v3/devices/{device_id}/other", f"/v3/devices/{device_id}",
                 "/v3/provisioning/generate_config", f"/v3/devices/a/{device_id}/generate_config"):
        status, _, doc = c.provision("ucm", {"protocol": "MQTTS"}, path=path)
        eq(status, 404, f"{path}: status")
        check_errors(doc, "not_found", path)
        eq(doc["errors"][0]["details"], {}, f"{path}: a route's 404 has no details")
    status, _, doc = c.provision("ucm", {"protocol": "MQTTS"},
                                 path=generate_path(device_id) + "?x=1")
    eq(status, 200, "a query string is not part of the path")


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


if __name__ == "__main__":
    sys.exit(main(('cloud', 'gateway')))
