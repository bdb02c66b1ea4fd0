#!/usr/bin/env python3
"""Renewal (README "Credentials after provisioning", enapter-provisiond(8)
RENEWAL) against a stand-in that mints real certificates with lifetimes of
seconds: renewal on time, after a restart, through an outage of the API;
CredentialsExpiring once at At and once at expiry; a reader polling every
50 ms never sees an incomplete set; and the clock rule, with the daemon under
libfaketime."""

import json
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import (DAEMON_WRAPPER, LIBFAKETIME, HarnessTestCase, default_args,  # noqa: E402
                     faketime_env, main, wait_until)
from harness.pki import cert_info, key_matches  # noqa: E402



def generate_path(device_id):
    return f"/v3/devices/{device_id}/generate_config"


def renewal(auto=True, at=50, retry=2):
    return {"Renewal": {"Auto": "yes" if auto else "no", "At": at, "RetryInterval": retry}}


class RenewalChecks:

    def provision_vucm(self, lifetime, then=()):
        """A vucm (gateway stand-in) whose first set is fresh MQTTS credentials
        of @lifetime seconds, from GenerateCredentials; the faults @then
        apply to its later generate_config requests (queued before the first
        one: a slow daemon, under valgrind, may reach the due date before
        the test could queue them)."""
        H = self.H
        H.gateway.settings(cert_lifetime=lifetime)
        device_id, _ = self.assertOk(H.provision("vucm", default_args("vucm")))
        path = generate_path(device_id)
        if then:
            H.gateway.faults({"path": path, "delay": 0}, *[dict(f, path=path) for f in then])
        _, details = self.assertOk(H.call("GenerateCredentials", "ss", device_id, "MQTTS"))
        return device_id, details

    def stored(self, device_id):
        with open(os.path.join(self.H.device_dir(device_id), "device.json")) as f:
            return json.load(f)

    def renewed_signal(self, listener, device_id, timeout):
        return listener.wait_for(lambda s: s["member"] == "CredentialsChanged"
                                 and s["args"][0] == device_id and s["args"][1] == "renewed",
                                 timeout=timeout, what=f"CredentialsChanged(renewed) {device_id}")


class RenewsOnTime(RenewalChecks, HarnessTestCase):
    CONFIG = renewal(at=50, retry=2)

    def test_on_time_and_never_incomplete(self):
        H = self.H
        listener = H.listen()
        device_id, details = self.provision_vucm(lifetime=8)
        nb, na = details["certificate_not_before"], details["certificate_not_after"]
        due = nb + (na - nb) * 50 // 100
        seen, problems, stop = [], [], threading.Event()
        directory = H.device_dir(device_id)

        def poll():
            # A consumer's way to read a set: the directory once, then its
            # files relative to it. A set whose directory is gone meanwhile
            # (the old one, removed after the swap) is read again.
            while not stop.is_set():
                try:
                    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
                    try:
                        files = {n: open(n, opener=lambda p, f: os.open(p, f, dir_fd=fd)).read()
                                 for n in ("device.json", "private_key.pem",
                                           "certificate.pem", "ca_chain.pem")}
                    finally:
                        os.close(fd)
                except FileNotFoundError:
                    continue
                meta = json.loads(files["device.json"])
                cert = files["certificate.pem"]
                if not key_matches(files["private_key.pem"], cert):
                    problems.append("a key that is not the certificate's")
                if meta["config"]["certificate_sha256"] != cert_info(cert)[2]:
                    problems.append("device.json of another certificate")
                seen.append(cert_info(cert)[2])
                time.sleep(0.05)

        poller = threading.Thread(target=poll, daemon=True)
        poller.start()
        try:
            sig = self.renewed_signal(listener, device_id, timeout=(due - time.time()) + 10)
            arrived = time.time()
            new_sha = sig["args"][2]["certificate_sha256"]
            wait_until(lambda: new_sha in seen, 5, what="the poller to read the new set")
        finally:
            stop.set()
            poller.join(5)
        self.assertEqual(problems, [], "a reader saw an incomplete set")
        self.assertGreater(len(seen), 20, "the poller read too few sets to mean anything")
        self.assertEqual(len(set(seen)), 2, "the poller did not see the old and the new set")
        # On time: not before the due second, and promptly after it.
        self.assertGreaterEqual(arrived, due - 0.01)
        self.assertLess(arrived, due + 3, "renewal came late")
        reqs = H.gateway.requests(generate_path(device_id))
        self.assertEqual(len(reqs), 2)
        self.assertEqual(reqs[-1]["json"], {"protocol": "MQTTS"})
        self.assertGreaterEqual(reqs[-1]["time"], due - 0.01)
        new = sig["args"][2]
        self.assertGreater(new["certificate_not_after"], na)
        self.assertEqual(new["certificate_sha256"], self.stored(device_id)["config"]
                         ["certificate_sha256"])
        self.assertEqual(listener.signals("CredentialsExpiring"), [],
                         "CredentialsExpiring although renewal worked")


