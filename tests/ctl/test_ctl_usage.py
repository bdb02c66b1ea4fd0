#!/usr/bin/env python3
"""enapter-provisionctl's command line: usage errors (exit 2, nothing
sent), --help, --version, and the bash completion driven as bash drives it,
device ids included (the integration harness's private bus).

EP_CTL names the client; see ctl_util.py."""

import json
import os
import re
import shutil
import subprocess

from ctl_util import (clean_env, COMMANDS, COMPLETION, CTL, CtlTestCase, default_args,
                      GLOBAL_OPTIONS, KEYSTORE_COMMANDS, kind_argv, KINDS, main, OPTIONS)


class Usage(CtlTestCase):
    """Usage errors (exit 2, nothing sent), --help and --version."""

    def test_usage_errors(self):
        full_ucm = kind_argv("ucm", default_args("ucm"))
        gateway = default_args("gateway")
        cases = [
            ([], "missing command"),
            (["frobnicate"], "unknown command 'frobnicate'"),
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
            (["--session", "list"], "exclude each other"),
            (["list", "--system"], "exclude each other"),
        ]
        for argv, message in cases:
            with self.subTest(argv=argv):
                err = self.failure(*argv, status=2)
                self.assertIn(message, err)
                self.assertIn("--help", err, "a usage error points to --help")
        self.assertNoRequests("after usage errors")
        self.assertEqual(self.ok_json("list"), [], "usage errors provisioned something")

    def test_help(self):
        out = self.ok("--help", address=False)
        self.assertTrue(out.startswith("Usage:"), out)
        for command in list(COMMANDS.values()) + list(KEYSTORE_COMMANDS):
            self.assertRegex(out, rf"(?m)^  {command}\b", f"--help lists {command}")
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
        for command in KEYSTORE_COMMANDS:
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


class Completion(CtlTestCase):
    """The bash completion, driven as bash drives it (COMP_WORDS split at
    blanks and at ':' and '=', COMP_LINE, COMP_POINT)."""

    def complete(self, line, env=None):
        """The candidates for the end of @line."""
        if shutil.which("bash") is None:
            self.skipTest("no bash")
        words = []
        for token in line.split(" "):
            words += re.findall(r"[:=]+|[^:=]+", token) or [""]
        script = (f"source {json.dumps(COMPLETION)}\n"
                  'COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 ))\n'
                  f"COMP_LINE={json.dumps(line)}; COMP_POINT=${{#COMP_LINE}}\n"
                  "_enapter_provisionctl\n"
                  'printf "%s\\n" "${COMPREPLY[@]}"\n')
        proc = subprocess.run(["bash", "--norc", "-c", script, "bash", *words],
                              capture_output=True, text=True, timeout=30,
                              env=env or clean_env())
        self.assertEqual((proc.returncode, proc.stderr), (0, ""), line)
        return set(proc.stdout.split())

    def test_commands_and_options(self):
        everything = set(COMMANDS.values()) | set(KEYSTORE_COMMANDS) | {"help"}
        self.assertEqual(self.complete("enapter-provisionctl "), everything)
        self.assertEqual(self.complete("enapter-provisionctl l"),
                         {"link-master", "link-slave", "list", "lua-device"})
        self.assertEqual(self.complete("enapter-provisionctl --json --timeout 5 s"),
                         {"standalone", "show"})
        self.assertEqual(self.complete("enapter-provisionctl --ver"), {"--verbose", "--version"})
        for kind, command in COMMANDS.items():
            with self.subTest(command=command):
                got = self.complete(f"enapter-provisionctl {command} --")
                self.assertEqual(got, {OPTIONS[a] for a in KINDS[kind].args}
                                 | set(GLOBAL_OPTIONS) | {"--help"})
        self.assertEqual(self.complete("enapter-provisionctl embedded --type "),
                         {"electrolyser", "dryer", "water-tank"})
        self.assertEqual(self.complete("enapter-provisionctl embedded --type=w"),
                         {"water-tank"})
        self.assertEqual(self.complete("enapter-provisionctl ucm --protocol mqtt"),
                         {"mqtt", "mqtts"})
        self.assertEqual(self.complete("enapter-provisionctl ucm --site-id "), set())
        self.assertEqual(self.complete("enapter-provisionctl generate --"),
                         {"--protocol"} | set(GLOBAL_OPTIONS) | {"--help"})
        self.assertEqual(self.complete("enapter-provisionctl generate some-id --protocol "),
                         {"mqtt", "mqtts"})
        self.assertEqual(self.complete("enapter-provisionctl generate --protocol=mqtts"),
                         {"mqtts"})
        self.assertEqual(self.complete("enapter-provisionctl export --"),
                         {"--format"} | set(GLOBAL_OPTIONS) | {"--help"})
        self.assertEqual(self.complete("enapter-provisionctl export some-id --format "),
                         {"blob", "env", "json"})
        self.assertEqual(self.complete("enapter-provisionctl export --format=e"), {"env"})
        self.assertEqual(self.complete("enapter-provisionctl help u"), {"ucm"})

    def test_device_ids(self):
        ids = {self.provision(k, default_args(k))["device_id"] for k in ("ucm", "standalone")}
        env = clean_env(DBUS_SYSTEM_BUS_ADDRESS=self.H.address)
        # The client itself as typed (a path), asked on the system bus.
        for command in ("show", "generate", "export", "forget"):
            got = self.complete(f"{CTL} {command} ", env=env)
            self.assertTrue(ids <= got, got)
        one = sorted(ids)[0]
        got = self.complete(f"{CTL} show {one[:12]}", env=env)
        self.assertEqual(got, {i for i in self.ok("list", "--ids").split()
                               if i.startswith(one[:12])})
        # --address on the line is used for the look-up.
        got = self.complete(f"{CTL} --address {self.H.address} forget ")
        self.assertTrue(ids <= got, got)
        # After generate's option and its value, still the device ids.
        got = self.complete(f"{CTL} --address {self.H.address} generate --protocol mqtt ")
        self.assertTrue(ids <= got, got)
        got = self.complete(f"{CTL} --address {self.H.address} export --format env ")
        self.assertTrue(ids <= got, got)
        # No daemon: no candidates, no noise.
        self.assertEqual(self.complete(f"{CTL} --address unix:path=/nonexistent show "),
                         set())


if __name__ == "__main__":
    main()
