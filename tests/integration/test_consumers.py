#!/usr/bin/env python3
"""Consumers (README "Consumers", enapter-provisiond(8) ACCESS): each caller
sees exactly the credentials its [Consumer] sections name, through
OpenCredentials as read-only fds of sealed memfds; operators provision but
are no consumers; strangers get nothing. Every caller is a real non-root
user (setpriv)."""

import json
import os
import subprocess
import sys
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import (ACCESS_DENIED, BUS_CLIENT, BUS_NAME, ERROR_PREFIX, IFACE,  # noqa: E402
                     OBJECT_PATH, clean_env, default_args, main, parse_result)
from test_access import POLICY_GROUP, AccountsTestCase, as_user  # noqa: E402

CREDENTIALS_GROUP = "enapter-credentials"
# F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE
ALL_SEALS = 0x1 | 0x2 | 0x4 | 0x8
JOURNAL = {"JOURNAL_STREAM": "8:12345"}


class Consumers(AccountsTestCase):

    @classmethod
    def make_accounts(cls, accounts):
        accounts.group(POLICY_GROUP, shared=True)
        accounts.group(CREDENTIALS_GROUP, shared=True)
        cls.site_group = "ep-it-site-" + uuid.uuid4().hex[:8]
        accounts.group(cls.site_group)
        cls.site = "site-" + uuid.uuid4().hex[:8]
        cls.agent = accounts.user("nogroup")                    # kind:ucm
        cls.site_agent = accounts.user("nogroup", [cls.site_group])  # site:<site>, by group
        cls.operator = accounts.user("nogroup", [POLICY_GROUP])
        cls.stranger = accounts.user("nogroup")
        cls.member = accounts.user("nogroup", [CREDENTIALS_GROUP])
        cls.CONFIG = {
            "Consumer ucm-agent": {"User": cls.agent.pw_name, "Devices": "kind:ucm"},
            "Consumer site-agent": {"Group": cls.site_group, "Devices": f"site:{cls.site}"},
        }

    def call_as(self, pw, method, sig, *args):
        argv = self.H._argv(method, sig, args, 30, False)
        proc = subprocess.run(as_user(pw) + [BUS_CLIENT] + argv, capture_output=True, text=True,
                              timeout=40, env=clean_env())
        self.H.transcript += [proc.stdout, proc.stderr]
        return parse_result(proc.returncode, proc.stdout, proc.stderr, argv)

    def open_as(self, pw, device_id):
        return self.call_as(pw, "OpenCredentials", "s", device_id)

    def provision(self, kind, **values):
        res = self.H.provision(kind, default_args(kind, **values))
        self.assertTrue(res.ok, res.doc)
        return res.reply[0]

    def keystore_file(self, device_id, name):
        with open(os.path.join(self.H.device_dir(device_id), name)) as f:
            return f.read()

    def check_opened(self, res, device_id, names):
        """A reply of OpenCredentials: the details of the device, and each
        file a sealed, read-only copy of the keystore's."""
        self.assertTrue(res.ok, res.doc)
        details, files = res.reply
        self.assertEqual(details["device_id"], device_id)
        self.assertEqual(details, self.H.call("GetDevice", "s", device_id).reply[0])
        self.assertEqual(sorted(files), sorted(names))
        for name, fd in files.items():
            self.assertEqual(fd["contents"], self.keystore_file(device_id, name), name)
            self.assertEqual(fd["seals"], ALL_SEALS, f"{name}: seals {fd['seals']:#x}")
            self.assertEqual(fd["access"], "r", f"{name} is not read-only")
            self.assertNotEqual(fd["write_error"], 0, f"{name} could be written")

    def assertDenied(self, res, device_id=None):
        self.assertFalse(res.ok, res.doc)
        self.assertEqual(res.error_name, ACCESS_DENIED, res.doc)
        if device_id is not None:
            self.assertIn(device_id, res.error_message)

    def test_consumer_reads_its_devices(self):
        mqtts = self.provision("ucm", protocol="MQTTS")
        mqtt = self.provision("ucm", protocol="MQTT")
        self.check_opened(self.open_as(self.agent, mqtts), mqtts,
                          ["private_key.pem", "certificate.pem", "ca_chain.pem"])
        self.check_opened(self.open_as(self.agent, mqtt), mqtt, ["password"])
        # Root may open every device.
        self.check_opened(self.H.call("OpenCredentials", "s", mqtt), mqtt, ["password"])

    def test_consumer_by_group_and_site(self):
        here = self.provision("ucm", site_id=self.site, protocol="MQTTS")
        there = self.provision("ucm", protocol="MQTTS")
        vucm_here = self.provision("vucm", site_id=self.site)
        self.check_opened(self.open_as(self.site_agent, here), here,
                          ["private_key.pem", "certificate.pem", "ca_chain.pem"])
        self.check_opened(self.open_as(self.site_agent, vucm_here), vucm_here, [])
        self.assertDenied(self.open_as(self.site_agent, there), there)

    def test_consumer_refused_other_devices(self):
        H = self.H
        H.restart_daemon(extra_env=JOURNAL)
        ucm = self.provision("ucm", protocol="MQTTS")
        vucm = self.provision("vucm")
        self.assertDenied(self.open_as(self.agent, vucm), vucm)
        self.assertDenied(self.call_as(self.agent, "GetDevice", "s", vucm), vucm)
        self.assertTrue(self.call_as(self.agent, "GetDevice", "s", ucm).ok)
        # Logged at notice (<5>) with the caller's uid.
        self.assertRegex(H.daemon_stderr(),
                         rf"<5>OpenCredentials \(uid {self.agent.pw_uid}, .*AccessDenied.*{vucm}")
        # A device that does not exist: no hint that it does not.
        self.assertDenied(self.open_as(self.agent, "no-such-device"))
        self.assertEqual(H.call("OpenCredentials", "s", "no-such-device").error_name,
                         ERROR_PREFIX + "NotFound")
        # ListDevices: only its own kind.
        res = self.call_as(self.agent, "ListDevices", "")
        self.assertTrue(res.ok, res.doc)
        kinds = {d["kind"] for d in res.reply[0]}
        self.assertEqual(kinds, {"ucm"})
        ids = {d["device_id"] for d in res.reply[0]}
        self.assertIn(ucm, ids)
        self.assertNotIn(vucm, ids)
        all_ids = {d["device_id"] for d in H.call("ListDevices", "").reply[0]}
        self.assertTrue({ucm, vucm} <= all_ids)
        # A consumer may not provision or forget.
        self.assertDenied(self.call_as(self.agent, "ProvisionVucm", "sss", "s", "HW1", "n"))
        self.assertDenied(self.call_as(self.agent, "ForgetDevice", "s", ucm))

    def test_operator_is_no_consumer(self):
        ucm = self.provision("ucm", protocol="MQTTS")
        self.assertDenied(self.open_as(self.operator, ucm), ucm)
        res = self.call_as(self.operator, "ListDevices", "")
        self.assertTrue(res.ok, res.doc)
        self.assertIn(ucm, {d["device_id"] for d in res.reply[0]})
        self.assertTrue(self.call_as(self.operator, "GetDevice", "s", ucm).ok)

    def test_stranger_gets_nothing(self):
        ucm = self.provision("ucm", protocol="MQTTS")
        self.assertDenied(self.open_as(self.stranger, ucm))
        self.assertDenied(self.call_as(self.stranger, "GetDevice", "s", ucm))
        self.assertDenied(self.call_as(self.stranger, "ListDevices", ""))
        # The secrets go to consumers in fds, never into a log line.
        self.assertNoSecrets(self.H.all_daemon_stderr(), "the daemon's log")

    def test_complete_sets_while_they_change(self):
        """OpenCredentials while GenerateCredentials swaps the set again and
        again: every answer is one whole set, its details of that set."""
        import hashlib
        import base64
        import threading
        H = self.H
        device_id = self.provision("ucm", protocol="MQTTS")
        stop, problems, answers = threading.Event(), [], []

        def swap():
            while not stop.is_set():
                protocol = "MQTT" if len(answers) % 2 else "MQTTS"
                res = H.call("GenerateCredentials", "ss", device_id, protocol)
                if not res.ok:
                    problems.append(f"GenerateCredentials: {res.doc}")

        swapper = threading.Thread(target=swap, daemon=True)
        swapper.start()
        try:
            for _ in range(40):
                res = self.open_as(self.agent, device_id)
                if not res.ok:
                    problems.append(f"OpenCredentials: {res.doc}")
                    continue
                details, files = res.reply
                answers.append(details["protocol"])
                want = (["ca_chain.pem", "certificate.pem", "private_key.pem"]
                        if details["protocol"] == "MQTTS" else ["password"])
                if sorted(files) != want:
                    problems.append(f"a {details['protocol']} set of {sorted(files)}")
                elif details["protocol"] == "MQTTS":
                    pem = files["certificate.pem"]["contents"]
                    body = "".join(l for l in pem.splitlines() if l and "-----" not in l)
                    if hashlib.sha256(base64.b64decode(body)).hexdigest() != \
                            details["certificate_sha256"]:
                        problems.append("details of another certificate than the one handed out")
        finally:
            stop.set()
            swapper.join(30)
        self.assertEqual(problems, [])
        self.assertEqual(set(answers), {"MQTT", "MQTTS"}, "the set did not change meanwhile")

    def test_planted_files_are_not_handed_out(self):
        """A credential file replaced behind the daemon's back by a link, a
        FIFO, a hard link or a huge file: KeystoreError, nothing handed out,
        and no wait on the FIFO."""
        import time
        H = self.H
        for plant in ("symlink", "fifo", "hardlink", "huge"):
            with self.subTest(plant=plant):
                device_id = self.provision("ucm", protocol="MQTT")
                path = os.path.join(H.device_dir(device_id), "password")
                os.unlink(path)
                if plant == "symlink":
                    os.symlink("/etc/shadow", path)
                elif plant == "fifo":
                    os.mkfifo(path, 0o600)
                elif plant == "hardlink":
                    other = os.path.join(H.tmp, "elsewhere-" + device_id)
                    with open(other, "w") as f:
                        f.write("not ours")
                    os.link(other, path)
                else:
                    with open(path, "wb") as f:
                        f.truncate(2 << 20)
                started = time.monotonic()
                res = H.call("OpenCredentials", "s", device_id)
                self.assertLess(time.monotonic() - started, 10, "the call waited")
                self.assertFalse(res.ok, f"{plant}: {res.doc}")
                self.assertEqual(res.error_name, ERROR_PREFIX + "KeystoreError", res.doc)
                self.assertIn(device_id, res.error_message)
                self.assertNotIn("root:", res.error_message)

    def test_credentials_group_hears_only_credentials_changed(self):
        H = self.H
        listener = H.listen(prefix=as_user(self.member))
        device_id = self.provision("ucm", protocol="MQTTS")
        listener.wait_for(lambda s: s["member"] == "CredentialsChanged"
                          and s["args"][0] == device_id, what="CredentialsChanged")
        self.assertOk(H.call("GenerateCredentials", "ss", device_id, "MQTTS"))
        listener.wait_for(lambda s: s["member"] == "CredentialsChanged"
                          and s["args"][1] == "generated", what="CredentialsChanged(generated)")
        self.assertEqual({s["member"] for s in listener.received} - {"PropertiesChanged"},
                         {"CredentialsChanged"})


if __name__ == "__main__":
    main()
