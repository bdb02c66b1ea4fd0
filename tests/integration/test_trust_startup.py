#!/usr/bin/env python3
"""Start-up refuses what cannot work: a CAFile that cannot be read or holds
no certificate, a group name NSS cannot take or that does not exist, a
token file others may read, a Deadline D-Bus clients would not wait for,
and a Timeout longer than the Deadline. The real daemon exits 1 (not by a
signal) with a message naming the file, the section and key, and it never
takes the bus name."""

import os
import socket
import subprocess
import sys
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import (BUS_NAME, CANARY, DAEMON, TLS_CERT, HarnessTestCase,  # noqa: E402
                     clean_env, main)

# As large as a configuration file may hold (1 MiB, provisiond.conf(5)): a
# larger file is refused before any of its names is looked at.
HUGE_GROUP = "g" * (1024 * 1024 - 4096)


class BusTrap:
    """A Unix socket posing as the system bus that nothing answers: a daemon
    that connects to it (to take the name) stays queued in its backlog, where
    connected() finds it even after the daemon has exited."""

    def __init__(self, directory):
        self.path = os.path.join(directory, f"trap-bus-{uuid.uuid4().hex[:8]}")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(self.path)
        self.sock.listen(16)
        self.sock.setblocking(False)
        self.address = f"unix:path={self.path}"

    def connected(self):
        try:
            conn, _ = self.sock.accept()
        except BlockingIOError:
            return False
        conn.close()
        return True

    def close(self):
        self.sock.close()


class TrustStartup(HarnessTestCase):
    """Each refused daemon runs to completion against a BusTrap: had it got
    as far as the bus, to take the name, the trap would hold its connection."""

    def setUp(self):
        H = self.H
        if H.daemon is not None:
            self.assertEqual(H.stop_daemon(), 0, "the harness's daemon did not exit 0")
        self.trap = BusTrap(H.tmp)
        self.addCleanup(self.trap.close)

    def expect_refused(self, overrides, where, *needles, secret=None):
        """Runs the daemon on the harness config with @overrides; it must
        exit 1 naming the file, @where ("[Section] Key") and @needles, and
        must not have reached for the bus name."""
        H = self.H
        conf = H.write_file(f"refused-{uuid.uuid4().hex[:8]}.conf", H.config_text(overrides))
        try:
            proc = subprocess.run([DAEMON, "--config", conf], capture_output=True, text=True,
                                  timeout=10,
                                  env=clean_env(DBUS_SYSTEM_BUS_ADDRESS=self.trap.address))
        except subprocess.TimeoutExpired:
            self.fail(f"the daemon started with {where} set as given")
        out, err = proc.stdout, proc.stderr
        self.assertEqual(proc.returncode, 1,
                         f"exit status (a negative one is a signal): {err[-2000:]}")
        self.assertIn(conf, err, "the message does not name the file")
        self.assertIn(where, err, "the message does not name the section and key")
        for needle in needles:
            self.assertIn(needle, err)
        self.assertLess(len(err), 4000, "the message quotes too much")
        if secret is not None:
            self.assertNotIn(secret, out + err)
        self.assertFalse(self.trap.connected(), f"the refused daemon went for {BUS_NAME}")
        return err

    # -- CA files

    def test_ca_file_missing(self):
        self.expect_refused({"Cloud": {"CAFile": "/nonexistent"}}, "[Cloud] CAFile",
                            "/nonexistent", "No such file")

    def test_ca_file_without_certificate(self):
        path = self.H.write_file("no-cert.pem", "this is not a certificate\n")
        self.expect_refused({"Gateway": {"CAFile": path}}, "[Gateway] CAFile", path,
                            "no PEM certificate")

    # -- groups

    def test_huge_keystore_group(self):
        self.expect_refused({"Keystore": {"Group": HUGE_GROUP}}, "[Keystore] Group",
                            "at most 256")

    def test_huge_access_group(self):
        self.expect_refused({"Access": {"Group": HUGE_GROUP}}, "[Access] Group", "at most 256")

    def test_missing_access_group(self):
        name = "ep-no-such-group-" + uuid.uuid4().hex[:8]
        self.expect_refused({"Access": {"Group": name}}, "[Access] Group", name,
                            "no group named")

    def test_missing_keystore_group(self):
        name = "ep-no-such-group-" + uuid.uuid4().hex[:8]
        self.expect_refused({"Keystore": {"Group": name}}, "[Keystore] Group", name,
                            "no group named")

    # -- token files

    def open_token(self, mode):
        token = f"{CANARY}-TOKEN-open-{uuid.uuid4().hex}"
        path = self.H.write_file(f"token-{mode:o}-{uuid.uuid4().hex[:8]}", token + "\n", mode)
        return token, path

    def test_world_readable_token_file(self):
        token, path = self.open_token(0o644)
        self.expect_refused({"Cloud": {"TokenFile": path}}, "[Cloud] TokenFile", path,
                            "mode 0644", "chmod 0600", secret=token)

    def test_group_readable_token_file(self):
        token, path = self.open_token(0o640)
        self.expect_refused({"Gateway": {"TokenFile": path}}, "[Gateway] TokenFile", path,
                            "mode 0640", "chmod 0600", secret=token)

    # -- durations

    def test_deadline_45(self):
        """The man page's old example: busctl would give up at 25 s."""
        self.expect_refused({"Provisioning": {"Timeout": "15", "Deadline": "45"}},
                            "[Provisioning] Deadline", "45", "25 s")

    def test_deadline_25(self):
        self.expect_refused({"Provisioning": {"Deadline": "25"}}, "[Provisioning] Deadline",
                            "25 s")

    def test_timeout_over_deadline(self):
        self.expect_refused({"Provisioning": {"Timeout": "12", "Deadline": "10"}},
                            "[Provisioning] Timeout", "[Provisioning] Deadline")

    # -- what still starts

    def test_edges_start(self):
        """A 0400 token file (as systemd's credentials), a real CA bundle,
        Deadline just under 25 s and Timeout equal to it start the daemon."""
        H = self.H
        os.chmod(H.cloud_token_file, 0o400)
        try:
            H.start_daemon({"Cloud": {"CAFile": TLS_CERT},
                            "Provisioning": {"Timeout": "24.9", "Deadline": "24.9"}})
            self.assertTrue(H.get_property("Version").ok)
        finally:
            os.chmod(H.cloud_token_file, 0o600)


if __name__ == "__main__":
    main()
