#!/usr/bin/env python3
"""What others leave in the keystore cannot redirect the daemon (README "Keystore":
a keystore that never loses or mixes credentials):

- a symlink at <device_id> pointing outside the keystore (to a copy of the set,
  to an empty directory, dangling), a regular file and a hard link to an
  outside file at <device_id>, a symlink inside a device directory: none is an
  indexed device set, so provisioning fails with KeystoreError and leaves it
  as it is, writing, changing or deleting nothing outside; once it is moved
  out of the keystore, provisioning writes a real device directory;
- a name that is not plain makes the daemon touch nothing on disk (traced);
- at start: leftover '.new-*' and '.old-*' entries (also a '.'-symlink to an
  outside directory, nested and crowded ones) are removed without following
  them, complete entries are not touched, a '.'-file of another name is left
  in place and reported;
- a hand-edited device.json with text D-Bus cannot carry is still served; a keystore directory with mode 0755 is reported and set
  to 0700; device directories with wrong modes and a keystore owned by
  another user are reported and fixed, or refused.
"""

import json
import os
import stat
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from faultlib import Tracer, check_new_set, read_dir, temporaries, touches  # noqa: E402
from harness import KINDS, HarnessTestCase, default_args, main  # noqa: E402

VUCM = KINDS["vucm"].endpoint


def tree(path):
    """{relative path: (kind, mode, uid, contents or link target)} under @path,
    symlinks not followed; {} when @path is missing."""
    out = {}
    if not os.path.lexists(path):
        return out
    st = os.lstat(path)
    out["."] = ("d" if stat.S_ISDIR(st.st_mode) else "other", stat.S_IMODE(st.st_mode),
                st.st_uid, None)
    if not stat.S_ISDIR(st.st_mode):
        return out
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            p = os.path.join(root, name)
            st = os.lstat(p)
            rel = os.path.relpath(p, path)
            if stat.S_ISLNK(st.st_mode):
                out[rel] = ("l", 0, st.st_uid, os.readlink(p))
            elif stat.S_ISREG(st.st_mode):
                with open(p, "rb") as f:
                    out[rel] = ("f", stat.S_IMODE(st.st_mode), st.st_uid, f.read())
            else:
                out[rel] = ("d" if stat.S_ISDIR(st.st_mode) else "other",
                            stat.S_IMODE(st.st_mode), st.st_uid, None)
    return out


def remove_tree(path):
    st = os.lstat(path)
    if stat.S_ISDIR(st.st_mode):
        for name in os.listdir(path):
            remove_tree(os.path.join(path, name))
        os.rmdir(path)
    else:
        os.unlink(path)


class KeystoreChecks:

    def outside(self, files=None):
        """A directory outside the keystore (in the harness's tmp), with @files."""
        d = tempfile.mkdtemp(prefix="outside-", dir=self.H.tmp)
        for name, data in (files or {}).items():
            with open(os.path.join(d, name), "wb") as f:
                f.write(data)
        return d

    def provision_ucm(self, protocol="MQTTS", args=None):
        args = dict(args or default_args("ucm"), protocol=protocol)
        res = self.H.provision("ucm", args)
        device_id, _ = self.assertOk(res, f"ucm {protocol} provisioning")
        return args, device_id

    def provision_vucm_as(self, device_id):
        """vucm provisioning where the API answers with @device_id."""
        self.H.gateway.faults({"path": VUCM, "status": 200,
                               "body": json.dumps({"device_id": device_id})})
        return self.H.provision("vucm", default_args("vucm"))

    def assertDeviceDir(self, device_id, files):
        """<device_id> is a real 0700 directory holding exactly @files, 0600."""
        d = self.H.device_dir(device_id)
        st = os.lstat(d)
        self.assertTrue(stat.S_ISDIR(st.st_mode), f"{d} is not a real directory")
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o700, f"mode of {d}")
        got = read_dir(d)
        self.assertEqual(set(got), set(files), f"files in {d}")
        for name, (kind, mode, _) in got.items():
            self.assertEqual((kind, mode), ("f", 0o600), f"{name} in {d}")
        return got

    def assertNewMqtt(self, device_id):
        d = self.H.device_dir(device_id)
        files = read_dir(d)
        self.assertEqual(check_new_set(files, device_id, stat.S_IMODE(os.lstat(d).st_mode)), [],
                         f"{d} is not a complete MQTT set")

    def restart(self):
        self.H.restart_daemon()

    def entry_state(self, device_id):
        """What is at <device_id>: a link's target, or the tree below it."""
        p = self.H.device_dir(device_id)
        if os.path.islink(p):
            return ("l", os.readlink(p))
        return tree(p)

    def assertRefusedThenWritten(self, device_id, attempt):
        """<device_id> holds an entry the daemon did not index: @attempt()
        fails with KeystoreError naming the device and leaves the entry as it
        was; moved out of the keystore, @attempt() works. Returns its reply."""
        before = self.entry_state(device_id)
        msg = self.assertError(attempt(), "KeystoreError", f"writing over {device_id}")
        self.assertIn(device_id, msg, "the error does not name the device")
        self.assertEqual(self.entry_state(device_id), before, "the planted entry changed")
        self.assertEqual(temporaries(self.H.keystore), [])
        remove_tree(self.H.device_dir(device_id))
        return attempt()


