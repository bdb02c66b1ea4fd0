#!/usr/bin/env python3
"""The bash completion of enapter-provisionctl, driven as bash drives it: the
completion file sourced into a plain bash, COMP_WORDS, COMP_CWORD, COMP_LINE
and COMP_POINT set as bash sets them, the function called and COMPREPLY
read (no terminal needed). Device ids and link masters come from the real
daemon on the integration harness's private bus.

EP_CTL names the client; see ctl_util.py."""

import json
import os
import re
import shutil
import subprocess
import tempfile

from ctl_util import (clean_env, COMMANDS, COMPLETION, CTL, CtlTestCase, default_args,
                      GLOBAL_OPTIONS, KEYSTORE_COMMANDS, KIND_WORDS, KINDS, main, OPTIONS,
                      SERVICE_COMMANDS)

# What "--" completes to after any command: the global options, --json= too,
# and GOption's help options (--help-global only after a command).
GLOBALS = set(GLOBAL_OPTIONS) | {"--json=", "--help", "--help-all", "--help-global"}


class CompletionMixin:
    """The bash completion, driven as bash drives it (COMP_WORDS split at
    blanks and at ':' and '=', COMP_LINE, COMP_POINT)."""

    def complete(self, line, env=None, prelude="", cwd=None, lines=False):
        """The candidates for the end of @line (a set; with @lines, the
        replies as they are, in order); @prelude is bash run after the
        completion file is sourced, in @cwd."""
        if shutil.which("bash") is None:
            self.skipTest("no bash")
        words = []
        for token in line.split(" "):
            words += re.findall(r"[:=]+|[^:=]+", token) or [""]
        script = (f"source {json.dumps(COMPLETION)}\n{prelude}\n"
                  'COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 ))\n'
                  'COMP_LINE=$EP_COMP_LINE; COMP_POINT=${#COMP_LINE}\n'
                  "_enapter_provisionctl\n"
                  'printf "%s\\n" "${COMPREPLY[@]}"\n')
        env = dict(env or clean_env(), EP_COMP_LINE=line)
        proc = subprocess.run(["bash", "--norc", "-c", script, "bash", *words],
                              capture_output=True, text=True, timeout=30, env=env, cwd=cwd)
        self.assertEqual((proc.returncode, proc.stderr), (0, ""), line)
        if lines:
            return [r for r in proc.stdout.split("\n")[:-1] if r]
        return set(proc.stdout.split())


