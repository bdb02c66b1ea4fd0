#!/usr/bin/env python3
"""enapter-provisionctl status (and no command at all) and check against
the real daemon (the integration harness): the properties Version,
ActiveRequests, Targets, AutoRenewal and NextRenewal and the devices by
kind, as text and --json; Diagnose() as lines, marks on a UTF-8 terminal,
--json, and exit status 1 when a check is an error (an unreachable API, a
broken device).

EP_CTL names the client; see ctl_util.py."""

import json
import os
import re
import signal
import socket
import subprocess

from ctl_util import (clean_env, CTL, CtlTestCase, default_args, KINDS, main, run_tty, utc,
                      wait_until)

LEVELS = ("ok", "warning", "error")
MARKS = {"ok": "✓", "warning": "!", "error": "✗"}


def same_but_numbers(text):
    """@text with its numbers blanked: Diagnose's messages carry times and
    milliseconds that differ from one run to the next."""
    return re.sub(r"\d+", "N", text)


def status_lines(testcase, text):
    """status's "Label: value" lines (labels right-aligned) as a dict."""
    fields, colons = {}, set()
    for line in text.splitlines():
        m = re.fullmatch(r"( *)([A-Z][A-Za-z -]*): (.*)", line)
        testcase.assertIsNotNone(m, f"not a 'Label: value' line: {line!r}")
        colons.add(len(m.group(1)) + len(m.group(2)))
        fields[m.group(2)] = m.group(3)
    testcase.assertEqual(len(colons), 1, f"labels not right-aligned:\n{text}")
    return fields


class StatusMixin:
    def properties(self):
        values = {}
        for name in ("Version", "ActiveRequests", "Targets", "AutoRenewal", "NextRenewal"):
            res = self.H.get_property(name)
            self.assertTrue(res.ok, f"{name}: {res.doc}")
            values[name] = res.reply[0]
        return values

    def expected_text(self, props, counts):
        total = sum(counts.values())
        # The kinds as the commands spell them (link-master); JSON's keys
        # as the API does (link_master).
        parts = ", ".join(f"{n} {k.replace('_', '-')}" for k, n in counts.items() if n)
        expected = {"Version": props["Version"], "Active requests": "0",
                    "Devices": f"{total} ({parts})" if total else "0",
                    "Auto-renewal": "on" if props["AutoRenewal"] else "off"}
        for target, label in (("cloud", "Cloud API"), ("gateway", "Gateway API")):
            expected[label] = props["Targets"].get(target) or "not configured"
        return expected

    def check_status(self, counts):
        """status (and no command) against the properties and @counts."""
        props = self.properties()
        text = self.ok("status")
        self.assertEqual(self.ok(), text, "no command is status")
        fields = status_lines(self, text)
        next_renewal = fields.pop("Next renewal")
        if props["NextRenewal"] == 0:
            self.assertEqual(next_renewal, "none")
        else:
            self.assertRegex(next_renewal,
                             rf"^{re.escape(utc(props['NextRenewal']))} \((in \d+ "
                             r"(s|min|h|days)|due now)\)$")
        self.assertEqual(fields, self.expected_text(props, counts))
        self.assertEqual(list(status_lines(self, text))[:3],
                         ["Version", "Active requests", "Devices"])

        doc = self.ok_json("status")
        self.assertEqual(doc, json.loads(self.ok("--json=short")))
        by_kind = {k: 0 for k in KINDS}
        by_kind.update(counts)
        self.assertEqual(doc, {"version": props["Version"], "active_requests": 0,
                               "devices": sum(counts.values()), "devices_by_kind": by_kind,
                               "targets": props["Targets"],
                               "auto_renewal": props["AutoRenewal"],
                               "next_renewal": props["NextRenewal"]})
        self.assertEqual(json.loads(self.ok("--json=pretty", "status")), doc)
        return props


