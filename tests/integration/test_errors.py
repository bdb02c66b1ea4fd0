#!/usr/bin/env python3
"""Every error mapping of README "Errors" and the retry rules of enapter-provisiond(8) "Retries":
HTTP statuses, connection problems, timeouts, responses that are not the
documented JSON or are unsafe (ProtocolError, nothing written), keystore
failures, and the ProvisioningFailed signal."""

import email.utils
import http.server
import json
import os
import resource
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import (CANARY, ERROR_PREFIX, KINDS, HarnessTestCase, default_args, free_port,
                     main, make_ca, mint_set)

UCM = KINDS["ucm"].endpoint


def api_errors(*messages, code="some_code"):
    return json.dumps({"errors": [{"code": code, "message": m, "details": {"n": i}}
                                  for i, m in enumerate(messages)]})


def bundle_set(size):
    """A real set whose ca_chain is a bundle of at least @size bytes: CA
    certificates of other CAs, then the set's own."""
    creds = mint_set()
    bundle = []
    while sum(map(len, bundle)) < size:
        bundle.append(make_ca().pem)
    creds["ca_chain"] = "".join(bundle) + creds["ca_chain"]
    return creds


def mqtts_config(hardware_id, **creds):
    """A config whose MQTTS set is a real one (a set that passes the daemon's
    checks, so that the answer is refused for what the test changed alone);
    @creds replace its fields (None: leave it out)."""
    c = {"protocol": "MQTTS", **mint_set()}
    c.update(creds)
    c = {k: v for k, v in c.items() if v is not None}
    return {"mqtt_host": "mqtt.example.invalid", "mqtt_port": 8883, "mqtt_credentials": c,
            "time_sync_protocol": "HTTP", "time_sync_host": "127.0.0.1", "time_sync_port": 80,
            "hardware_id": hardware_id, "channel_id": "ucm"}


class ErrorChecks:

    def failed_signal(self, listener, kind, error, args):
        """The ProvisioningFailed signal of a call with @args."""
        sig = listener.wait_for(lambda s: s["member"] == "ProvisioningFailed"
                                and s["args"][3] == args, what=f"ProvisioningFailed for {args}")
        self.assertEqual(sig["args"][0], kind)
        self.assertEqual(sig["args"][1], ERROR_PREFIX + error)
        self.assertIsInstance(sig["args"][2], str)
        return sig


