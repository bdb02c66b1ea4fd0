#!/usr/bin/env python3
"""Every Provision method end to end through the bus: the exact request the
stand-in saw, the reply, the keystore and the signal; reprovisioning; the Lua
refusal; Busy; ActiveRequests; a caller that goes away; concurrency; routing
between the cloud and the gateway (README "Configuration", "D-Bus API" and "Keystore")."""

import grp
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import (CANARY, DETAIL_TYPES, ERROR_PREFIX, IFACE, KINDS, OBJECT_PATH,
                     HarnessTestCase, default_args, main, make_ca, mint_set, wait_until)


class ProvisionKinds(HarnessTestCase):
    """[Gateway] URL set, DefaultTarget=auto: everything but the gateway kind
    goes to the gateway stand-in."""

    def provision_and_check(self, kind, listener=None, **values):
        args = default_args(kind, **values)
        res = self.H.provision(kind, args)
        return args, self.check_provisioned(kind, args, res, listener)

    def test_ucm_mqtts(self):
        listener = self.H.listen()
        self.provision_and_check("ucm", listener, protocol="MQTTS")

    def test_ucm_mqtt(self):
        listener = self.H.listen()
        self.provision_and_check("ucm", listener, protocol="MQTT")

    def test_vucm(self):
        listener = self.H.listen()
        self.provision_and_check("vucm", listener)

    def test_embedded_each_device_type(self):
        listener = self.H.listen()
        for device_type, protocol in (("ELECTROLYSER", "MQTTS"), ("DRYER", "MQTT"),
                                      ("WATER_TANK", "MQTTS")):
            with self.subTest(device_type=device_type):
                self.H.reset_standins()
                self.provision_and_check("embedded", listener, device_type=device_type,
                                         protocol=protocol)

    def test_link_master_then_slave(self):
        listener = self.H.listen()
        _, (master_id, _, _, _) = self.provision_and_check("link_master", listener)
        args = default_args("link_slave", master_device_id=master_id)
        res = self.H.provision("link_slave", args)
        self.check_provisioned("link_slave", args, res, listener, requests=2)

    def test_standalone(self):
        listener = self.H.listen()
        self.provision_and_check("standalone", listener, name="Heat Pump #7 (basement)")

    def test_lua_device(self):
        listener = self.H.listen()
        self.provision_and_check("lua_device", listener)

    def test_gateway_goes_to_cloud(self):
        listener = self.H.listen()
        self.provision_and_check("gateway", listener, latitude=-33.8688, longitude=151.2093,
                                 site_timezone="Australia/Sydney", gateway_version="3.0.0")

    def test_gateway_device_json_has_a_name(self):
        """README "Keystore" lists name in every device.json; the gateway kind has no name
        argument, so any non-blank name will do (its site_name, say)."""
        args = default_args("gateway")
        device_id = self.assertOk(self.H.provision("gateway", args))[0]
        with open(os.path.join(self.H.device_dir(device_id), "device.json")) as f:
            dj = json.load(f)
        self.assertIsInstance(dj.get("name"), str, f"device.json has no name: {dj}")
        self.assertTrue(dj["name"].strip())

    def test_reply_and_signal_types(self):
        """details values carry the D-Bus types of README "D-Bus API" (mqtt_port is u, ...)."""
        listener = self.H.listen(typed=True)
        for kind in ("ucm", "gateway", "standalone"):
            with self.subTest(kind=kind):
                args = default_args(kind)
                res = self.H.provision(kind, args, typed=True)
                self.assertTrue(res.ok, res.doc)
                device_id, details = res.reply
                self.assertIsInstance(device_id, str)
                for key, typed in details.items():
                    self.assertIsInstance(typed, dict, f"{key} is not a variant")
                    (sig, _), = typed.items()
                    # A detail the README does not list is a change of the API.
                    self.assertIn(key, DETAIL_TYPES, f"details[{key!r}] is not documented")
                    self.assertEqual(sig, DETAIL_TYPES[key], f"type of details[{key!r}]")
                expected = {"kind", "device_id", "reprovisioned", "keystore_path"}
                self.assertLessEqual(expected, set(details))
                sig = listener.wait_for(lambda s: s["member"] == "DeviceProvisioned"
                                        and s["args"][1] == device_id)
                self.assertEqual(sig["args"], [kind, device_id, details])

    def test_credentials_stored_verbatim(self):
        """The keystore files hold exactly the strings of the response (a real
        set of the test's own CA, its ca_chain a bundle of two CAs)."""
        device_id = "verbatim-" + os.urandom(6).hex()
        creds = mint_set()
        key, cert = creds["private_key"], creds["certificate"]
        chain = make_ca().pem + creds["ca_chain"]
        args = default_args("ucm", protocol="MQTTS")
        body = {"config": {"mqtt_host": "mqtt.example.invalid", "mqtt_port": 8884,
                           "mqtt_credentials": {"protocol": "MQTTS", "private_key": key,
                                                "certificate": cert, "ca_chain": chain},
                           "time_sync_protocol": "HTTP", "time_sync_host": "10.0.0.1",
                           "time_sync_port": 8080, "hardware_id": args["hardware_id"],
                           "channel_id": "ucm"},
                "device_id": device_id, "slug": "verbatim"}
        self.H.gateway.faults({"path": KINDS["ucm"].endpoint, "status": 200,
                               "body": json.dumps(body)})
        res = self.H.provision("ucm", args)
        got_id, details = self.assertOk(res)
        self.assertEqual(got_id, device_id)
        self.assertEqual(details["slug"], "verbatim")
        self.assertEqual(details["mqtt_host"], "mqtt.example.invalid")
        self.assertEqual(details["mqtt_port"], 8884)
        d = self.H.device_dir(device_id)
        for name, text in (("private_key.pem", key), ("certificate.pem", cert),
                           ("ca_chain.pem", chain)):
            with open(os.path.join(d, name)) as f:
                self.assertEqual(f.read(), text, name)
        with open(os.path.join(d, "device.json")) as f:
            cfg = json.load(f)["config"]
        self.assertEqual(cfg["time_sync_host"], "10.0.0.1")
        self.assertEqual(cfg["time_sync_port"], 8080)
        self.assertEqual(cfg["mqtt_port"], 8884)

        # MQTT: the password file is the password, no trailing newline
        device_id = "verbatim-" + os.urandom(6).hex()
        args = default_args("ucm", protocol="MQTT")
        body["config"]["mqtt_credentials"] = {"protocol": "MQTT", "username": "u-42",
                                              "password": f"{CANARY}-PASSWORD-900002 with spaces"}
        body["config"]["hardware_id"] = args["hardware_id"]
        body["device_id"] = device_id
        self.H.gateway.faults({"path": KINDS["ucm"].endpoint, "status": 200,
                               "body": json.dumps(body)})
        self.assertOk(self.H.provision("ucm", args))
        d = self.H.device_dir(device_id)
        self.assertEqual(sorted(os.listdir(d)), ["device.json", "password"])
        with open(os.path.join(d, "password"), "rb") as f:
            self.assertEqual(f.read(), f"{CANARY}-PASSWORD-900002 with spaces".encode())
        with open(os.path.join(d, "device.json")) as f:
            self.assertEqual(json.load(f)["config"]["username"], "u-42")


