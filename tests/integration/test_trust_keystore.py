#!/usr/bin/env python3
"""The keystore's trust boundary: what the daemon finds at [Keystore] Path=
and below it cannot make it destroy, take over or expose what is not its own.

- Path= naming an existing directory (a home directory, say): only the
  daemon's own crash temporaries are removed, everything else is left as it
  was and reported; a keystore or device directory owned by another user is
  not taken over (the daemon refuses to start, or ignores the device).
- A keystore that others could change (a directory above it writable by
  others, an ACL granting someone else access): the daemon refuses to start,
  exit status 1, naming the path.
- A FIFO named device.json does not hang the start.
- A hard link in a device directory does not make the start-up fix-up change
  a file outside; ForgetDevice does not delete a tree mounted inside a device
  directory.
- A device directory that start-up ignores keeps its mode: nothing is fixed
  unless every check passed.
- A later API answer naming an entry that start-up left alone (not a device
  directory, or one it ignored) fails with KeystoreError and leaves the entry
  as it is.
"""

import json
import os
import shutil
import stat
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import KINDS, HarnessTestCase, default_args, main  # noqa: E402

NOBODY = 65534
# system.posix_acl_access: a version header, then {tag, perm, id} entries.
ACL_USER_OBJ, ACL_USER, ACL_GROUP_OBJ, ACL_MASK, ACL_OTHER = 0x01, 0x02, 0x04, 0x10, 0x20
NO_ID = 0xFFFFFFFF


def acl_granting(uid):
    entries = [(ACL_USER_OBJ, 7, NO_ID), (ACL_USER, 7, uid), (ACL_GROUP_OBJ, 0, NO_ID),
               (ACL_MASK, 7, NO_ID), (ACL_OTHER, 0, NO_ID)]
    return struct.pack("<I", 2) + b"".join(struct.pack("<HHI", *e) for e in entries)


def tree(path):
    """{relative path: (type, mode, uid, contents)} under @path, links not
    followed."""
    st = os.lstat(path)
    out = {".": (stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode), st.st_uid, None)}
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            p = os.path.join(root, name)
            st = os.lstat(p)
            rel = os.path.relpath(p, path)
            data = None
            if stat.S_ISREG(st.st_mode):
                with open(p, "rb") as f:
                    data = f.read()
            elif stat.S_ISLNK(st.st_mode):
                data = os.readlink(p)
            out[rel] = (stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode), st.st_uid, data)
    return out


def put(path, data=b"x\n", mode=0o644):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    os.chmod(path, mode)


