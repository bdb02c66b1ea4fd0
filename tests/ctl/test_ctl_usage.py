#!/usr/bin/env python3
"""enapter-provisionctl's command line: usage errors (exit 2, nothing
sent; with --json, also as a JSON error once the options are parsed),
--help and --version (the integration harness's private bus).
test_ctl_completion.py drives the bash completion.

EP_CTL names the client; see ctl_util.py."""

import os
import re

from ctl_util import (COMMANDS, CtlTestCase, default_args, GLOBAL_OPTIONS, INVALID_ARGS,
                      KEYSTORE_COMMANDS, kind_argv, KINDS, main, OPTIONS, SERVICE_COMMANDS)


class Usage(CtlTestCase):
    """Usage errors (exit 2, nothing sent), --help and --version."""

    def test_usage_errors(self):
        full_ucm = kind_argv("ucm", default_args("ucm"))
        gateway = default_args("gateway")
        cases = [
            (["frobnicate"], "unknown command 'frobnicate'"),
            (["--json=off", "pretty", "list"], "--json=pretty"),
            (["frobnicate", "--json"], "unknown command 'frobnicate'"),
            (["--json=bogus", "list"], "--json must be short, pretty or off, not 'bogus'"),
            (["list", "--json=bogus"], "--json must be short, pretty or off, not 'bogus'"),
            (["--json=", "list"], "--json must be short, pretty or off, not ''"),
            (["--json=SHORT"], "--json must be short, pretty or off"),
            (["list", "--kind", "toaster"], "--kind must be ucm, vucm, embedded, link-master, "
             "link-slave, standalone, lua-device or gateway, not 'toaster'"),
            (["list", "--kind"], "--kind"),
            (["list", "--version"], "--version goes before the command"),
            (kind_argv("gateway", gateway, skip=["gateway_version"]) + ["--version", "3.1.0"],
             "--gateway-version"),
            (kind_argv("gateway", gateway, skip=["gateway_version"]) + ["--version"],
             "--gateway-version"),
            (["-H", "somehost", "--address", "unix:path=/x", "list"], "exclude each other"),
            (["list", "--host", "somehost", "--system"], "exclude each other"),
            (["--host", "-oProxyCommand=x", "list"], "--host"),
            (["status", "extra"], "unexpected argument 'extra'"),
            (["check", "extra"], "unexpected argument 'extra'"),
            (["check", "--timeout", "0"], "--timeout"),
            (["ucm", "--site-id", "s"], "missing --hardware-id, --name, --protocol"),
            (["link-slave", "--site-id", "s", "--hardware-id", "h", "--name", "n"],
             "missing --master-device-id"),
            (full_ucm[:-1] + ["http"], "--protocol must be mqtt or mqtts, not 'http'"),
            (kind_argv("embedded", default_args("embedded"))[:2] + ["toaster"]
             + kind_argv("embedded", default_args("embedded"))[3:],
             "--type must be electrolyser, dryer or water-tank, not 'toaster'"),
            (kind_argv("gateway", gateway)[:-1] + ["north"], "--longitude"),
            (kind_argv("gateway", dict(gateway, latitude="nan")), "--latitude"),
            (kind_argv("gateway", dict(gateway, latitude="1e999")), "--latitude"),
            (kind_argv("gateway", dict(gateway, latitude="")), "--latitude"),
            (kind_argv("gateway", dict(gateway, latitude="12abc")), "--latitude"),
            (full_ucm + ["extra"], "unexpected argument 'extra'"),
            (["list", "extra"], "unexpected argument 'extra'"),
            (["monitor", "extra"], "unexpected argument 'extra'"),
            (["generate", "--protocol", "mqtt"], "missing DEVICE_ID"),
            (["generate", "some-device"], "missing --protocol"),
            (["generate", "some-device", "--protocol", "http"],
             "--protocol must be mqtt or mqtts, not 'http'"),
            (["generate", "some-device", "--protocol", ""], "--protocol must be mqtt or mqtts"),
            (["generate", "some-device", "other", "--protocol", "mqtt"],
             "unexpected argument 'other'"),
            (["generate", "some-device", "--protocol"], "--protocol"),
            (["show"], "missing DEVICE_ID"),
            (["forget"], "missing DEVICE_ID"),
            (["show", "a", "b"], "unexpected argument 'b'"),
            (["list", "--bogus"], "--bogus"),
            (["--bogus", "list"], "--bogus"),
            (["ucm", "--site-id"], "--site-id"),
            (["--timeout", "0", "list"], "--timeout"),
            (["--timeout", "-1", "list"], "--timeout"),
            (["--timeout", "soon", "list"], "--timeout"),
            (["list", "--timeout", "inf"], "--timeout"),
            (["--timeout", "5x", "list"], "--timeout: '5x' is not a time span"),
            (["--timeout", "1.5.3", "list"], "--timeout: '1.5.3' is not a time span"),
            (["--timeout", "0x10", "list"], "--timeout"),
            (["--timeout", "1e3", "list"], "--timeout"),
            (["--timeout", "ms", "list"], "--timeout"),
            (["--timeout", "0.0000001", "list"], "from 1 ms to a day"),
            (["--timeout", "1d 1s", "list"], "from 1 ms to a day"),
            (["--session", "list"], "exclude each other"),
            (["list", "--system"], "exclude each other"),
        ]
        # (The harness's --address is on every line: --session and --system
        # conflict with it.)
        for argv, message in cases:
            with self.subTest(argv=argv):
                err = self.failure(*argv, status=2)
                self.assertIn(message, err)
                self.assertIn("--help", err, "a usage error points to --help")
        self.assertNoRequests("after usage errors")
        self.assertEqual(self.ok_json("list"), [], "usage errors provisioned something")

    def test_timeout_spans(self):
        """--timeout takes seconds or a time span with units, as busctl does;
        each of these reaches the daemon and lists."""
        for span in ("30", "1.5", ".5", "500ms", "2min", "1min 30s", "1h30m", "1 min",
                     "2 seconds", "1d", "86400"):
            with self.subTest(span=span):
                self.assertEqual(self.ok_json("--timeout", span, "list"), [])
        # The shortest span is no usage error either (too short for any
        # answer here: the bus is not reached in 1 ms, exit 3).
        for span in ("1ms", "1000us", "0.001"):
            with self.subTest(span=span):
                self.failure("--address", "unix:path=/nonexistent", "--timeout", span, "list",
                             address=False, status=3)

    def test_usage_errors_in_json(self):
        """Once the options are parsed, --json makes a usage error a JSON
        object on stdout too (exit 2, org.freedesktop.DBus.Error.InvalidArgs);
        an error in the options themselves stays on stderr."""
        cases = [
            (["list", "--kind", "toaster"], "--kind must be"),
            (["show"], "missing DEVICE_ID"),
            (["list", "extra"], "unexpected argument 'extra'"),
            (["ucm", "--site-id", "s"], "missing --hardware-id, --name, --protocol"),
            (["generate", "x", "--protocol", "http"], "--protocol must be mqtt or mqtts"),
            (["--timeout", "soon", "list"], "--timeout"),
            (["--session", "list"], "exclude each other"),
        ]
        for argv, message in cases:
            for mode in ("--json", "--json=short", "--json=pretty"):
                with self.subTest(argv=argv, mode=mode):
                    doc = self.json_failure(*argv, status=2, json_mode=mode)
                    self.assertEqual(doc["error"], INVALID_ARGS)
                    self.assertIn(message, doc["message"])
        # An unknown command: the options before it are all there is, so
        # --json is known. ("--json pretty" is --json and a command "pretty".)
        for argv, message in ((["frobnicate"], "unknown command 'frobnicate'"),
                              (["pretty", "list"], "a --json mode is written --json=pretty"),
                              (["help", "frobnicate"], "unknown command 'frobnicate'")):
            for mode in ("--json", "--json=short", "--json=pretty"):
                with self.subTest(argv=argv, mode=mode):
                    doc = self.json_failure(*argv, status=2, json_mode=mode)
                    self.assertEqual(doc["error"], INVALID_ARGS)
                    self.assertIn(message, doc["message"])
        # --json=off: the text alone.
        err = self.failure("--json=off", "show", status=2)
        self.assertIn("missing DEVICE_ID", err)
        # Errors in the options: JSON may not be known, stderr only.
        for argv in (["--json", "list", "--bogus"], ["--json=bogus", "list"],
                     ["--json", "list", "--version"]):
            with self.subTest(argv=argv):
                self.failure(*argv, status=2)
        self.assertNoRequests("after usage errors")

    def test_json_word_is_no_mode(self):
        """--json alone is --json=short, whatever follows; a mode needs '='.
        A "--json" that is an option's value stays that value."""
        self.assertEqual(self.ok("--json", "list"), "[]\n")
        self.assertEqual(self.ok("list", "--json"), "[]\n")
        self.assertEqual(self.ok("--json=off", "list"), "No devices.\n")
        self.assertEqual(self.ok("--json", "--json=off", "list"), "No devices.\n")
        self.assertEqual(self.ok("--json=pretty", "list", "--json=short"), "[]\n")
        err = self.failure("list", "--timeout", "--json", status=2)
        self.assertIn("--timeout: '--json' is not a time span", err)

    def test_help(self):
        out = self.ok("--help", address=False)
        self.assertTrue(out.startswith("Usage:"), out)
        for command in list(COMMANDS.values()) + list(KEYSTORE_COMMANDS) + list(SERVICE_COMMANDS):
            self.assertRegex(out, rf"(?m)^  {command}\b", f"--help lists {command}")
        for status in ("0", "1", "2", "3"):
            self.assertRegex(out, rf"\b{status} (on|when)\b", "--help names the exit statuses")
        for option in GLOBAL_OPTIONS + ("--version",):
            self.assertIn(option, out)
        self.assertEqual(self.ok("help", address=False), out)

        for kind, command in COMMANDS.items():
            with self.subTest(command=command):
                text = self.ok(command, "--help", address=False)
                self.assertIn(f"enapter-provisionctl {command} [OPTION", text)
                self.assertIn(KINDS[kind].method, text)
                shown = set(re.findall(r"(?m)^  (--[a-z-]+)=", text))
                self.assertEqual(shown, {OPTIONS[a] for a in KINDS[kind].args})
                self.assertEqual(self.ok("help", command, address=False), text)
                everything = self.ok(command, "--help-all", address=False)
                for option in GLOBAL_OPTIONS:
                    self.assertIn(option, everything)
        for command in KEYSTORE_COMMANDS + SERVICE_COMMANDS:
            with self.subTest(command=command):
                text = self.ok(command, "--help", address=False)
                self.assertIn(f"enapter-provisionctl {command}", text)
                self.assertNotIn("--ids", text, "--ids is for completion only")
        self.assertIn("DEVICE_ID", self.ok("show", "--help", address=False))
        text = self.ok("generate", "--help", address=False)
        self.assertIn("enapter-provisionctl generate [OPTION…] DEVICE_ID", text)
        self.assertIn("GenerateCredentials", text)
        self.assertEqual(set(re.findall(r"(?m)^  (--[a-z-]+)=", text)), {"--protocol"})
        text = self.ok("export", "--help", address=False)
        self.assertIn("enapter-provisionctl export [OPTION…] DEVICE_ID", text)
        self.assertIn("OpenCredentials", text)
        self.assertIn("ENAPTER_STANDALONE_COMMUNICATION_CONFIG", text)
        self.assertEqual(set(re.findall(r"(?m)^  (--[a-z-]+)=", text)), {"--format"})

    def test_version(self):
        version = os.environ.get("EP_VERSION")
        if version is None:
            res = self.H.get_property("Version")
            self.assertTrue(res.ok, res.doc)
            version = res.reply[0]
        self.assertEqual(self.ok("--version", address=False),
                         f"enapter-provisionctl {version}\n")


if __name__ == "__main__":
    main()