class RenewsAfterRestart(RenewalChecks, HarnessTestCase):
    CONFIG = renewal(auto=False, at=50)

    def test_schedule_survives_a_restart(self):
        H = self.H
        device_id, details = self.provision_vucm(lifetime=6)
        nb, na = details["certificate_not_before"], details["certificate_not_after"]
        H.stop_daemon()
        wait_until(lambda: time.time() > nb + 3.5, 10, what="the certificate to be due")
        H.start_daemon(renewal(auto=True, at=50))
        listener = H.listen()
        wait_until(lambda: len(H.gateway.requests(generate_path(device_id))) == 2, 10,
                   what="the renewal after the restart")
        wait_until(lambda: self.stored(device_id)["config"]["certificate_not_after"] > na, 10,
                   what="the renewed set in the keystore")
        self.assertNotEqual(self.stored(device_id)["config"]["certificate_sha256"],
                            details["certificate_sha256"])


    def test_set_stored_before_the_dates_were_recorded(self):
        """A device.json without the certificate's dates (an older daemon's):
        they are read off certificate.pem at start."""
        H = self.H
        device_id, details = self.provision_vucm(lifetime=6)
        na = details["certificate_not_after"]
        H.stop_daemon()
        path = os.path.join(H.device_dir(device_id), "device.json")
        meta = self.stored(device_id)
        for key in ("certificate_not_before", "certificate_not_after", "certificate_sha256"):
            del meta["config"][key]
        with open(path, "w") as f:
            json.dump(meta, f)
        wait_until(lambda: time.time() > details["certificate_not_before"] + 3.5, 10,
                   what="the certificate to be due")
        H.start_daemon(renewal(auto=True, at=50))
        wait_until(lambda: len(H.gateway.requests(generate_path(device_id))) == 2, 10,
                   what="the renewal of the older entry")
        wait_until(lambda: self.stored(device_id)["config"].get("certificate_not_after", 0) > na,
                   10, what="the renewed set, with its dates recorded")


class RenewsThroughAnOutage(RenewalChecks, HarnessTestCase):
    # Due after 4 s of 16: three failed attempts 2 s apart end well before
    # the certificate expires.
    CONFIG = dict(renewal(at=25, retry=2),
                  Provisioning={"Retries": 0, "Timeout": 1, "Deadline": 2})

    def test_retried_while_the_api_fails(self):
        H = self.H
        listener = H.listen()
        device_id, details = self.provision_vucm(lifetime=16,
                                                 then=[{"status": 503, "count": 3}])
        before = {n: open(os.path.join(H.device_dir(device_id), n), "rb").read()
                  for n in os.listdir(H.device_dir(device_id))}
        sig = self.renewed_signal(listener, device_id, timeout=30)
        reqs = H.gateway.requests(generate_path(device_id))
        statuses = [r["status"] for r in reqs[1:]]
        self.assertEqual(statuses, [503, 503, 503, 200])
        gaps = [b["time"] - a["time"] for a, b in zip(reqs[1:], reqs[2:])]
        for gap in gaps:
            # RetryInterval=2, jittered by +-20 %.
            self.assertGreaterEqual(gap, 1.5, f"retries came too soon: {gaps}")
            self.assertLess(gap, 3.5, f"retries came too late: {gaps}")
        # Told once that the certificate is due and not renewed.
        expiring = [s for s in listener.signals("CredentialsExpiring")
                    if s["args"][0] == device_id]
        self.assertEqual([s["args"] for s in expiring],
                         [[device_id, details["certificate_not_after"]]])
        self.assertGreater(sig["args"][2]["certificate_not_after"],
                           details["certificate_not_after"])
        self.assertNotEqual(before["certificate.pem"],
                            open(os.path.join(H.device_dir(device_id), "certificate.pem"),
                                 "rb").read())

    def test_old_set_stays_while_failing(self):
        H = self.H
        device_id, details = self.provision_vucm(lifetime=4,
                                                 then=[{"status": 503, "count": -1}])
        d = H.device_dir(device_id)
        before = {n: open(os.path.join(d, n), "rb").read() for n in os.listdir(d)}
        wait_until(lambda: len(H.gateway.requests(generate_path(device_id))) >= 3, 15,
                   what="two failed renewals")
        after = {n: open(os.path.join(d, n), "rb").read() for n in os.listdir(d)}
        self.assertEqual(after, before, "the set changed while renewal failed")
        self.assertKeystoreClean()