class Status(StatusMixin, CtlTestCase):
    """Both APIs, renewal on."""

    CONFIG = {"Renewal": {"Auto": "yes"}}

    def test_status(self):
        props = self.check_status({})
        self.assertEqual(props["Targets"], {"cloud": self.H.cloud.url,
                                            "gateway": self.H.gateway.url})
        self.assertIs(props["AutoRenewal"], True)
        self.provision("ucm", default_args("ucm", protocol="MQTTS"))
        self.provision("ucm", default_args("ucm", protocol="MQTT"))
        self.provision("link_master", default_args("link_master"))
        self.provision("standalone", default_args("standalone"))
        props = self.check_status({"ucm": 2, "link_master": 1, "standalone": 1})
        self.assertGreater(props["NextRenewal"], 0, "an MQTTS certificate to renew")


class StatusWithoutGateway(StatusMixin, CtlTestCase):
    """No Gateway API, renewal off."""

    GATEWAY = False
    CONFIG = {"Renewal": {"Auto": "no"}}

    def test_status(self):
        props = self.check_status({})
        self.assertEqual(props["Targets"].get("gateway", ""), "")
        fields = status_lines(self, self.ok())
        self.assertEqual(fields["Gateway API"], "not configured")
        self.assertEqual(fields["Auto-renewal"], "off")


class Check(CtlTestCase):
    """check: Diagnose() as lines, --json, and the exit status."""

    def diagnose(self, *argv):
        """(exit status, the checks from --json), each check well-formed and
        the status 1 exactly when one is an error."""
        rc, out, err = self.ctl("--json", "check", *argv)
        self.assertEqual(err, "")
        checks = json.loads(out)
        self.assertIsInstance(checks, list)
        self.assertTrue(checks, "Diagnose returned no checks")
        for c in checks:
            self.assertEqual(set(c), {"check", "level", "message"}, c)
            self.assertIn(c["level"], LEVELS, c)
            self.assertTrue(c["check"] and c["message"], c)
        self.assertEqual(rc, 1 if any(c["level"] == "error" for c in checks) else 0, checks)
        return rc, checks

    def check_text(self, checks, rc):
        """The text output says what --json says: a line per check, a count."""
        res = self.ctl("check")
        self.assertEqual((res[0], res[2]), (rc, ""))
        lines = res[1].splitlines()
        self.assertEqual([same_but_numbers(line) for line in lines[:len(checks)]],
                         [same_but_numbers(f"{c['level']:<7} {c['check']}: {c['message']}")
                          for c in checks])
        n = {level: sum(c["level"] == level for c in checks) for level in LEVELS}
        # After the count, the checks that are not ok again, in order.
        problems = [line for line, c in zip(lines, checks) if c["level"] != "ok"]
        self.assertEqual(lines[len(checks):], [
            "", f"{len(checks)} check{'' if len(checks) == 1 else 's'}: {n['ok']} ok, "
            f"{n['warning']} "
            f"warning{'' if n['warning'] == 1 else 's'}, {n['error']} "
            f"error{'' if n['error'] == 1 else 's'}."] + problems)
        rc2, out, _ = self.ctl("check", "--no-legend")
        self.assertEqual((rc2, [same_but_numbers(line) for line in out.splitlines()]),
                         (rc, [same_but_numbers(line) for line in lines[:len(checks)]]))
        return lines

    def test_lines_and_json(self):
        rc, checks = self.diagnose()
        self.check_text(checks, rc)
        pretty = self.ctl("--json=pretty", "check")
        self.assertEqual((pretty[0], [c["check"] for c in json.loads(pretty[1])]),
                         (rc, [c["check"] for c in checks]))
        # A UTF-8 terminal: marks; the C locale on a terminal: the words.
        argv = [CTL, "--address", self.H.address, "check"]
        status, out, err = run_tty(argv, clean_env(LC_ALL="C.UTF-8"))
        self.assertEqual((status, err), (rc, ""))
        self.assertEqual([same_but_numbers(line) for line in out.splitlines()[:len(checks)]],
                         [same_but_numbers(f"{MARKS[c['level']]} {c['check']}: {c['message']}")
                          for c in checks])
        status, out, err = run_tty(argv, clean_env(LC_ALL="C"))
        self.assertEqual(out.splitlines()[0].split()[0], checks[0]["level"])
        # --timeout still bounds it.
        self.assertEqual(self.ctl("--timeout", "60", "check")[0], rc)

    def test_unreachable_api(self):
        """An API nobody answers at: an error naming it, exit status 1."""
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        url = f"http://127.0.0.1:{port}"
        self.H.restart_daemon({"Gateway": {"URL": url}})
        rc, checks = self.diagnose()
        self.assertEqual(rc, 1, checks)
        errors = [c for c in checks if c["level"] == "error"]
        self.assertTrue(any(str(port) in c["message"] or "gateway" in c["check"].lower()
                            for c in errors), errors)
        lines = self.check_text(checks, rc)
        self.assertTrue(any(line.startswith("error ") for line in lines))
        self.assertTrue(lines[-1].startswith("error "), "the problems last")

    def test_broken_device(self):
        """A device whose certificate is gone from the keystore: an error that
        names the device."""
        device = self.provision("ucm", default_args("ucm", protocol="MQTTS"))
        os.unlink(os.path.join(self.H.device_dir(device["device_id"]), "certificate.pem"))
        rc, checks = self.diagnose()
        self.assertEqual(rc, 1, checks)
        self.assertTrue(any(device["device_id"] in c["check"] + c["message"]
                            for c in checks if c["level"] == "error"), checks)
        self.check_text(checks, rc)
        # Put the keystore right for the other tests: forget the device.
        self.ok("forget", device["device_id"])


