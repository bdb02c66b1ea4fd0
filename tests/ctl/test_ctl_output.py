#!/usr/bin/env python3
"""enapter-provisionctl's output manners against the real daemon (the
integration harness): --json=short|pretty|off, --no-legend, list's filters,
order and shortening to the terminal (a pseudo-terminal, $COLUMNS),
monitor's timestamps, and gateway's --gateway-version.

EP_CTL names the client; see ctl_util.py."""

import json
import re
import signal
import time

from ctl_util import (clean_env, CTL, CtlTestCase, cut_row, default_args, KINDS, kind_argv,
                      LIST_TITLES, main, MONITOR_JSON_TIME, MONITOR_TIME, parse_fields,
                      parse_time, run_tty, table, untimed, wait_until, width)


class JsonModes(CtlTestCase):
    """short is one line, pretty is indented over several, off is the text;
    all three hold the same data."""

    def test_modes(self):
        device = self.provision("ucm", default_args("ucm"))
        device_id = device["device_id"]
        for argv in (["show", device_id], ["list"], ["status"],
                     ["list", "--kind", "ucm"]):
            with self.subTest(argv=argv):
                short = self.ok("--json=short", *argv)
                self.assertEqual(short.count("\n"), 1, short)
                self.assertEqual(self.ok("--json", *argv), short)
                self.assertEqual(self.ok(*argv, "--json"), short)
                pretty = self.ok("--json=pretty", *argv)
                self.assertGreater(pretty.count("\n"), 2, pretty)
                self.assertRegex(pretty, r'\n  +"', "pretty is indented")
                doc = json.loads(short)
                if argv[0] != "status":  # (ActiveRequests may move between calls)
                    self.assertEqual(json.loads(pretty), doc)
                else:
                    self.assertEqual(set(json.loads(pretty)), set(doc))
                text = self.ok("--json=off", *argv)
                self.assertEqual(text, self.ok(*argv))
                self.assertEqual(self.ok("--json", *argv, "--json=off"), text)
                self.assertRaises(ValueError, json.loads, text)
        self.assertEqual(parse_fields(self, self.ok("--json=off", "show", device_id))
                         ["device_id"], device_id)
        # forget's answer in each mode.
        forgotten = {"device_id": device_id, "forgotten": True}
        self.assertEqual(json.loads(self.ok("--json=pretty", "forget", device_id)), forgotten)


