#!/usr/bin/env python3
"""enapter-provisionctl and a device's credentials, against the real daemon
on a private system-type bus with the API stand-ins (the integration
harness): generate (GenerateCredentials), list's EXPIRES column, show's
certificate dates and fingerprint, and monitor's lines for
CredentialsChanged and CredentialsExpiring.

The certificates are read independently of the daemon with the openssl
command. EP_CTL names the client; see ctl_util.py."""

import json
import os
import re

from ctl_util import (certificate_facts, CtlTestCase, default_args, ERROR_PREFIX, LIST_TITLES,
                      main, parse_fields, RFC3339_UTC, table, texts_of, utc)

DATE = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"
MQTTS_FILES = {"private_key.pem", "certificate.pem", "ca_chain.pem"}


class Credentials(CtlTestCase):
    """generate, and what list, show and monitor print of credentials."""

    def files(self, device_id):
        return set(os.listdir(self.H.device_dir(device_id))) - {"device.json"}

    def check_certificate(self, device_id, details):
        """The details' certificate fields against certificate.pem, and show's
        text of them; returns (not before, not after, fingerprint)."""
        facts = certificate_facts(os.path.join(self.H.device_dir(device_id), "certificate.pem"))
        not_before, not_after, sha256 = facts
        self.assertLess(not_before, not_after)
        self.assertEqual((details["certificate_not_before"], details["certificate_not_after"],
                          details["certificate_sha256"]), facts, "the details of certificate.pem")
        for key in ("certificate_not_before", "certificate_not_after"):
            self.assertIs(type(details[key]), int, f"--json {key} is a number")
        fields = parse_fields(self, self.ok("show", device_id))
        self.assertEqual(fields["certificate_not_before"], utc(not_before))
        self.assertEqual(fields["certificate_not_after"], utc(not_after))
        self.assertEqual(fields["certificate_sha256"], sha256)
        self.assertRegex(fields["certificate_sha256"], r"^[0-9a-f]{64}$")
        self.assertRegex(fields["credentials_updated_at"], RFC3339_UTC)
        return facts

    def test_generate_for_a_standalone_device(self):
        """A standalone device has no credentials until generate gives it
        some: MQTT, then MQTTS (any case); the same device each time."""
        device = self.provision("standalone", default_args("standalone"))
        device_id = device["device_id"]
        self.assertEqual(self.files(device_id), set(), "a standalone device starts without")
        target = self.H.target_of("standalone")
        path = f"/v3/devices/{device_id}/generate_config"

        out = self.ok("generate", device_id, "--protocol", "mqtt")
        self.assertTrue(out.startswith("device_id:"), out)
        fields = parse_fields(self, out)
        self.assertEqual(fields["device_id"], device_id)
        self.assertEqual(fields["kind"], "standalone")
        self.assertEqual(fields["protocol"], "MQTT")
        self.assertEqual(self.files(device_id), {"password"})
        reqs = target.requests(path)
        self.assertEqual([r["json"] for r in reqs], [{"protocol": "MQTT"}])
        self.assertEqual(reqs[0]["method"], "POST")
        # The details as show has them (show says reprovisioned: no).
        shown = self.show(device_id)
        fields.pop("reprovisioned", None)
        self.assertEqual(fields, texts_of({k: v for k, v in shown.items() if k != "reprovisioned"}))
        self.assertNotIn("certificate_not_after", shown)
        self.assertRegex(shown["credentials_updated_at"], RFC3339_UTC)
        self.assertGreaterEqual(shown["credentials_updated_at"], shown["provisioned_at"])

        # --json, the option before the device, the protocol in upper case.
        doc = self.ok_json("generate", "--protocol", "MQTTS", device_id)
        self.assertEqual(doc["device_id"], device_id)
        self.assertEqual(doc["protocol"], "MQTTS")
        self.assertEqual(self.files(device_id), MQTTS_FILES)
        self.assertEqual([r["json"] for r in target.requests(path)],
                         [{"protocol": "MQTT"}, {"protocol": "MQTTS"}])
        self.check_certificate(device_id, doc)
        self.assertEqual({k: v for k, v in self.show(device_id).items() if k != "reprovisioned"},
                         {k: v for k, v in doc.items() if k != "reprovisioned"})

    def test_generate_unknown_device(self):
        """A device the keystore does not hold: exit 1, the daemon's NotFound,
        and no request to any API."""
        err = self.failure("generate", "no-such-device", "--protocol", "mqtt")
        self.assertIn("no-such-device", err)
        self.assertNotIn(ERROR_PREFIX, err, "the error name without --verbose")
        self.assertEqual(len(err.splitlines()), 1, err)
        err = self.failure("--verbose", "generate", "no-such-device", "--protocol", "mqtts")
        self.assertIn(ERROR_PREFIX + "NotFound: ", err)
        self.assertNoRequests("for a device the keystore does not hold")

    def test_generate_bad_protocol(self):
        """A protocol other than mqtt or mqtts: a usage error, exit 2, nothing
        sent (test_ctl_usage has the other usage errors)."""
        device = self.provision("standalone", default_args("standalone"))
        self.H.reset_standins()
        for protocol in ("http", "mqtt5", "MQTT S"):
            with self.subTest(protocol=protocol):
                err = self.failure("generate", device["device_id"], "--protocol", protocol,
                                   status=2)
                self.assertIn(f"--protocol must be mqtt or mqtts, not '{protocol}'", err)
        self.assertNoRequests("after usage errors")
        self.assertEqual(self.files(device["device_id"]), set())

    def test_list_expires_and_show(self):
        """EXPIRES: the certificate's notAfter of an MQTTS ucm as a UTC time,
        "-" for an MQTT one; show has both dates and the fingerprint."""
        mqtts = self.provision("ucm", default_args("ucm", protocol="MQTTS"))
        mqtt = self.provision("ucm", default_args("ucm", protocol="MQTT"))
        not_before, not_after, _ = self.check_certificate(mqtts["device_id"], mqtts)

        text = self.ok("list")
        self.assertTrue(text.splitlines()[0].rstrip().endswith("EXPIRES"), text)
        expires = {cells[0]: cells[-1] for cells in table(self, text, LIST_TITLES)}
        # (The keystore also holds the other tests' devices.)
        self.assertEqual(expires[mqtts["device_id"]], utc(not_after))
        self.assertEqual(expires[mqtt["device_id"]], "-")
        self.assertRegex(expires[mqtts["device_id"]], f"^{DATE}$")

        # --json: the raw numbers, and nothing for the MQTT device.
        listed = {d["device_id"]: d for d in self.ok_json("list")}
        self.assertEqual(listed[mqtts["device_id"]]["certificate_not_after"], not_after)
        self.assertEqual(listed[mqtts["device_id"]]["certificate_not_before"], not_before)
        for key in ("certificate_not_before", "certificate_not_after", "certificate_sha256"):
            self.assertNotIn(key, listed[mqtt["device_id"]])
        fields = parse_fields(self, self.ok("show", mqtt["device_id"]))
        self.assertNotIn("certificate_not_after", fields)
        self.assertRegex(fields["credentials_updated_at"], RFC3339_UTC)

    def test_monitor_credentials_changed(self):
        """generate: one CredentialsChanged (reason generated) and no
        DeviceProvisioned, in both forms."""
        device = self.provision("ucm", default_args("ucm", protocol="MQTT"))
        device_id = device["device_id"]
        text, lines = self.monitor(), self.monitor("--json")
        doc = self.ok_json("generate", device_id, "--protocol", "mqtts")
        self.ok("generate", device_id, "--protocol", "mqtt")
        not_after = doc["certificate_not_after"]
        self.assertEqual(text.wait_lines(2), [
            f"credentials generated {device_id} (MQTTS, not after {utc(not_after)})",
            f"credentials generated {device_id} (MQTT)"])
        first = json.loads(lines.wait_lines(2)[0])
        self.assertEqual(first, {"signal": "CredentialsChanged", "device_id": device_id,
                                 "reason": "generated", "details": doc})
        self.assertEqual(json.loads(lines.out[1])["details"]["protocol"], "MQTT")
        for m in (text, lines):
            self.assertEqual(m.stop(), 0)
            self.assertEqual(len(m.out), 2, m.out)
        self.assertNoSecrets("\n".join(text.out + lines.out), "monitor's output")


