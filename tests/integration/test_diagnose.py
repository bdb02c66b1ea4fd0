#!/usr/bin/env python3
"""Diagnose and the status properties (enapter-provisiond(8) DIAGNOSTICS):
every check ok on a healthy daemon, without one request to the APIs or a
token anywhere; planted broken sets, expired and nearly expired
certificates, files open to others and unreachable APIs found, each with
what to do; the answer bounded by Timeout while other calls go on; only
root and operators may call it; Targets, AutoRenewal and NextRenewal."""

import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import (ACCESS_DENIED, BUS_CLIENT, IFACE, HarnessTestCase,  # noqa: E402
                     LIBFAKETIME, clean_env, default_args, faketime_env, free_port, main,
                     mint_set, parse_result, wait_until)
from harness.pki import cert_info  # noqa: E402
from test_access import LOOSE_POLICY, POLICY_GROUP, AccountsTestCase, as_user  # noqa: E402

LEVELS = {"ok", "warning", "error"}
DAY = 24 * 3600


class DiagnoseChecks:
    """What every Diagnose test asks of a reply."""

    def diagnose(self, **kw):
        res = self.H.call("Diagnose", "", **kw)
        self.assertTrue(res.ok, res.doc)
        return self.parse_checks(res)

    def parse_checks(self, res):
        """[(check, level, message)] of a reply, checked for shape and secrets."""
        self.assertEqual(len(res.reply), 1, res.doc)
        checks = [tuple(c) for c in res.reply[0]]
        for name, level, message in checks:
            self.assertIn(level, LEVELS, name)
            self.assertTrue(message, f"{name} has no message")
        self.assertNoSecrets(json.dumps(checks), "Diagnose's reply")
        names = [c[0] for c in checks]
        self.assertEqual(len(names), len(set(names)), f"a check twice: {names}")
        return checks

    def check(self, checks, name):
        found = [c for c in checks if c[0] == name]
        self.assertEqual(len(found), 1, f"no check {name} in {checks}")
        return found[0]

    def assertCheck(self, checks, name, level, *phrases):
        """Check @name has @level and its message holds every phrase."""
        _, got, message = self.check(checks, name)
        self.assertEqual(got, level, f"{name}: {message}")
        for phrase in phrases:
            self.assertIn(phrase, message, name)
        return message

    def provision_mqtts(self, kind="ucm", **values):
        device_id, details = self.assertOk(
            self.H.provision(kind, default_args(kind, protocol="MQTTS", **values)))
        return device_id, details

    def expected_names(self, device_ids, mqtts=(), gateway=True):
        names = ["config", "token:cloud"] + (["token:gateway"] if gateway else [])
        names += ["clock", "keystore"]
        for device_id in sorted(device_ids):
            names.append(f"device:{device_id}")
            if device_id in mqtts:
                names.append(f"certificate:{device_id}")
        return names + ["api:cloud"] + (["api:gateway"] if gateway else [])