class Reprovisioning(HarnessTestCase):

    def test_reprovision_same_device(self):
        """Second identical call: same device, reprovisioned true, fresh
        credentials swapped in whole."""
        listener = self.H.listen()
        args = default_args("ucm", protocol="MQTTS")
        res = self.H.provision("ucm", args)
        device_id, d1, dj1, serial1 = self.check_provisioned("ucm", args, res, listener)
        self.assertFalse(d1["reprovisioned"])
        res = self.H.provision("ucm", args)
        device_id2, d2, dj2, serial2 = self.check_provisioned(
            "ucm", args, res, listener, reprovisioned=True, requests=2)
        self.assertEqual(device_id2, device_id)
        self.assertTrue(d2["reprovisioned"])
        self.assertNotEqual(serial2, serial1, "the credentials were not replaced")
        self.assertEqual(len([s for s in listener.signals("DeviceProvisioned")
                              if s["args"][1] == device_id]), 2)

    def test_reprovision_other_protocol_replaces_whole_set(self):
        args = default_args("ucm", protocol="MQTTS")
        device_id = self.check_provisioned("ucm", args, self.H.provision("ucm", args))[0]
        args["protocol"] = "MQTT"
        res = self.H.provision("ucm", args)
        device_id2, details, _, _ = self.check_provisioned("ucm", args, res, reprovisioned=True,
                                                           requests=2)
        self.assertEqual(device_id2, device_id)
        # check_keystore asserted the exact file set: no PEM file is left over
        self.assertEqual(sorted(os.listdir(self.H.device_dir(device_id))),
                         ["device.json", "password"])

    def test_failed_reprovisioning_keeps_the_old_set(self):
        args = default_args("ucm", protocol="MQTTS")
        device_id = self.check_provisioned("ucm", args, self.H.provision("ucm", args))[0]

        def device_files():
            return {p: v for p, v in self.H.keystore_tree().items()
                    if p.split(os.sep)[0] == device_id}
        before = device_files()
        mismatch = {"config": {"mqtt_host": "h", "mqtt_port": 1883, "mqtt_credentials": {
            "protocol": "MQTT", "username": "u", "password": f"{CANARY}-PASSWORD-4242"},
            "time_sync_protocol": "HTTP", "time_sync_host": "h", "time_sync_port": 80,
            "hardware_id": args["hardware_id"], "channel_id": "ucm"},
            "device_id": device_id, "slug": "s"}
        for fault, error in (({"status": 500}, "Unavailable"),
                             ({"status": 200, "body": json.dumps(mismatch)}, "ProtocolError"),
                             ({"status": 403}, "Forbidden")):
            with self.subTest(fault=fault):
                self.H.gateway.faults(dict(fault, path=KINDS["ucm"].endpoint))
                self.assertError(self.H.provision("ucm", args), error)
                self.assertEqual(device_files(), before, "the old set was touched")
                self.assertKeystoreClean()

    def test_reprovision_each_reprovisionable_kind(self):
        for kind in ("vucm", "embedded", "link_master", "standalone", "gateway"):
            with self.subTest(kind=kind):
                self.H.reset_standins()
                args = default_args(kind)
                first = self.H.provision(kind, args)
                device_id = self.check_provisioned(kind, args, first)[0]
                second = self.H.provision(kind, args)
                device_id2, details, _, _ = self.check_provisioned(
                    kind, args, second, reprovisioned=True, requests=2)
                self.assertEqual(device_id2, device_id)

    def test_lua_device_refused_without_request(self):
        listener = self.H.listen()
        args = default_args("lua_device")
        device_id = self.check_provisioned("lua_device", args,
                                           self.H.provision("lua_device", args))[0]
        before = self.H.keystore_tree()
        self.H.reset_standins()
        for changes in ({}, {"name": "Other name", "blueprint_id": "bp-other"}):
            with self.subTest(changes=changes):
                again = dict(args, **changes)
                msg = self.assertError(self.H.provision("lua_device", again), "NotSupported")
                self.assertTrue(msg)
                self.assertNoRequests("for a Lua reprovisioning")
                self.assertEqual(self.H.keystore_tree(), before, "the keystore changed")
        failed = listener.wait_for(lambda s: s["member"] == "ProvisioningFailed")
        self.assertEqual(failed["args"][0], "lua_device")
        self.assertEqual(failed["args"][1], ERROR_PREFIX + "NotSupported")
        # the same slug on another runtime is another device
        other = dict(args, runtime_id=args["runtime_id"] + "-2")
        res = self.H.provision("lua_device", other)
        other_id = self.check_provisioned("lua_device", other, res)[0]
        self.assertNotEqual(other_id, device_id)

    def test_lua_refusal_survives_restart(self):
        args = default_args("lua_device")
        self.assertOk(self.H.provision("lua_device", args))
        self.H.restart_daemon()
        self.H.reset_standins()
        self.assertError(self.H.provision("lua_device", args), "NotSupported")
        self.assertNoRequests("for a Lua reprovisioning after a restart")

    def test_reprovisioned_known_after_restart(self):
        args = default_args("vucm")
        device_id = self.assertOk(self.H.provision("vucm", args))[0]
        self.H.restart_daemon()
        device_id2, details = self.assertOk(self.H.provision("vucm", args))
        self.assertEqual(device_id2, device_id)
        self.assertTrue(details["reprovisioned"])


