#!/usr/bin/env python3
"""enapter-provisionctl export, against the real daemon on a private
system-type bus with the API stand-ins (the integration harness): the
device's communication config in the three formats, decoded and compared
field by field with what the stand-in handed out (its recorded response),
as root and as a consumer (a real non-root user, setpriv, named by a
[Consumer] section); refusals and devices without a config.

export is the one command that prints secrets, on its standard output only:
its standard output is therefore kept out of the harness's transcript, and
its standard error and the daemon's log are checked for secrets instead.
EP_CTL names the client; see ctl_util.py."""

import base64
import binascii
import json
import os
import re
import subprocess

from ctl_util import clean_env, CTL, CtlTestCase, default_args, ERROR_PREFIX, main
import test_access  # noqa: E402  (tests/integration, on the path through ctl_util)

ENV_NAME = "ENAPTER_STANDALONE_COMMUNICATION_CONFIG"
ACCESS_DENIED = "org.freedesktop.DBus.Error.AccessDenied"
# The members of the config and of its credentials, in the order of the
# Enapter Python SDK's CommunicationConfigV3 (and of the API's config).
CONFIG_KEYS = ["mqtt_host", "mqtt_port", "mqtt_protocol", "mqtt_credentials", "hardware_id",
               "channel_id"]
CREDENTIAL_KEYS = {"MQTT": ["username", "password"],
                   "MQTTS": ["private_key", "certificate", "ca_chain"]}
# The secret of each protocol, which carries a marker of H.secrets().
SECRET_CONFIG_KEYS = {"MQTT": "password", "MQTTS": "private_key"}
KEYSTORE_FILES = {"password": "password", "private_key": "private_key.pem",
                  "certificate": "certificate.pem", "ca_chain": "ca_chain.pem"}
GENERATE_PATH = re.compile(r"/v3/devices/([^/]+)/generate_config")


def sdk_reads(dto):
    """What enapter.standalone.CommunicationConfigV3.from_dto takes of @dto
    (the SDK's code, restated: a KeyError or ValueError where it fails)."""
    protocol = dto["mqtt_protocol"]
    creds = dto["mqtt_credentials"]
    if protocol == "MQTT":
        creds = {"username": creds["username"], "password": creds["password"]}
    elif protocol == "MQTTS":
        creds = {k: creds[k] for k in ("private_key", "certificate", "ca_chain")}
    else:
        raise ValueError(protocol)
    assert "ucm_id" not in dto, "a v1 config (ucm_id) is read another way"
    return {"host": dto["mqtt_host"], "port": int(dto["mqtt_port"]), "protocol": protocol,
            "credentials": creds, "hardware_id": dto["hardware_id"],
            "channel_id": dto["channel_id"]}


