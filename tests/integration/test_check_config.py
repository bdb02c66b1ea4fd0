#!/usr/bin/env python3
"""enapter-provisiond --check-config [--config PATH] (enapter-provisiond(8)):
the real daemon checks a file and reports every problem, a line each on
stderr as FILE:LINE: [Section] Key: problem, exit 1; a good file prints
FILE: OK and exits 0; a missing file is a problem that says what to do. It
touches no bus, no network and no keystore, and never prints a token, not
even when the file given is a token or a key. A FIFO, a device, a directory
or a huge file is refused at once. Run as root, it notes that the service
reads the files as its own user. The daemon's start runs the same checks: a
file with several problems is refused with every problem logged at error
level, and the daemon exits 1 before it goes for the bus."""

import os
import resource
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import CANARY, DAEMON, TLS_CERT, clean_env, main  # noqa: E402
from test_trust_startup import BusTrap  # noqa: E402


def built_with_asan():
    """Whether the daemon under test links ASan's runtime (meson's
    b_sanitize=address), which costs its allocations several times the CPU."""
    with open(DAEMON, "rb") as f:
        return b"libasan.so" in f.read()


class CheckConfig(unittest.TestCase):

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="ep-check-")
        self.addCleanup(shutil.rmtree, self.tmp, ignore_errors=True)
        self.trap = BusTrap(self.tmp)
        self.addCleanup(self.trap.close)
        self.token = f"{CANARY}-TOKEN-check-{uuid.uuid4().hex}"
        self.token_file = self.write("token", self.token + "\n", 0o600)
        # A port that listens and must never see a connection.
        self.api = socket.socket()
        self.api.bind(("127.0.0.1", 0))
        self.api.listen(4)
        self.api.setblocking(False)
        self.addCleanup(self.api.close)
        self.api_url = f"http://127.0.0.1:{self.api.getsockname()[1]}"
        self.keystore = os.path.join(self.tmp, "keystore")

    def write(self, name, text, mode=0o644):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, mode)
        return path

    def run_daemon(self, *args, bus=None, **env):
        proc = subprocess.run(
            [DAEMON, *args], capture_output=True, text=True, timeout=30,
            env=clean_env(DBUS_SYSTEM_BUS_ADDRESS=bus or self.trap.address, **env))
        return proc.returncode, proc.stdout, proc.stderr

    def check(self, conf, **kwargs):
        return self.run_daemon("--check-config", "--config", conf, **kwargs)

    @staticmethod
    def root_note(conf):
        """What a check run as root adds on stdout."""
        if os.geteuid() != 0:
            return ""
        return ("note: the files were read as root, but the service reads them as its user "
                "enapter-provisiond; to check as it will, run: runuser -u enapter-provisiond "
                f"-- enapter-provisiond --check-config --config {shlex.quote(conf)}\n")

    def assert_untouched(self, out, err):
        """Nothing went for the bus, the API or the keystore, and no token
        was printed."""
        self.assertFalse(self.trap.connected(), "the daemon went for the bus")
        try:
            self.api.accept()[0].close()
            self.fail("the daemon connected to the API")
        except BlockingIOError:
            pass
        self.assertFalse(os.path.lexists(self.keystore), "the keystore was created")
        self.assertNotIn(CANARY, out + err, "a token was printed")

    def good_text(self):
        return (f"[Cloud]\nURL={self.api_url}\nTokenFile={self.token_file}\nCAFile={TLS_CERT}\n"
                f"[Gateway]\nURL={self.api_url}/api\nTokenFile={self.token_file}\n"
                "[Provisioning]\nTimeout=5\nDeadline=10\n"
                f"[Keystore]\nPath={self.keystore}\n"
                "[Access]\nGroup=\n"
                "[Consumer agent]\nUser=root\nDevices=kind:ucm\n")

    # A file with a problem of every kind, and the lines expected for it.
    def bad_file(self):
        open_token = self.write("open-token", self.token + "\n", 0o644)
        missing_ca = os.path.join(self.tmp, "no-such-ca.pem")
        group = "ep-no-such-group-" + uuid.uuid4().hex[:8]
        conf = self.write("bad.conf", "\n".join([
            "# several problems",                       # 1
            "[Cloud]",                                  # 2
            f"URL={self.api_url}",                      # 3
            f"TokenFile={open_token}",                  # 4
            f"CAFile={missing_ca}",                     # 5
            "[Provisioning]",                           # 6
            "MaxConcurent=4",                           # 7
            "Retries=many",                             # 8
            "Deadline=45",                              # 9
            "Retries=1",                                # 10
            "[Renewel]",                                # 11
            "Auto=yes",                                 # 12
            "not a line of a key file",                 # 13
            "[Keystore]",                               # 14
            f"Path={self.keystore}",                    # 15
            f"Group={group}",                           # 16
            "[Consumer agent]",                         # 17
            "Users=root",                               # 18
            "Devices=kind:toaster",                     # 19
            "",
        ]))
        kinds = "ucm, vucm, embedded, link_master, link_slave, standalone, lua_device, gateway"
        expected = [
            f"{conf}:4: [Cloud] TokenFile: {open_token} has mode 0644, open to users other "
            "than its owner; a token file must be a regular file of at most 4096 bytes that "
            "only its owner, root or the daemon's user, may read (chmod 0600)",
            f"{conf}:5: [Cloud] CAFile: {missing_ca} cannot be read (No such file or "
            "directory); give a PEM bundle (at most 1048576 bytes) of the CA certificates to "
            "trust, or leave CAFile unset for the system's CA store",
            f"{conf}:7: [Provisioning] MaxConcurent: unknown key; did you mean "
            "'MaxConcurrent'?",
            f"{conf}:8: [Provisioning] Retries: 'many' must be a whole number from 0 to 20",
            f"{conf}:9: [Provisioning] Deadline: 45 s is too long: D-Bus clients (libdbus, "
            "GDBus, sd-bus) give up on a call after 25 s by default while the daemon would go "
            "on with it; set it under 25",
            f"{conf}:10: [Provisioning] Retries: set again (first at line 8), and only the "
            "last value would count; remove one of them",
            f"{conf}:11: [Renewel]: unknown section; did you mean '[Renewal]'?",
            f"{conf}:13: the line is neither a [Section] header, a Key=value pair nor a # "
            "comment; fix it or remove it",
            f"{conf}:16: [Keystore] Group: no group named '{group}'; create it or name an "
            "existing group",
            f"{conf}:17: [Consumer agent] User, Group: the section names neither; give the "
            "user or group the consumer runs as",
            f"{conf}:18: [Consumer agent] Users: unknown key; did you mean 'User'?",
            f"{conf}:19: [Consumer agent] Devices: 'kind:toaster' names no kind; use one of "
            f"{kinds}",
        ]
        return conf, expected

    # -- --check-config

    def test_every_problem(self):
        conf, expected = self.bad_file()
        rc, out, err = self.check(conf)
        self.assertEqual(rc, 1, err)
        self.assertEqual(out, self.root_note(conf))
        self.assertEqual(err.splitlines(), expected)
        self.assert_untouched(out, err)

    def test_good_file(self):
        conf = self.write("good.conf", self.good_text())
        rc, out, err = self.check(conf)
        self.assertEqual((rc, out, err), (0, f"{conf}: OK\n" + self.root_note(conf), ""))
        self.assert_untouched(out, err)

    def test_no_bus_needed(self):
        """No system bus at all: the check does not care."""
        conf = self.write("good.conf", self.good_text())
        bus = "unix:path=" + os.path.join(self.tmp, "no-such-bus-socket")
        rc, out, err = self.check(conf, bus=bus)
        self.assertEqual((rc, out, err), (0, f"{conf}: OK\n" + self.root_note(conf), ""))

    def test_missing_file(self):
        conf = os.path.join(self.tmp, "missing.conf")
        rc, out, err = self.check(conf)
        self.assertEqual((rc, out), (1, self.root_note(conf)))
        self.assertEqual(err, f"{conf}: no such file; create it (see provisiond.conf(5)) or "
                              "give the path of an existing one\n")
        self.assert_untouched(out, err)

    def test_bad_token_not_printed(self):
        """A token file whose content is refused is named, never quoted."""
        bad = self.write("bad-token", self.token + " second-word\n", 0o600)
        conf = self.write("token.conf", f"[Gateway]\nURL={self.api_url}\nTokenFile={bad}\n")
        rc, out, err = self.check(conf)
        self.assertEqual(rc, 1, err)
        self.assertEqual(err, f"{conf}:3: [Gateway] TokenFile: {bad} must hold one token of "
                              "1-4096 visible ASCII characters; write the token alone into it\n")
        self.assert_untouched(out, err)

    def test_secret_files_not_printed(self):
        """A token or a private key given as --config, or a token pasted as
        TokenFile=, is never quoted: not by the check, not at start."""
        canary = f"{CANARY}-SECRET-{uuid.uuid4().hex}"
        files = {
            "jwt": f"eyJhbGciOiJIUzI1NiJ9.{canary}.SIGNATURE==\n",
            "pem": ("-----BEGIN PRIVATE KEY-----\n"
                    f"MIIEvQIBADANBgkqhkiG9w0BAQEFAASC{canary.replace('-', '')}==\n"
                    f"YWJj{canary}=ZGVm\n"
                    "-----END PRIVATE KEY-----\n"),
            "pasted": f"[Cloud]\nTokenFile={canary}\n[Gateway]\nURL={self.api_url}\n"
                      f"TokenFile=/{canary}\n",
            "unknown": f"[Cloud]\nQWxhZGRpbjpvcGVuIHNlc2FtZQ{canary}==\n[{canary}+/]\n",
        }
        for name, text in files.items():
            conf = self.write(name, text, 0o600)
            for args, env in ((["--check-config"], {}), ([], {"JOURNAL_STREAM": "8:1"}), ([], {})):
                with self.subTest(file=name, args=args, env=env):
                    rc, out, err = self.run_daemon(*args, "--config", conf, **env)
                    self.assertEqual(rc, 1, err)
                    self.assertIn(conf, err)
                    self.assertNotIn(canary, out + err)
                    self.assertNotIn(canary.replace("-", ""), out + err)
        self.assert_untouched("", "")

    def test_not_a_regular_file(self):
        """A FIFO would block the check and the start, a device would be read
        without end: each is refused at once."""
        fifo = os.path.join(self.tmp, "fifo")
        os.mkfifo(fifo)
        big = self.write("big.conf", "#" * (1024 * 1024 + 1))
        cases = [(fifo, "is not a regular file"), ("/dev/zero", "is not a regular file"),
                 (self.tmp, "is not a regular file"), (big, "is larger than 1048576 bytes")]
        for path, what in cases:
            self.expect_refused_within(5, path, f"{path}: {what}; give the path of a "
                                       "configuration file the daemon may read, a regular "
                                       "file of at most 1048576 bytes")
        self.assert_untouched("", "")

    def test_many_consumer_sections(self):
        """20000 [Consumer] sections: checked at once, the cap reported."""
        text = "[Access]\nGroup=\n" + "".join(
            f"[Consumer c{i}]\nUser=root\nDevices=*\n" for i in range(20000))
        conf = self.write("many.conf", text)
        # CPU time, not wall time: the quadratic check this guards against
        # took 18 s of CPU, the linear one 0.3 s (2.3 s under ASan); a loaded
        # machine stretches the wall clock, not the CPU the check needs.
        self.expect_refused_within(16 if built_with_asan() else 2, conf, f"{conf}:195: [Consumer c64]: more than 64 consumer "
                                   "sections (this is the 65th; the rest are not read); give "
                                   "consumers that share devices one group", cpu=True)
        self.assert_untouched("", "")

    def expect_refused_within(self, seconds, conf, problem, cpu=False):
        """The check and the start each refuse @conf within @seconds (of the
        daemon's CPU time when @cpu, else of wall time) with the one line
        @problem."""
        def now():
            if not cpu:
                return time.monotonic()
            usage = resource.getrusage(resource.RUSAGE_CHILDREN)
            return usage.ru_utime + usage.ru_stime
        for args, prefix in ((["--check-config"], ""), ([], "enapter-provisiond: ")):
            with self.subTest(conf=conf, args=args):
                start = now()
                rc, out, err = self.run_daemon(*args, "--config", conf)
                self.assertLess(now() - start, seconds)
                self.assertEqual((rc, err), (1, prefix + problem + "\n"))

    def test_root_note(self):
        """Run as root, the check says the service reads the files as its own
        user, and how to check as it; as another user, it does not. Without
        TokenFile=, the token is the unit's credential, not checked here."""
        conf = self.write("creds.conf", f"[Keystore]\nPath={self.keystore}\n[Access]\nGroup=\n")
        cred_note = ("note: with no token file, the service takes the cloud token from the "
                     "systemd credential cloud-token (LoadCredential=), which only the unit "
                     "provides: it was not checked\n")
        if os.geteuid() != 0:
            self.skipTest("needs root")
        rc, out, err = self.check(conf)
        self.assertEqual((rc, err), (0, ""))
        self.assertEqual(out, f"{conf}: OK\n" + self.root_note(conf) + cred_note)
        self.assertIn("read as root", out)
        # As another user (the file and the way to it readable by it).
        os.chmod(self.tmp, 0o755)
        os.chmod(conf, 0o644)
        proc = subprocess.run(
            [DAEMON, "--check-config", "--config", conf], capture_output=True, text=True,
            timeout=30, env=clean_env(DBUS_SYSTEM_BUS_ADDRESS=self.trap.address),
            user=65534, group=65534, extra_groups=[])
        self.assertEqual((proc.returncode, proc.stderr), (0, ""))
        self.assertEqual(proc.stdout, f"{conf}: OK\n" + cred_note)
        # Under the unit, the credential is read like any token file.
        creds = os.path.join(self.tmp, "creds")
        os.mkdir(creds, 0o700)
        self.write("creds/cloud-token", self.token + "\n", 0o600)
        rc, out, err = self.check(conf, CREDENTIALS_DIRECTORY=creds)
        self.assertEqual((rc, out, err), (0, f"{conf}: OK\n" + self.root_note(conf), ""))
        self.assert_untouched(out, err)

    def test_usage_error(self):
        rc, out, err = self.run_daemon("--check-config", "extra")
        self.assertEqual(rc, 2, err)
        self.assertIn("unexpected argument", err)

    # -- the start runs the same checks

    def test_start_logs_every_problem(self):
        conf, expected = self.bad_file()
        rc, out, err = self.run_daemon("--config", conf)
        self.assertEqual(rc, 1, err)
        self.assertEqual(err.splitlines(), ["enapter-provisiond: " + e for e in expected])
        # Under systemd each line is its own journal entry at error level.
        rc, out, err = self.run_daemon("--config", conf, JOURNAL_STREAM="8:1")
        self.assertEqual(rc, 1, err)
        self.assertEqual(err.splitlines(), ["<3>" + e for e in expected])
        self.assert_untouched(out, err)


if __name__ == "__main__":
    main()