class Concurrency(HarnessTestCase):

    def hold(self, kind, seconds=1.5, standin=None):
        """Queues a delay fault so the next request for @kind hangs."""
        standin = standin or self.H.target_of(kind)
        standin.faults({"path": KINDS[kind].endpoint, "delay": seconds})
        return standin

    def test_busy_same_hardware_id(self):
        args = default_args("ucm")
        standin = self.hold("ucm", 2.0)
        first = self.H.provision_async("ucm", args)
        self.H.wait_request(standin, KINDS["ucm"].endpoint)
        same_hw = {
            "same call": ("ucm", args),
            "other name": ("ucm", dict(args, name="Another name")),
            "other kind": ("embedded", default_args("embedded",
                                                    hardware_id=args["hardware_id"],
                                                    site_id=args["site_id"])),
        }
        for label, (kind, other) in same_hw.items():
            with self.subTest(label):
                t = time.monotonic()
                self.assertError(self.H.provision(kind, other), "Busy")
                self.assertLess(time.monotonic() - t, 1.0, "Busy was not answered at once")
        self.assertFalse(first.done(), "the first call finished too early for this test")
        self.check_provisioned("ucm", args, first.result())
        self.assertEqual(len(self.H.all_requests()), 1, "a Busy call sent a request")
        # once the first call is done, the same call is accepted again
        self.assertOk(self.H.provision("ucm", args))

    def test_busy_standalone_and_lua(self):
        cases = {
            "standalone": (default_args("standalone"), {"site_id", "name"}),
            "lua_device": (default_args("lua_device"), {"runtime_id", "slug"}),
        }
        for kind, (args, key) in cases.items():
            with self.subTest(kind=kind):
                self.H.reset_standins()
                standin = self.hold(kind, 2.0)
                first = self.H.provision_async(kind, args)
                self.H.wait_request(standin, KINDS[kind].endpoint)
                # same identity, other arguments otherwise
                other = default_args(kind, **{k: args[k] for k in key})
                self.assertError(self.H.provision(kind, other), "Busy")
                # another identity is served meanwhile
                fresh = default_args(kind)
                t = time.monotonic()
                self.assertOk(self.H.provision(kind, fresh))
                self.assertLess(time.monotonic() - t, 1.5)
                self.assertFalse(first.done())
                self.assertOk(first.result())
                self.assertEqual(len(standin.requests(KINDS[kind].endpoint)), 2)

    def test_other_calls_served_meanwhile(self):
        slow_args = default_args("ucm")
        standin = self.hold("ucm", 2.5)
        slow = self.H.provision_async("ucm", slow_args)
        self.H.wait_request(standin, KINDS["ucm"].endpoint)
        for kind in ("ucm", "vucm", "gateway"):
            with self.subTest(kind=kind):
                t = time.monotonic()
                self.assertOk(self.H.provision(kind, default_args(kind)))
                self.assertLess(time.monotonic() - t, 1.5, "a call waited for another one")
        self.assertFalse(slow.done(), "the slow call finished before the others")
        self.assertOk(slow.result())

    def test_active_requests(self):
        listener = self.H.listen(typed=True)
        res = self.H.get_property("ActiveRequests", typed=True)
        self.assertEqual(res.reply, [{"u": 0}], res.doc)

        def changed(value):
            def pred(s):
                return (s["member"] == "PropertiesChanged" and s["args"][0] == IFACE
                        and s["args"][1].get("ActiveRequests") == {"u": value})
            return pred

        args = default_args("ucm")
        standin = self.hold("ucm", 1.5)
        call = self.H.provision_async("ucm", args)
        sig = listener.wait_for(changed(1), what="PropertiesChanged ActiveRequests=1")
        self.assertEqual(sig["interface"], "org.freedesktop.DBus.Properties")
        self.assertEqual(sig["path"], OBJECT_PATH)
        self.H.wait_request(standin, KINDS["ucm"].endpoint)
        self.assertEqual(self.H.get_property("ActiveRequests", typed=True).reply, [{"u": 1}])
        self.assertOk(call.result())
        listener.wait_for(changed(0), what="PropertiesChanged ActiveRequests=0")
        self.assertEqual(self.H.get_property("ActiveRequests", typed=True).reply, [{"u": 0}])
        # a call rejected before any work does not count as active
        self.assertError(self.H.provision("ucm", default_args("ucm", site_id="")),
                         "InvalidArgument")
        self.assertEqual(self.H.get_property("ActiveRequests").reply, [0])

    def test_caller_gone_work_still_finishes(self):
        listener = self.H.listen()
        args = default_args("ucm", protocol="MQTT")
        standin = self.hold("ucm", 1.0)
        call = self.H.provision_async("ucm", args)
        self.H.wait_request(standin, KINDS["ucm"].endpoint)
        call.kill()   # SIGKILL: the caller's connection goes away mid-call
        sig = listener.wait_for(lambda s: s["member"] == "DeviceProvisioned"
                                and s["args"][2].get("hardware_id") == args["hardware_id"],
                                what="DeviceProvisioned after the caller left")
        device_id, details = sig["args"][1], sig["args"][2]
        self.check_details(details, "ucm", args, device_id, False)
        self.check_keystore("ucm", args, device_id)
        self.assertEqual(len(standin.requests()), 1)
        # and the daemon is fine afterwards
        self.assertOk(self.H.provision("ucm", default_args("ucm")))