class Healthy(DiagnoseChecks, HarnessTestCase):
    """An HTTPS cloud (its CA in CAFile) and a plain-HTTP gateway."""
    CLOUD_TLS = True

    def test_all_ok_without_a_request(self):
        H = self.H
        mqtts, _ = self.provision_mqtts()
        mqtt, _ = self.assertOk(H.provision("ucm", default_args("ucm", protocol="MQTT")))
        bare, _ = self.assertOk(H.provision("vucm", default_args("vucm")))
        H.reset_standins()
        before = {s.role: s.stats() for s in H.standins()}
        checks = self.diagnose()
        after = {s.role: s.stats() for s in H.standins()}
        self.assertEqual([c[0] for c in checks],
                         self.expected_names([mqtts, mqtt, bare], mqtts=[mqtts]))
        self.assertEqual([c for c in checks if c[1] != "ok"], [])
        # Connected (and shook hands over TLS), but not one request.
        self.assertNoRequests("during Diagnose")
        for role in ("cloud", "gateway"):
            self.assertEqual(after[role]["requests"], before[role]["requests"], role)
            # Diagnose's connection and the stats call's own.
            self.assertGreaterEqual(after[role]["connections"] - before[role]["connections"], 2,
                                    role)
        self.assertGreaterEqual(after["cloud"]["tls_handshakes"]
                                - before["cloud"]["tls_handshakes"], 2)
        self.assertCheck(checks, "api:cloud", "ok", H.cloud.url, "TLS handshake",
                         "no request was sent")
        self.assertCheck(checks, "api:gateway", "ok", H.gateway.url, "no request was sent")
        self.assertCheck(checks, f"device:{mqtts}", "ok", "key matches the certificate")
        self.assertCheck(checks, f"device:{mqtt}", "ok", "password")
        self.assertCheck(checks, "token:cloud", "ok", H.cloud_token_file)
        self.assertCheck(checks, "config", "ok", H.daemon_conf)
        self.assertCheck(checks, "keystore", "ok", H.keystore)
        self.assertNoSecrets(H.all_daemon_stderr(), "the daemon's log")
        self.assertRegex(H.daemon_stderr(), r"Diagnose \(uid 0, pid \d+, unit [^)]*\): "
                                            r"\d+ checks: no error or warning")