class ForgottenWhileRenewalsWait(RenewalChecks, HarnessTestCase):
    """More sets due than renewals may run at once (MaxConcurrent/2 = 1):
    the first is renewed, held by the API, and the others wait, so each
    change makes the daemon look at every device again. Forgetting a
    waiting device then drops it from the schedule without disturbing the
    walk over the others (it once removed entries from the table it walked:
    a GLib critical, and the walk cut short)."""
    CONFIG = dict(renewal(at=25, retry=30), Provisioning={"MaxConcurrent": "2"})

    def test_forgotten_while_waiting(self):
        H = self.H
        held = [{"delay": 30}]
        devices = [self.provision_vucm(lifetime=8, then=held)[0] for _ in range(3)]
        wait_until(lambda: sum(len(H.gateway.requests(generate_path(d))) >= 2
                               for d in devices) == 1, 15, what="the first renewal")
        time.sleep(1)
        renewing = [d for d in devices if len(H.gateway.requests(generate_path(d))) >= 2]
        self.assertEqual(len(renewing), 1, "more than one renewal at MaxConcurrent=2")
        for d in devices:
            if d not in renewing:
                res = H.call("ForgetDevice", "s", d)
                self.assertTrue(res.ok, res.doc)
        time.sleep(0.5)
        self.assertIsNone(H.daemon_died(), H.stderr_tail())
        # GLib's criticals reach the daemon's log as "GLib: ...: assertion
        # '...' failed".
        stderr = H.daemon_stderr()
        self.assertNotIn("assertion", stderr)
        self.assertNotIn("GLib:", stderr)
        # Only the renewing device is left to renew: its due time, past.
        res = H.call("GetDevice", "s", renewing[0])
        self.assertTrue(res.ok, res.doc)


class ExpiringWithoutRenewal(RenewalChecks, HarnessTestCase):
    CONFIG = renewal(auto=False, at=50)

    def test_told_at_due_and_at_expiry(self):
        H = self.H
        listener = H.listen()
        device_id, details = self.provision_vucm(lifetime=4)
        nb, na = details["certificate_not_before"], details["certificate_not_after"]
        first = listener.wait_for(lambda s: s["member"] == "CredentialsExpiring", timeout=10,
                                  what="CredentialsExpiring at At")
        t_first = time.time()
        listener.wait_for(lambda s: len(listener.signals("CredentialsExpiring")) == 2,
                          timeout=10, what="CredentialsExpiring at expiry")
        t_second = time.time()
        self.assertEqual(first["args"], [device_id, na])
        self.assertGreaterEqual(t_first, nb + 2 - 0.01)
        self.assertGreaterEqual(t_second, na - 0.01)
        self.assertLess(t_second, na + 3)
        time.sleep(2)
        self.assertEqual(len(listener.signals("CredentialsExpiring")), 2, "told more than twice")
        self.assertEqual(len(H.gateway.requests(generate_path(device_id))), 1,
                         "renewed although Auto=no")


class ClockBeforeBuildDate(RenewalChecks, HarnessTestCase):
    """A daemon under libfaketime at 1970 judges no certificate; once its
    clock is right it does."""
    CONFIG = renewal(auto=False, at=50)

    def test_nothing_judged_on_an_unset_clock(self):
        H = self.H
        self.assertTrue(os.path.exists(LIBFAKETIME), "libfaketime (package faketime) is needed")
        device_id, details = self.provision_vucm(lifetime=3)
        na = details["certificate_not_after"]
        H.stop_daemon()
        wait_until(lambda: time.time() > na + 1, 10, what="the certificate to expire")
        clock = os.path.join(H.tmp, "faketime")
        env = faketime_env(clock, "@1970-01-02 00:00:00")
        H.start_daemon(renewal(auto=True, at=50), extra_env=env)
        listener = H.listen()
        # A keystore change makes the daemon judge again: still nothing.
        self.assertOk(H.provision("vucm", default_args("vucm")))
        time.sleep(3)
        self.assertEqual(len(H.gateway.requests(generate_path(device_id))), 1,
                         "renewed on a clock before the build date")
        self.assertEqual(listener.signals("CredentialsExpiring"), [])
        log = H.daemon_stderr()
        self.assertEqual(log.count("before this daemon was built"), 1, log)
        # The clock is set: the next look (a keystore change) renews.
        with open(clock, "w") as f:
            f.write("+0\n")
        self.assertOk(H.provision("vucm", default_args("vucm")))
        wait_until(lambda: len(H.gateway.requests(generate_path(device_id))) == 2, 10,
                   what="the renewal once the clock is right")
        wait_until(lambda: self.stored(device_id)["config"]["certificate_not_after"] > na, 10,
                   what="the renewed set")


if __name__ == "__main__":
    main()