class MaxConcurrent(HarnessTestCase):
    CONFIG = {"Provisioning": {"MaxConcurrent": 1}}

    def test_further_calls_queue(self):
        standin = self.H.gateway
        standin.faults({"path": KINDS["ucm"].endpoint, "delay": 1.0})
        a = self.H.provision_async("ucm", default_args("ucm"))
        self.H.wait_request(standin, KINDS["ucm"].endpoint)
        b = self.H.provision_async("ucm", default_args("ucm"))
        self.assertOk(a.result())
        self.assertOk(b.result())
        first, second = standin.requests()
        self.assertGreaterEqual(second["time"] - first["time"], 0.9,
                                "the queued call did not wait for the first one")


class QueueFull(HarnessTestCase):
    """MaxQueued (the daemon's own configuration key) bounds the calls
    waiting for one of MaxConcurrent slots; beyond it: Busy."""
    CONFIG = {"Provisioning": {"MaxConcurrent": 1, "MaxQueued": 1}}

    def test_busy_when_the_queue_is_full(self):
        standin = self.H.gateway
        standin.faults({"path": KINDS["ucm"].endpoint, "delay": 1.5})
        a = self.H.provision_async("ucm", default_args("ucm"))
        self.H.wait_request(standin, KINDS["ucm"].endpoint)
        b = self.H.provision_async("ucm", default_args("ucm"))
        # ActiveRequests counts queued calls too (the shipped XML)
        wait_until(lambda: self.H.get_property("ActiveRequests").reply == [2], 5,
                   what="the second call to be queued")
        t = time.monotonic()
        self.assertError(self.H.provision("ucm", default_args("ucm")), "Busy")
        self.assertLess(time.monotonic() - t, 1.0)
        self.assertOk(a.result())
        self.assertOk(b.result())
        self.assertEqual(len(standin.requests()), 2)