class ExportMixin:
    """Runs export and checks its output against the stand-in's records."""

    def run_export(self, device_id, *options, prefix=(), status=0):
        """Runs export (as @prefix says, e.g. setpriv); returns (stdout,
        stderr). Standard error never holds a secret; with @status 0 it is
        empty, otherwise standard output is."""
        argv = [*prefix, CTL, "--address", self.H.address, "export", device_id, *options]
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=clean_env())
        # Only standard error goes to the transcript: standard output is the secret.
        self.H.transcript.append(proc.stderr)
        self.assertNoSecrets(proc.stderr, f"the standard error of export {options}")
        self.assertEqual(proc.returncode, status, f"export {device_id} {options}: {proc.stderr}")
        if status == 0:
            self.assertEqual(proc.stderr, "", f"export {options}")
        else:
            self.assertEqual(proc.stdout, "", f"a failed export {options} printed")
            self.assertTrue(proc.stderr.startswith("enapter-provisionctl: "), proc.stderr)
        return proc.stdout, proc.stderr

    def one_line(self, out):
        self.assertTrue(out.endswith("\n") and out.count("\n") == 1, "not one line")
        return out[:-1]

    def decode_blob(self, blob):
        """The strict base64 of compact JSON: the config, as the SDK reads it."""
        try:
            raw = base64.b64decode(blob, validate=True)
        except binascii.Error as exc:
            self.fail(f"the blob is not base64: {exc}")
        self.assertEqual(base64.b64encode(raw).decode(), blob, "not canonical base64")
        return raw

    def exported(self, device_id, prefix=()):
        """The config by each of the three formats (and --json), which must
        agree to the byte; returns it parsed."""
        blob = self.one_line(self.run_export(device_id, prefix=prefix)[0])
        self.assertEqual(self.one_line(self.run_export(device_id, "--format=blob",
                                                       prefix=prefix)[0]), blob)
        raw = self.decode_blob(blob)
        env = self.one_line(self.run_export(device_id, "--format", "env", prefix=prefix)[0])
        # As docker run --env-file and systemd's EnvironmentFile= read it.
        name, _, value = env.partition("=")
        self.assertEqual((name, value), (ENV_NAME, blob))
        self.assertNotRegex(value, r"[\s\"'\\$`]", "the value needs no quoting")
        text = self.one_line(self.run_export(device_id, "--format=json", prefix=prefix)[0])
        self.assertEqual(text.encode(), raw, "--format=json is the blob's JSON")
        self.assertEqual(self.one_line(self.run_export(device_id, "--json", prefix=prefix)[0]),
                         text, "--json is --format=json")
        doc = json.loads(raw)
        self.assertEqual(list(doc), CONFIG_KEYS, "the config's members and their order")
        self.assertEqual(list(doc["mqtt_credentials"]), CREDENTIAL_KEYS[doc["mqtt_protocol"]])
        sdk_reads(doc)
        return doc

    def handed_out_config(self, device_id):
        """The config of the newest 200 answer of a stand-in for @device_id
        (provisioning or generate_config), as the stand-in recorded it."""
        newest = None
        for standin in self.H.standins():
            for req in standin.requests():
                doc = json.loads(req["response"] or "null")
                if req["status"] != 200 or not isinstance(doc, dict) or "config" not in doc:
                    continue
                m = GENERATE_PATH.fullmatch(req["path"].split("?")[0])
                named = m.group(1) if m else doc.get("device_id")
                if named == device_id and (newest is None or req["time"] >= newest["time"]):
                    newest = {"time": req["time"], "config": doc["config"]}
        self.assertIsNotNone(newest, f"no stand-in handed out a config for {device_id}")
        return newest["config"]

    def check_config(self, doc, device_id, protocol, hardware_id):
        """@doc field by field against the stand-in's answer and the keystore."""
        given = self.handed_out_config(device_id)
        creds = given["mqtt_credentials"]
        self.assertEqual(doc["mqtt_protocol"], protocol)
        self.assertEqual(doc["mqtt_host"], given["mqtt_host"])
        self.assertIs(type(doc["mqtt_port"]), int, "mqtt_port is a JSON number")
        self.assertEqual(doc["mqtt_port"], given["mqtt_port"])
        self.assertEqual(doc["channel_id"], given["channel_id"])
        self.assertEqual(doc["hardware_id"], given["hardware_id"])
        self.assertEqual(doc["hardware_id"], hardware_id)
        for key in CREDENTIAL_KEYS[protocol]:
            self.assertEqual(doc["mqtt_credentials"][key], creds[key], key)
            if key in KEYSTORE_FILES:
                with open(os.path.join(self.H.device_dir(device_id), KEYSTORE_FILES[key])) as f:
                    self.assertEqual(doc["mqtt_credentials"][key], f.read(), key)
        # The secrets really are the stand-in's: canary password, PEM key.
        secret = doc["mqtt_credentials"][SECRET_CONFIG_KEYS[protocol]]
        self.assertTrue(any(m in secret for m in self.H.secrets()), "not a handed-out secret")

    def check_no_leak(self):
        self.assertNoSecrets(self.H.all_daemon_stderr(), "the daemon's log")