class HttpStatusMapping(ErrorChecks, HarnessTestCase):
    CONFIG = {"Provisioning": {"Retries": 0, "Timeout": 1, "Deadline": 4}}

    STATUSES = [(401, "AuthenticationFailed"), (403, "Forbidden"), (404, "NotFound"),
                (409, "Conflict"), (400, "Rejected"), (405, "Rejected"), (410, "Rejected"),
                (413, "Rejected"), (418, "Rejected"), (422, "Rejected"), (429, "Unavailable"),
                (500, "Unavailable"), (502, "Unavailable"), (503, "Unavailable"),
                (504, "Unavailable")]

    def test_status_mapping(self):
        listener = self.H.listen()
        for status, name in self.STATUSES:
            with self.subTest(status=status):
                self.H.reset_standins()
                marker = f"marker-{status}-{os.urandom(4).hex()}"
                self.H.gateway.faults({"path": UCM, "status": status,
                                       "body": api_errors(f"the API says {marker}")})
                args = default_args("ucm")
                before = self.H.keystore_tree()
                msg = self.assertError(self.H.provision("ucm", args), name, f"HTTP {status}")
                self.assertIn(marker, msg, "the API's error message is not in the D-Bus message")
                self.assertEqual(len(self.H.gateway.requests()), 1, "Retries=0 retried")
                sig = self.failed_signal(listener, "ucm", name, args)
                self.assertIn(marker, sig["args"][2])
                self.assertEqual(self.H.keystore_tree(), before, "the keystore changed")
        self.assertFalse(listener.signals("DeviceProvisioned"))

    def test_every_message_of_the_api_is_kept(self):
        self.H.gateway.faults({"path": UCM, "status": 422,
                               "body": api_errors("site_id is unknown here",
                                                  "name is already taken")})
        msg = self.assertError(self.H.provision("ucm", default_args("ucm")), "Rejected")
        self.assertIn("site_id is unknown here", msg)
        self.assertIn("name is already taken", msg)

    def test_error_bodies_that_are_not_the_documented_shape(self):
        cases = [(403, "<html>nope</html>", "Forbidden"), (400, "", "Rejected"),
                 (400, '{"errors": "not a list"}', "Rejected"), (503, "oops", "Unavailable"),
                 (409, '{"message": "x"}', "Conflict")]
        for status, body, name in cases:
            with self.subTest(status=status, body=body):
                self.H.gateway.faults({"path": UCM, "status": status, "body": body})
                self.assertError(self.H.provision("ucm", default_args("ucm")), name)

    def test_natural_api_errors(self):
        """Errors the stand-in produces by itself reach the caller mapped."""
        # an unknown master: 404 not_found
        args = default_args("link_slave", master_device_id="no-such-master")
        msg = self.assertError(self.H.provision("link_slave", args), "NotFound")
        self.assertIn("no-such-master", msg)
        # a Lua device the cloud already has but the keystore does not: 409
        lua = default_args("lua_device")
        self.assertOk(self.H.provision("lua_device", lua))
        self.H.restart_daemon({"Keystore": {"Path": self.H.keystore + "-other"}})
        msg = self.assertError(self.H.provision("lua_device", lua), "Conflict")
        self.assertIn("Lua", msg)

    def test_wrong_token(self):
        wrong = self.H.write_file("wrong-token", f"{CANARY}-TOKEN-wrong-{os.urandom(8).hex()}",
                                  0o600)
        self.H.restart_daemon({"Gateway": {"TokenFile": wrong},
                               "Provisioning": {"Retries": 2}})
        self.assertError(self.H.provision("ucm", default_args("ucm")), "AuthenticationFailed")
        self.assertEqual(len(self.H.gateway.requests()), 1, "a 401 was retried")

    def test_no_token_configured(self):
        self.H.restart_daemon({"Gateway": {"TokenFile": None}})
        msg = self.assertError(self.H.provision("ucm", default_args("ucm")),
                               "AuthenticationFailed")
        self.assertTrue(msg)
        self.assertNoRequests("without a token")
        # the cloud still has its token
        self.assertOk(self.H.provision("gateway", default_args("gateway")))

    def test_connection_refused(self):
        self.H.restart_daemon({"Gateway": {"URL": f"http://127.0.0.1:{free_port()}"}})
        listener = self.H.listen()
        args = default_args("ucm")
        t = time.monotonic()
        self.assertError(self.H.provision("ucm", args), "Unavailable")
        self.assertLess(time.monotonic() - t, 4 + 1, "the call outlived its Deadline")
        self.failed_signal(listener, "ucm", "Unavailable", args)

    def test_timeout(self):
        self.H.gateway.faults({"path": UCM, "delay": 3})
        t = time.monotonic()
        self.assertError(self.H.provision("ucm", default_args("ucm")), "Unavailable")
        took = time.monotonic() - t
        self.assertGreater(took, 0.8)
        self.assertLess(took, 2.5, "Timeout=1 was not applied")

    def test_slow_body_bounded_by_timeout(self):
        # the status line comes at once, the body one byte every 0.1 s
        self.H.gateway.faults({"path": UCM, "trickle": True, "delay": 0.1})
        t = time.monotonic()
        self.assertError(self.H.provision("ucm", default_args("ucm")), "Unavailable")
        self.assertLess(time.monotonic() - t, 2.5, "a trickling body outlived Timeout=1")

    def test_no_retry_with_retries_zero(self):
        """Retries=0: one attempt, even when a kept-alive connection drops."""
        self.assertOk(self.H.provision("ucm", default_args("ucm")))   # keep-alive
        self.H.gateway.faults({"path": UCM, "drop": True})
        args = default_args("ucm")
        res = self.H.provision("ucm", args)
        sent = [r for r in self.H.gateway.requests() if r["json"] == args]
        self.assertEqual(len(sent), 1, f"the request was sent again with Retries=0: {res.doc}")
        self.assertError(res, "Unavailable")

    def test_silence_and_drop(self):
        for fault in ({"silence": 3}, {"drop": True}, {"delay": 0.2, "drop": True}):
            with self.subTest(fault=fault):
                self.H.reset_standins()
                self.H.gateway.faults(dict(fault, path=UCM))
                t = time.monotonic()
                self.assertError(self.H.provision("ucm", default_args("ucm")), "Unavailable")
                self.assertLess(time.monotonic() - t, 2.5)


