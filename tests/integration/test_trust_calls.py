#!/usr/bin/env python3
"""Trust boundaries of calls and answers, each reproduced as an attack on the
real daemon (README "Trust boundaries"):

- an API answer naming a device the keystore holds as another device
  (another kind, target or hardware id) is ProtocolError and changes nothing;
- an API that echoes its token gets it replaced by [redacted] in the reply,
  the ProvisioningFailed signal and the log; a 2xx answer holding it is
  refused;
- the service's signals reach root and the operators' group only, apart from
  PropertiesChanged;
- device ids from callers follow the plain-name rule, and no caller text can
  forge a log line or a journal priority, or make a huge one;
- a failed call is logged at warning level with its D-Bus error name;
- a Retry-After too large for the clock cannot overflow into a short wait;
- after SIGTERM every new call, ForgetDevice included, gets Unavailable."""

import json
import os
import re
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import (ERROR_PREFIX, KINDS, HarnessTestCase, default_args, main,  # noqa: E402
                     stop_process)
from test_access import POLICY_GROUP, AccountsTestCase, as_user  # noqa: E402

UCM = KINDS["ucm"].endpoint
VUCM = KINDS["vucm"].endpoint
# Under systemd the daemon writes "<N>" priorities for the journal.
JOURNAL = {"JOURNAL_STREAM": "8:12345"}
SERVICE_SIGNALS = ("DeviceProvisioned", "ProvisioningFailed", "DeviceForgotten",
                   "CredentialsChanged")
# Consumers of credentials join it to be told of new sets (the package makes it).
CREDENTIALS_GROUP = "enapter-credentials"


def mqtt_answer(device_id, host="h.invalid"):
    """A well-formed MQTT ucm answer naming @device_id."""
    return {"device_id": device_id, "slug": "x",
            "config": {"mqtt_host": host, "mqtt_port": 1883,
                       "mqtt_credentials": {"protocol": "MQTT", "username": "u",
                                            "password": "CANARY-PASSWORD-1"}}}


def line_priorities(text):
    """[(priority, rest)] of every "<N>..." line of @text."""
    return [(int(m.group(1)), m.group(2)) for m in re.finditer(r"^<(\d)>(.*)$", text, re.M)]


class ResponseNamesAnotherDevice(HarnessTestCase):
    """The API cannot make the daemon overwrite one device with another."""

    def provision(self, kind, **values):
        args = default_args(kind, **values)
        device_id, _ = self.assertOk(self.H.provision(kind, args), f"provisioning a {kind}")
        return args, device_id

    def answer_with(self, standin, path, body):
        standin.faults({"path": path, "status": 200, "body": json.dumps(body)})

    def test_vucm_answer_naming_the_gateway_device(self):
        H = self.H
        _, gateway_id = self.provision("gateway")
        before = H.keystore_tree()
        self.answer_with(H.gateway, VUCM, {"device_id": gateway_id})
        msg = self.assertError(H.provision("vucm", default_args("vucm")), "ProtocolError")
        self.assertIn(gateway_id, msg)
        self.assertEqual(H.keystore_tree(), before, "the gateway's credentials changed")
        self.assertTrue(H.call("GetDevice", "s", gateway_id).reply[0]["kind"] == "gateway")

    def test_ucm_answer_naming_a_ucm_of_other_hardware(self):
        H = self.H
        first, first_id = self.provision("ucm", protocol="MQTT")
        before = H.keystore_tree()
        other = default_args("ucm", protocol="MQTT")
        self.answer_with(H.gateway, UCM, mqtt_answer(first_id))
        msg = self.assertError(H.provision("ucm", other), "ProtocolError")
        self.assertIn(first["hardware_id"], msg, "the message does not say whose device it is")
        self.assertEqual(H.keystore_tree(), before, "the first ucm's credentials changed")

    def test_answer_naming_a_device_of_the_other_target(self):
        """A ucm stored through the gateway API; the cloud names it for a ucm
        call with the same hardware id routed to the cloud."""
        H = self.H
        args, ucm_id = self.provision("ucm", protocol="MQTT")
        before = H.keystore_tree()
        H.restart_daemon({"Provisioning": {"DefaultTarget": "cloud"}})
        self.answer_with(H.cloud, UCM, mqtt_answer(ucm_id))
        self.assertError(H.provision("ucm", args), "ProtocolError")
        self.assertEqual(H.keystore_tree(), before)

    def test_entry_without_target_goes_where_its_kind_goes(self):
        """device.json written before it recorded "target": the gateway kind
        always goes to the cloud, even when DefaultTarget is the gateway."""
        H = self.H
        args, gateway_id = self.provision("gateway")
        H.stop_daemon()
        path = os.path.join(H.device_dir(gateway_id), "device.json")
        with open(path) as f:
            meta = json.load(f)
        self.assertEqual(meta.pop("target"), "cloud")
        with open(path, "w") as f:
            json.dump(meta, f)
        H.start_daemon()
        H.reset_standins()
        H.cloud.faults({"path": KINDS["gateway"].endpoint, "status": 200,
                        "body": json.dumps({"gateway_device_id": gateway_id, "config": {
                            "mqtt_host": "h.invalid", "mqtt_port": 1883,
                            "mqtt_credentials": {"protocol": "MQTT", "username": "u",
                                                 "password": "CANARY-PASSWORD-3"}}})})
        device_id, details = self.assertOk(H.provision("gateway", args), "reprovisioning")
        self.assertEqual(device_id, gateway_id)
        self.assertTrue(details["reprovisioned"])

    def test_reprovisioning_the_same_device_still_works(self):
        H = self.H
        args, device_id = self.provision("ucm")
        res = H.provision("ucm", args)
        self.check_provisioned("ucm", args, res, reprovisioned=True, requests=2)
        self.assertEqual(res.reply[0], device_id)