class BrokenSets(DiagnoseChecks, HarnessTestCase):

    def device_file(self, device_id, name):
        return os.path.join(self.H.device_dir(device_id), name)

    def test_planted_sets(self):
        H = self.H
        missing, _ = self.provision_mqtts()
        linked, _ = self.provision_mqtts()
        foreign, _ = self.provision_mqtts()
        fifo, _ = self.assertOk(H.provision("ucm", default_args("ucm", protocol="MQTT")))
        opened, _ = self.provision_mqtts()
        fine, _ = self.provision_mqtts()
        os.unlink(self.device_file(missing, "ca_chain.pem"))
        key = self.device_file(linked, "private_key.pem")
        elsewhere = os.path.join(H.tmp, "elsewhere.pem")
        shutil.copy(key, elsewhere)
        os.unlink(key)
        os.symlink(elsewhere, key)
        with open(self.device_file(foreign, "private_key.pem"), "w") as f:
            f.write(mint_set()["private_key"])
        os.unlink(self.device_file(fifo, "password"))
        os.mkfifo(self.device_file(fifo, "password"), 0o600)
        os.chmod(self.device_file(opened, "private_key.pem"), 0o644)

        checks = self.diagnose()
        generate = "enapter-provisionctl generate {} --protocol {}"
        message = self.assertCheck(checks, f"device:{missing}", "error",
                                   self.device_file(missing, "ca_chain.pem") + " is missing",
                                   generate.format(missing, "mqtts"))
        self.assertNotIn("ignore", message)
        self.assertEqual(message.count("is missing"), 1, "a finding told twice")
        self.assertCheck(checks, f"device:{linked}", "error", key + " is a symbolic link",
                         "would ignore the device at its next start",
                         generate.format(linked, "mqtts"))
        self.assertCheck(checks, f"device:{foreign}", "error",
                         "the private key does not match the certificate",
                         generate.format(foreign, "mqtts"))
        self.assertCheck(checks, f"device:{fifo}", "error",
                         self.device_file(fifo, "password") + " is not a regular file",
                         generate.format(fifo, "mqtt"))
        self.assertCheck(checks, f"device:{opened}", "error", "mode 0644",
                         "chmod 0600 " + self.device_file(opened, "private_key.pem"))
        self.assertCheck(checks, f"device:{fine}", "ok")
        # The certificates are judged from what device.json records.
        self.assertCheck(checks, f"certificate:{foreign}", "ok")

        # At the next start the daemon ignores the symlink and the FIFO, and
        # Diagnose says it does not serve them.
        H.restart_daemon()
        checks = self.diagnose()
        for device_id in (linked, fifo):
            self.assertCheck(checks, f"device:{device_id}", "warning", "does not serve",
                             "move it out of the keystore")
            self.assertNotIn(f"certificate:{device_id}", [c[0] for c in checks])
        self.assertCheck(checks, f"device:{foreign}", "error", "does not match")
        self.assertCheck(checks, f"device:{missing}", "error", "is missing")

    def test_gone_directory(self):
        H = self.H
        device_id, _ = self.provision_mqtts()
        shutil.rmtree(H.device_dir(device_id))
        checks = self.diagnose()
        self.assertCheck(checks, f"device:{device_id}", "error", "is gone",
                         "until it restarts", "provision it again")
        # As said: a restart drops it.
        H.restart_daemon()
        self.assertNotIn(f"device:{device_id}", [c[0] for c in self.diagnose()])


    def test_device_directory_replaced_by_a_fifo(self):
        H = self.H
        device_id, _ = self.provision_mqtts()
        shutil.rmtree(H.device_dir(device_id))
        os.mkfifo(H.device_dir(device_id), 0o600)
        message = self.assertCheck(self.diagnose(), f"device:{device_id}", "error",
                                   H.device_dir(device_id) + " is a FIFO, not a directory",
                                   "would ignore the device at its next start")
        self.assertNotIn("symbolic link", message)

    def test_planted_fifo_is_never_opened(self):
        """Files are judged by their type before any is opened: a device
        node or FIFO planted in a set is never opened (inotify would see
        IN_OPEN)."""
        H = self.H
        device_id, _ = self.assertOk(H.provision("ucm", default_args("ucm", protocol="MQTT")))
        password = self.device_file(device_id, "password")
        os.unlink(password)
        os.mkfifo(password, 0o600)
        libc = ctypes.CDLL(None, use_errno=True)
        fd = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        self.assertGreaterEqual(fd, 0, os.strerror(ctypes.get_errno()))
        self.addCleanup(os.close, fd)
        in_open = 0x20
        self.assertGreaterEqual(libc.inotify_add_watch(fd, password.encode(), in_open), 0)
        checks = self.diagnose()
        try:
            events = os.read(fd, 4096)
        except BlockingIOError:
            events = b""
        self.assertEqual(events, b"", "Diagnose opened the FIFO")
        self.assertCheck(checks, f"device:{device_id}", "error",
                         password + " is not a regular file but a FIFO")

    def test_log_names_ten_checks_of_a_level(self):
        """The log line of a run names ten checks of each level at most."""
        H = self.H
        device_id, _ = self.assertOk(H.provision("vucm", default_args("vucm")))
        copies = [H.device_dir(device_id) + f"-{i:02}" for i in range(12)]
        for copy in copies:
            self.addCleanup(shutil.rmtree, copy, True)
            shutil.copytree(H.device_dir(device_id), copy)
        self.diagnose()
        line = [l for l in H.daemon_stderr().splitlines() if "Diagnose (uid 0" in l][-1]
        self.assertIn("and 2 more", line)
        self.assertEqual(line.count("device:"), 10, line)

    def test_set_renewed_since_the_call(self):
        """A set renewed while Diagnose runs is judged by the device.json
        beside it, not by the index the call started from: here device B's
        set and record are put in A's directory behind the daemon's back,
        as a renewal swaps a whole new directory in."""
        H = self.H
        renewed, _ = self.provision_mqtts()
        other, _ = self.provision_mqtts()
        for name in ("private_key.pem", "certificate.pem", "ca_chain.pem"):
            shutil.copyfile(self.device_file(other, name), self.device_file(renewed, name))
        record = self.device_file(renewed, "device.json")
        with open(record) as f:
            meta = json.load(f)
        with open(self.device_file(other, "device.json")) as f:
            meta["config"]["certificate_sha256"] = json.load(f)["config"]["certificate_sha256"]
        with open(record, "w") as f:
            json.dump(meta, f)
        self.assertCheck(self.diagnose(), f"device:{renewed}", "ok",
                         "the key matches the certificate")
        # A record that names another certificate is still found.
        meta["config"]["certificate_sha256"] = "ab" * 32
        with open(record, "w") as f:
            json.dump(meta, f)
        self.assertCheck(self.diagnose(), f"device:{renewed}", "error", "another SHA-256",
                         f"generate {renewed} --protocol mqtts")