def existing_group():
    for name in ("nogroup", "users", "daemon"):
        try:
            grp.getgrnam(name)
            return name
        except KeyError:
            pass
    return grp.getgrgid(os.getgid()).gr_name


class KeystoreGroup(HarnessTestCase):
    """[Keystore] Group set: directories 0750, files 0640, owned by the group."""
    CONFIG = {"Keystore": {"Group": existing_group()}}

    def test_modes_and_group(self):
        for kind, extra in (("ucm", {"protocol": "MQTTS"}), ("ucm", {"protocol": "MQTT"}),
                            ("standalone", {})):
            with self.subTest(kind=kind, **extra):
                self.H.reset_standins()
                args = default_args(kind, **extra)
                self.check_provisioned(kind, args, self.H.provision(kind, args))


class CloudOverHttps(HarnessTestCase):
    """An https:// cloud: no X-Enapter-Allow-HTTP header, CAFile trusted,
    an untrusted certificate is Unavailable."""
    CLOUD_TLS = True

    def test_gateway_kind_over_https(self):
        listener = self.H.listen()
        args = default_args("gateway")
        self.check_provisioned("gateway", args, self.H.provision("gateway", args), listener)
        self.assertGreaterEqual(self.H.cloud.stats()["tls_handshakes"], 1)

    def test_untrusted_certificate(self):
        self.H.restart_daemon({"Cloud": {"CAFile": None}})   # the system store
        msg = self.assertError(self.H.provision("gateway", default_args("gateway")),
                               "Unavailable")
        self.assertIn("TLS/certificate", msg, "the message does not say it is a TLS failure")
        self.assertEqual(self.H.cloud.requests(), [], "a request went over untrusted TLS")