class TokensNeverLeave(HarnessTestCase):
    """An API that echoes the token."""

    def test_token_in_an_error_message_is_redacted(self):
        H = self.H
        listener = H.listen()
        for token in (H.gateway_token, H.cloud_token):
            with self.subTest(token=token[:20]):
                body = {"errors": [{"code": "bad", "message": f"token {token} is not {token}!",
                                    "details": {}},
                                   # Cut at the length bounds, a token would no longer match.
                                   {"code": token, "message": "p" * 470 + token}]}
                H.gateway.faults({"path": UCM, "status": 422, "body": json.dumps(body)})
                args = default_args("ucm")
                msg = self.assertError(H.provision("ucm", args), "Rejected")
                self.assertIn("token [redacted] is not [redacted]!", msg)
                sig = listener.wait_for(lambda s: s["member"] == "ProvisioningFailed"
                                        and s["args"][3] == args)
                self.assertIn("[redacted]", sig["args"][2])
        for text, where in ((H.all_daemon_stderr(), "the log"),
                            ("".join(H.transcript), "replies and signals")):
            # A token cut short is still most of it.
            self.assertNotIn(H.gateway_token[:30], text, f"the gateway token reached {where}")
            self.assertNotIn(H.cloud_token[:30], text, f"the cloud token reached {where}")

    def test_token_in_a_success_answer_is_refused(self):
        H = self.H
        before = H.keystore_tree()
        for kind, body, field in (("vucm", {"device_id": H.gateway_token}, "device_id"),
                                  ("ucm", mqtt_answer("d-tok", host=H.cloud_token), "mqtt_host")):
            with self.subTest(field=field):
                H.gateway.faults({"path": KINDS[kind].endpoint, "status": 200,
                                  "body": json.dumps(body)})
                args = default_args(kind, **({"protocol": "MQTT"} if kind == "ucm" else {}))
                msg = self.assertError(H.provision(kind, args), "ProtocolError")
                self.assertIn(field, msg)
        self.assertEqual(H.keystore_tree(), before, "an answer holding the token was stored")
        for text in (H.all_daemon_stderr(), "".join(H.transcript)):
            self.assertNotIn(H.gateway_token, text)
            self.assertNotIn(H.cloud_token, text)