class Expiry(DiagnoseChecks, HarnessTestCase):
    CONFIG = {"Renewal": {"Auto": "no", "At": "80"}}

    def provision_with(self, **settings):
        target = self.H.target_of("ucm")
        target.settings(**settings)
        try:
            return self.provision_mqtts()
        finally:
            target.reset()

    def test_expired_due_and_soon(self):
        expired, _ = self.provision_with(cert_lifetime=3600, not_before_offset=-7200)
        due, _ = self.provision_with(cert_lifetime=100 * DAY, not_before_offset=-90 * DAY)
        soon, _ = self.provision_with(cert_lifetime=3 * DAY)
        fresh, _ = self.provision_with(cert_lifetime=365 * DAY)
        checks = self.diagnose()
        generate = "'enapter-provisionctl generate {} --protocol mqtts'"
        self.assertCheck(checks, f"certificate:{expired}", "error", "expired",
                         generate.format(expired), "[Renewal] Auto=yes")
        self.assertCheck(checks, f"certificate:{due}", "warning", "due for renewal since",
                         "[Renewal] At=80", generate.format(due))
        self.assertCheck(checks, f"certificate:{soon}", "warning", "within 7 days",
                         generate.format(soon))
        self.assertCheck(checks, f"certificate:{fresh}", "ok", "valid until")
        for device_id in (expired, due, soon, fresh):
            self.assertCheck(checks, f"device:{device_id}", "ok")

    def test_clock_before_the_build_date(self):
        H = self.H
        self.assertTrue(os.path.exists(LIBFAKETIME), "libfaketime (package faketime) is needed")
        device_id, _ = self.provision_mqtts()
        env = faketime_env(os.path.join(H.tmp, "faketime"), "@1970-01-02 00:00:00")
        H.stop_daemon()
        H.start_daemon({"Renewal": {"Auto": "no"}}, extra_env=env)
        checks = self.diagnose()
        self.assertCheck(checks, "clock", "error", "1970-01-02", "timedatectl")
        self.assertCheck(checks, f"certificate:{device_id}", "warning", "not judged",
                         "clock")