class Retries(ErrorChecks, HarnessTestCase):
    CONFIG = {"Provisioning": {"Retries": 2, "Timeout": 1, "Deadline": 10}}

    def test_hardware_kinds_retry_5xx_until_success(self):
        for kind in ("ucm", "vucm", "embedded", "link_master", "gateway"):
            with self.subTest(kind=kind):
                self.H.reset_standins()
                standin = self.H.target_of(kind)
                standin.faults({"path": KINDS[kind].endpoint, "status": 503, "count": 2})
                args = default_args(kind)
                self.check_provisioned(kind, args, self.H.provision(kind, args), requests=3)

    def test_never_reached_is_retried_for_every_kind(self):
        """A refused connection proves the request never arrived: even the
        kinds that are otherwise never sent twice are retried then."""
        self.H.restart_daemon({"Gateway": {"URL": f"http://127.0.0.1:{free_port()}"}})
        try:
            for kind in ("standalone", "lua_device", "ucm"):
                with self.subTest(kind=kind):
                    msg = self.assertError(self.H.provision(kind, default_args(kind)),
                                           "Unavailable")
                    self.assertIn("after 3 attempts", msg,
                                  "a request that never arrived was not retried")
        finally:
            self.H.restart_daemon()

    def test_retries_are_bounded(self):
        self.H.gateway.faults({"path": UCM, "status": 500, "count": -1})
        self.assertError(self.H.provision("ucm", default_args("ucm")), "Unavailable")
        self.assertEqual(len(self.H.gateway.requests()), 3, "1 attempt + Retries=2")

    def test_timeout_and_drop_retried_for_hardware_kinds(self):
        for fault in ({"delay": 2}, {"drop": True}):
            with self.subTest(fault=fault):
                self.H.reset_standins()
                self.H.gateway.faults(dict(fault, path=UCM))
                args = default_args("ucm")
                self.check_provisioned("ucm", args, self.H.provision("ucm", args), requests=2)

    def test_retry_after_honoured(self):
        self.H.gateway.faults({"path": UCM, "status": 429, "headers": {"Retry-After": "2"}})
        args = default_args("ucm")
        self.check_provisioned("ucm", args, self.H.provision("ucm", args), requests=2)
        first, second = self.H.gateway.requests()
        self.assertGreaterEqual(second["time"] - first["time"], 1.9, "Retry-After ignored")

    def test_retry_after_http_date_honoured(self):
        # An HTTP date has whole seconds: 3 s ahead is at least 2 s of wait.
        when = email.utils.formatdate(time.time() + 3, usegmt=True)
        self.H.gateway.faults({"path": UCM, "status": 503, "headers": {"Retry-After": when}})
        args = default_args("ucm")
        self.check_provisioned("ucm", args, self.H.provision("ucm", args), requests=2)
        first, second = self.H.gateway.requests()
        self.assertGreaterEqual(second["time"] - first["time"], 1.9, "Retry-After date ignored")

    def test_standalone_and_lua_not_retried_when_request_may_have_arrived(self):
        faults = ({"status": 503}, {"status": 429, "headers": {"Retry-After": "0"}},
                  {"delay": 2}, {"drop": True})
        for kind in ("standalone", "lua_device"):
            for fault in faults:
                with self.subTest(kind=kind, fault=fault):
                    self.H.reset_standins()
                    self.H.gateway.faults(dict(fault, path=KINDS[kind].endpoint))
                    self.assertError(self.H.provision(kind, default_args(kind)), "Unavailable")
                    self.assertEqual(len(self.H.gateway.requests()), 1,
                                     f"{kind} was retried after {fault}")

    def test_dropped_reused_connection_not_resent_for_standalone_and_lua(self):
        """A connection kept alive from an earlier call that is closed after
        the request went out: the request may have reached the server, so a
        standalone or Lua device must not be sent again (not by libcurl
        either)."""
        for kind in ("standalone", "lua_device"):
            with self.subTest(kind=kind):
                self.H.reset_standins()
                # warm up: leaves a kept-alive connection to the stand-in
                self.assertOk(self.H.provision(kind, default_args(kind)))
                self.H.gateway.faults({"path": KINDS[kind].endpoint, "drop": True})
                args = default_args(kind)
                res = self.H.provision(kind, args)
                sent = [r for r in self.H.gateway.requests() if r["json"] == args]
                self.assertEqual(len(sent), 1, f"the {kind} request was sent again: {res.doc}")
                self.assertError(res, "Unavailable")

    def test_client_errors_not_retried(self):
        for status in (400, 401, 403, 404, 409, 422):
            with self.subTest(status=status):
                self.H.reset_standins()
                self.H.gateway.faults({"path": UCM, "status": status})
                res = self.H.provision("ucm", default_args("ucm"))
                self.assertFalse(res.ok)
                self.assertEqual(len(self.H.gateway.requests()), 1)