class Completion(CompletionMixin, CtlTestCase):
    """Commands, options, values, time zones, device ids."""

    def test_commands_and_options(self):
        everything = (set(COMMANDS.values()) | set(KEYSTORE_COMMANDS) | set(SERVICE_COMMANDS)
                      | {"help"})
        self.assertEqual(self.complete("enapter-provisionctl "), everything)
        self.assertEqual(self.complete("enapter-provisionctl l"),
                         {"link-master", "link-slave", "list", "lua-device"})
        self.assertEqual(self.complete("enapter-provisionctl --json --timeout 5 s"),
                         {"standalone", "show", "status"})
        self.assertEqual(self.complete("enapter-provisionctl -H gw --no-legend c"), {"check"})
        self.assertEqual(self.complete("enapter-provisionctl --ver"), {"--verbose", "--version"})
        self.assertEqual(self.complete("enapter-provisionctl --no-"),
                         {"--no-legend", "--no-pager"})
        self.assertEqual(self.complete("enapter-provisionctl -"),
                         GLOBALS - {"--help-global"} | {"-H", "--version"})
        for kind, command in COMMANDS.items():
            with self.subTest(command=command):
                got = self.complete(f"enapter-provisionctl {command} --")
                self.assertEqual(got, {OPTIONS[a] for a in KINDS[kind].args} | GLOBALS)
        self.assertEqual(self.complete("enapter-provisionctl embedded --type "),
                         {"electrolyser", "dryer", "water-tank"})
        self.assertEqual(self.complete("enapter-provisionctl embedded --type=w"),
                         {"water-tank"})
        self.assertEqual(self.complete("enapter-provisionctl ucm --protocol mqtt"),
                         {"mqtt", "mqtts"})
        self.assertEqual(self.complete("enapter-provisionctl ucm --site-id "), set())
        self.assertEqual(self.complete("enapter-provisionctl generate --"),
                         {"--protocol"} | GLOBALS)
        self.assertEqual(self.complete("enapter-provisionctl generate some-id --protocol "),
                         {"mqtt", "mqtts"})
        self.assertEqual(self.complete("enapter-provisionctl generate --protocol=mqtts"),
                         {"mqtts"})
        self.assertEqual(self.complete("enapter-provisionctl export --"),
                         {"--format"} | GLOBALS)
        self.assertEqual(self.complete("enapter-provisionctl export some-id --format "),
                         {"blob", "env", "json"})
        self.assertEqual(self.complete("enapter-provisionctl export --format=e"), {"env"})
        self.assertEqual(self.complete("enapter-provisionctl help u"), {"ucm"})
        self.assertEqual(self.complete("enapter-provisionctl help st"), {"standalone", "status"})
        for command in ("status", "check", "monitor"):
            self.assertEqual(self.complete(f"enapter-provisionctl {command} --"), GLOBALS)
            self.assertEqual(self.complete(f"enapter-provisionctl {command} "), set())
        self.assertEqual(self.complete("enapter-provisionctl list --"),
                         {"--kind", "--site"} | GLOBALS)

    def test_new_options(self):
        """--json='s values, --kind's kinds, gateway's --gateway-version (not
        --version), -H's host names."""
        self.assertEqual(self.complete("enapter-provisionctl --js"), {"--json", "--json="})
        self.assertEqual(self.complete("enapter-provisionctl --json="),
                         {"short", "pretty", "off"})
        self.assertEqual(self.complete("enapter-provisionctl list --json=p"), {"pretty"})
        self.assertEqual(self.complete("enapter-provisionctl list --kind "), set(KIND_WORDS))
        self.assertEqual(self.complete("enapter-provisionctl list --kind link-"),
                         {"link-master", "link-slave"})
        self.assertEqual(self.complete("enapter-provisionctl list --kind=lu"), {"lua-device"})
        self.assertEqual(self.complete("enapter-provisionctl list --site "), set())
        got = self.complete("enapter-provisionctl gateway --ver")
        self.assertEqual(got, {"--verbose"}, "after gateway, --version is not an option")
        self.assertEqual(self.complete("enapter-provisionctl gateway --gat"),
                         {"--gateway-version"})
        self.assertEqual(self.complete("enapter-provisionctl gateway --gateway-version "), set())
        with tempfile.NamedTemporaryFile("w", suffix=".hosts") as hosts:
            hosts.write("192.0.2.7 gw-test-host gw-test-other\n")
            hosts.flush()
            env = clean_env(HOSTFILE=hosts.name)
            self.assertEqual(self.complete("enapter-provisionctl -H gw-test-h", env=env),
                             {"gw-test-host"})
            self.assertEqual(self.complete("enapter-provisionctl list --host gw-test-o",
                                           env=env), {"gw-test-other"})

    def test_timezones(self):
        """--timezone: the zones of tzdata (timedatectl's list, or the files
        under $TZDIR)."""
        with tempfile.TemporaryDirectory() as tz:
            for name in ("Europe/Testville", "America/Argentina/Test_Town", "Etc/GMT+5",
                         "UTC", "posix/Europe/Testville", "right/UTC", "zone1970.tab",
                         "tzdata.zi"):
                os.makedirs(os.path.dirname(os.path.join(tz, name)), exist_ok=True)
                open(os.path.join(tz, name), "w").close()
            # No timedatectl (or one that fails, as without systemd): the files.
            no_timedatectl = "timedatectl() { echo 'Failed to connect to bus' >&2; return 1; }"
            env = clean_env(TZDIR=tz)
            line = "enapter-provisionctl gateway --timezone "
            self.assertEqual(self.complete(line, env=env, prelude=no_timedatectl),
                             {"Europe/Testville", "America/Argentina/Test_Town", "Etc/GMT+5",
                              "UTC"})
            self.assertEqual(self.complete(line + "Am", env=env, prelude=no_timedatectl),
                             {"America/Argentina/Test_Town"})
            self.assertEqual(self.complete("enapter-provisionctl gateway --timezone=Eu",
                                           env=env, prelude=no_timedatectl),
                             {"Europe/Testville"})
            # timedatectl's list when it answers.
            fake = "timedatectl() { printf '%s\\n' Europe/Berlin Europe/Paris; }"
            self.assertEqual(self.complete(line + "Europe/", env=env, prelude=fake),
                             {"Europe/Berlin", "Europe/Paris"})
        # This machine's tzdata, whichever way.
        if os.path.exists("/usr/share/zoneinfo/Europe/Berlin"):
            self.assertEqual(self.complete("enapter-provisionctl gateway --timezone Europe/Berl"),
                             {"Europe/Berlin"})

    def test_device_ids(self):
        ids = {self.provision(k, default_args(k))["device_id"] for k in ("ucm", "standalone")}
        env = clean_env(DBUS_SYSTEM_BUS_ADDRESS=self.H.address)
        # The client itself as typed (a path), asked on the system bus.
        for command in ("show", "generate", "export", "forget"):
            got = self.complete(f"{CTL} {command} ", env=env)
            self.assertTrue(ids <= got, got)
        one = sorted(ids)[0]
        # One id per command: none after it.
        for command in ("show", "forget", "export --format env", "generate --protocol mqtt"):
            self.assertEqual(self.complete(f"{CTL} {command} {one} ", env=env), set())
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
        # The link masters for --master-device-id, asked from the daemon.
        masters = {self.provision("link_master", default_args("link_master"))["device_id"]
                   for _ in range(2)}
        for line in (f"{CTL} --address {self.H.address} link-slave --master-device-id ",
                     f"{CTL} link-slave --site-id s --master-device-id="):
            got = self.complete(line, env=env)
            self.assertEqual(got, masters, line)
        one = sorted(masters)[0]
        got = self.complete(f"{CTL} link-slave --master-device-id {one[:20]}", env=env)
        self.assertEqual(got, {m for m in masters if m.startswith(one[:20])})
        # No daemon: no candidates, no noise.
        self.assertEqual(self.complete(f"{CTL} --address unix:path=/nonexistent show "),
                         set())
        self.assertEqual(self.complete(f"{CTL} --address unix:path=/nonexistent link-slave "
                                       "--master-device-id "), set())


