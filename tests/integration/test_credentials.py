#!/usr/bin/env python3
"""GenerateCredentials (README "Credentials after provisioning"): new
credentials for a stored device through the API it was provisioned through,
for every kind the API accepts it for; both places of the answer's
protocol; every refusal before a request and after the answer; and the check
of every MQTTS set, from any source, before it is stored."""

import hashlib
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import ERROR_PREFIX, KINDS, HarnessTestCase, default_args, main  # noqa: E402
from harness.pki import cert_info, make_ca, mint_set  # noqa: E402

GENERATE = "GenerateCredentials"
MQTTS_FILES = ["ca_chain.pem", "certificate.pem", "device.json", "private_key.pem"]
MQTT_FILES = ["device.json", "password"]


def generate_path(device_id):
    return f"/v3/devices/{device_id}/generate_config"


def config_body(creds, protocol_at="credentials", port=8883):
    """A generate_config answer around @creds (a dict of credential members,
    without the protocol), the protocol placed at @protocol_at."""
    protocol = "MQTTS" if "private_key" in creds else "MQTT"
    c = dict(creds)
    if protocol_at in ("credentials", "both"):
        c = {"protocol": protocol, **c}
    config = {"mqtt_host": "mqtt.example.invalid", "mqtt_port": port, "mqtt_credentials": c,
              "channel_id": "ucm"}
    if protocol_at in ("config", "both"):
        config["mqtt_protocol"] = protocol
    return json.dumps({"config": config})


class GenerateChecks:

    def provision(self, kind, **values):
        args = default_args(kind, **values)
        device_id, details = self.assertOk(self.H.provision(kind, args), f"Provision {kind}")
        return device_id, args

    def generate(self, device_id, protocol):
        return self.H.call(GENERATE, "ss", device_id, protocol)

    def files(self, device_id):
        return sorted(os.listdir(self.H.device_dir(device_id)))

    def read(self, device_id, name):
        with open(os.path.join(self.H.device_dir(device_id), name)) as f:
            return f.read()

    def device_json(self, device_id):
        return json.loads(self.read(device_id, "device.json"))

    def snapshot(self, device_id):
        """Every file of the device's set, byte for byte."""
        d = self.H.device_dir(device_id)
        return {n: open(os.path.join(d, n), "rb").read() for n in sorted(os.listdir(d))}

    def answered(self, standin, device_id):
        """The body the stand-in sent for the last generate_config of the device."""
        reqs = standin.requests(generate_path(device_id))
        self.assertTrue(reqs, f"no generate_config request for {device_id}")
        return json.loads(reqs[-1]["response"])

    def check_generated(self, device_id, protocol, standin, before, listener):
        """One successful GenerateCredentials: the request, the files (those
        the stand-in handed out), device.json and the details."""
        req = standin.requests(generate_path(device_id))[-1]
        self.assertEqual(req["method"], "POST")
        self.assertEqual(req["json"], {"protocol": protocol})
        self.assertEqual(req["headers"].get("x-enapter-auth-token"), standin.token)
        self.assertEqual(req["headers"].get("content-type"), "application/json")
        creds = self.answered(standin, device_id)["config"]["mqtt_credentials"]
        after = self.device_json(device_id)
        if protocol == "MQTTS":
            self.assertEqual(self.files(device_id), MQTTS_FILES)
            for name, member in (("private_key.pem", "private_key"),
                                 ("certificate.pem", "certificate"), ("ca_chain.pem", "ca_chain")):
                self.assertEqual(self.read(device_id, name), creds[member], name)
            nb, na, sha = cert_info(creds["certificate"])
            self.assertEqual(after["config"]["certificate_not_before"], nb)
            self.assertEqual(after["config"]["certificate_not_after"], na)
            self.assertEqual(after["config"]["certificate_sha256"], sha)
        else:
            self.assertEqual(self.files(device_id), MQTT_FILES)
            self.assertEqual(self.read(device_id, "password"), creds["password"])
            self.assertEqual(after["config"]["username"], creds["username"])
            self.assertNotIn("certificate_sha256", after["config"])
        self.assertEqual(after["config"]["protocol"], protocol)
        # The identity stays; only config and credentials_updated_at change.
        for key, value in before.items():
            if key not in ("config", "credentials_updated_at"):
                self.assertEqual(after.get(key), value, f"device.json {key} changed")
        self.assertGreaterEqual(after["credentials_updated_at"], before.get(
            "credentials_updated_at", before["provisioned_at"]))
        self.assertKeystoreClean()
        sig = listener.wait_for(lambda s: s["member"] == "CredentialsChanged"
                                and s["args"][0] == device_id and s["args"][1] == "generated",
                                what=f"CredentialsChanged(generated) for {device_id}")
        return sig["args"][2]