class Export(ExportMixin, CtlTestCase):
    """As root: every device."""

    def provision_ucm(self, protocol):
        args = default_args("ucm", protocol=protocol)
        return self.provision("ucm", args)["device_id"], args["hardware_id"]

    def test_mqtts_device(self):
        device_id, hardware_id = self.provision_ucm("MQTTS")
        doc = self.exported(device_id)
        self.check_config(doc, device_id, "MQTTS", hardware_id)
        for key in ("private_key", "certificate", "ca_chain"):
            self.assertTrue(doc["mqtt_credentials"][key].startswith("-----BEGIN "), key)
        self.check_no_leak()

    def test_mqtt_device(self):
        device_id, hardware_id = self.provision_ucm("MQTT")
        doc = self.exported(device_id)
        self.check_config(doc, device_id, "MQTT", hardware_id)
        self.assertEqual(doc["mqtt_credentials"]["username"], self.show(device_id)["username"])
        self.check_no_leak()

    def test_after_generate(self):
        """export follows GenerateCredentials: the new set, the new protocol."""
        device_id, hardware_id = self.provision_ucm("MQTT")
        before = self.exported(device_id)
        self.ok("generate", device_id, "--protocol", "mqtts")
        after = self.exported(device_id)
        self.check_config(after, device_id, "MQTTS", hardware_id)
        self.ok("generate", device_id, "--protocol", "mqtt")
        again = self.exported(device_id)
        self.check_config(again, device_id, "MQTT", hardware_id)
        self.assertNotEqual(again["mqtt_credentials"]["password"],
                            before["mqtt_credentials"]["password"])

    def test_standalone_without_credentials(self):
        """A standalone device before generate has no config: exit 1, and
        the message says what to run."""
        device_id = self.provision("standalone", default_args("standalone"))["device_id"]
        for options in ((), ("--format=env",), ("--format=json",)):
            with self.subTest(options=options):
                _, err = self.run_export(device_id, *options, status=1)
                self.assertIn(f"enapter-provisionctl generate {device_id} --protocol mqtts", err)
                self.assertEqual(len(err.splitlines()), 1, err)

    def test_standalone_after_generate(self):
        """The worked example of the README: a standalone device, given
        credentials, exported for its container; the hardware id is the one
        its config names (it was provisioned without one)."""
        device_id = self.provision("standalone", default_args("standalone"))["device_id"]
        for protocol in ("MQTTS", "MQTT"):
            with self.subTest(protocol=protocol):
                self.ok("generate", device_id, "--protocol", protocol.lower())
                doc = self.exported(device_id)
                given = self.handed_out_config(device_id)
                self.check_config(doc, device_id, protocol, given["hardware_id"])
                self.assertEqual(self.show(device_id)["hardware_id"], given["hardware_id"])

    def test_unknown_device(self):
        _, err = self.run_export("no-such-device", status=1)
        self.assertIn("no-such-device", err)
        self.assertNotIn(ERROR_PREFIX, err, "the error name without --verbose")
        _, err = self.run_export("no-such-device", "--verbose", status=1)
        self.assertIn(ERROR_PREFIX + "NotFound: ", err)

    def test_usage_errors(self):
        """Exit 2 before anything is sent (no daemon at this address)."""
        cases = [
            ([], "missing DEVICE_ID"),
            (["dev", "other"], "unexpected argument 'other'"),
            (["dev", "--format=xml"], "--format must be blob, env or json, not 'xml'"),
            (["dev", "--format="], "--format must be blob, env or json"),
            (["dev", "--format"], "--format"),
            (["dev", "--json", "--format=env"], "--json and --format=env exclude each other"),
            (["--json", "dev", "--format=blob"], "--json and --format=blob exclude each other"),
        ]
        for argv, message in cases:
            with self.subTest(argv=argv):
                proc = subprocess.run([CTL, "--address", "unix:path=/nonexistent", "export",
                                       *argv], capture_output=True, text=True, timeout=30,
                                      env=clean_env())
                self.assertEqual(proc.returncode, 2, proc.stderr)
                if "--json" in argv:
                    # With --json the error is also a JSON object on stdout.
                    self.assertEqual(json.loads(proc.stdout),
                                     {"error": "org.freedesktop.DBus.Error.InvalidArgs",
                                      "message": proc.stderr.splitlines()[0].split(": ", 1)[1]})
                else:
                    self.assertEqual(proc.stdout, "")
                self.assertIn(message, proc.stderr)
                self.assertIn("--help", proc.stderr)


class ConsumerExport(ExportMixin, CtlTestCase, test_access.AccountsTestCase):
    """As a consumer: a non-root user named by a [Consumer] section with
    Devices=<device ids>; root provisions."""

    @classmethod
    def make_accounts(cls, accounts):
        cls.agent = accounts.user("nogroup")
        cls.other = accounts.user("nogroup")

    def setUp(self):
        super().setUp()
        self.mqtts = self.provision("ucm", default_args("ucm", protocol="MQTTS"))
        self.mqtt = self.provision("ucm", default_args("ucm", protocol="MQTT"))
        self.foreign = self.provision("ucm", default_args("ucm", protocol="MQTTS"))
        # The consumer's section names the first two devices by id.
        self.H.restart_daemon({"Consumer agent": {
            "User": self.agent.pw_name,
            "Devices": f"{self.mqtts['device_id']} {self.mqtt['device_id']}"}})

    def as_agent(self):
        return test_access.as_user(self.agent)

    def test_exports_its_devices(self):
        for device, protocol in ((self.mqtts, "MQTTS"), (self.mqtt, "MQTT")):
            with self.subTest(protocol=protocol):
                doc = self.exported(device["device_id"], prefix=self.as_agent())
                self.check_config(doc, device["device_id"], protocol, device["hardware_id"])
                # The same config root gets.
                self.assertEqual(doc, self.exported(device["device_id"]))
        # Completion's list --ids shows the consumer its devices only.
        proc = subprocess.run([*self.as_agent(), CTL, "--address", self.H.address, "list",
                               "--ids"], capture_output=True, text=True, timeout=30,
                              env=clean_env())
        self.assertEqual((proc.returncode, proc.stderr), (0, ""))
        self.assertEqual(sorted(proc.stdout.split()),
                         sorted([self.mqtts["device_id"], self.mqtt["device_id"]]))
        self.check_no_leak()

    def test_refused_another_device(self):
        foreign = self.foreign["device_id"]
        _, err = self.run_export(foreign, prefix=self.as_agent(), status=1)
        self.assertIn("permission denied", err)
        self.assertIn(foreign, err)
        _, err = self.run_export(foreign, "--verbose", "--format=env", prefix=self.as_agent(),
                                 status=1)
        self.assertIn(ACCESS_DENIED + ": ", err)
        # Another user, named by no section, gets none of them.
        for device in (self.mqtts, self.mqtt):
            _, err = self.run_export(device["device_id"], prefix=test_access.as_user(self.other),
                                     status=1)
            self.assertIn("permission denied", err)
        self.check_no_leak()


if __name__ == "__main__":
    main()