# Device ids the daemon serves (printable, no '/', not starting with '.')
# that a shell would expand, split or run.
HOSTILE = ["z$(touch${IFS}PWNED3)", "z`touch PWNED4`", "${HOME}z", "{a,b}", "~root",
           "has space", "a:b=c", "*", "q'uote", 'd"q', "semi;colon&", "-dash"]


class HostileIds(CompletionMixin, CtlTestCase):
    """What the daemon (and tzdata, and the hosts file) say is data: never
    expanded, run or split by the completion, and quoted in the replies."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tmp = tempfile.mkdtemp(prefix="ep-ctl-hostile-")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)
        super().tearDownClass()

    def setUp(self):
        super().setUp()
        self.cwd = os.path.join(self.tmp, self.id().rsplit(".", 1)[-1])
        os.makedirs(self.cwd)

    def tearDown(self):
        self.assertEqual(os.listdir(self.cwd), [], "the completion ran something")
        super().tearDown()

    def words(self, replies):
        """What bash makes of each reply typed as a word (one word each, or
        the reply is not quoted right); run in the test's own directory."""
        script = 'for r; do eval "w=($r)"; printf "%s\\0" "${#w[@]}" "${w[@]}"; done'
        proc = subprocess.run(["bash", "--norc", "-c", script, "bash", *replies],
                              capture_output=True, text=True, timeout=30, cwd=self.cwd,
                              env=clean_env(HOME="/nonexistent-home"))
        self.assertEqual((proc.returncode, proc.stderr), (0, ""), replies)
        fields = proc.stdout.split("\0")[:-1]
        self.assertEqual(fields[0::2], ["1"] * len(replies), f"not one word each: {replies}")
        return fields[1::2]

    def test_device_ids(self):
        master = self.plant(HOSTILE)["device_id"]
        env = clean_env(DBUS_SYSTEM_BUS_ADDRESS=self.H.address, HOME="/nonexistent-home")

        def complete(line, **kwargs):
            return self.complete(line, env=env, cwd=self.cwd, lines=True, **kwargs)

        everything = set(HOSTILE) | {master}
        for command in ("show", "generate", "export", "forget"):
            with self.subTest(command=command):
                replies = complete(f"{CTL} {command} ")
                self.assertEqual(sorted(self.words(replies)), sorted(everything))
        # Only the ids that start with what is typed, typed as the shell
        # reads it.
        for typed, want in (("z", ["z$(touch${IFS}PWNED3)", "z`touch PWNED4`"]),
                            ("\\$", ["${HOME}z"]), ("\\{", ["{a,b}"]), ("\\~", ["~root"]),
                            ("has\\ ", ["has space"]), ("\\*", ["*"]),
                            ("q\\'", ["q'uote"]), ("semi\\;", ["semi;colon&"])):
            with self.subTest(typed=typed):
                self.assertEqual(sorted(self.words(complete(f"{CTL} show {typed}"))), want)
        # Inside an open quote: the rest of the id, as that quote needs it
        # (bash adds the closing quote).
        self.assertEqual(complete(f"{CTL} show 'has"), ["has space"])
        self.assertEqual(complete(f"{CTL} show 'q"), [], "no quote inside '...'")
        self.assertEqual(sorted(complete(f'{CTL} show "z')),
                         ["z\\$(touch\\${IFS}PWNED3)", "z\\`touch PWNED4\\`"])
        # bash replaces only what follows the last ':' or '=' of the word.
        self.assertEqual(set(complete(f"{CTL} show a")),
                         {i for i in everything if i.startswith("a")})
        self.assertEqual(complete(f"{CTL} show a:"), ["b=c"])
        self.assertEqual(complete(f"{CTL} show a:b="), ["c"])
        # After "--", an id that starts with '-'; after the id, nothing.
        self.assertEqual(complete(f"{CTL} show -- -"), ["-dash"])
        self.assertEqual(complete(f"{CTL} show a:b=c "), [])
        self.assertEqual(complete(f"{CTL} export --format env -- -dash "), [])
        # The link masters for --master-device-id, the same way.
        replies = complete(f"{CTL} link-slave --master-device-id ")
        self.assertEqual(sorted(self.words(replies)), sorted(everything))
        replies = complete(f"{CTL} link-slave --master-device-id=z")
        self.assertEqual(sorted(self.words(replies)),
                         ["z$(touch${IFS}PWNED3)", "z`touch PWNED4`"])

    def test_zones(self):
        """A time zone list is data too."""
        fake = ("timedatectl() { printf '%s\\n' 'Europe/$(touch PWNED5)' 'Europe/`touch PWNED6`'"
                " 'Europe/Berlin'; }")
        line = "enapter-provisionctl gateway --timezone Europe/"
        replies = self.complete(line, prelude=fake, cwd=self.cwd, lines=True)
        self.assertEqual(sorted(self.words(replies)),
                         ["Europe/$(touch PWNED5)", "Europe/Berlin", "Europe/`touch PWNED6`"])

    def test_no_remote_lookup(self):
        """-H: no look-up on the other machine (ssh could prompt or hang), so
        no ids; nor for a unixexec: address, which runs a program."""
        marker = os.path.join(self.tmp, "ssh-ran")
        bindir = os.path.join(self.tmp, "bin")
        os.makedirs(bindir, exist_ok=True)
        with open(os.path.join(bindir, "ssh"), "w") as f:
            f.write(f"#!/bin/sh\ntouch {marker}\nexit 255\n")
        os.chmod(os.path.join(bindir, "ssh"), 0o755)
        env = clean_env(PATH=bindir + os.pathsep + os.environ.get("PATH", "/usr/bin:/bin"))
        for line in (f"{CTL} -H gw show ", f"{CTL} --host=root@gw forget ",
                     f"{CTL} -Hgw link-slave --master-device-id ",
                     f"{CTL} --address unixexec:path={bindir}/ssh show "):
            with self.subTest(line=line):
                self.assertEqual(self.complete(line, env=env, cwd=self.cwd, lines=True), [])
        self.assertFalse(os.path.exists(marker), "the completion ran ssh")


if __name__ == "__main__":
    main()