class SignalsReachOnlyThoseWhoMaySee(AccountsTestCase):
    """The bus policy: the service's signals go to root and the operators'
    group, CredentialsChanged also to enapter-credentials; PropertiesChanged
    to everyone."""

    @classmethod
    def make_accounts(cls, accounts):
        accounts.group(POLICY_GROUP, shared=True)
        accounts.group(CREDENTIALS_GROUP, shared=True)
        cls.operator = accounts.user("nogroup", [POLICY_GROUP])
        cls.consumer = accounts.user("nogroup", [CREDENTIALS_GROUP])
        cls.stranger = accounts.user("nogroup")

    def test_signals_by_receiver(self):
        H = self.H
        root = H.listen()
        operator = H.listen(prefix=as_user(self.operator))
        stranger = H.listen(prefix=as_user(self.stranger))
        consumer = H.listen(prefix=as_user(self.consumer))
        args = default_args("ucm")
        device_id, _ = self.assertOk(H.provision("ucm", args))
        H.gateway.faults({"path": UCM, "status": 404})
        self.assertError(H.provision("ucm", default_args("ucm")), "NotFound")
        self.assertTrue(H.call("ForgetDevice", "s", device_id).ok)
        for listener in (root, operator):
            for member in SERVICE_SIGNALS:
                listener.wait_for(lambda s, m=member: s["member"] == m, what=member)
        # Bus order is kept per sender: once the stranger has a
        # PropertiesChanged sent after DeviceForgotten, it would have had
        # every earlier signal. A last call makes one (when it starts).
        self.assertOk(H.provision("ucm", default_args("ucm")))

        def changes_until_one_after_forgotten():
            seen = [s["member"] for s in root.signals()]
            after = seen.index("DeviceForgotten")
            if "PropertiesChanged" not in seen[after:]:
                return None
            return seen[:seen.index("PropertiesChanged", after) + 1].count("PropertiesChanged")
        root.wait_for(lambda s: changes_until_one_after_forgotten() is not None,
                      what="a PropertiesChanged after DeviceForgotten")
        n_changes = changes_until_one_after_forgotten()
        stranger.wait_for(lambda s: len(stranger.signals("PropertiesChanged")) >= n_changes,
                          what="those PropertiesChanged at the stranger")
        self.assertEqual([s["member"] for s in stranger.received
                          if s["member"] != "PropertiesChanged"], [],
                         "a user outside the group received the service's signals")
        # Two provisions made two CredentialsChanged; the consumer gets those
        # and, of the service's own signals, nothing else.
        consumer.wait_for(lambda s: len(consumer.signals("PropertiesChanged")) >= n_changes,
                          what="those PropertiesChanged at the consumer")
        consumer.wait_for(lambda s: len(consumer.signals("CredentialsChanged")) >= 2,
                          what="CredentialsChanged at the consumer")
        self.assertEqual(sorted({s["member"] for s in consumer.received}),
                         ["CredentialsChanged", "PropertiesChanged"],
                         "a consumer received other signals than CredentialsChanged")


class DeviceIdsAndLogLines(HarnessTestCase):
    """GetDevice/ForgetDevice take device ids only; log lines stay lines."""

    def setUp(self):
        super().setUp()
        self.H.restart_daemon(extra_env=JOURNAL)    # a fresh log per test, with priorities

    def test_forged_line_and_priority(self):
        H = self.H
        for method in ("GetDevice", "ForgetDevice"):
            with self.subTest(method=method):
                msg = self.assertError(H.call(method, "s", "x\n<0>FORGED"), "InvalidArgument")
                self.assertIn("device_id", msg)
        log = H.daemon_stderr()
        self.assertNotIn("\n<0>", "\n" + log, "a caller forged an emergency line")
        self.assertNotRegex(log, r"(?m)^FORGED", "a caller started a log line")
        self.assertIn("x\\n<0>FORGED", log, "the bad id is not shown escaped")

    def test_ids_that_are_not_plain_names(self):
        H = self.H
        device_id, _ = self.assertOk(H.provision("ucm", default_args("ucm")))
        before = H.keystore_tree()
        for bad in ("", ".", "..", "../" + device_id, device_id + "/..", "." + device_id,
                    "a/b", "x" * 129, "tab\there", "nul-less\x7f", "\u0085next"):
            for method in ("GetDevice", "ForgetDevice"):
                with self.subTest(method=method, id=bad[:20]):
                    self.assertError(H.call(method, "s", bad), "InvalidArgument")
        self.assertEqual(H.keystore_tree(), before)
        self.assertTrue(H.call("GetDevice", "s", "x" * 128).error_name.endswith("NotFound"))

    def test_huge_id_is_echoed_and_logged_bounded(self):
        H = self.H
        for huge in ("A" * 120_000 + "/", "\x01" * 100_000):
            res = H.call("GetDevice", "s", huge)
            msg = self.assertError(res, "InvalidArgument")
            self.assertLess(len(msg), 400, "the error echoes more than 128 bytes of the id")
        longest = max(len(line) for line in H.daemon_stderr().splitlines())
        self.assertLess(longest, 5000, "a caller made the daemon write a huge log line")

    def test_failed_call_logged_at_warning_with_error_name(self):
        H = self.H
        args = default_args("ucm", protocol="MQTTX")
        self.assertError(H.provision("ucm", args), "InvalidArgument")
        self.assertError(H.call("GetDevice", "s", "no-such-device"), "NotFound")
        lines = line_priorities(H.daemon_stderr())
        for member, error in (("ProvisionUcm", "InvalidArgument"), ("GetDevice", "NotFound")):
            found = [p for p, text in lines
                     if text.startswith(member + " ") and ERROR_PREFIX + error in text]
            self.assertTrue(found, f"no log line for the failed {member}")
            self.assertTrue(all(p == 4 for p in found),
                            f"the failed {member} is logged at priorities {found}, not 4")


