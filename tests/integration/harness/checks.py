"""End-to-end verification of one successful Provision call: the request the
stand-in saw, the reply's details, the keystore and the signal."""

import datetime
import grp
import json
import os
import re
import stat
import time

from .constants import CANARY, IFACE, OBJECT_PATH, VERSION
from .kinds import KINDS, request_body
from .pki import cert_info


def slugify(name):
    """The stand-in's slug for a name (its documented contract)."""
    out, dash = [], False
    for ch in name.lower():
        if "a" <= ch <= "z" or "0" <= ch <= "9":
            out.append(ch)
            dash = False
        elif not dash:
            out.append("-")
            dash = True
    return "".join(out).strip("-")[:64].strip("-") or "device"


GENERATE_PATH = re.compile(r"/v3/devices/([^/?]+)/generate_config")
RFC3339_UTC = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]00:00)")
DETAIL_TYPES = {"kind": "s", "device_id": "s", "slug": "s", "site_id": "s", "hardware_id": "s",
                "name": "s", "provisioned_at": "s", "reprovisioned": "b", "keystore_path": "s",
                "protocol": "s", "mqtt_host": "s", "mqtt_port": "u", "channel_id": "s",
                "credentials_updated_at": "s", "username": "s", "certificate_not_before": "x",
                "certificate_not_after": "x", "certificate_sha256": "s",
                # Every text argument of a kind is shown under its own name.
                "device_type": "s", "master_device_id": "s", "runtime_id": "s",
                "blueprint_id": "s", "gateway_version": "s", "site_name": "s",
                "site_timezone": "s"}