class Files(DiagnoseChecks, HarnessTestCase):

    def test_token_and_config_open_to_others(self):
        H = self.H
        token, conf = H.cloud_token_file, H.daemon_conf
        try:
            os.chmod(token, 0o640)
            os.chmod(conf, 0o664)
            checks = self.diagnose()
        finally:
            os.chmod(token, 0o600)
            os.chmod(conf, 0o644)
        self.assertCheck(checks, "token:cloud", "error", "mode 0640", f"chmod 0600 {token}")
        self.assertCheck(checks, "config", "error", "mode 0664", f"chmod go-w {conf}")
        self.assertCheck(checks, "token:gateway", "ok")

    def test_token_file_gone(self):
        H = self.H
        token = H.gateway_token_file
        os.rename(token, token + ".away")
        try:
            checks = self.diagnose()
        finally:
            os.rename(token + ".away", token)
        self.assertCheck(checks, "token:gateway", "warning", token, "restore")

    def test_keystore_mode(self):
        H = self.H
        os.chmod(H.keystore, 0o750)
        try:
            checks = self.diagnose()
        finally:
            os.chmod(H.keystore, 0o700)
        self.assertCheck(checks, "keystore", "warning", "mode 0750", f"chmod 0700 {H.keystore}")
        os.chmod(H.keystore, 0o777)
        try:
            checks = self.diagnose()
        finally:
            os.chmod(H.keystore, 0o700)
        self.assertCheck(checks, "keystore", "error", "chmod go-w", "refuse to start")

    def test_keystore_path_lost(self):
        """The keystore moved away, and a FIFO in its place: the daemon
        still serves the directory it opened, and the message says what a
        restart would do and what to do first."""
        H = self.H
        away = H.keystore + ".away"
        os.rename(H.keystore, away)
        try:
            moved = self.diagnose()
            os.mkfifo(H.keystore, 0o600)
            try:
                fifo = self.diagnose()
            finally:
                os.unlink(H.keystore)
        finally:
            os.rename(away, H.keystore)
        self.assertCheck(moved, "keystore", "error", f"{H.keystore} no longer exists",
                         "moved or replaced", "still serves",
                         "create a new, empty keystore", "Move the keystore back",
                         "restart the daemon")
        self.assertCheck(fifo, "keystore", "error", f"{H.keystore} is a FIFO now",
                         "still serves", "refuse to start", "Move the keystore back",
                         "restart the daemon")
        self.assertCheck(self.diagnose(), "keystore", "ok")

    def test_keystore_deleted(self):
        H = self.H
        shutil.rmtree(H.keystore)
        try:
            checks = self.diagnose()
        finally:
            H.restart_daemon()
        self.assertCheck(checks, "keystore", "error", "no longer exists", "was deleted",
                         "Restore the keystore from a backup", "restart the daemon")

    def test_no_token_for_a_target(self):
        H = self.H
        H.restart_daemon({"Gateway": {"TokenFile": None}})
        checks = self.diagnose()
        self.assertCheck(checks, "token:gateway", "error", "AuthenticationFailed",
                         "[Gateway] TokenFile=")