class Deadline(HarnessTestCase):
    CONFIG = {"Provisioning": {"Retries": 10, "Timeout": 1, "Deadline": 2}}

    def test_call_answers_within_deadline(self):
        self.H.gateway.faults({"path": UCM, "delay": 30, "count": -1})
        t = time.monotonic()
        self.assertError(self.H.provision("ucm", default_args("ucm")), "Unavailable")
        self.assertLess(time.monotonic() - t, 2 + 1.0, "the call outlived Deadline=2")

    def test_retries_stop_at_deadline(self):
        self.H.gateway.faults({"path": UCM, "status": 503, "count": -1})
        t = time.monotonic()
        self.assertError(self.H.provision("ucm", default_args("ucm")), "Unavailable")
        self.assertLess(time.monotonic() - t, 2 + 1.0, "the call outlived Deadline=2")
        self.assertGreaterEqual(len(self.H.gateway.requests()), 2, "no retry at all")


class ProtocolErrors(ErrorChecks, HarnessTestCase):
    CONFIG = {"Provisioning": {"Retries": 0}}

    def responses(self, hw):
        """(label, kind, request args, raw response body) that are not the
        documented JSON or are unsafe."""
        ok_config = mqtts_config(hw)
        dev = "4e0c1c1e-1111-4a4a-8888-000000000001"

        def ucm(**doc):
            base = {"config": ok_config, "device_id": dev, "slug": "s"}
            base.update(doc)
            return json.dumps({k: v for k, v in base.items() if v is not None})

        mqtt_creds = {"protocol": "MQTT", "username": "u", "password": f"{CANARY}-PASSWORD-77"}
        return [
            ("not json", "ucm", "not json"),
            ("truncated", "ucm", ucm()[:-5]),
            ("trailing garbage", "ucm", ucm() + " trailing"),
            ("array", "ucm", "[]"),
            ("string", "ucm", '"device_id"'),
            ("empty object", "ucm", "{}"),
            ("empty body", "ucm", ""),
            ("no config", "ucm", ucm(config=None)),
            ("config not an object", "ucm", ucm(config="x")),
            ("no credentials", "ucm", ucm(config=dict(ok_config, mqtt_credentials=None))),
            ("no private key", "ucm", ucm(config=mqtts_config(hw, private_key=None))),
            ("no certificate", "ucm", ucm(config=mqtts_config(hw, certificate=None))),
            ("no ca chain", "ucm", ucm(config=mqtts_config(hw, ca_chain=None))),
            ("MQTT credentials for MQTTS", "ucm",
             ucm(config=dict(ok_config, mqtt_credentials=mqtt_creds))),
            ("port is a string", "ucm", ucm(config=dict(ok_config, mqtt_port="8883"))),
            ("no device_id", "ucm", ucm(device_id=None)),
            ("device_id a number", "ucm", ucm(device_id=12345)),
            ("device_id null", "ucm", json.dumps({"config": ok_config, "device_id": None})),
            ("device_id ../x", "ucm", ucm(device_id="../x")),
            ("device_id a/b", "ucm", ucm(device_id="a/b")),
            ("device_id empty", "ucm", ucm(device_id="")),
            ("device_id ..", "ucm", ucm(device_id="..")),
            ("device_id .", "ucm", ucm(device_id=".")),
            ("device_id /abs", "ucm", ucm(device_id="/tmp/evil")),
            ("device_id newline", "ucm", ucm(device_id="a\nb")),
            ("device_id control", "ucm", ucm(device_id="a\u0001b")),
            ("device_id NUL", "ucm", ucm(device_id="a\u0000b")),
            ("device_id 129 bytes", "ucm", ucm(device_id="d" * 129)),
            ("slug ../x", "ucm", ucm(slug="../x")),
            ("slug a/b", "standalone", json.dumps({"device_id": dev, "slug": "a/b"})),
            ("standalone no device_id", "standalone", json.dumps({"slug": "x"})),
            ("vucm device_id ../vucm", "vucm", json.dumps({"device_id": "../vucm"})),
            ("vucm empty", "vucm", "{}"),
            ("gateway_device_id ../gw", "gateway",
             json.dumps({"config": dict(ok_config, channel_id="gw"),
                         "gateway_device_id": "../gw"})),
            ("gateway no gateway_device_id", "gateway",
             json.dumps({"config": dict(ok_config, channel_id="gw")})),
        ]

    def test_protocol_errors_write_nothing(self):
        listener = self.H.listen()
        hw = "HWPROTO" + os.urandom(4).hex().upper()
        before_tmp = set(os.listdir(self.H.tmp))
        for label, kind, body in self.responses(hw):
            with self.subTest(label):
                before = self.H.keystore_tree()
                self.H.reset_standins()
                args = default_args(kind, **({"hardware_id": hw} if "hardware_id" in
                                             KINDS[kind].args else {}))
                target = self.H.target_of(kind)
                target.faults({"path": KINDS[kind].endpoint, "status": 200, "body": body})
                self.assertError(self.H.provision(kind, args), "ProtocolError", label)
                self.assertEqual(len(target.requests()), 1)
                self.assertEqual(self.H.keystore_tree(), before, "the keystore changed")
                self.assertLessEqual(set(os.listdir(self.H.tmp)) - before_tmp, {"keystore"},
                                     "something was written outside the keystore")
                self.assertFalse(os.path.lexists("/tmp/evil"))
                self.failed_signal(listener, kind, "ProtocolError", args)
        self.assertFalse(listener.signals("DeviceProvisioned"))

    def test_oversized_responses_refused(self):
        """Over 1 MiB: refused, nothing written. (The stand-in's control API
        cannot queue a body that large, so a stub serves these.)"""
        listener = self.H.listen()
        hw = "HWBIG" + os.urandom(4).hex().upper()
        dev = "4e0c1c1e-2222-4a4a-8888-000000000002"
        cases = [
            ("standalone", {"device_id": dev, "slug": "big", "padding": "A" * (1 << 20)}),
            ("ucm", {"config": mqtts_config(hw, **bundle_set(1 << 20)), "device_id": dev,
                     "slug": "big"}),
        ]
        for kind, doc in cases:
            with self.subTest(kind=kind):
                body = json.dumps(doc).encode()
                self.assertGreater(len(body), 1 << 20)
                with StubAPI(200, body) as stub:
                    self.H.restart_daemon({"Gateway": {"URL": stub.url}})
                    before = self.H.keystore_tree()
                    args = default_args(kind, **({"hardware_id": hw} if kind == "ucm" else {}))
                    self.assertError(self.H.provision(kind, args), "ProtocolError")
                    self.assertEqual(stub.paths, [KINDS[kind].endpoint])
                    self.assertEqual(self.H.keystore_tree(), before, "the keystore changed")
                    self.failed_signal(listener, kind, "ProtocolError", args)
        self.assertFalse(listener.signals("DeviceProvisioned"))

    def test_no_content_is_a_protocol_error(self):
        self.H.gateway.faults({"path": UCM, "status": 204})
        self.assertError(self.H.provision("ucm", default_args("ucm")), "ProtocolError")

    def test_gateway_request_args_in_signal(self):
        listener = self.H.listen(typed=True)
        args = default_args("gateway")
        self.H.cloud.faults({"path": KINDS["gateway"].endpoint, "status": 403})
        self.assertError(self.H.provision("gateway", args), "Forbidden")
        sig = listener.wait_for(lambda s: s["member"] == "ProvisioningFailed")
        kind, name, message, request = sig["args"]
        self.assertEqual(kind, "gateway")
        self.assertEqual(name, ERROR_PREFIX + "Forbidden")
        self.assertEqual(request, {"site_id": {"s": args["site_id"]},
                                   "hardware_id": {"s": args["hardware_id"]},
                                   "gateway_version": {"s": args["gateway_version"]},
                                   "site_name": {"s": args["site_name"]},
                                   "site_timezone": {"s": args["site_timezone"]},
                                   "latitude": {"d": args["latitude"]},
                                   "longitude": {"d": args["longitude"]}})