class Listing(CtlTestCase):
    """list: --kind, --site, one order, --no-legend, the terminal's width."""

    def setUp(self):
        super().setUp()
        self.forget_all()

    def make(self):
        """Two sites, four kinds; returns the devices' details by id."""
        master = self.provision("link_master", default_args("link_master", site_id="site-a"))
        made = [master,
                self.provision("ucm", default_args("ucm", site_id="site-a")),
                self.provision("ucm", default_args("ucm", site_id="site-b")),
                self.provision("link_slave", default_args(
                    "link_slave", site_id="site-b", master_device_id=master["device_id"])),
                self.provision("standalone", default_args("standalone", site_id="site-a"))]
        return {d["device_id"]: d for d in made}

    def test_filters_and_order(self):
        devices = self.make()
        everything = self.ok_json("list")
        order = sorted(everything, key=lambda d: (d["provisioned_at"], d["device_id"]))
        self.assertEqual(everything, order, "--json is oldest first, then by id")
        table_ids = [cells[0] for cells in table(self, self.ok("list"), LIST_TITLES)]
        self.assertEqual(table_ids, [d["device_id"] for d in everything],
                         "the table and --json in one order")

        cases = [
            (["--kind", "ucm"], lambda d: d["kind"] == "ucm"),
            (["--kind", "link-master"], lambda d: d["kind"] == "link_master"),
            (["--kind=link_master"], lambda d: d["kind"] == "link_master"),
            (["--kind", "LINK-SLAVE"], lambda d: d["kind"] == "link_slave"),
            (["--kind", "gateway"], lambda d: False),
            (["--site", "site-a"], lambda d: d.get("site_id") == "site-a"),
            (["--site", "site-b", "--kind", "ucm"],
             lambda d: d.get("site_id") == "site-b" and d["kind"] == "ucm"),
            (["--site", "nowhere"], lambda d: False),
        ]
        for argv, keep in cases:
            with self.subTest(argv=argv):
                want = [d for d in everything if keep(d)]
                self.assertEqual(self.ok_json("list", *argv), want)
                rows = table(self, self.ok("list", *argv), LIST_TITLES)
                self.assertEqual([r[0] for r in rows], [d["device_id"] for d in want])
                for cells in rows:
                    d = devices[cells[0]]
                    self.assertEqual(cells[1:5], [d["kind"], d.get("name", "-"),
                                                  d.get("site_id", "-"),
                                                  d.get("hardware_id", "-")])
                self.assertEqual(self.ok("list", "--ids", *argv).split(),
                                 [d["device_id"] for d in want])
        self.assertEqual(self.ok("list", "--kind", "gateway"), "No devices.\n")

    def test_no_legend(self):
        devices = self.make()
        text = self.ok("list", "--no-legend")
        lines = text.splitlines()
        self.assertEqual(len(lines), len(devices), text)
        self.assertEqual([line.split()[0] for line in lines],
                         [d["device_id"] for d in self.ok_json("list")])
        self.assertNotIn("DEVICE ID", text)
        self.assertNotIn("listed", text)
        # The same rows as with the legend, in the same columns when the
        # widths agree (the headers are narrower than these cells).
        with_legend = self.ok("list").splitlines()
        self.assertEqual(lines, with_legend[1:-2])
        self.assertEqual(self.ok("list", "--no-legend", "--kind", "gateway"), "")
        self.assertEqual(self.ok("--no-legend", "list", "--kind", "gateway"), "")
        self.assertEqual(self.ok("list", "--no-pager", "--no-legend"), text)
        # One device: "1 device listed."
        one = self.ok("list", "--kind", "standalone")
        self.assertTrue(one.endswith("\n\n1 device listed.\n"), one)

    def tty_list(self, columns, *argv, locale="C.UTF-8"):
        """list on a pseudo-terminal of @columns; (header, rows) with each
        row cut at the header's titles."""
        full = [CTL, "--address", self.H.address, "list", *argv]
        rc, out, err = run_tty(full, clean_env(LC_ALL=locale), columns=columns)
        self.assertEqual((rc, err), (0, ""), out)
        lines = out.splitlines()
        self.assertEqual(lines[-2:], ["", f"{len(lines) - 3} "
                                      f"device{'' if len(lines) == 4 else 's'} listed."], out)
        header = lines[0]
        starts = [header.index(t) for t in LIST_TITLES]
        return out, [[c.strip() for c in cut_row(line, starts)] for line in lines[1:-2]]

    def test_fitted_to_the_terminal(self):
        """On a terminal: the name gives way (8 columns at least), then
        EXPIRES drops its time; ids are never cut, and a table that cannot
        fit is printed whole."""
        long_name = "Boiler room pump 漢字 " + "x" * 60
        # Real-world ids: a UUID, a site id and a hardware id of 20 or so.
        real = self.provision("ucm", default_args("ucm", name=long_name, site_id="site-real"))
        # Short ids: without a certificate it fits 80 columns exactly once
        # NAME is down to 8 (36+2+4+2+8+2+4+2+11+2+7).
        short = self.provision("ucm", default_args("ucm", name=long_name, site_id="s1",
                                                   hardware_id="HW1", protocol="MQTT"))
        # Short ids and a certificate: fits only with EXPIRES a date.
        dated = self.provision("ucm", default_args("ucm", name=long_name, site_id="s2",
                                                   hardware_id="HW2"))
        piped = {site: self.ok("list", "--site", site, env=clean_env(COLUMNS="40"))
                 for site in ("site-real", "s1", "s2")}
        for text in piped.values():
            self.assertIn(long_name, text, "piped output is never shortened")

        # 80 columns, real-world ids: nothing would fit, the table is whole.
        out, rows = self.tty_list(80, "--site", "site-real")
        self.assertEqual(out, piped["site-real"])
        self.assertEqual(rows[0][:5], [real["device_id"], "ucm", long_name, "site-real",
                                       real["hardware_id"]])
        self.assertRegex(rows[0][5], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        # 80 columns, short ids, no certificate: NAME gives way to 8 columns.
        out, rows = self.tty_list(80, "--site", "s1")
        self.assertEqual(max(width(line) for line in out.splitlines()), 80, out)
        self.assertEqual(rows[0], [short["device_id"], "ucm", long_name[:7] + "…", "s1", "HW1",
                                   "-"])
        # The C locale: "..." instead.
        out, rows = self.tty_list(80, "--site", "s1", locale="C")
        self.assertEqual(rows[0][2], long_name[:5] + "...")
        # A certificate: at 80 nothing fits (the table whole); at 83, NAME
        # at 8 and EXPIRES a date; wider, the name grows back first.
        out, rows = self.tty_list(80, "--site", "s2")
        self.assertEqual(out, piped["s2"])
        full_time = rows[0][5]
        out, rows = self.tty_list(83, "--site", "s2")
        self.assertEqual(max(width(line) for line in out.splitlines()), 83, out)
        self.assertEqual(rows[0], [dated["device_id"], "ucm", long_name[:7] + "…", "s2", "HW2",
                                   full_time[:10]])
        out, rows = self.tty_list(90, "--site", "s2")
        self.assertEqual(rows[0][2], long_name[:14] + "…")
        self.assertEqual(rows[0][5], full_time[:10])
        natural = max(width(line) for line in piped["s2"].splitlines())
        # Room for the name shortened and the whole time: the time stays.
        out, rows = self.tty_list(natural - 20, "--site", "s2")
        self.assertEqual(rows[0][5], full_time)
        self.assertTrue(rows[0][2].endswith("…"), rows[0][2])
        # Wide enough: as piped.
        out, _ = self.tty_list(natural, "--site", "s2")
        self.assertEqual(out, piped["s2"])
        # No $COLUMNS: the terminal's own width (a pty starts at 0: unlimited).
        out, _ = self.tty_list(None)
        self.assertIn(long_name, out)


class Timestamps(CtlTestCase):
    """monitor: each line starts with the time it arrived; --json has a
    "timestamp" member with microseconds, --json=pretty indents each
    object."""

    def test_timestamps(self):
        text, short, pretty = self.monitor(), self.monitor("--json"), \
            self.monitor("--json=pretty")
        before = time.time()
        device = self.provision("standalone", default_args("standalone"))
        self.ok("forget", device["device_id"])
        lines = text.wait_lines(3)
        short.wait_lines(3)
        # A monitor stamps a signal when it reads it, which may be after the
        # call that caused it has returned: "after" is once both have read all.
        after = time.time()
        self.assertEqual(lines[2], f"forgotten {device['device_id']}")
        for line in text.out:
            stamp = re.match(f"^({MONITOR_TIME}) ", line).group(1)
            self.assertLessEqual(int(before), parse_time(stamp))
            self.assertLessEqual(parse_time(stamp), after + 1)
        short.wait_lines(3)
        events = [json.loads(line) for line in short.out[:3]]
        stamps = [e["timestamp"] for e in events]
        for stamp in stamps:
            self.assertRegex(stamp, f"^{MONITOR_JSON_TIME}$")
            self.assertLessEqual(before - 0.001, parse_time(stamp))
            self.assertLessEqual(parse_time(stamp), after)
        self.assertEqual(stamps, sorted(stamps))
        self.assertEqual(list(events[0])[:2], ["signal", "timestamp"])
        self.assertEqual(json.loads(untimed(short.out[2])),
                         {"signal": "DeviceForgotten", "device_id": device["device_id"]})

        # pretty: one indented object per signal, over several lines.
        wait_until(lambda: sum('"timestamp"' in line for line in pretty.out) >= 3, 15,
                   what="3 pretty objects")
        self.assertEqual(pretty.stop(signal.SIGINT), 0)
        decoder, docs, rest = json.JSONDecoder(), [], "\n".join(pretty.out).strip()
        while rest:
            doc, end = decoder.raw_decode(rest)
            docs.append(doc)
            rest = rest[end:].strip()
        self.assertEqual([d["signal"] for d in docs], [e["signal"] for e in events])
        for doc in docs:
            self.assertRegex(doc["timestamp"], f"^{MONITOR_JSON_TIME}$")
        self.assertGreater(len(pretty.out), len(docs) * 3, "pretty objects span lines")
        for m in (text, short):
            self.assertEqual(m.stop(), 0)


class Printable(CtlTestCase):
    """Text a terminal would act on or hide (bidirectional overrides,
    zero-width and format characters, line separators) is shown as '?', as
    the daemon's log escapes it; --json keeps it."""

    NAME = "ab\u202ecd\u200bef\u2028gh\u2066ij\ufeffkl"
    SHOWN = "ab?cd?ef?gh?ij?kl"

    def test_format_characters(self):
        m = self.monitor()
        device = self.provision("standalone", default_args("standalone", name=self.NAME))
        device_id = device["device_id"]
        self.assertEqual(device["name"], self.NAME, "--json keeps the text")
        self.assertEqual(parse_fields(self, self.ok("show", device_id))["name"], self.SHOWN)
        row = [line for line in self.ok("list").splitlines() if line.startswith(device_id)]
        self.assertIn(f"  {self.SHOWN}  ", row[0])
        self.assertIn(f'(name "{self.SHOWN}")', m.wait_lines(1)[0])
        # In a message too: the daemon's error quotes the typed id.
        err = self.failure("show", "x\u202ey", status=1)
        self.assertIn("x?y", err)
        self.assertNotIn("\u202e", err)


class GatewayVersion(CtlTestCase):
    """gateway --gateway-version: the API's gateway_version; --version after
    gateway is a usage error that names it."""

    def test_gateway_version(self):
        args = default_args("gateway", gateway_version="3.1.4")
        argv = kind_argv("gateway", args)
        self.assertIn("--gateway-version", argv)
        doc = self.ok_json(*argv)
        target = self.H.target_of("gateway")
        bodies = [r["json"] for r in target.requests(KINDS["gateway"].endpoint)]
        self.assertEqual([b.get("gateway_version") for b in bodies], ["3.1.4"], bodies)
        self.assertTrue(doc["device_id"])
        self.H.reset_standins()
        bad = kind_argv("gateway", args, skip=["gateway_version"]) + ["--version", "3.1.4"]
        err = self.failure(*bad, status=2)
        self.assertIn("--gateway-version", err)
        self.assertNoRequests("after gateway --version")
        text = self.ok("gateway", "--help", address=False)
        self.assertIn("--gateway-version=VERSION", text)
        self.assertNotRegex(text, r"(?m)^\s+--version")


if __name__ == "__main__":
    main()
