#!/usr/bin/env python3
"""enapter-provisionctl against the real daemon on a private system-type bus
(the integration harness): the keystore's commands list, show and forget,
their text and --json output, and monitor, its lines for each signal until
SIGINT or SIGTERM.

EP_CTL names the client; see ctl_util.py."""

import json
import os
import re
import signal
import subprocess
import threading
import time

from ctl_util import (clean_env, CTL, CtlTestCase, default_args, ERROR_PREFIX, kind_argv,
                      LIST_TITLES, main, MONITOR_TIME, parse_fields, table, text_of, texts_of)


class Keystore(CtlTestCase):
    """list, show and forget (a harness of its own: the keystore starts
    empty)."""

    def test_list_show_forget(self):
        self.assertEqual(self.ok("list"), "No devices.\n")
        self.assertEqual(self.ok_json("list"), [])
        self.assertEqual(self.ok("list", "--ids"), "")

        made = [self.provision("ucm", default_args("ucm", name="Wärme 漢字 pump")),
                self.provision("gateway", default_args("gateway")),
                self.provision("standalone", default_args("standalone"))]
        ids = {d["device_id"] for d in made}

        # --json: the details of each device, exactly as show and the bus give them.
        listed = self.ok_json("list")
        self.assertEqual({d["device_id"] for d in listed}, ids)
        raw = self.H.call("ListDevices", "")
        self.assertTrue(raw.ok, raw.doc)
        self.assertEqual(sorted(listed, key=lambda d: d["device_id"]),
                         sorted(raw.reply[0], key=lambda d: d["device_id"]))
        for device in listed:
            self.assertEqual(self.show(device["device_id"]), device)
        self.assertEqual(set(self.ok("list", "--ids").split()), ids)

        # The table: a header, one row per device, columns aligned, a footer.
        rows = table(self, self.ok("list"), LIST_TITLES)
        self.assertEqual(len(rows), 3, rows)
        by_id = {d["device_id"]: d for d in listed}
        order = []
        for cells in rows:
            device = by_id[cells[0]]
            order.append(device)
            # EXPIRES: the certificate's end, "-" for a device without one
            # (test_ctl_credentials checks it against the certificate).
            expires = device.get("certificate_not_after")
            expected = [device["device_id"], device["kind"], device.get("name", "-"),
                        device.get("site_id", "-"), device.get("hardware_id", "-"),
                        "-" if expires is None else text_of(expires, "certificate_not_after")]
            self.assertEqual(cells, expected)
            if device["kind"] == "standalone":
                self.assertEqual(cells[5], "-", "EXPIRES of a device without a certificate")
            else:
                self.assertRegex(cells[5], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        self.assertEqual(order, sorted(order, key=lambda d: (d["provisioned_at"],
                                                             d["device_id"])))
        # --json: the same order as the table.
        self.assertEqual([d["device_id"] for d in listed], [d["device_id"] for d in order])

        # show: the same details as text.
        ucm = made[0]["device_id"]
        fields = parse_fields(self, self.ok("show", ucm))
        self.assertEqual(fields, texts_of(by_id[ucm]))
        self.assertEqual(fields["name"], "Wärme 漢字 pump")

        # forget, seen by monitor; then the device is gone everywhere.
        monitor = self.monitor("--json")
        gateway = made[1]["device_id"]
        self.assertEqual(parse_fields(self, self.ok("forget", gateway)),
                         {"device_id": gateway, "forgotten": "yes"})
        self.assertFalse(os.path.exists(self.H.device_dir(gateway)))
        line, = monitor.wait_lines(1)
        self.assertEqual(json.loads(line), {"signal": "DeviceForgotten", "device_id": gateway})
        self.assertEqual(set(self.ok("list", "--ids").split()), ids - {gateway})
        err = self.failure("--verbose", "show", gateway)
        self.assertIn(ERROR_PREFIX + "NotFound", err)
        self.assertIn(gateway, err)
        err = self.failure("forget", gateway)
        self.assertIn(gateway, err)
        self.assertNotIn(ERROR_PREFIX, err)
        err = self.failure("--verbose", "forget", gateway)
        self.assertIn(ERROR_PREFIX + "NotFound", err)

        standalone = made[2]["device_id"]
        self.assertEqual(self.ok_json("forget", standalone),
                         {"device_id": standalone, "forgotten": True})
        self.assertEqual(self.ok("list", "--ids").split(), [ucm])
        self.assertEqual(monitor.stop(), 0)
        self.assertEqual(len(monitor.out), 2, monitor.out)


class DashedIds(CtlTestCase):
    """Device ids that start with '-' (the daemon serves them): after "--"."""

    def test_after_double_dash(self):
        self.plant(["-dash", "--"])
        self.assertEqual(self.ok_json("show", "--", "-dash")["device_id"], "-dash")
        self.assertEqual(self.ok_json("show", "--", "--")["device_id"], "--")
        # A "--" wherever GOption leaves it, after options too.
        self.assertEqual(self.ok_json("show", "--json=short", "--", "-dash")["device_id"],
                         "-dash")
        # Without "--", an option as ever.
        err = self.failure("show", "-dash", status=2)
        self.assertIn("-dash", err)
        err = self.failure("show", "--", "-dash", "extra", status=2)
        self.assertIn("unexpected argument 'extra'", err)
        self.assertEqual(self.ok_json("forget", "--", "-dash"),
                         {"device_id": "-dash", "forgotten": True})
        err = self.failure("show", "--", "-dash", status=1)
        self.assertIn("-dash", err)


class Monitoring(CtlTestCase):
    """monitor: a line per signal as it happens, until SIGINT or SIGTERM."""

    def test_monitor_json(self):
        monitor = self.monitor("--json")
        # A provisioning through the client, one through the bus directly,
        # a failure and a forget.
        doc = self.provision("ucm", default_args("ucm"))
        args = default_args("standalone")
        res = self.H.provision("standalone", args)
        device_id, details = self.assertOk(res)
        bad = default_args("link_slave", master_device_id="no-master")
        self.failure(*kind_argv("link_slave", bad))
        self.ok("forget", doc["device_id"])

        # Each provisioning: DeviceProvisioned, then CredentialsChanged with
        # the same details.
        lines = [json.loads(line) for line in monitor.wait_lines(6)]
        self.assertEqual(lines[0], {"signal": "DeviceProvisioned", "kind": "ucm",
                                    "device_id": doc["device_id"], "details": doc})
        self.assertEqual(lines[1], {"signal": "CredentialsChanged", "device_id": doc["device_id"],
                                    "reason": "provisioned", "details": doc})
        self.assertEqual(lines[2], {"signal": "DeviceProvisioned", "kind": "standalone",
                                    "device_id": device_id, "details": details})
        self.assertEqual(lines[3], {"signal": "CredentialsChanged", "device_id": device_id,
                                    "reason": "provisioned", "details": details})
        failed = lines[4]
        self.assertEqual(failed["signal"], "ProvisioningFailed")
        self.assertEqual(failed["kind"], "link_slave")
        self.assertEqual(failed["error_name"], ERROR_PREFIX + "NotFound")
        self.assertIn("no-master", failed["message"])
        self.assertEqual(failed["request"], bad)
        self.assertEqual(lines[5], {"signal": "DeviceForgotten", "device_id": doc["device_id"]})
        self.assertEqual(monitor.stop(signal.SIGINT), 0)
        self.assertEqual(len(monitor.out), 6, monitor.out)
        self.assertNoSecrets("\n".join(monitor.out + monitor.err), "monitor's output")

    def test_monitor_text(self):
        monitor = self.monitor()
        args = default_args("ucm", name="Boiler room")
        first = self.provision("ucm", args)
        second = self.provision("ucm", args)
        gateway = self.provision("gateway", default_args("gateway"))
        self.failure(*kind_argv("ucm", default_args("ucm", site_id="bad/site")))
        self.ok("forget", first["device_id"])
        lines = monitor.wait_lines(8)
        ucm = first["device_id"]

        def changed(reason, details):
            # MQTTS: the protocol and when the certificate runs out.
            until = text_of(details["certificate_not_after"], "certificate_not_after")
            return f"credentials {reason} {details['device_id']} (MQTTS, not after {until})"
        self.assertEqual(lines[0], f'provisioned ucm {ucm} (name "Boiler room")')
        self.assertEqual(lines[1], changed("provisioned", first))
        self.assertEqual(lines[2], f'provisioned ucm {ucm} (name "Boiler room", reprovisioned)')
        self.assertEqual(lines[3], changed("reprovisioned", second))
        # A gateway's details name it only if the daemon knows a name.
        named = f' (name "{gateway["name"]}")' if "name" in gateway else ""
        self.assertEqual(lines[4], f"provisioned gateway {gateway['device_id']}{named}")
        self.assertEqual(lines[5], changed("provisioned", gateway))
        self.assertRegex(lines[6], r"^failed ucm: " + re.escape(ERROR_PREFIX)
                         + r"InvalidArgument: .*site_id")
        self.assertEqual(lines[7], f"forgotten {ucm}")
        self.assertEqual(monitor.stop(signal.SIGTERM), 0)
        self.assertEqual(len(monitor.out), 8, monitor.out)

    def test_monitor_short_error_names(self):
        """Without --verbose a failure line names the error briefly, and
        stderr stays quiet (it is no terminal)."""
        proc = subprocess.Popen([CTL, "--address", self.H.address, "monitor"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=clean_env())
        lines = []

        def read():
            for line in proc.stdout:
                lines.append(line)
        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        try:
            # Nothing says when it has subscribed: fail calls until it shows one.
            argv = kind_argv("ucm", default_args("ucm", site_id="bad/site"))
            deadline = time.monotonic() + 10
            while not lines and time.monotonic() < deadline:
                self.failure(*argv)
                time.sleep(0.2)
            self.assertTrue(lines, "monitor printed nothing")
            self.assertRegex(lines[0], f"^{MONITOR_TIME} failed ucm: InvalidArgument: .*site_id")
            proc.send_signal(signal.SIGINT)
            self.assertEqual(proc.wait(10), 0)
            reader.join(5)
            for line in lines:
                self.assertEqual(line.split(" ", 1)[1], lines[0].split(" ", 1)[1])
            self.assertEqual(proc.stderr.read(), "")
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            proc.stdout.close()
            proc.stderr.close()


if __name__ == "__main__":
    main()