class PlantedEntries(KeystoreChecks, HarnessTestCase):
    """Symlinks, files and hard links where a device directory belongs."""

    def test_symlink_to_a_copy_outside_is_not_written_through(self):
        args, dev = self.provision_ucm("MQTTS")
        d = self.H.device_dir(dev)
        out = self.outside({n: v[2] for n, v in read_dir(d).items()})
        before = tree(out)
        self.H.stop_daemon()
        remove_tree(d)
        os.symlink(out, d)
        self.H.start_daemon()
        res = self.assertRefusedThenWritten(
            dev, lambda: self.H.provision("ucm", dict(args, protocol="MQTT")))
        self.assertOk(res, "ucm MQTT provisioning once the symlink is gone")
        self.assertEqual(tree(out), before, "the directory outside the keystore changed")
        self.assertNewMqtt(dev)
        self.assertEqual(temporaries(self.H.keystore), [])
        self.restart()
        self.assertEqual(tree(out), before, "the directory outside the keystore changed")
        self.assertNewMqtt(dev)
        # Planted while the daemon runs, over a device it holds: the link
        # itself is swapped out and removed, never followed.
        remove_tree(d)
        os.symlink(out, d)
        self.provision_ucm("MQTT", args)
        self.assertEqual(tree(out), before, "the directory outside the keystore changed")
        self.assertNewMqtt(dev)
        self.assertEqual(temporaries(self.H.keystore), [])

    def test_symlinked_entry_is_not_read_at_start(self):
        # read_metadata must not follow a symlink at <device_id>: a planted
        # link would make a set outside the keystore look like one of ours.
        args, dev = self.provision_ucm("MQTTS")
        d = self.H.device_dir(dev)
        out = self.outside({n: v[2] for n, v in read_dir(d).items()})
        self.H.stop_daemon()
        remove_tree(d)
        os.symlink(out, d)
        self.H.start_daemon()
        res = self.H.call("GetDevice", "s", dev)
        self.assertFalse(res.ok, f"the daemon serves {dev} from {out}, outside the keystore, "
                                 f"through a symlink: {res.doc}")

    def test_symlink_to_empty_dir_planted_before_first_provisioning(self):
        dev = "planted-" + os.urandom(6).hex()
        out = self.outside()
        self.H.stop_daemon()
        os.symlink(out, self.H.device_dir(dev))
        self.H.start_daemon()
        self.assertOk(self.assertRefusedThenWritten(dev, lambda: self.provision_vucm_as(dev)))
        self.assertEqual(os.listdir(out), [], "the daemon wrote outside the keystore")
        self.assertDeviceDir(dev, {"device.json"})
        self.assertEqual(temporaries(self.H.keystore), [])

    def test_symlink_planted_while_running(self):
        dev = "planted-" + os.urandom(6).hex()
        out = self.outside({"keep": b"outside data\n"})
        before = tree(out)
        os.symlink(out, self.H.device_dir(dev))
        self.assertOk(self.assertRefusedThenWritten(dev, lambda: self.provision_vucm_as(dev)))
        self.assertEqual(tree(out), before, "the daemon changed a directory outside")
        self.assertDeviceDir(dev, {"device.json"})
        self.assertEqual(temporaries(self.H.keystore), [])

    def test_dangling_symlink(self):
        dev = "planted-" + os.urandom(6).hex()
        out = self.outside()
        target = os.path.join(out, "made-by-the-daemon")
        self.H.stop_daemon()
        os.symlink(target, self.H.device_dir(dev))
        self.H.start_daemon()
        self.assertOk(self.assertRefusedThenWritten(dev, lambda: self.provision_vucm_as(dev)))
        self.assertFalse(os.path.lexists(target), "the daemon created the symlink's target")
        self.assertDeviceDir(dev, {"device.json"})
        self.assertEqual(temporaries(self.H.keystore), [])

    def test_regular_file_named_like_the_device(self):
        dev = "planted-" + os.urandom(6).hex()
        self.H.stop_daemon()
        with open(self.H.device_dir(dev), "w") as f:
            f.write("not a credential set\n")
        self.H.start_daemon()
        self.assertOk(self.assertRefusedThenWritten(dev, lambda: self.provision_vucm_as(dev)))
        self.assertDeviceDir(dev, {"device.json"})
        self.assertEqual(temporaries(self.H.keystore), [])
        self.restart()
        self.assertDeviceDir(dev, {"device.json"})

    def test_hard_link_to_an_outside_file(self):
        dev = "planted-" + os.urandom(6).hex()
        out = self.outside({"victim": b"outside data\n"})
        before = tree(out)
        self.H.stop_daemon()
        os.link(os.path.join(out, "victim"), self.H.device_dir(dev))
        self.H.start_daemon()
        self.assertOk(self.assertRefusedThenWritten(dev, lambda: self.provision_vucm_as(dev)))
        self.assertEqual(tree(out), before, "the file outside the keystore changed")
        self.assertDeviceDir(dev, {"device.json"})

    def test_symlink_inside_a_device_directory(self):
        args, dev = self.provision_ucm("MQTTS")
        out = self.outside({"victim": b"outside data\n"})
        before = tree(out)
        self.H.stop_daemon()
        d = self.H.device_dir(dev)
        os.unlink(os.path.join(d, "private_key.pem"))
        os.symlink(os.path.join(out, "victim"), os.path.join(d, "private_key.pem"))
        os.symlink(out, os.path.join(d, "password"))
        self.H.start_daemon()
        res = self.assertRefusedThenWritten(
            dev, lambda: self.H.provision("ucm", dict(args, protocol="MQTT")))
        self.assertOk(res, "ucm MQTT provisioning once the device directory is gone")
        self.assertEqual(tree(out), before, "the daemon changed or removed files outside")
        self.assertNewMqtt(dev)
        self.assertEqual(temporaries(self.H.keystore), [])
        # Planted while the daemon runs, in a set it holds: removing the
        # previous set removes the links, never what they point at.
        os.symlink(os.path.join(out, "victim"), os.path.join(d, "private_key.pem"))
        os.symlink(out, os.path.join(d, "ca_chain.pem"))
        self.provision_ucm("MQTT", args)
        self.assertEqual(tree(out), before, "the daemon changed or removed files outside")
        self.assertNewMqtt(dev)
        self.assertEqual(temporaries(self.H.keystore), [])

    def test_names_that_are_not_plain_touch_nothing(self):
        # The check must come before any file-system step: traced, the worker
        # makes no call on the keystore at all.
        traces = os.path.join(self.H.tmp, "traces")
        os.makedirs(traces, exist_ok=True)
        # The control: the same tracing sees the keystore work of a plain name.
        tracer = Tracer(self.H.daemon.pid, os.path.join(traces, "control.strace"),
                        all_threads=True, only="%file,fsync,fdatasync,fchmod,fchown,getdents64")
        try:
            self.assertOk(self.provision_vucm_as("plain-" + os.urandom(4).hex()))
        finally:
            events = tracer.stop()
        self.assertTrue([e for e in events if touches(e, self.H.keystore)],
                        "the tracing does not see the keystore work at all")
        for bad in ("../escape-" + os.urandom(4).hex(), "a/b", ".hidden", "..", ""):
            with self.subTest(device_id=bad):
                before = tree(self.H.keystore)
                outside_before = sorted(os.listdir(self.H.tmp))
                log = os.path.join(traces, "plain.strace")
                # Every thread, also one spawned for the call; no read/write/
                # poll, which the main loop makes all the time.
                tracer = Tracer(self.H.daemon.pid, log, all_threads=True,
                                only="%file,fsync,fdatasync,fchmod,fchown,getdents64")
                try:
                    res = self.provision_vucm_as(bad)
                finally:
                    events = tracer.stop()
                self.assertError(res, "ProtocolError")
                touching = [e for e in events if touches(e, self.H.keystore)]
                self.assertEqual(touching, [], "keystore calls for a name that is not plain")
                self.assertEqual(tree(self.H.keystore), before)
                self.assertEqual(sorted(os.listdir(self.H.tmp)), outside_before)