class Unreachable(DiagnoseChecks, HarnessTestCase):
    TIMEOUT = 4.0

    def silent_port(self):
        """A port that accepts TCP (the kernel completes the handshake of a
        listening socket) but never answers: its socket."""
        silent = socket.socket()
        self.addCleanup(silent.close)
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        return silent

    def restart_with(self, cloud, gateway):
        self.H.restart_daemon({
            "Cloud": {"URL": cloud},
            "Gateway": {"URL": gateway},
            "Provisioning": {"Timeout": str(self.TIMEOUT), "Deadline": "8"},
        })
        self.H.reset_standins()

    def test_closed_port_and_silent_tls(self):
        H = self.H
        device_id, _ = self.provision_mqtts()
        silent = self.silent_port()
        closed = free_port()
        self.restart_with(f"http://127.0.0.1:{closed}",
                          f"https://127.0.0.1:{silent.getsockname()[1]}")
        call = H.call_async("Diagnose", "")
        # Meanwhile the daemon answers others: the answer comes while
        # Diagnose still waits on the silent port.
        t0 = time.monotonic()
        res = H.call("GetDevice", "s", device_id)
        self.assertTrue(res.ok, res.doc)
        self.assertLess(time.monotonic() - t0, self.TIMEOUT, "GetDevice waited for Diagnose")
        self.assertFalse(call.done(), "Diagnose answered before its Timeout, or GetDevice "
                                      "waited for it")
        res = call.result(30)
        self.assertLess(call.elapsed(), self.TIMEOUT + 4, "Diagnose outlived its Timeout")
        self.assertGreaterEqual(call.elapsed(), self.TIMEOUT - 0.5)
        self.assertTrue(res.ok, res.doc)
        checks = self.parse_checks(res)
        self.assertCheck(checks, "api:cloud", "error", f"127.0.0.1:{closed}",
                         "no TCP connection", "firewall", "[Cloud] URL")
        self.assertCheck(checks, "api:gateway", "error", "Timeout", "firewall",
                         "[Gateway] URL", "[Provisioning] Timeout")
        self.assertCheck(checks, f"device:{device_id}", "ok")
        self.assertNoRequests("during Diagnose")
        self.assertRegex(H.daemon_stderr(), r"Diagnose \(uid 0, .*errors: api:cloud, api:gateway")

    def test_second_stop_signal_answers_the_call(self):
        """Stopping without waiting still answers a Diagnose in flight."""
        H = self.H
        silent = self.silent_port()
        self.restart_with(H.cloud.url, f"https://127.0.0.1:{silent.getsockname()[1]}")
        call = H.call_async("Diagnose", "")
        time.sleep(0.5)
        self.assertFalse(call.done())
        H.daemon.send_signal(signal.SIGTERM)
        # Taken as the first (two pending at once would be one).
        wait_until(lambda: "stopping: 1 call(s) in flight" in H.daemon_stderr(), 10, 0.05,
                   "the daemon to take the first stop signal")
        self.assertFalse(call.done(), "the first stop signal did not wait for Diagnose")
        self.assertEqual(H.stop_daemon(), 0)
        message = self.assertError(call.result(10), "Unavailable")
        self.assertIn("call it again", message)
        self.assertLess(call.elapsed(), self.TIMEOUT, "answered only after the run")

    def test_calls_at_once_share_one_run(self):
        H = self.H
        silent = self.silent_port()
        # The run takes Timeout: long enough for the three to meet in it.
        self.restart_with(H.cloud.url, f"https://127.0.0.1:{silent.getsockname()[1]}")
        calls = [H.call_async("Diagnose", "") for _ in range(3)]
        replies = [call.result(30) for call in calls]
        for res in replies:
            self.assertTrue(res.ok, res.doc)
        self.assertEqual(len({json.dumps(self.parse_checks(r)) for r in replies}), 1,
                         "the calls got different answers")
        # One run for the three: one connection to the gateway's port.
        silent.setblocking(False)
        accepted = []
        try:
            while True:
                accepted.append(silent.accept()[0])
        except BlockingIOError:
            pass
        for conn in accepted:
            conn.close()
        self.assertEqual(len(accepted), 1, "one connection per run, one run for all")
        self.assertEqual(H.daemon_stderr().count("Diagnose (uid 0"), 3)


class Access(DiagnoseChecks, AccountsTestCase):
    """Root and operators may diagnose; a consumer and a stranger get
    AccessDenied from the repository's bus policy."""

    @classmethod
    def make_accounts(cls, accounts):
        accounts.group(POLICY_GROUP, shared=True)
        cls.operator = accounts.user("nogroup", [POLICY_GROUP])
        cls.consumer = accounts.user("nogroup")
        cls.stranger = accounts.user("nogroup")
        cls.CONFIG = {"Consumer agent": {"User": cls.consumer.pw_name, "Devices": "kind:ucm"}}

    def call_as(self, pw):
        argv = self.H._argv("Diagnose", "", (), 30, False)
        proc = subprocess.run(as_user(pw) + [BUS_CLIENT] + argv, capture_output=True,
                              text=True, timeout=40, env=clean_env())
        self.H.transcript += [proc.stdout, proc.stderr]
        return parse_result(proc.returncode, proc.stdout, proc.stderr, argv)

    def test_who_may(self):
        self.parse_checks(self.call_as(self.operator))
        for pw in (self.consumer, self.stranger):
            self.assertError(self.call_as(pw), ACCESS_DENIED)


class AccessLoosePolicy(Access):
    """The daemon refuses them too where the bus policy would let them."""
    BUS_EXTRA = LOOSE_POLICY

    def test_who_may(self):
        super().test_who_may()
        for pw in (self.consumer, self.stranger):
            self.assertRegex(self.H.daemon_stderr(),
                             rf"Diagnose \(uid {pw.pw_uid}, .*"
                             + ACCESS_DENIED.replace(".", r"\."))