class StubAPI:
    """A minimal HTTP server answering every POST with one fixed response,
    for responses the stand-in cannot be told to send."""

    def __init__(self, status, body):
        outer = self
        self.paths = []

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                length = int(self.headers.get("Content-Length", "0"))
                self.rfile.read(length)
                outer.paths.append(self.path)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    self.wfile.write(body)
                except OSError:
                    pass      # the client may stop reading early

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def limit_file_size():
    # SIGXFSZ ignored survives exec: a write past the limit then fails with
    # EFBIG instead of killing the daemon.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))


class KeystoreFailure(ErrorChecks, HarnessTestCase):
    """Writes of more than 64 KiB fail (RLIMIT_FSIZE): a response with a big
    (but valid) ca_chain cannot be stored."""
    DAEMON_PREEXEC = staticmethod(limit_file_size)

    def test_keystore_error_names_device(self):
        listener = self.H.listen()
        args = default_args("ucm")
        device_id = "ks-" + os.urandom(6).hex()
        body = {"config": mqtts_config(args["hardware_id"], **bundle_set(200 * 1024)),
                "device_id": device_id, "slug": "big"}
        self.H.gateway.faults({"path": UCM, "status": 200, "body": json.dumps(body)})
        msg = self.assertError(self.H.provision("ucm", args), "KeystoreError")
        self.assertIn(device_id, msg)
        self.assertFalse(os.path.exists(self.H.device_dir(device_id)),
                         "a part of the set is visible")
        self.failed_signal(listener, "ucm", "KeystoreError", args)
        self.assertFalse(listener.signals("DeviceProvisioned"))
        # small sets still work
        ok = default_args("ucm")
        self.check_provisioned("ucm", ok, self.H.provision("ucm", ok), listener, requests=2)
        # leftovers of the failed write are cleaned up at start
        self.H.restart_daemon()
        self.assertKeystoreClean()


if __name__ == "__main__":
    main()