def stranger():
    """preexec_fn: run as nobody, without supplementary groups (neither root
    nor in enapter-provisioning or enapter-credentials)."""
    os.setgroups([])
    os.setgid(65534)
    os.setuid(65534)


class Strangers(StatusMixin, CtlTestCase):
    """Callers outside root and the access group: what they may see."""

    def setUp(self):
        super().setUp()
        if os.geteuid() != 0:
            self.skipTest("needs root to run the client as another user")

    def run_monitor(self, preexec_fn=None):
        """monitor --verbose until it is ready, then SIGINT; (status, stderr)."""
        proc = subprocess.Popen([CTL, "--address", self.H.address, "--verbose", "monitor"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=clean_env(), preexec_fn=preexec_fn)
        lines = []
        try:
            for line in proc.stderr:
                lines.append(line)
                if "monitoring" in line:
                    break
            self.assertIsNone(proc.poll(), f"monitor exited: {lines}")
            proc.send_signal(signal.SIGINT)
            out, rest = proc.communicate(timeout=10)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        err = "".join(lines) + rest
        self.H.transcript += [out, err]
        self.assertEqual(out, "")
        return proc.returncode, err

    def test_status(self):
        """A stranger may read the properties but not list the devices: status
        shows what it can, exit 0."""
        self.provision("standalone", default_args("standalone"))
        props = self.properties()
        text = self.ok("status", preexec_fn=stranger)
        fields = status_lines(self, text)
        self.assertEqual(fields["Devices"], "(not permitted)")
        self.assertEqual(fields["Version"], props["Version"])
        self.assertEqual(fields["Cloud API"], props["Targets"]["cloud"])
        self.assertEqual(self.ok(preexec_fn=stranger), text, "no command is status")
        doc = self.ok_json("status", preexec_fn=stranger)
        self.assertIsNone(doc["devices"])
        self.assertIsNone(doc["devices_by_kind"])
        self.assertEqual(doc["version"], props["Version"])
        self.assertEqual(doc["targets"], props["Targets"])
        # What the stranger lacks is the right to list, still refused as such.
        rc, out, err = self.ctl("list", preexec_fn=stranger)
        self.assertEqual((rc, out), (1, ""), err)
        self.assertIn("permission denied", err)

    def test_monitor_warns(self):
        """The bus delivers no signal to a stranger: monitor says so on stderr,
        with what to do, and runs all the same."""
        rc, err = self.run_monitor(stranger)
        self.assertEqual(rc, 0, err)
        self.assertIn("warning: no signal will arrive", err)
        self.assertIn("root and the group enapter-provisioning", err)
        self.assertIn("usermod -aG enapter-provisioning nobody", err)
        # root is told nothing of the kind.
        rc, err = self.run_monitor()
        self.assertEqual(rc, 0, err)
        self.assertNotIn("warning", err)


if __name__ == "__main__":
    main()
