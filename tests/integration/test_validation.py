#!/usr/bin/env python3
"""Every input rule of README "D-Bus API", both sides of each boundary: a value
that breaks a rule gets InvalidArgument naming the argument and no HTTP
request at all; a value just inside the rule is sent to the API verbatim."""

import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import KINDS, HarnessTestCase, default_args, main

ID_BAD = ["", " ", "a b", "a/b", "a.b", "../x", "..", "a\\b", "ä", "a\tb", "a\nb", "a;b",
          "a'b", 'a"b', "a%2Fb", " a", "a ", "a\x7f", "a\x1bb", "a:b", "a+b", "a@b"]
ID_GOOD = ["a", "Z", "0", "_", "-", "a_B-9", "--__--", "ucmbbba0-79f2-4e9e-a6f0-69a310ab110b"]

NAME_BAD = ["", " ", "     ", "\t", "\n", " \t\r\n ", "\u00a0", "\u3000 \u2003",
            "a\nb", "a\tb", "a\rb", "\x1b[31mred", "bell\x07", "del\x7f", "nel\u0085x",
            "csi\u009bx", "n" * 256, "\u00e9" * 128, "\U0001F680" * 64]
NAME_GOOD = ["n", "n" * 255, "\u00e9" * 127 + "x", "\U0001F680" * 63 + "abc",
             "\u00dcn\u00efc\u00f8d\u00e9 \u8bbe\u5907 \U0001F680", "O'Brien \"quoted\" \\ back",
             " leading and trailing ", "a b", "Gas sensor #1 (basement)", "x/../y"]