class Expiring(CtlTestCase):
    """monitor's lines for CredentialsExpiring: a certificate of a few
    seconds passes [Renewal] At (50 %), then expires; Auto=no, so nothing
    renews it."""

    CONFIG = {"Renewal": {"Auto": "no", "At": "50"}}
    LIFETIME = 4

    def test_monitor_credentials_expiring(self):
        for standin in self.H.standins():
            settings = standin.settings(cert_lifetime=self.LIFETIME)
            self.assertEqual(settings["cert_lifetime"], self.LIFETIME)
        text, lines = self.monitor(), self.monitor("--json")
        device = self.provision("ucm", default_args("ucm", protocol="MQTTS"))
        device_id, not_after = device["device_id"], device["certificate_not_after"]
        self.assertEqual(not_after - device["certificate_not_before"], self.LIFETIME)

        got = text.wait_lines(4, timeout=self.LIFETIME + 10)
        self.assertEqual(got[0], f"provisioned ucm {device_id} (name \"{device['name']}\")")
        self.assertEqual(got[1], f"credentials provisioned {device_id} (MQTTS, not after "
                                 f"{utc(not_after)})")
        self.assertEqual(got[2:], [f"credentials expiring {device_id} (not after "
                                   f"{utc(not_after)})",
                                   f"credentials expired {device_id} (not after "
                                   f"{utc(not_after)})"])
        events = [json.loads(line) for line in lines.wait_lines(4, timeout=5)]
        self.assertEqual([e["signal"] for e in events], ["DeviceProvisioned", "CredentialsChanged",
                                                         "CredentialsExpiring",
                                                         "CredentialsExpiring"])
        for e in events[2:]:
            self.assertEqual(e, {"signal": "CredentialsExpiring", "device_id": device_id,
                                 "not_after": not_after})
        for m in (text, lines):
            self.assertEqual(m.stop(), 0)
            self.assertEqual(len(m.out), 4, m.out)
        # Nothing renewed it (Auto=no).
        self.assertEqual(self.show(device_id)["certificate_not_after"], not_after)


if __name__ == "__main__":
    main()