class ProvisioningChecks:
    """End-to-end checks of one successful Provision call (mixed into
    HarnessTestCase)."""

    def user_agent(self):
        return "enapter-provisiond/" + (VERSION or self.H.version)

    def check_request(self, req, kind, args, standin):
        """One recorded request: method, exact path, headers and body."""
        k = KINDS[kind]
        self.assertEqual(req["method"], "POST")
        self.assertEqual(req["path"], k.endpoint)
        h = req["headers"]
        self.assertEqual(h.get("x-enapter-auth-token"), standin.token, "X-Enapter-Auth-Token")
        self.assertEqual(h.get("content-type"), "application/json", "Content-Type")
        self.assertEqual(h.get("accept"), "application/json", "Accept")
        self.assertEqual(h.get("user-agent"), self.user_agent(), "User-Agent")
        if standin.tls:
            self.assertNotIn("x-enapter-allow-http", h, "X-Enapter-Allow-HTTP over HTTPS")
        else:
            self.assertEqual(h.get("x-enapter-allow-http"), "true", "X-Enapter-Allow-HTTP")
        self.assertIsNotNone(req["json"], f"the body is not JSON: {req['body']!r}")
        self.assertEqual(req["json"], request_body(kind, args), "request body")
        if kind == "gateway":
            for axis in ("latitude", "longitude"):
                value = req["json"]["site_location"][axis]
                self.assertIsInstance(value, (int, float), f"site_location.{axis} is a number")
                self.assertNotIsInstance(value, bool)

    def expected_details(self, kind, args, device_id, reprovisioned):
        k = KINDS[kind]
        exp = {"kind": kind, "device_id": device_id, "reprovisioned": reprovisioned,
               "keystore_path": self.H.device_dir(device_id)}
        # Every text argument under its own name (the protocol is the
        # config's, below): what identifies the device, lossless.
        for key, value in args.items():
            if isinstance(value, str) and key != "protocol":
                exp[key] = value
        if k.has_config:
            protocol = args.get("protocol", "MQTTS")
            exp.update(protocol=protocol, mqtt_host="mqtt.standin.invalid",
                       mqtt_port=8883 if protocol == "MQTTS" else 1883,
                       channel_id="gw" if kind == "gateway" else "ucm")
        if kind == "lua_device":
            exp["slug"] = args["slug"]
        elif k.has_slug:
            exp["slug"] = slugify(args["name"])
        return exp

    def check_details(self, details, kind, args, device_id, reprovisioned):
        exp = self.expected_details(kind, args, device_id, reprovisioned)
        for key, value in exp.items():
            self.assertIn(key, details, f"details lack {key}: {details}")
            self.assertEqual(details[key], value, f"details[{key!r}]")
        for key in ("slug", "site_id", "hardware_id", "protocol", "mqtt_host", "mqtt_port",
                    "channel_id"):
            if key not in exp:
                self.assertNotIn(key, details, f"{kind} details hold {key}, which is not known")
        self.assertNoSecrets(json.dumps(details), "the details")
        for key in ("private_key", "certificate", "ca_chain", "password", "token"):
            self.assertNotIn(key, details)

    def handed_out(self, device_id):
        """The mqtt_credentials of the newest 200 answer of any stand-in that
        gave @device_id a config (a provisioning answer naming it, its
        generate_config, or a fault's body like those), or None."""
        newest = None
        for standin in self.H.standins():
            for req in standin.requests():
                try:
                    doc = json.loads(req["response"] or "null")
                except ValueError:
                    continue
                if req["status"] != 200 or not isinstance(doc, dict) or \
                        not isinstance(doc.get("config"), dict):
                    continue
                m = GENERATE_PATH.fullmatch(req["path"].split("?")[0])
                named = m.group(1) if m else doc.get("device_id", doc.get("gateway_device_id"))
                if named == device_id and (newest is None or req["time"] >= newest[0]):
                    newest = (req["time"], doc["config"].get("mqtt_credentials"))
        return newest and newest[1]

    def check_keystore(self, kind, args, device_id):
        """The device's directory: layout, modes, device.json, and the
        credential files exactly the set a stand-in handed out last; returns
        (device.json, the set's identity: the password's canary number, or
        the certificate's SHA-256)."""
        H, k = self.H, KINDS[kind]
        group = H.config_sections(H.daemon_overrides)["Keystore"].get("Group")
        dmode, fmode = (0o750, 0o640) if group else (0o700, 0o600)
        gid = grp.getgrnam(group).gr_gid if group else None
        st = os.lstat(H.keystore)
        self.assertTrue(stat.S_ISDIR(st.st_mode))
        self.assertEqual(stat.S_IMODE(st.st_mode), dmode, "keystore directory mode")
        if gid is not None:
            self.assertEqual(st.st_gid, gid, "keystore directory group")
        d = H.device_dir(device_id)
        st = os.lstat(d)
        self.assertTrue(stat.S_ISDIR(st.st_mode), f"{d} is not a directory")
        self.assertEqual(stat.S_IMODE(st.st_mode), dmode, "device directory mode")
        if gid is not None:
            self.assertEqual(st.st_gid, gid, "device directory group")
        protocol = args.get("protocol", "MQTTS") if k.has_config else None
        creds = {"MQTTS": {"private_key.pem", "certificate.pem", "ca_chain.pem"},
                 "MQTT": {"password"}, None: set()}[protocol]
        self.assertEqual(set(os.listdir(d)), {"device.json"} | creds, f"files in {d}")
        contents = {}
        for name in os.listdir(d):
            st = os.lstat(os.path.join(d, name))
            self.assertTrue(stat.S_ISREG(st.st_mode), f"{name} is not a regular file")
            self.assertEqual(stat.S_IMODE(st.st_mode), fmode, f"mode of {name}")
            if gid is not None:
                self.assertEqual(st.st_gid, gid, f"group of {name}")
            with open(os.path.join(d, name), "rb") as f:
                contents[name] = f.read().decode()

        dj_text = contents["device.json"]
        self.assertNoSecrets(dj_text, "device.json")
        dj = json.loads(dj_text)
        self.assertIsInstance(dj, dict)
        self.assertEqual(dj.get("kind"), kind)
        self.assertEqual(dj.get("device_id"), device_id)
        if "name" in args:
            self.assertEqual(dj.get("name"), args["name"])
        # (the gateway kind has no name argument: test_provision checks its
        # device.json name on its own)
        when = dj.get("provisioned_at")
        self.assertIsInstance(when, str)
        self.assertRegex(when, RFC3339_UTC, "provisioned_at is RFC 3339 UTC")
        ts = datetime.datetime.fromisoformat(when.replace("Z", "+00:00")).timestamp()
        self.assertTrue(self.t0 - 2 <= ts <= time.time() + 2,
                        f"provisioned_at {when} is not the time of the call")
        for field in k.identity:
            self.assertEqual(dj.get(field), args[field], f"device.json {field}")
        serial = None
        if k.has_config:
            cfg = dj.get("config")
            self.assertIsInstance(cfg, dict, "device.json config")
            expected = {"mqtt_host": "mqtt.standin.invalid",
                        "mqtt_port": 8883 if protocol == "MQTTS" else 1883,
                        "protocol": protocol, "time_sync_protocol": "HTTP",
                        "time_sync_host": "127.0.0.1", "time_sync_port": 80,
                        "hardware_id": args["hardware_id"],
                        "channel_id": "gw" if kind == "gateway" else "ucm"}
            if protocol == "MQTT":
                expected["username"] = "user-" + device_id
            for key, value in expected.items():
                self.assertEqual(cfg.get(key), value, f"device.json config.{key}")
            sent = self.handed_out(device_id)
            self.assertIsInstance(sent, dict, f"no stand-in handed {device_id} credentials")
            if protocol == "MQTTS":
                self.assertNotIn("username", cfg)
                self.assertRegex(contents["private_key.pem"],
                                 r"\A-----BEGIN PRIVATE KEY-----\n[A-Za-z0-9+/=\n]+\n"
                                 r"-----END PRIVATE KEY-----\n\Z", "private_key.pem is PEM")
                for name, key in (("private_key.pem", "private_key"),
                                  ("certificate.pem", "certificate"), ("ca_chain.pem", "ca_chain")):
                    self.assertEqual(contents[name], sent.get(key),
                                     f"{name} is not the set the stand-in handed out")
                self.assertNotEqual(contents["certificate.pem"], contents["ca_chain.pem"])
                serial = cert_info(contents["certificate.pem"])[2]
            else:
                m = re.fullmatch(CANARY + r"-PASSWORD-(\d+)", contents["password"])
                self.assertIsNotNone(m, f"password file: {contents['password']!r}")
                self.assertEqual(contents["password"], sent.get("password"),
                                 "the password file is not the password handed out")
                serial = int(m.group(1))
        else:
            self.assertNotIn("config", dj, f"{kind} has no config")
        self.assertKeystoreClean()
        return dj, serial

    def check_signal(self, listener, kind, device_id, details):
        sig = listener.wait_for(
            lambda s: s["member"] == "DeviceProvisioned" and s["args"][1] == device_id
            and s["args"][2].get("reprovisioned") == details.get("reprovisioned"),
            timeout=5, what=f"DeviceProvisioned for {device_id}")
        self.assertEqual(sig["interface"], IFACE)
        self.assertEqual(sig["path"], OBJECT_PATH)
        self.assertEqual(sig["args"], [kind, device_id, details])
        return sig

    def check_provisioned(self, kind, args, res, listener=None, reprovisioned=False,
                          target=None, requests=1):
        """All of it: the request the stand-in saw, the reply, the keystore and
        the signal. Returns (device_id, details, device.json, the set's
        identity: see check_keystore)."""
        device_id, details = self.assertOk(res, f"{kind} provisioning")
        target = target or self.H.target_of(kind)
        self.assertIsNotNone(target, f"no stand-in serves {kind}")
        reqs = target.requests()
        self.assertEqual(len(reqs), requests, f"requests to the {target.role} stand-in")
        for other in self.H.standins():
            if other is not target:
                self.assertEqual(other.requests(), [], f"requests to the {other.role} stand-in")
        self.check_request(reqs[-1], kind, args, target)
        self.check_details(details, kind, args, device_id, reprovisioned)
        dj, serial = self.check_keystore(kind, args, device_id)
        if listener is not None:
            self.check_signal(listener, kind, device_id, details)
        return device_id, details, dj, serial