class InputRules(HarnessTestCase):

    def rejected(self, kind, arg, value):
        args = default_args(kind, **{arg: value})
        self.H.reset_standins()
        res = self.H.provision(kind, args)
        msg = self.assertError(res, "InvalidArgument", f"{kind} with {arg}={value!r}")
        self.assertRegex(msg or "", rf"(?<![A-Za-z0-9_]){re.escape(arg)}(?![A-Za-z0-9_])",
                         f"the message does not name {arg}")
        self.assertNoRequests(f"for {kind} with {arg}={value!r}")

    def accepted(self, kind, arg, value, error=None):
        """@value passes the rules: the request goes out with it verbatim (the
        call may still fail later with @error, for a reason of the API's)."""
        args = default_args(kind, **{arg: value})
        self.H.reset_standins()
        res = self.H.provision(kind, args)
        if error is None:
            self.assertOk(res, f"{kind} with {arg}={value!r}")
        else:
            self.assertError(res, error, f"{kind} with {arg}={value!r}")
        reqs = self.H.all_requests()
        self.assertEqual(len(reqs), 1, f"{kind} with {arg}={value!r} sent no request")
        body = reqs[0]["json"]
        sent = body["site_location"][arg] if arg in ("latitude", "longitude") else body[arg]
        self.assertEqual(sent, value, f"{arg} was not sent verbatim")

    def cases(self, kind, arg, good=(), bad=(), error=None):
        for value in good:
            with self.subTest(kind=kind, arg=arg, accepted=value):
                self.accepted(kind, arg, value, error)
        for value in bad:
            with self.subTest(kind=kind, arg=arg, rejected=value):
                self.rejected(kind, arg, value)

    # -- identifiers

    def test_site_id(self):
        self.cases("ucm", "site_id", ID_GOOD + ["s" * 128], ID_BAD + ["s" * 129])
        for kind in ("vucm", "embedded", "link_master", "link_slave", "standalone", "gateway"):
            self.cases(kind, "site_id", bad=["", "s" * 129, "a/b"])

    def test_hardware_id(self):
        self.cases("ucm", "hardware_id", ID_GOOD[:-1] + ["H" * 64], ID_BAD + ["H" * 65])
        for kind in ("vucm", "embedded", "link_master", "link_slave", "gateway"):
            self.cases(kind, "hardware_id", bad=["", "H" * 65, "../x"])

    def test_runtime_id(self):
        self.cases("lua_device", "runtime_id", ID_GOOD + ["r" * 128], ID_BAD + ["r" * 129])

    def test_blueprint_id(self):
        self.cases("lua_device", "blueprint_id", ID_GOOD + ["b" * 128], ID_BAD + ["b" * 129])

    def test_master_device_id(self):
        # valid ids the stand-in has never seen: the API answers 404
        self.cases("link_slave", "master_device_id", ID_GOOD + ["m" * 128], error="NotFound")
        self.cases("link_slave", "master_device_id", bad=ID_BAD + ["m" * 129])

    # -- names

    def test_name(self):
        self.cases("ucm", "name", NAME_GOOD, NAME_BAD)
        for kind in ("vucm", "embedded", "link_master", "link_slave", "standalone",
                     "lua_device"):
            self.cases(kind, "name", bad=["", " ", "a\nb", "n" * 256])

    def test_site_name(self):
        self.cases("gateway", "site_name", NAME_GOOD[:4], NAME_BAD)

    # -- enumerations and patterns

    def test_protocol(self):
        bad = ["", "mqtt", "Mqtts", "MQTTS ", " MQTT", "MQTT\n", "HTTP", "MQTTSS", "MQT", "TLS"]
        for kind in ("ucm", "embedded"):
            self.cases(kind, "protocol", ["MQTT", "MQTTS"], bad)

    def test_device_type(self):
        self.cases("embedded", "device_type", ["ELECTROLYSER", "DRYER", "WATER_TANK"],
                   ["", "electrolyser", "Dryer", "WATER-TANK", "WATER TANK", "DRYER ",
                    "TANK", "UCM", "ELECTROLYSER\n"])

    def test_slug(self):
        self.cases("lua_device", "slug",
                   ["a", "0", "9lives", "a-", "a" + "-" * 63, "x" * 64, "gas-sensor-1"],
                   ["", "-a", "A", "aB", "a_b", "a.b", "a/b", "../x", "..", "x" * 65, "a b",
                    "\u00e9", "a\n", " a"])

    def test_gateway_version(self):
        self.cases("gateway", "gateway_version",
                   ["3.0.0", "3.1.0-rc.1", "0.0.0", "10.20.30", "1.0.0-alpha",
                    "1.0.0-alpha.beta.1", "1.0.0-0.3.7", "1.0.0-x-y-z.--", "1.0.0+build.1",
                    "1.0.0-rc.1+build.5"],
                   ["", "3", "3.0", "3.0.0.0", "v3.0.0", "03.0.0", "3.00.0", "3.0.0-",
                    "3.0.0-rc..1", "3.0.0-01", "3.0.0+", "3.0.0-rc.1+", " 3.0.0", "3.0.0 ",
                    "3.0.0\n", "a.b.c", "-1.0.0", "3.0.0-\u00e9", "3.0.0-rc_1"])

    def test_site_timezone(self):
        self.cases("gateway", "site_timezone",
                   ["Europe/Berlin", "UTC", "America/Argentina/Buenos_Aires", "Etc/GMT+5",
                    "America/Port-au-Prince"],
                   ["", "Europe/Nowhere", "Mars/Olympus_Mons", "../../etc/passwd",
                    "/etc/passwd", "/usr/share/zoneinfo/Europe/Berlin",
                    "Europe/../Europe/Berlin", "Europe/../../../../etc/passwd",
                    "./Europe/Berlin", "Europe/Berlin/", "Europe//Berlin", "europe/berlin",
                    "Europe", "zone.tab", "tzdata.zi", "Europe/Berlin\n", "Europe/Berlin ",
                    "CET-1", "EST5EDT,M3.2.0,M11.1.0", ".", ".."])

    # -- coordinates

    def test_latitude(self):
        self.cases("gateway", "latitude", [-90.0, 90.0, 0.0, 52.520008, -33.8688],
                   [float("nan"), float("inf"), float("-inf"), 90.000001, -90.000001, 91.0,
                    1e308, -1e308])

    def test_longitude(self):
        self.cases("gateway", "longitude", [-180.0, 180.0, 0.0, 13.404954, -122.4194],
                   [float("nan"), float("inf"), float("-inf"), 180.000001, -180.000001,
                    360.0, 1e308])

    def test_every_method_checks_before_sending(self):
        """An empty first argument is refused by every Provision method."""
        for kind, k in KINDS.items():
            with self.subTest(kind=kind):
                self.rejected(kind, k.args[0], "")


if __name__ == "__main__":
    main()
