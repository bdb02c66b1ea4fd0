#!/usr/bin/env python3
"""The daemon's network surroundings.

A slow DNS server does not stall the daemon's loop: libcurl's threaded
resolver runs getaddrinfo in a thread of its own, and a transfer that times
out while the name still resolves must not be waited for (CURLOPT_QUICK_EXIT),
neither in Diagnose's probe nor in a Provision call. tests/slow-resolver.c,
preloaded into the daemon, makes getaddrinfo of one name take SLOW seconds.

Through an HTTP proxy (http_proxy in the daemon's environment), Diagnose's
api:* checks ask the proxy to reach the API (CONNECT) and name the proxy,
never its password."""

import os
import select
import socket
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import (KINDS, SOURCE_ROOT, HarnessTestCase, default_args, free_port,  # noqa: E402
                     main, preloaded)

SLOW_RESOLVER = (os.environ.get("EP_SLOW_RESOLVER")
                 or os.path.join(SOURCE_ROOT, "build", "tests", "slow-resolver.so"))
SLOW_HOST = "slow-dns.test"
SLOW = 8          # seconds the name takes to resolve
TIMEOUT = 1.0
# What a property read may take while the daemon works; far below SLOW.
PROMPT = 0.5


def slow_env():
    """The daemon's environment for a slow SLOW_HOST. The module goes after
    whatever LD_PRELOAD holds (under ASan the runtime must come first, and
    ASan's check of that is switched off as for libfaketime)."""
    return preloaded(SLOW_RESOLVER, EP_SLOW_RESOLVER_HOST=SLOW_HOST,
                     EP_SLOW_RESOLVER_SECONDS=str(SLOW))


def slow_url(url):
    """@url with its host replaced by SLOW_HOST (the port kept)."""
    parts = urllib.parse.urlsplit(url)
    return parts._replace(netloc=f"{SLOW_HOST}:{parts.port}").geturl()


class SlowDns(HarnessTestCase):

    def setUp(self):
        super().setUp()
        self.assertTrue(os.path.exists(SLOW_RESOLVER), f"{SLOW_RESOLVER} is not built")

    def restart_slow(self, section):
        target = self.H.cloud if section == "Cloud" else self.H.gateway
        self.H.restart_daemon({section: {"URL": slow_url(target.url)},
                               "Provisioning": {"Timeout": str(TIMEOUT), "Deadline": "8",
                                                "Retries": "0"}},
                              extra_env=slow_env())

    def read_properties_during(self, call, limit):
        """Reads Version again and again while @call runs (at most @limit
        seconds); each read must be prompt. Returns how many were made."""
        reads = 0
        while not call.done() and call.elapsed() < limit:
            t0 = time.monotonic()
            res = self.H.get_property("Version")
            took = time.monotonic() - t0
            self.assertTrue(res.ok, res.doc)
            self.assertLess(took, PROMPT, f"a property read took {took:.2f} s "
                                          f"{call.elapsed():.2f} s into the call: the loop "
                                          "waited for the resolver")
            reads += 1
            time.sleep(0.05)
        return reads

    def test_diagnose(self):
        H = self.H
        self.restart_slow("Cloud")
        call = H.call_async("Diagnose", "")
        reads = self.read_properties_during(call, TIMEOUT + 3)
        res = call.result(SLOW + 30)
        self.assertLess(call.elapsed(), TIMEOUT + 2, "Diagnose waited for the resolver")
        self.assertGreater(reads, 3)
        self.assertTrue(res.ok, res.doc)
        checks = {c[0]: c for c in res.reply[0]}
        _, level, message = checks["api:cloud"]
        self.assertEqual(level, "error", message)
        self.assertIn("not resolved within [Provisioning] Timeout", message)
        self.assertIn("check DNS", message)
        self.assertEqual(checks["api:gateway"][1], "ok", checks["api:gateway"])

    def test_provision(self):
        H = self.H
        self.restart_slow("Gateway")
        self.assertEqual(KINDS["vucm"].route, "gateway")
        call = H.provision_async("vucm", default_args("vucm"))
        reads = self.read_properties_during(call, TIMEOUT + 3)
        res = call.result(SLOW + 30)
        self.assertLess(call.elapsed(), TIMEOUT + 1.5, "the call waited for the resolver")
        self.assertGreater(reads, 3)
        self.assertError(res, "Unavailable")
        self.assertNoRequests("to a name not resolved")
        # And the daemon goes on: a call to the other target works at once.
        t0 = time.monotonic()
        self.assertOk(H.provision("gateway", default_args("gateway")))
        self.assertLess(time.monotonic() - t0, PROMPT * 4)


class ConnectProxy:
    """An HTTP proxy that knows CONNECT only: 200 and a relay when it can
    reach the host, 502 when it cannot. @requests: the request lines."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.requests = []
        threading.Thread(target=self._serve, daemon=True).start()

    def close(self):
        self.sock.close()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn):
        with conn:
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                head += chunk
            line = head.split(b"\r\n", 1)[0].decode()
            self.requests.append(line)
            method, target, _ = line.split(" ", 2)
            host, _, port = target.rpartition(":")
            try:
                upstream = socket.create_connection((host, int(port)), timeout=2)
            except (OSError, ValueError):
                conn.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
                return
            with upstream:
                conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                self._relay(conn, upstream)

    @staticmethod
    def _relay(a, b):
        peers = {a: b, b: a}
        while True:
            ready, _, _ = select.select(list(peers), [], [], 10)
            for s in ready:
                data = s.recv(65536)
                if not data:
                    return
                peers[s].sendall(data)
            if not ready:
                return


class Proxy(HarnessTestCase):

    def test_diagnose_through_a_proxy(self):
        H = self.H
        proxy = ConnectProxy()
        self.addCleanup(proxy.close)
        closed = free_port()
        H.restart_daemon({"Gateway": {"URL": f"http://127.0.0.1:{closed}"}},
                         extra_env={"http_proxy":
                                    f"http://someone:proxy-pass@127.0.0.1:{proxy.port}"})
        res = H.call("Diagnose", "")
        self.assertTrue(res.ok, res.doc)
        checks = {c[0]: c for c in res.reply[0]}
        named = f"the proxy http://127.0.0.1:{proxy.port}/ (http_proxy in the daemon's environment)"
        _, level, message = checks["api:cloud"]
        self.assertEqual(level, "ok", message)
        self.assertIn("TCP connection made through " + named, message)
        # The proxy could not reach the closed port: no "TCP connection made".
        _, level, message = checks["api:gateway"]
        self.assertEqual(level, "error", message)
        for phrase in ("the proxy did not connect to it", "502", "check that " + named,
                       "[Gateway] URL", "no_proxy"):
            self.assertIn(phrase, message)
        cloud = urllib.parse.urlsplit(H.cloud.url)
        self.assertEqual(sorted(proxy.requests),
                         sorted([f"CONNECT 127.0.0.1:{closed} HTTP/1.1",
                                 f"CONNECT {cloud.hostname}:{cloud.port} HTTP/1.1"]))
        self.assertNotIn("proxy-pass", res.raw)
        self.assertNotIn("proxy-pass", H.daemon_stderr())
        self.assertNoRequests("during Diagnose")


if __name__ == "__main__":
    main()