class StartUp(KeystoreChecks, HarnessTestCase):
    """What the daemon does with the keystore it finds at start."""

    def test_leftovers_removed_complete_entries_untouched(self):
        _, dev1 = self.provision_ucm("MQTTS")
        _, dev2 = self.provision_ucm("MQTT")
        out = self.outside({"victim": b"outside data\n"})
        outside_before = tree(out)
        self.H.stop_daemon()
        ks = self.H.keystore
        complete = tree(ks)
        planted = {
            f".new-0badc0de-{dev1}": {"device.json": b"{}", "password": b"partial"},
            f".old-12345678-{dev2}": {"device.json": b"{}", "private_key.pem": b"old"},
            ".new-deadbeef-nested": None,
        }
        for name, files in planted.items():
            os.mkdir(os.path.join(ks, name), 0o700)
            for fname, data in (files or {}).items():
                with open(os.path.join(ks, name, fname), "wb") as f:
                    f.write(data)
        nested = os.path.join(ks, ".new-deadbeef-nested", "a", "b")
        os.makedirs(nested)
        with open(os.path.join(nested, "f"), "w") as f:
            f.write("x")
        # More names than one getdents64 call returns.
        many = os.path.join(ks, ".old-feedface-many")
        os.mkdir(many, 0o700)
        for i in range(300):
            with open(os.path.join(many, f"{i:04d}-" + "x" * 60), "w") as f:
                f.write("x")
        os.symlink(out, os.path.join(ks, ".new-cafef00d-link"))
        with open(os.path.join(ks, ".stray-file"), "w") as f:
            f.write("x")
        st = os.lstat(os.path.join(ks, ".stray-file"))
        stray = ("f", stat.S_IMODE(st.st_mode), st.st_uid, b"x")
        self.H.start_daemon()
        # Not a name the daemon makes: left in place and reported.
        self.assertEqual(temporaries(ks), [".stray-file"], "leftovers remain after start")
        self.assertIn(os.path.join(ks, ".stray-file"), self.H.daemon_stderr(),
                      ".stray-file, left in place, is not reported")
        self.assertEqual(tree(ks), dict(complete, **{".stray-file": stray}),
                         "complete entries changed at start")
        self.assertEqual(tree(out), outside_before,
                         "removing a leftover symlink followed it outside the keystore")
        for dev in (dev1, dev2):
            res = self.H.call("GetDevice", "s", dev)
            self.assertTrue(res.ok, f"GetDevice {dev}: {res.doc}")

    def test_hand_edited_device_json_is_served(self):
        """Text D-Bus cannot carry (a noncharacter) is left out of the
        details rather than making GetDevice and ListDevices fail; a dotted
        top-level key does not pass for a config one."""
        _, dev = self.provision_ucm("MQTTS")
        self.H.stop_daemon()
        path = os.path.join(self.H.keystore, dev, "device.json")
        with open(path) as f:
            meta = json.load(f)
        meta["name"] = "odd \uffff name"
        meta["config.protocol"] = "FAKE"
        meta["config"]["mqtt_port"] = 70000
        with open(path, "w") as f:
            json.dump(meta, f)
        self.H.start_daemon()
        res = self.H.call("GetDevice", "s", dev)
        self.assertTrue(res.ok, f"GetDevice: {res.doc}")
        details = res.reply[0]
        self.assertNotIn("name", details, "a noncharacter went on the bus")
        self.assertNotIn("mqtt_port", details, "a port above 65535 was shown")
        self.assertEqual(details["protocol"], "MQTTS")
        self.assertEqual(details["device_id"], dev)
        listed = self.H.call("ListDevices", "")
        self.assertTrue(listed.ok, f"ListDevices: {listed.doc}")
        self.assertIn(dev, [d["device_id"] for d in listed.reply[0]])

    def test_keystore_mode_0755_reported_and_fixed(self):
        self.H.stop_daemon()
        os.chmod(self.H.keystore, 0o755)
        self.H.start_daemon()
        mode = stat.S_IMODE(os.lstat(self.H.keystore).st_mode)
        self.assertEqual(mode, 0o700, "the keystore directory's mode was not fixed")
        err = self.H.daemon_stderr()
        self.assertIn(self.H.keystore, err, "the wrong mode is not reported")
        self.assertIn("0755", err, "the report does not say which mode was found")

    def restore_on_exit(self, *paths):
        """Puts @paths back to the daemon's owner and private modes after the
        test, and makes sure a daemon runs for the next one."""
        def restore():
            for p in paths:
                if os.path.lexists(p):
                    os.chown(p, os.getuid(), os.getgid())
                    os.chmod(p, 0o700 if os.path.isdir(p) else 0o600)
            if self.H.daemon is None:
                self.H.start_daemon()
        self.addCleanup(restore)

    def start_expecting_report(self, path):
        """Starts the daemon; returns True if it refused to start. Either way
        its stderr must name @path."""
        refused = False
        try:
            self.H.start_daemon()
        except AssertionError as exc:
            if "before owning" not in str(exc):
                raise
            refused = True
            self.H.daemon = None
        self.assertIn(path, self.H.daemon_stderr(),
                      f"{path} is not reported on stderr at start")
        return refused

    def test_device_directory_modes_reported_and_fixed_or_refused(self):
        _, dev = self.provision_ucm("MQTTS")
        d = self.H.device_dir(dev)
        self.H.stop_daemon()
        self.restore_on_exit(d, os.path.join(d, "private_key.pem"))
        os.chmod(d, 0o755)
        os.chmod(os.path.join(d, "private_key.pem"), 0o644)
        refused = self.start_expecting_report(d)
        if refused:
            return
        served = self.H.call("GetDevice", "s", dev).ok
        if served:
            self.assertDeviceDir(dev, {"device.json", "private_key.pem", "certificate.pem",
                                       "ca_chain.pem"})

    def test_keystore_owned_by_another_user_reported_and_fixed_or_refused(self):
        self.H.stop_daemon()
        self.restore_on_exit(self.H.keystore)
        os.chown(self.H.keystore, 65534, 65534)
        refused = self.start_expecting_report(self.H.keystore)
        if not refused:
            st = os.lstat(self.H.keystore)
            self.assertEqual((st.st_uid, stat.S_IMODE(st.st_mode)), (os.getuid(), 0o700),
                             "the keystore's owner was not fixed")

    def test_device_directory_owned_by_another_user_reported_and_fixed_or_refused(self):
        _, dev = self.provision_ucm("MQTT")
        d = self.H.device_dir(dev)
        self.H.stop_daemon()
        self.restore_on_exit(d, os.path.join(d, "password"))
        os.chown(d, 65534, 65534)
        os.chown(os.path.join(d, "password"), 65534, 65534)
        refused = self.start_expecting_report(d)
        if refused:
            return
        if self.H.call("GetDevice", "s", dev).ok:
            for p in (d, os.path.join(d, "password")):
                self.assertEqual(os.lstat(p).st_uid, os.getuid(), f"owner of {p} not fixed")


if __name__ == "__main__":
    main()
