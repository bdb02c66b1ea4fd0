#!/usr/bin/env python3
"""enapter-provisionctl against the real daemon on a private system-type bus
with the API stand-ins (the integration harness): provisioning each kind,
its text and --json output (parsed and checked against the daemon, the
stand-ins and the keystore), the exit status of the daemon's errors,
--timeout, and no daemon, no bus or no access.

EP_CTL names the client; see ctl_util.py."""

import json
import os
import re
import time

from ctl_util import (clean_env, CtlTestCase, default_args, ERROR_PREFIX, kind_argv, KINDS, main,
                      parse_fields, Result, texts_of, wait_until)


class Provisioning(CtlTestCase):
    """Each kind through the client, end to end."""

    def check_kind(self, kind, listener, args, requests=1):
        doc = self.provision(kind, args)
        self.assertIsInstance(doc, dict)
        self.assertIsInstance(doc.get("device_id"), str)
        # The reply as the daemon sent it: the stand-in's request (each
        # option went to its argument), the details, the keystore and the
        # DeviceProvisioned signal, all checked by the harness.
        res = Result({"reply": [doc["device_id"], doc]})
        device_id, details, dj, _ = self.check_provisioned(kind, args, res, listener,
                                                           requests=requests)
        self.assertEqual(details.get("name"), dj.get("name"))
        self.assertEqual(details.get("provisioned_at"), dj.get("provisioned_at"))
        return device_id, doc

    def test_every_kind_json(self):
        listener = self.H.listen()
        for kind in ("ucm", "vucm", "embedded", "standalone", "lua_device", "gateway"):
            with self.subTest(kind=kind):
                self.H.reset_standins()
                self.check_kind(kind, listener, default_args(kind))
        with self.subTest(kind="link_master and link_slave"):
            self.H.reset_standins()
            master_id, _ = self.check_kind("link_master", listener,
                                           default_args("link_master"))
            self.check_kind("link_slave", listener,
                            default_args("link_slave", master_device_id=master_id),
                            requests=2)

    def test_option_spellings(self):
        """--protocol and --type in any case, '_' for '-'; negative degrees in
        both option forms."""
        listener = self.H.listen()
        cases = [("embedded", {"device_type": "WATER_TANK", "protocol": "MQTT"},
                  ["--type", "Water_Tank", "--protocol", "MqTt"]),
                 ("embedded", {"device_type": "DRYER", "protocol": "MQTTS"},
                  ["--type=DRYER", "--protocol=MQTTS"]),
                 ("gateway", {"latitude": -33.8688, "longitude": -151.5},
                  ["--latitude=-33.8688", "--longitude", "-151.5"])]
        for kind, values, spelled in cases:
            with self.subTest(kind=kind, spelled=spelled):
                self.H.reset_standins()
                args = default_args(kind, **values)
                doc = self.ok_json(*kind_argv(kind, args, skip=values), *spelled)
                self.check_provisioned(kind, args, Result({"reply": [doc["device_id"], doc]}),
                                       listener)

    def test_every_kind_text(self):
        """The text output holds what --json holds, one 'key: value' line per
        detail, device_id first."""
        master = self.provision("link_master", default_args("link_master"))
        for kind in KINDS:
            with self.subTest(kind=kind):
                extra = {"master_device_id": master["device_id"]} if kind == "link_slave" else {}
                out = self.ok(*kind_argv(kind, default_args(kind, **extra)))
                self.assertTrue(out.startswith("device_id:"), out)
                fields = parse_fields(self, out)
                # Provisioned just now, so show has the same details
                # (reprovisioned is false in both).
                doc = self.show(fields["device_id"])
                self.assertEqual(fields, texts_of(doc))
                self.assertEqual(doc["kind"], kind)
                widths = {line.index(":") + len(re.match(r"[^:]+:( *)", line).group(1))
                          for line in out.splitlines()}
                self.assertEqual(len(widths), 1, f"values are not aligned:\n{out}")

    def test_reprovisioning(self):
        args = default_args("ucm")
        first = self.provision("ucm", args)
        self.assertIs(first["reprovisioned"], False)
        fields = parse_fields(self, self.ok(*kind_argv("ucm", args)))
        self.assertEqual(fields["reprovisioned"], "yes")
        self.assertEqual(fields["device_id"], first["device_id"])
        again = self.provision("ucm", args)
        self.assertIs(again["reprovisioned"], True)

    def test_global_options_after_the_command(self):
        args = default_args("standalone")
        doc = self.ok_json(*kind_argv("standalone", args))
        self.assertEqual(self.ok("show", doc["device_id"], "--json"), json.dumps(
            doc, separators=(",", ":"), ensure_ascii=False) + "\n")
        rc, out, err = self.ctl("show", "no-such-device", "--verbose")
        self.assertEqual(rc, 1)
        self.assertIn(ERROR_PREFIX + "NotFound", err)
        # Given before and after the command, the later one wins.
        self.assertEqual(self.ok_json("--address", "unix:path=/nonexistent", "--timeout", "0.001",
                                      "show", doc["device_id"], "--address", self.H.address,
                                      "--timeout", "20", address=False), doc)

    def test_daemon_errors_exit_1(self):
        """An error the daemon answers: exit 1, its message on stderr, its name
        with --verbose only; nothing on stdout."""
        listener = self.H.listen()
        cases = [
            (kind_argv("ucm", default_args("ucm", site_id="bad/site")),
             "InvalidArgument", "site_id"),
            (kind_argv("gateway", default_args("gateway", latitude=91.0)),
             "InvalidArgument", "latitude"),
            (kind_argv("gateway", default_args("gateway", site_timezone="Mars/Olympus")),
             "InvalidArgument", "site_timezone"),
            (kind_argv("link_slave", default_args("link_slave", master_device_id="nobody")),
             "NotFound", "nobody"),
        ]
        for argv, error, word in cases:
            with self.subTest(argv=argv):
                err = self.failure(*argv)
                self.assertIn(word, err)
                self.assertNotIn(ERROR_PREFIX, err, "the error name without --verbose")
                self.assertEqual(len(err.splitlines()), 1, err)
                err = self.failure("--verbose", *argv)
                self.assertIn(f"{ERROR_PREFIX}{error}: ", err)
                self.assertIn(word, err)
        # A Lua device cannot be reprovisioned.
        args = default_args("lua_device")
        self.provision("lua_device", args)
        err = self.failure("--verbose", *kind_argv("lua_device", args))
        self.assertIn(ERROR_PREFIX + "NotSupported", err)
        self.assertTrue(listener.signals("ProvisioningFailed"))

    def test_timeout(self):
        """--timeout bounds the wait; the call still completes in the daemon."""
        args = default_args("ucm")
        target = self.H.target_of("ucm")
        target.faults({"path": KINDS["ucm"].endpoint, "delay": 3})
        t0 = time.monotonic()
        err = self.failure("--verbose", "--timeout", "1000ms", *kind_argv("ucm", args), status=3)
        took = time.monotonic() - t0
        self.assertLess(took, 2.5, "the client waited past --timeout")
        self.assertGreater(took, 0.9, "the client gave up before --timeout")
        self.assertIn("no answer from enapter-provisiond within 1 s", err)
        self.assertIn("org.freedesktop.DBus.Error.Timeout", err)
        # As the message says: the device appears once the call completes.
        wait_until(lambda: any(d.get("hardware_id") == args["hardware_id"]
                               for d in self.ok_json("list")), 15,
                   what="the device of the timed-out call")

    def test_daemon_not_running(self):
        """Exit status 3, and a message that says what to do."""
        self.H.stop_daemon()
        err = self.failure("list", status=3)
        self.assertIn("enapter-provisiond is not running", err)
        self.assertIn("systemctl status enapter-provisiond", err)
        err = self.failure("--verbose", "show", "x", status=3)
        self.assertIn("org.freedesktop.DBus.Error.ServiceUnknown", err)

    def test_no_bus(self):
        rc, out, err = self.ctl("--address", "unix:path=/nonexistent/bus", "list",
                                address=False)
        self.assertEqual((rc, out), (3, ""))
        self.assertIn("cannot connect to unix:path=/nonexistent/bus", err)
        # The system bus of the environment, as every sd-bus program.
        env = clean_env(DBUS_SYSTEM_BUS_ADDRESS=self.H.address)
        self.assertIsInstance(json.loads(self.ok("--json", "list", address=False, env=env)),
                              list)

    def test_access_denied(self):
        """A caller outside root and the access group: exit 1, permission
        denied (the bus policy stops it)."""
        if os.geteuid() != 0:
            self.skipTest("needs root to run the client as another user")

        def nobody():
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
        rc, out, err = self.ctl("--verbose", "list", preexec_fn=nobody)
        self.assertEqual((rc, out), (1, ""), err)
        self.assertIn("permission denied", err)
        self.assertIn("org.freedesktop.DBus.Error.AccessDenied", err)


if __name__ == "__main__":
    main()
