#!/usr/bin/env python3
"""Self-test of the Enapter API stand-in (standin.py beside this file): its
control API, the faults tests queue and what /_standin/requests, stats and
reset report (README.md), on the cloud over plain HTTP.
Prints TAP; exits non-zero on any failure.

    python3 tests/standin/selftest_control.py
"""

import http.client
import json
import sys
import time

from selftest_util import (
    S, TOKEN, body, check, check_errors, check_id, eq, generate_path, main, ok200, test)


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
    eq(set(first), {"method", "path", "headers", "body", "json", "status", "response", "time"},
       "entry keys")
    eq((first["method"], first["path"], first["status"]), ("POST", "/v3/provisioning/ucm", 500),
       "first")
    eq(first["headers"].get("x-enapter-auth-token"), TOKEN, "lower-case header names")
    eq(first["headers"].get("x-custom"), "1", "custom header")
    eq(json.loads(first["body"]), body("ucm"), "raw body")
    eq(first["json"], body("ucm"), "parsed body")
    eq((second["body"], second["json"], second["status"]), ("{oops", None, 422), "second")
    check(isinstance(first["time"], float) and first["time"] <= second["time"], "times")


@test("/_standin/requests: each entry's response is the body sent, null when none was")
def _():
    c = S["cloud"]
    c.reset()
    status, _, sent = c.call("POST", "/v3/provisioning/ucm", json.dumps(body("ucm")).encode(),
                             {"X-Enapter-Auth-Token": TOKEN, "X-Enapter-Allow-HTTP": "true",
                              "Content-Type": "application/json"})
    eq(status, 200, "ucm")
    device_id = json.loads(sent)["device_id"]
    gen = generate_path(device_id)
    c.faults([{"path": gen, "status": 503}, {"path": gen, "drop": True},
              {"path": gen, "status": 204}, {"path": gen, "body": '{"config": 1}'}])
    answers = []
    for _ in range(5):
        try:
            answers.append(c.generate(device_id, {"protocol": "MQTTS"})[0])
        except (http.client.RemoteDisconnected, ConnectionError):
            answers.append(None)
    eq(answers, [503, None, 204, 200, 200], "faults on the generate_config path, in order")
    status, _, unknown = c.call("POST", "/v3/nothing", b"{}", {})
    reqs = c.requests()
    eq([(r["path"], r["status"]) for r in reqs],
       [("/v3/provisioning/ucm", 200)] + [(gen, s) for s in answers] + [("/v3/nothing", 404)],
       "recorded paths and statuses")
    eq(reqs[0]["response"], sent.decode(), "the normal answer, exactly as sent")
    check_errors(json.loads(reqs[1]["response"]), "injected_fault", "503 response")
    eq([r["response"] for r in reqs[2:5]], [None, "", '{"config": 1}'],
       "drop: null; 204: empty; a fault's body")
    eq(list(json.loads(reqs[5]["response"])), ["config"], "a generated config")
    eq(reqs[6]["response"], unknown.decode(), "an error answer")


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


if __name__ == "__main__":
    sys.exit(main(('cloud',)))