class Generate(GenerateChecks, HarnessTestCase):

    def test_standalone_gets_credentials(self):
        H = self.H
        listener = H.listen()
        device_id, args = self.provision("standalone")
        self.assertEqual(self.files(device_id), ["device.json"])
        before = self.device_json(device_id)
        standin = H.target_of("standalone")
        res = self.generate(device_id, "MQTTS")
        got_id, details = self.assertOk(res, "GenerateCredentials")
        self.assertEqual(got_id, device_id)
        signal_details = self.check_generated(device_id, "MQTTS", standin, before, listener)
        creds = self.answered(standin, device_id)["config"]["mqtt_credentials"]
        nb, na, sha = cert_info(creds["certificate"])
        self.assertEqual(details["certificate_not_before"], nb)
        self.assertEqual(details["certificate_not_after"], na)
        self.assertEqual(details["certificate_sha256"], sha)
        self.assertEqual(details["protocol"], "MQTTS")
        self.assertEqual(details["kind"], "standalone")
        self.assertEqual(details["slug"], before["slug"])
        self.assertEqual(details, signal_details)
        # New credentials do not reprovision the device: GetDevice says the same.
        self.assertFalse(details["reprovisioned"])
        self.assertEqual(H.call("GetDevice", "s", device_id).reply[0], details)
        # A new set is no new device: DeviceProvisioned only for the
        # provisioning (it would come before CredentialsChanged).
        self.assertEqual(len([s for s in listener.signals("DeviceProvisioned")
                              if s["args"][1] == device_id]), 1)
        # And back to MQTT: the key and certificate go, a password comes.
        before = self.device_json(device_id)
        self.assertOk(self.generate(device_id, "MQTT"))
        self.check_generated(device_id, "MQTT", standin, before, listener)

    def test_lua_device_gets_fresh_credentials(self):
        H = self.H
        listener = H.listen()
        device_id, args = self.provision("lua_device")
        before = self.device_json(device_id)
        self.assertOk(self.generate(device_id, "MQTT"))
        self.check_generated(device_id, "MQTT", H.target_of("lua_device"), before, listener)
        first = self.read(device_id, "password")
        before = self.device_json(device_id)
        self.assertOk(self.generate(device_id, "MQTT"))
        self.check_generated(device_id, "MQTT", H.target_of("lua_device"), before, listener)
        self.assertNotEqual(self.read(device_id, "password"), first, "the password was not new")

    def test_ucm_certificate_replaced(self):
        H = self.H
        listener = H.listen()
        device_id, args = self.provision("ucm", protocol="MQTTS")
        old_cert = self.read(device_id, "certificate.pem")
        before = self.device_json(device_id)
        _, details = self.assertOk(self.generate(device_id, "MQTTS"))
        self.check_generated(device_id, "MQTTS", H.target_of("ucm"), before, listener)
        self.assertNotEqual(self.read(device_id, "certificate.pem"), old_cert)
        self.assertEqual(details["hardware_id"], args["hardware_id"])
        self.assertEqual(details["certificate_sha256"],
                         hashlib.sha256(cert_der(self.read(device_id, "certificate.pem")))
                         .hexdigest())

    def test_vucm_goes_to_the_gateway(self):
        H = self.H
        listener = H.listen()
        device_id, _ = self.provision("vucm")
        before = self.device_json(device_id)
        self.assertEqual(before["target"], "gateway")
        self.assertOk(self.generate(device_id, "MQTTS"))
        self.check_generated(device_id, "MQTTS", H.gateway, before, listener)
        self.assertEqual(H.cloud.requests(generate_path(device_id)), [])

    def test_protocol_in_either_place(self):
        H = self.H
        listener = H.listen()
        for at in ("config", "both", "credentials"):
            with self.subTest(protocol_at=at):
                H.gateway.settings(protocol_at=at)
                device_id, _ = self.provision("vucm")
                before = self.device_json(device_id)
                self.assertOk(self.generate(device_id, "MQTTS"))
                self.check_generated(device_id, "MQTTS", H.gateway, before, listener)
                body = self.answered(H.gateway, device_id)["config"]
                self.assertEqual("mqtt_protocol" in body, at in ("config", "both"))
                self.assertEqual("protocol" in body["mqtt_credentials"],
                                 at in ("credentials", "both"))