class Properties(DiagnoseChecks, HarnessTestCase):
    CONFIG = {"Renewal": {"Auto": "yes", "At": "50", "RetryInterval": "600"}}

    def prop(self, name):
        res = self.H.get_property(name, typed=True)
        self.assertTrue(res.ok, res.doc)
        return res.reply[0]

    def generate(self, device_id, lifetime):
        H = self.H
        # Settings last until the next test's reset, which would also
        # make the stand-in forget the device.
        H.gateway.settings(cert_lifetime=lifetime)
        _, details = self.assertOk(H.call("GenerateCredentials", "ss", device_id, "MQTTS"))
        return details

    @staticmethod
    def due(details, at=50):
        nb, na = details["certificate_not_before"], details["certificate_not_after"]
        return nb + (na - nb) * at // 100

    def test_values_and_changes(self):
        H = self.H
        self.assertEqual(self.prop("Targets"),
                         {"a{ss}": {"cloud": H.cloud.url, "gateway": H.gateway.url}})
        self.assertEqual(self.prop("AutoRenewal"), {"b": True})
        self.assertEqual(self.prop("NextRenewal"), {"x": 0})
        listener = H.listen(typed=True)

        def changed(value):
            return lambda s: (s["member"] == "PropertiesChanged" and s["args"][0] == IFACE
                              and s["args"][1].get("NextRenewal") == {"x": value})

        device_id, _ = self.assertOk(H.provision("vucm", default_args("vucm")))
        details = self.generate(device_id, 3600)
        self.assertEqual(details["certificate_not_after"] - details["certificate_not_before"],
                         3600)
        with open(os.path.join(H.device_dir(device_id), "certificate.pem")) as f:
            nb, na, _ = cert_info(f.read())
        first = nb + (na - nb) * 50 // 100
        listener.wait_for(changed(first), what=f"PropertiesChanged NextRenewal={first}")
        self.assertEqual(self.prop("NextRenewal"), {"x": first})
        # A second, longer-lived certificate is due later: still the first.
        other, _ = self.assertOk(H.provision("vucm", default_args("vucm")))
        self.generate(other, 7200)
        self.assertEqual(self.prop("NextRenewal"), {"x": first})
        # New credentials for the first one: due later now, and told.
        time.sleep(1.1)
        later = self.due(self.generate(device_id, 3600))
        self.assertGreater(later, first)
        listener.wait_for(changed(later), what=f"PropertiesChanged NextRenewal={later}")
        self.assertEqual(self.prop("NextRenewal"), {"x": later})
        for gone in (device_id, other):
            self.assertTrue(H.call("ForgetDevice", "s", gone).ok)
        listener.wait_for(changed(0), what="PropertiesChanged NextRenewal=0")
        self.assertEqual(self.prop("NextRenewal"), {"x": 0})

    def test_auto_renewal_off(self):
        H = self.H
        H.restart_daemon({"Renewal": {"Auto": "no"}})
        device_id, _ = self.assertOk(H.provision("vucm", default_args("vucm")))
        self.addCleanup(H.call, "ForgetDevice", "s", device_id)
        self.generate(device_id, 3600)
        self.assertEqual(self.prop("AutoRenewal"), {"b": False})
        self.assertEqual(self.prop("NextRenewal"), {"x": 0})


class NoGateway(DiagnoseChecks, HarnessTestCase):
    GATEWAY = False

    def test_targets_and_checks_without_a_gateway(self):
        res = self.H.get_property("Targets")
        self.assertEqual(res.reply, [{"cloud": self.H.cloud.url, "gateway": ""}], res.doc)
        checks = self.diagnose()
        self.assertEqual([c[0] for c in checks], self.expected_names([], gateway=False))
        self.assertEqual([c for c in checks if c[1] != "ok"], [])


if __name__ == "__main__":
    main()