class TrustKeystore(HarnessTestCase):

    def place(self, name, mode=0o755):
        """A fresh directory @name in the harness's tmp."""
        d = os.path.join(self.H.tmp, name)
        os.mkdir(d)
        os.chmod(d, mode)
        return d

    def keystore_at(self, path):
        return {"Keystore": {"Path": path}}

    def run_once(self, path, timeout=15):
        """Runs a daemon on the keystore @path to completion (or kills it);
        returns (exit status, stderr). No other daemon runs meanwhile: one
        that accepts the keystore would own the bus name and keep running."""
        if self.H.daemon is not None:
            self.H.stop_daemon()
        conf = self.H.write_file(f"once-{time.monotonic_ns()}.conf",
                                 self.H.config_text(self.keystore_at(path)))
        try:
            rc, _, err = self.H.run_daemon_once(["--config", conf], timeout=timeout)
        except subprocess.TimeoutExpired:
            self.fail(f"the daemon did not exit within {timeout}s on keystore {path}")
        if rc == 0:
            self.fail(f"the daemon accepted keystore {path}:\n{err}")
        return rc, err

    def assertRefused(self, path, named=None):
        """The daemon refuses keystore @path: exit status 1, @named (the
        keystore by default) in its message."""
        rc, err = self.run_once(path)
        self.assertEqual(rc, 1, f"exit status on keystore {path}:\n{err}")
        self.assertIn(named or path, err, "the refusal does not name the path")
        return err

    def provision(self):
        res = self.H.provision("ucm", default_args("ucm", protocol="MQTT"))
        device_id, _ = self.assertOk(res, "ucm provisioning")
        return device_id

    # -- 1: Path= naming a directory that holds other things

    def test_existing_directory_keeps_what_is_not_a_keystore_temporary(self):
        home = self.place("home")
        put(os.path.join(home, ".bashrc"), b"alias ll='ls -l'\n")
        put(os.path.join(home, ".ssh", "a", "id"), b"not a key\n", 0o600)
        put(os.path.join(home, "keep"), b"keep me\n")
        put(os.path.join(home, ".new-12345678-", "f"))                 # no id
        put(os.path.join(home, ".new-1234567-dev", "f"))              # 7 hex digits
        put(os.path.join(home, ".old-0123ABCD-dev", "f"))             # upper case
        put(os.path.join(home, ".new-0badc0de-dev", "f"))             # a temporary
        put(os.path.join(home, ".old-0badc0de-dev", "sub", "f"))      # a temporary
        before = tree(home)
        self.H.stop_daemon()
        self.H.start_daemon(self.keystore_at(home))
        after = tree(home)
        removed = {p for p in before if p.startswith((".new-0badc0de-dev", ".old-0badc0de-dev"))}
        self.assertEqual(set(after), set(before) - removed, "entries removed or added")
        for p in after:
            if p != ".":
                self.assertEqual(after[p], before[p], f"{p} changed")
        self.assertEqual(after["."][1], 0o700, "the daemon's own keystore is not made private")
        err = self.H.daemon_stderr()
        for name in (".bashrc", ".ssh", "keep", ".new-12345678-",
                     ".new-1234567-dev", ".old-0123ABCD-dev"):
            self.assertEqual(err.count(os.path.join(home, name)), 1,
                             f"{name}, left alone, is not reported exactly once:\n{err}")

    def test_keystore_of_another_user_is_not_taken_over(self):
        home = self.place("other-home")
        put(os.path.join(home, ".bashrc"))
        put(os.path.join(home, ".new-0badc0de-dev", "f"))
        os.chown(home, NOBODY, NOBODY)
        before = tree(home)
        err = self.assertRefused(home)
        self.assertIn(str(NOBODY), err, "the refusal does not say who owns it")
        self.assertEqual(tree(home), before, "the other user's directory changed")

    def test_device_directory_of_another_user_is_ignored_not_taken_over(self):
        dev = self.provision()
        d = self.H.device_dir(dev)
        self.H.stop_daemon()
        self.addCleanup(self.chown_tree, d, 0)
        self.chown_tree(d, NOBODY)
        before = tree(d)
        self.H.start_daemon()
        self.assertEqual(tree(d), before, "the device directory was changed")
        self.assertError(self.H.call("GetDevice", "s", dev), "NotFound",
                         "GetDevice of a device directory owned by another user")
        self.assertIn(d, self.H.daemon_stderr(), "the ignored device is not reported")

    def chown_tree(self, path, uid):
        for root, dirs, files in os.walk(path):
            os.lchown(root, uid, uid)
            for name in files:
                os.lchown(os.path.join(root, name), uid, uid)

    # -- 2: a keystore others can change

    def test_keystore_below_a_directory_others_can_write_is_refused(self):
        open_dir = self.place("open", 0o777)
        ks = os.path.join(open_dir, "keystore")
        put(os.path.join(ks, "keep"))
        os.chmod(ks, 0o700)
        before = tree(ks)
        self.assertRefused(ks, named=open_dir)
        self.assertEqual(tree(ks), before, "the keystore changed")
        # Missing, it is not created there either.
        missing = os.path.join(open_dir, "new-keystore")
        self.assertRefused(missing, named=open_dir)
        self.assertFalse(os.path.lexists(missing), "a keystore was created in an open directory")
        # Through a symlink, the same.
        link = os.path.join(self.H.tmp, "link-to-open")
        os.symlink(open_dir, link)
        self.assertRefused(os.path.join(link, "keystore"), named=open_dir)

    def test_keystore_in_a_sticky_directory_is_accepted(self):
        sticky = self.place("sticky", 0o1777)
        ks = os.path.join(sticky, "keystore")
        self.H.stop_daemon()
        self.H.start_daemon(self.keystore_at(ks))
        self.assertTrue(os.path.isdir(ks))
        # ... but not one that another user put there.
        self.H.stop_daemon()
        os.chown(ks, NOBODY, NOBODY)
        self.assertRefused(ks)

    def test_keystore_with_an_acl_for_another_user_is_refused(self):
        ks = self.place("acl-keystore", 0o700)
        put(os.path.join(ks, "keep"))
        os.setxattr(ks, "system.posix_acl_access", acl_granting(NOBODY))
        before = tree(ks)
        self.assertRefused(ks)
        self.assertEqual(tree(ks), before, "the keystore changed")
        self.assertEqual(os.getxattr(ks, "system.posix_acl_access"), acl_granting(NOBODY))
        # A default ACL would hand every new device directory to that user.
        ks2 = self.place("default-acl-keystore", 0o700)
        os.setxattr(ks2, "system.posix_acl_default", acl_granting(NOBODY))
        self.assertRefused(ks2)

    # -- 6: a FIFO

    def test_fifo_named_device_json_does_not_hang_the_start(self):
        dev = self.provision()
        d = self.H.device_dir(dev)
        self.H.stop_daemon()
        os.unlink(os.path.join(d, "device.json"))
        os.mkfifo(os.path.join(d, "device.json"), 0o600)
        self.H.start_daemon(wait=False)
        try:
            self.H.wait_ready(timeout=10)
        except AssertionError:
            self.H.stop_daemon(timeout=2)
            raise
        self.assertError(self.H.call("GetDevice", "s", dev), "NotFound",
                         "GetDevice of a device whose device.json is a FIFO")
        self.assertIn(os.path.join(d, "device.json"), self.H.daemon_stderr(),
                      "the FIFO is not reported")

    # -- 7: hard links and mounts

    def test_hard_link_in_a_device_directory_is_not_changed(self):
        # The victim is the daemon's own (root in tests) and more open than a
        # credential file: only the hard-link check keeps its mode as it is.
        dev = self.provision()
        d = self.H.device_dir(dev)
        victim = os.path.join(self.place("outside-link"), "victim")
        put(victim, b"outside data\n", 0o644)
        os.chown(victim, os.geteuid(), os.getegid())
        before = tree(os.path.dirname(victim))
        self.H.stop_daemon()
        os.unlink(os.path.join(d, "password"))
        os.link(victim, os.path.join(d, "password"))
        self.H.start_daemon()
        self.assertEqual(tree(os.path.dirname(victim)), before,
                         "a file outside the keystore changed")
        st = os.lstat(victim)
        self.assertEqual((stat.S_IMODE(st.st_mode), st.st_uid), (0o644, os.geteuid()),
                         "the hard-linked file's mode or owner changed")
        self.assertError(self.H.call("GetDevice", "s", dev), "NotFound",
                         "GetDevice of a device holding a hard link")
        err = self.H.daemon_stderr()
        self.assertIn(os.path.join(d, "password"), err, "the hard link is not reported")
        self.assertIn("hard links", err, "the report does not say it has hard links")

    def test_forget_does_not_delete_a_tree_mounted_in_the_device_directory(self):
        dev = self.provision()
        d = self.H.device_dir(dev)
        outside = self.place("outside-mount")
        put(os.path.join(outside, "victim"), b"outside data\n")
        put(os.path.join(outside, "sub", "deeper"), b"more\n")
        before = tree(outside)
        device_before = tree(d)
        mnt = os.path.join(d, "mnt")
        os.mkdir(mnt, 0o700)
        subprocess.run(["mount", "--bind", outside, mnt], check=True)
        self.addCleanup(subprocess.run, ["umount", "-l", mnt], check=False)
        res = self.H.call("ForgetDevice", "s", dev)
        self.assertEqual(tree(outside), before, "ForgetDevice changed the mounted tree")
        msg = self.assertError(res, "KeystoreError", "ForgetDevice with a mount inside")
        self.assertIn(dev, msg)
        self.assertIn(mnt, msg, "the error does not name the mount point")
        subprocess.run(["umount", mnt], check=True)
        os.rmdir(mnt)
        self.assertEqual(tree(d), device_before, "the refused ForgetDevice changed the device")
        got = self.H.call("GetDevice", "s", dev)
        self.assertTrue(got.ok, f"the device is gone after a refused ForgetDevice: {got.doc}")
        self.assertTrue(self.H.call("ForgetDevice", "s", dev).ok)
        self.assertFalse(os.path.lexists(d))

    # -- 8: an ignored device directory keeps its mode

    def test_ignored_device_directory_keeps_its_mode(self):
        for bad in ("fifo", "foreign file"):
            with self.subTest(bad=bad):
                dev = self.provision()
                d = self.H.device_dir(dev)
                self.addCleanup(shutil.rmtree, d, ignore_errors=True)
                self.H.stop_daemon()
                os.chmod(d, 0o755)
                os.chmod(os.path.join(d, "device.json"), 0o644)
                bad_path = os.path.join(d, "zz-bad")
                if bad == "fifo":
                    os.mkfifo(bad_path, 0o600)
                else:
                    put(bad_path, b"not ours\n", 0o644)
                    os.chown(bad_path, NOBODY, NOBODY)
                before = tree(d)
                self.H.start_daemon()
                self.assertEqual(tree(d), before, f"the ignored device directory changed ({bad})")
                self.assertEqual(stat.S_IMODE(os.lstat(d).st_mode), 0o755)
                self.assertError(self.H.call("GetDevice", "s", dev), "NotFound",
                                 f"GetDevice of a device directory holding a {bad}")
                self.assertIn(bad_path, self.H.daemon_stderr(), f"the {bad} is not reported")

    # -- 9: later API answers naming what start-up left alone

    def test_answer_naming_an_entry_left_alone_does_not_replace_it(self):
        H = self.H
        keep = H.device_dir("keep")
        put(os.path.join(keep, "notes"), b"keep me\n", 0o600)
        broken_id = f"broken-{time.monotonic_ns()}"
        broken = H.device_dir(broken_id)
        put(os.path.join(broken, "device.json"), b"{not json\n", 0o600)
        put(os.path.join(broken, "password"), b"old password", 0o600)
        os.chmod(keep, 0o700)
        os.chmod(broken, 0o700)
        for path in (keep, broken):
            self.addCleanup(shutil.rmtree, path, ignore_errors=True)
        H.stop_daemon()
        H.start_daemon()
        err = H.daemon_stderr()
        self.assertIn(keep, err, "the non-device directory is not reported at start")
        self.assertIn(broken, err, "the broken device directory is not reported at start")
        for device_id, path in (("keep", keep), (broken_id, broken)):
            with self.subTest(device_id=device_id):
                before = tree(path)
                H.gateway.faults({"path": KINDS["vucm"].endpoint, "status": 200,
                                  "body": json.dumps({"device_id": device_id})})
                msg = self.assertError(H.provision("vucm", default_args("vucm")),
                                       "KeystoreError", f"a vucm answer naming {device_id}")
                self.assertIn(device_id, msg, "the error does not name the device")
                self.assertEqual(tree(path), before, f"{path} changed")
                self.assertKeystoreClean()
                self.assertError(H.call("GetDevice", "s", device_id), "NotFound",
                                 f"GetDevice of {device_id} after the refused write")

if __name__ == "__main__":
    main()