class RoutingWithoutGateway(HarnessTestCase):
    """[Gateway] URL empty: gateway-only kinds fail with NotSupported, the
    others go to the cloud."""
    GATEWAY = False

    def test_gateway_only_kinds_not_supported(self):
        listener = self.H.listen()
        master = "02618484-5c16-4159-998a-ef4acc16666c"
        for kind in ("vucm", "link_master", "link_slave"):
            with self.subTest(kind=kind):
                extra = {"master_device_id": master} if kind == "link_slave" else {}
                args = default_args(kind, **extra)
                self.assertError(self.H.provision(kind, args), "NotSupported")
                self.assertNoRequests()
                sig = listener.wait_for(lambda s: s["member"] == "ProvisioningFailed"
                                        and s["args"][0] == kind)
                self.assertEqual(sig["args"][1], ERROR_PREFIX + "NotSupported")
                self.assertEqual(sig["args"][3], args)

    def test_default_kinds_go_to_cloud(self):
        for kind in ("ucm", "embedded", "standalone", "lua_device", "gateway"):
            with self.subTest(kind=kind):
                self.H.reset_standins()
                args = default_args(kind)
                self.check_provisioned(kind, args, self.H.provision(kind, args),
                                       target=self.H.cloud)


class RoutingDefaultCloud(HarnessTestCase):
    CONFIG = {"Provisioning": {"DefaultTarget": "cloud"}}

    def test_routes(self):
        routes = {"ucm": "cloud", "embedded": "cloud", "standalone": "cloud",
                  "lua_device": "cloud", "gateway": "cloud", "vucm": "gateway",
                  "link_master": "gateway"}
        for kind, role in routes.items():
            with self.subTest(kind=kind):
                self.H.reset_standins()
                args = default_args(kind)
                target = self.H.cloud if role == "cloud" else self.H.gateway
                self.check_provisioned(kind, args, self.H.provision(kind, args), target=target)


class RoutingDefaultGateway(HarnessTestCase):
    CONFIG = {"Provisioning": {"DefaultTarget": "gateway"}}

    def test_routes(self):
        routes = {"ucm": "gateway", "embedded": "gateway", "standalone": "gateway",
                  "lua_device": "gateway", "gateway": "cloud", "vucm": "gateway"}
        for kind, role in routes.items():
            with self.subTest(kind=kind):
                self.H.reset_standins()
                args = default_args(kind)
                target = self.H.cloud if role == "cloud" else self.H.gateway
                self.check_provisioned(kind, args, self.H.provision(kind, args), target=target)


if __name__ == "__main__":
    main()