class RetryAfterFromTheNetwork(HarnessTestCase):
    CONFIG = {"Provisioning": {"Retries": 2, "Timeout": 2, "Deadline": 10}}

    def test_huge_retry_after_ends_the_call(self):
        """18446744073710 s times 10^6 wraps a signed 64-bit number to
        under half a second."""
        H = self.H
        for value in ("18446744073710", "9223372036854775807"):
            with self.subTest(retry_after=value):
                H.reset_standins()
                H.gateway.faults({"path": UCM, "status": 503, "count": -1,
                                  "headers": {"Retry-After": value}})
                t = time.monotonic()
                msg = self.assertError(H.provision("ucm", default_args("ucm")), "Unavailable")
                self.assertLess(time.monotonic() - t, 5, "the call waited")
                self.assertEqual(len(H.gateway.requests()), 1,
                                 f"retried after Retry-After: {value}")
                self.assertIn("retry after 86400 s", msg)

    def test_retry_after_within_the_deadline_is_honoured(self):
        H = self.H
        H.gateway.faults({"path": UCM, "status": 429, "headers": {"Retry-After": "1"}})
        args = default_args("ucm")
        self.check_provisioned("ucm", args, H.provision("ucm", args), requests=2)


class NothingAfterSigterm(HarnessTestCase):

    def test_every_new_call_gets_unavailable(self):
        H = self.H
        args = default_args("ucm")
        device_id, _ = self.assertOk(H.provision("ucm", args))
        before = H.keystore_tree()
        H.reset_standins()
        H.gateway.faults({"path": UCM, "delay": 2})
        slow = H.provision_async("ucm", default_args("ucm"))
        H.wait_request(H.gateway, UCM)
        proc, H.daemon = H.daemon, None
        try:
            proc.send_signal(signal.SIGTERM)
            time.sleep(0.3)
            self.assertIsNone(proc.poll(), "the daemon exited with a call in flight")
            for method, sig, call_args in (("ForgetDevice", "s", (device_id,)),
                                           ("GetDevice", "s", (device_id,)),
                                           ("GetDevice", "s", ("../not-an-id",)),
                                           ("ListDevices", "", ())):
                with self.subTest(method=method):
                    self.assertError(H.call(method, sig, *call_args, timeout=10), "Unavailable")
            self.assertError(H.provision("ucm", args, timeout=10), "Unavailable")
            self.assertEqual(H.keystore_tree().keys() & before.keys(), before.keys(),
                             "ForgetDevice deleted during shutdown")
            self.assertTrue(slow.result(timeout=30).ok, "the call in flight did not finish")
            self.assertEqual(proc.wait(15), 0)
        finally:
            stop_process(proc, signal.SIGKILL)


if __name__ == "__main__":
    main()
