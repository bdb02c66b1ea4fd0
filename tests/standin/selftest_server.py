#!/usr/bin/env python3
"""Self-test of the Enapter API stand-in (standin.py beside this file): the
process and its HTTP server, the banner and port file, connections,
malformed and concurrent requests, HTTPS with a certificate made by the
openssl command, and the signals that stop it (README.md).
Prints TAP; exits non-zero on any failure.

    python3 tests/standin/selftest_server.py
"""

import http.client
import json
import re
import signal
import socket
import sys
import threading

from selftest_util import (
    S, TOKEN, body, check, check_config, check_errors, eq, main, ok200, test)


@test("startup: banner line and port file")
def _():
    for inst in S.values():
        scheme = "https" if inst.tls else "http"
        want = f"standin: listening on {scheme}://127.0.0.1:{inst.port} role={inst.role}\n"
        eq(inst.banner, want, "banner")
        eq(inst.port_text, f"{inst.port}\n", "port file")

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
    # The whole request in one write: sent piece by piece, the last chunk
    # could meet the connection the stand-in has closed by then (EPIPE).
    raw = (b"POST /v3/provisioning/ucm HTTP/1.1\r\nHost: 127.0.0.1\r\n"
           b"X-Enapter-Auth-Token: " + TOKEN.encode() + b"\r\nX-Enapter-Allow-HTTP: true\r\n"
           b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
           + b"%x\r\n" % len(doc) + doc + b"\r\n0\r\n\r\n")
    sock = socket.create_connection(("127.0.0.1", c.port), timeout=10)
    sock.sendall(raw)
    resp = http.client.HTTPResponse(sock)
    resp.begin()
    data = resp.read()
    sock.close()
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
    t.ca()          # the CA for check_config, asked before the connections counted here
    t.reset()
    conn = t.connect()
    r = ok200(t, "ucm", body("ucm"), conn=conn)
    check_config(t, r["config"], "MQTTS", "HW-UCM-1", "ucm", r["device_id"])
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


if __name__ == "__main__":
    sys.exit(main(('cloud', 'gateway', 'tls')))