class Refusals(GenerateChecks, HarnessTestCase):
    CONFIG = {"Provisioning": {"Retries": 0, "Timeout": 2, "Deadline": 4}}

    def test_before_any_request(self):
        H = self.H
        device_id, _ = self.provision("vucm")
        H.reset_standins()
        for bad_id in ("../x", ".hidden", "a/b", "", "x" * 129):
            self.assertError(self.generate(bad_id, "MQTTS"), "InvalidArgument",
                             f"device id {bad_id!r}")
        for bad_protocol in ("HTTP", "mqtts", ""):
            msg = self.assertError(self.generate(device_id, bad_protocol), "InvalidArgument")
            self.assertIn("protocol", msg)
        msg = self.assertError(self.generate("never-provisioned", "MQTTS"), "NotFound")
        self.assertIn("never-provisioned", msg)
        self.assertNoRequests("for refused GenerateCredentials calls")

    def test_unknown_to_the_api(self):
        H = self.H
        device_id, _ = self.provision("vucm")
        before = self.snapshot(device_id)
        H.reset_standins()          # the stand-in forgets the devices it made
        self.assertError(self.generate(device_id, "MQTTS"), "NotFound")
        self.assertEqual(self.snapshot(device_id), before)

    def refused(self, device_id, body, why):
        """A 2xx answer @body is ProtocolError naming @why; nothing changes."""
        H = self.H
        before = self.snapshot(device_id)
        H.gateway.faults({"path": generate_path(device_id), "status": 200, "body": body})
        msg = self.assertError(self.generate(device_id, "MQTTS"), "ProtocolError", why)
        self.assertRegex(msg, why)
        self.assertEqual(self.snapshot(device_id), before, f"{why}: the set changed")
        self.assertKeystoreClean()
        self.assertNoSecrets(msg, "the error message")
        return msg

    def test_answers_refused(self):
        device_id, _ = self.provision("vucm")
        good = mint_set()
        self.refused(device_id, "not json", "JSON")
        self.refused(device_id, json.dumps({"device_id": device_id}), "config")
        both = json.loads(config_body({k: good[k] for k in good}, "both"))
        both["config"]["mqtt_protocol"] = "MQTT"
        self.refused(device_id, json.dumps(both), "disagree")
        self.refused(device_id, config_body({"username": "u", "password": "p"}),
                     "MQTT credentials were returned for a MQTTS request|MQTT")
        self.refused(device_id, config_body(dict(good, password="p")), "carry password")

    def test_config_of_other_hardware(self):
        H = self.H
        device_id, args = self.provision("ucm", protocol="MQTTS")
        body = json.loads(config_body(mint_set()))
        body["config"]["hardware_id"] = "OTHER" + args["hardware_id"][5:]
        before = self.snapshot(device_id)
        H.target_of("ucm").faults({"path": generate_path(device_id), "status": 200,
                                   "body": json.dumps(body)})
        msg = self.assertError(self.generate(device_id, "MQTTS"), "ProtocolError")
        self.assertIn("hardware", msg)
        self.assertEqual(self.snapshot(device_id), before)

    def test_sets_that_fail_the_check(self):
        device_id, _ = self.provision("vucm")
        ca = make_ca()
        self.refused(device_id, config_body(mint_set(ca=ca, key_mismatch=True)),
                     "does not match")
        # The CA chain of another CA: the certificate does not chain to it.
        foreign = mint_set()
        self.refused(device_id, config_body(dict(mint_set(ca=ca), ca_chain=foreign["ca_chain"])),
                     "ca_chain")
        # Another CA of the same name: only the key tells them apart.
        twin = mint_set(ca=make_ca("enapter-provisiond harness foreign CA"))
        self.refused(device_id, config_body(dict(mint_set(ca=ca), ca_chain=twin["ca_chain"])),
                     "ca_chain")
        garbage = dict(mint_set(ca=ca), certificate="-----BEGIN CERTIFICATE-----\nAAAA\n"
                                                    "-----END CERTIFICATE-----\n")
        self.refused(device_id, config_body(garbage), "certificate")

    def test_expired_and_future_sets_are_sets(self):
        H = self.H
        listener = H.listen()
        device_id, _ = self.provision("vucm")
        ca = make_ca()
        for offset in (-10 * 86400, 10 * 86400):
            s = mint_set(ca=ca, lifetime=3600, not_before_offset=offset)
            before = self.device_json(device_id)
            H.gateway.faults({"path": generate_path(device_id), "status": 200,
                              "body": config_body(s)})
            _, details = self.assertOk(self.generate(device_id, "MQTTS"))
            nb, na, sha = cert_info(s["certificate"])
            self.assertEqual((details["certificate_not_before"],
                              details["certificate_not_after"]), (nb, na))
            self.assertEqual(self.read(device_id, "private_key.pem"), s["private_key"])
            self.assertGreaterEqual(self.device_json(device_id)["credentials_updated_at"],
                                    before["credentials_updated_at"])

    def test_provisioning_checks_sets_too(self):
        """A Provision answer with a key that is not the certificate's stores
        nothing."""
        H = self.H
        args = default_args("ucm", protocol="MQTTS")
        bad = mint_set(key_mismatch=True)
        config = json.loads(config_body(bad))["config"]
        config["hardware_id"] = args["hardware_id"]
        H.target_of("ucm").faults({"path": KINDS["ucm"].endpoint, "status": 200,
                                   "body": json.dumps({"config": config,
                                                       "device_id": "ucm-forged-1",
                                                       "slug": "x"})})
        msg = self.assertError(H.provision("ucm", args), "ProtocolError")
        self.assertIn("does not match", msg)
        self.assertFalse(os.path.lexists(H.device_dir("ucm-forged-1")), "the set was stored")
        self.assertEqual(H.call("GetDevice", "s", "ucm-forged-1").error_name,
                         ERROR_PREFIX + "NotFound")

    def test_busy(self):
        H = self.H
        device_id, args = self.provision("ucm", protocol="MQTTS")
        standin = H.target_of("ucm")
        standin.faults({"path": generate_path(device_id), "delay": 1.5})
        slow = H.call_async(GENERATE, "ss", device_id, "MQTTS")
        H.wait_request(standin, generate_path(device_id))
        self.assertError(self.generate(device_id, "MQTT"), "Busy")
        # A Provision call for the same hardware waits its turn too.
        self.assertError(H.provision("ucm", args), "Busy")
        self.assertError(H.call("ForgetDevice", "s", device_id), "Busy")
        self.assertOk(slow.result())


def cert_der(pem_text):
    import base64
    body = "".join(line for line in pem_text.splitlines() if line and "-----" not in line)
    return base64.b64decode(body)


if __name__ == "__main__":
    main()
