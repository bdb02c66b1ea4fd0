#!/bin/bash
# The Debian package, end to end, as root on a Debian 12 machine whose
# Build-Depends are installed (apt-get build-dep ./):
#   build it (dpkg-buildpackage -us -uc -b, in a copy of the tree in a
#   temporary directory), run lintian (no error, no warning), compare its
#   file list with tests/package/expected-files, install it (dpkg -i), start
#   a private system bus that loads the INSTALLED policy, run the installed
#   daemon as enapter-provisiond against the stand-in API, provision one UCM
#   with busctl as a member of enapter-provisioning, then remove the package
#   (the keystore stays) and purge it (nothing of it stays).
# Prints TAP; exits non-zero when a check fails. Leaves the machine as it
# found it (the trap below). Refuses to run where enapter-provisiond is
# installed (purging would destroy its keystore); a state directory
# without the package is moved aside during the test and put back.
#
# DEB_BUILD_OPTIONS is passed on: DEB_BUILD_OPTIONS=nocheck skips the meson
# test suites inside dpkg-buildpackage (scripts/test runs them anyway).
# EP_KEEP_TMP=1 keeps the temporary directory (logs, the .deb).
set -euo pipefail

PKG=enapter-provisiond
BUS_NAME=com.enapter.Provisioning1
OBJECT=/com/enapter/Provisioning1
DAEMON_USER=enapter-provisiond
ACCESS_GROUP=enapter-provisioning
CREDENTIALS_GROUP=enapter-credentials   # may receive CredentialsChanged
CALLER=ep-pkgtest-caller        # made here, in ACCESS_GROUP
OUTSIDER=nobody                 # in no group of ours
STATE_DIR=/var/lib/enapter-provisiond
KEYSTORE=$STATE_DIR/keystore    # the default [Keystore] Path
CONFFILE=/etc/enapter/provisiond.conf
TOKEN=pkgtest-cloud-token
PLAN=29

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC_ROOT=$(cd "$HERE/../.." && pwd)
# ep_copy_tree
. "$SRC_ROOT/scripts/common.sh"

# ------------------------------------------------------------------ TAP

n=0
failures=0
ok () { n=$((n + 1)); echo "ok $n - $1"; }
not_ok () { n=$((n + 1)); failures=$((failures + 1)); echo "not ok $n - $1"; }
diag () { sed 's/^/# /'; }
# check NAME COMMAND...: one TAP line from COMMAND's status. COMMAND runs in
# an `if`, where set -e is off: functions used here chain with && or return.
check () {
  local name=$1; shift
  if "$@"; then ok "$name"; else not_ok "$name"; fi
}
bail () {
  echo "Bail out! $1"
  exit 1
}

# ------------------------------------------------------------------ setup

[ "$(id -u)" = 0 ] || bail "run as root: it installs and purges $PKG"
for tool in dpkg-buildpackage lintian dbus-daemon dbus-send busctl setpriv useradd python3; do
  command -v "$tool" >/dev/null || bail "$tool is missing: apt-get build-dep ./ installs it"
done
if dpkg-query -W -f='${db:Status-Status}' "$PKG" 2>/dev/null | grep -qv '^not-installed$'; then
  bail "$PKG is installed here; this test would purge it (and its keystore)"
fi
# A state directory without the package (left by a daemon run by hand with
# the default [Keystore] Path) is moved aside for the test and put back
# after it, so that the purge can neither delete it nor be hidden by it.
SAVED_STATE=$STATE_DIR.pkgtest-saved
[ ! -e "$SAVED_STATE" ] ||
  bail "$SAVED_STATE exists (left by an interrupted run of this test?); move it back to $STATE_DIR or remove it"
moved_state=0
! getent passwd "$CALLER" >/dev/null || bail "user $CALLER exists already"

T=$(mktemp -d /tmp/ep-pkgtest-XXXXXX)
chmod 0755 "$T"   # the daemon and the callers reach the bus socket and config here
had_user=0; getent passwd "$DAEMON_USER" >/dev/null && had_user=1
had_group=0; getent group "$ACCESS_GROUP" >/dev/null && had_group=1
had_creds_group=0; getent group "$CREDENTIALS_GROUP" >/dev/null && had_creds_group=1
installed_here=0
made_caller=0
pids=()

cleanup () {
  local pid
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  if [ "$installed_here" = 1 ] &&
     dpkg-query -W -f='${db:Status-Status}' "$PKG" 2>/dev/null | grep -qv '^not-installed$'; then
    dpkg --purge "$PKG" >/dev/null 2>&1 || true
  fi
  [ "$installed_here" = 0 ] || rm -rf "$STATE_DIR"
  if [ "$moved_state" = 1 ]; then
    rm -rf "$STATE_DIR"
    mv -T "$SAVED_STATE" "$STATE_DIR" ||
      echo "# could not move $SAVED_STATE back to $STATE_DIR; do it by hand" >&2
  fi
  [ "$made_caller" = 0 ] || userdel "$CALLER" 2>/dev/null || true
  # The package keeps its accounts on purge (as Debian packages do); the
  # test removes the ones it caused to exist.
  if [ "$installed_here" = 1 ]; then
    [ "$had_user" = 1 ] || userdel "$DAEMON_USER" 2>/dev/null || true
    if [ "$had_group" = 0 ] && getent group "$ACCESS_GROUP" >/dev/null; then
      groupdel "$ACCESS_GROUP" 2>/dev/null || true
    fi
    if [ "$had_creds_group" = 0 ] && getent group "$CREDENTIALS_GROUP" >/dev/null; then
      groupdel "$CREDENTIALS_GROUP" 2>/dev/null || true
    fi
    if [ "$had_user" = 0 ] && getent group "$DAEMON_USER" >/dev/null; then
      groupdel "$DAEMON_USER" 2>/dev/null || true
    fi
  fi
  if [ -n "${EP_KEEP_TMP:-}" ]; then
    echo "# kept $T"
  else
    rm -rf "$T"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
if [ -e "$STATE_DIR" ]; then
  mv -T "$STATE_DIR" "$SAVED_STATE" || bail "cannot move $STATE_DIR aside to $SAVED_STATE"
  moved_state=1
  echo "# $STATE_DIR exists without the package: moved to $SAVED_STATE for the test"
fi

echo "1..$PLAN"

# ------------------------------------------------------------------ build

build () {
  ep_copy_tree "$T/src" &&
  (cd "$T/src" && dpkg-buildpackage -us -uc -b) >"$T/build.log" 2>&1
}
if build; then
  ok "dpkg-buildpackage -us -uc -b builds the package"
else
  not_ok "dpkg-buildpackage -us -uc -b builds the package"
  # meson's test log starts with one huge line of the environment: not that.
  grep -v '^Inherited environment:' "$T/build.log" | tail -n 60 | diag
  bail "no package to test"
fi

version=$(dpkg-parsechangelog -l "$T/src/debian/changelog" -S Version)
arch=$(dpkg --print-architecture)
DEB=$T/${PKG}_${version}_${arch}.deb
CHANGES=$T/${PKG}_${version}_${arch}.changes
if [ ! -f "$DEB" ] || [ ! -f "$CHANGES" ]; then
  bail "dpkg-buildpackage made no $DEB / $CHANGES"
fi

# lintian refuses nothing as root, but says running so is not recommended:
# it reads the package as nobody.
run_lintian () {
  chmod -R a+rX "$T"
  setpriv --reuid=nobody --regid=nogroup --clear-groups \
    env HOME="$T" lintian --fail-on error,warning --display-info "$CHANGES" >"$T/lintian.log" 2>&1
}
if run_lintian; then
  ok "lintian: no error, no warning"
else
  not_ok "lintian: no error, no warning"
fi
diag <"$T/lintian.log"

# ------------------------------------------------------------------ file list

deb_entries () {   # every entry of the .deb, '/'-rooted; directories end in '/'
  dpkg-deb --fsys-tarfile "$DEB" | tar -t | sed -e 's|^\./|/|' | grep -vx '/'
}
deb_entries | grep -v '/$' | sort >"$T/files.actual"
deb_entries | grep '/$' | sed 's|/$||' | sort >"$T/dirs.actual"
grep -v '^#' "$HERE/expected-files" | grep -v '^$' | sort >"$T/files.expected"
if diff -u "$T/files.expected" "$T/files.actual" >"$T/files.diff"; then
  ok "dpkg-deb -c lists exactly tests/package/expected-files"
else
  not_ok "dpkg-deb -c lists exactly tests/package/expected-files"
  echo "(- expected but missing, + in the package but not expected)" | diag
  tail -n +3 "$T/files.diff" | diag
fi

conffile_ok () {
  dpkg-deb --ctrl-tarfile "$DEB" | tar -xO ./conffiles | grep -qx "$CONFFILE" &&
  dpkg-deb --fsys-tarfile "$DEB" | tar -xO ".$CONFFILE" >"$T/example.conf" &&
  # Every setting commented out: the daemon runs on its defaults.
  ! grep -Eq '^[[:space:]]*[A-Za-z]+[[:space:]]*=' "$T/example.conf"
}
check "$CONFFILE is a conffile with every setting commented out" conffile_ok

# ------------------------------------------------------------------ install

installed_here=1
if dpkg -i "$DEB" >"$T/install.log" 2>&1; then
  ok "dpkg -i installs the package"
else
  not_ok "dpkg -i installs the package"
  diag <"$T/install.log"
  bail "the package does not install"
fi

accounts_made () {
  getent passwd "$DAEMON_USER" | grep -q ':/usr/sbin/nologin$' &&
  getent group "$ACCESS_GROUP" >/dev/null &&
  getent group "$CREDENTIALS_GROUP" >/dev/null
}
check "postinst made the system user $DAEMON_USER (nologin), groups $ACCESS_GROUP and $CREDENTIALS_GROUP" \
  accounts_made

check "postinst enabled the unit (multi-user.target.wants)" \
  test -L /etc/systemd/system/multi-user.target.wants/$PKG.service

# The unit is installed where debhelper and systemd look for it, and its
# ExecStart= names the daemon this package installed.
unit_execstart_ok () {
  local unit=/lib/systemd/system/$PKG.service exe
  exe=$(sed -n 's/^ExecStart=[-@:+!]*\([^ ]*\).*/\1/p' "$unit")
  echo "ExecStart= names '$exe'" | diag
  [ -n "$exe" ] && [ -x "$exe" ] && grep -qx "$exe" "$T/files.actual"
}
check "the unit's ExecStart= is the installed daemon" unit_execstart_ok

# ------------------------------------------------------------------ the bus

BUS_SOCKET=$T/system_bus_socket
BUS_ADDRESS=unix:path=$BUS_SOCKET
# The integration harness's bus (the default context of Debian's
# system.conf), loading the INSTALLED policy instead of the repo's.
PYTHONDONTWRITEBYTECODE=1 python3 - "$BUS_SOCKET" "/usr/share/dbus-1/system.d/$BUS_NAME.conf" \
  "$HERE/../integration" >"$T/bus.conf" <<'PY'
import sys
sys.path.insert(0, sys.argv[3])
from harness import BUS_CONFIG
print(BUS_CONFIG.format(socket=sys.argv[1], policy=sys.argv[2], extra=""), end="")
PY

dbus-daemon --config-file="$T/bus.conf" --nofork --nopidfile >"$T/bus.log" 2>&1 &
pids+=($!)
bus () { busctl --address="$BUS_ADDRESS" "$@"; }
as_user () {   # as_user USER COMMAND...: with USER's uid, gid and groups
  local user=$1; shift
  setpriv --reuid="$user" --regid="$(id -g "$user")" --init-groups --no-new-privs "$@"
}
wait_for () {   # wait_for SECONDS COMMAND...
  local tries=$(($1 * 10)); shift
  until "$@" >/dev/null 2>&1; do
    tries=$((tries - 1))
    [ "$tries" -gt 0 ] || return 1
    sleep 0.1
  done
}
if wait_for 10 bus call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus GetId; then
  ok "a private system bus runs with the installed policies"
else
  not_ok "a private system bus runs with the installed policies"
  diag <"$T/bus.log"
  bail "no bus"
fi

# ------------------------------------------------------------------ the stand-in

python3 "$SRC_ROOT/tests/standin/standin.py" --role cloud --token "$TOKEN" \
  --listen 127.0.0.1 --port 0 --port-file "$T/standin.port" --quiet \
  >"$T/standin.log" 2>&1 &
pids+=($!)
if wait_for 15 test -s "$T/standin.port"; then
  ok "the stand-in API listens"
else
  not_ok "the stand-in API listens"
  diag <"$T/standin.log"
  bail "no stand-in"
fi
STANDIN_URL=http://127.0.0.1:$(cat "$T/standin.port")

# ------------------------------------------------------------------ the daemon

# The daemon's configuration: the installed example with every key
# uncommented (so each shown default must be valid), pointed at the stand-in.
# The daemon refuses a token file others may read: the daemon's user owns
# it, mode 0600.
install -m 0600 -o "$DAEMON_USER" -g "$DAEMON_USER" /dev/null "$T/cloud-token"
printf '%s\n' "$TOKEN" >"$T/cloud-token"
awk -v url="$STANDIN_URL" -v token="$T/cloud-token" '
  /^\[/ { section = $0 }
  /^#[A-Za-z]+=/ { sub(/^#/, "") }
  section == "[Cloud]" && /^URL=/ { $0 = "URL=" url }
  section == "[Cloud]" && /^TokenFile=/ { $0 = "TokenFile=" token }
  { print }' "$CONFFILE" >"$T/provisiond.conf"
chmod 0644 "$T/provisiond.conf"

# The keystore as the unit's StateDirectory= makes it.
install -d -m 0755 "$STATE_DIR"
install -d -m 0700 -o "$DAEMON_USER" -g "$DAEMON_USER" "$KEYSTORE"

(
  umask 0027   # the unit's UMask=
  exec env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DBUS_SYSTEM_BUS_ADDRESS="$BUS_ADDRESS" \
    setpriv --reuid="$DAEMON_USER" --regid="$DAEMON_USER" --init-groups --no-new-privs \
    /usr/sbin/enapter-provisiond --config "$T/provisiond.conf" --log-level debug
) >"$T/daemon.log" 2>&1 &
daemon_pid=$!
pids+=("$daemon_pid")

name_owned () {
  bus call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus \
    NameHasOwner s "$BUS_NAME" | grep -qx 'b true'
}
if wait_for 15 name_owned; then
  ok "the installed daemon owns $BUS_NAME"
else
  not_ok "the installed daemon owns $BUS_NAME"
  diag <"$T/daemon.log"
  bail "no daemon"
fi

owner_is_daemon_user () {
  local uid
  uid=$(bus call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus \
          GetConnectionUnixUser s "$BUS_NAME" | awk '{print $2}')
  [ "$uid" = "$(id -u "$DAEMON_USER")" ]
}
check "... as user $DAEMON_USER" owner_is_daemon_user

version_matches () {
  local v
  v=$(as_user "$OUTSIDER" busctl --address="$BUS_ADDRESS" get-property \
        "$BUS_NAME" "$OBJECT" "$BUS_NAME" Version)
  echo "Version: $v" | diag
  [ "$v" = "s \"${version%%-*}\"" ]
}
check "anyone may read Version; it is the package's version" version_matches

# ------------------------------------------------------------------ provision

useradd --system --no-create-home --shell /usr/sbin/nologin \
  --groups "$ACCESS_GROUP" "$CALLER"
made_caller=1

provision () {   # provision USER: ProvisionUcm as USER; reply in $T/reply.json
  as_user "$1" busctl --address="$BUS_ADDRESS" --json=short call \
    "$BUS_NAME" "$OBJECT" "$BUS_NAME" ProvisionUcm ssss \
    pkgtest-site PKGTEST0001 "Package test UCM" MQTTS >"$T/reply.json" 2>"$T/reply.err"
}
if provision "$CALLER"; then
  ok "a member of $ACCESS_GROUP provisions a UCM with busctl"
else
  not_ok "a member of $ACCESS_GROUP provisions a UCM with busctl"
  cat "$T/reply.err" "$T/daemon.log" | diag
fi

# The reply: (s device_id, a{sv} details) with kind ucm and the keystore path.
device_id=$(python3 - "$T/reply.json" "$KEYSTORE" <<'EOF' 2>"$T/reply.check" || true
import json, sys
reply = json.load(open(sys.argv[1]))
assert reply["type"] == "sa{sv}", reply["type"]
device_id, details = reply["data"]
assert device_id, "empty device_id"
assert details["device_id"]["data"] == device_id, details
assert details["kind"]["data"] == "ucm", details
assert details["hardware_id"]["data"] == "PKGTEST0001", details
assert details["keystore_path"]["data"] == f"{sys.argv[2]}/{device_id}", details
assert "CANARY" not in json.dumps(reply), "a secret in the reply"
assert "PRIVATE KEY-----" not in json.dumps(reply), "a private key in the reply"
print(device_id)
EOF
)
if [ -n "$device_id" ]; then
  ok "the reply names the device, kind ucm, its keystore path and no secret"
else
  not_ok "the reply names the device, kind ucm, its keystore path and no secret"
  cat "$T/reply.json" "$T/reply.check" 2>/dev/null | diag
fi

keystore_ok () {
  local dir=$KEYSTORE/$device_id f
  [ -n "$device_id" ] && [ -d "$dir" ] || return 1
  [ "$(stat -c '%U %a' "$dir")" = "$DAEMON_USER 700" ] || return 1
  for f in device.json private_key.pem certificate.pem ca_chain.pem; do
    [ "$(stat -c '%U %a' "$dir/$f")" = "$DAEMON_USER 600" ] || {
      echo "$dir/$f: $(stat -c '%U %a' "$dir/$f" 2>&1)" | diag; return 1; }
  done
  grep -q "\"$device_id\"" "$dir/device.json" &&
  python3 - "$STANDIN_URL" "$dir" "$device_id" <<'EOF' 2>&1 | diag
# The three PEM files are exactly the set the stand-in handed out (its
# answer, as /_standin/requests recorded it).
import json, sys, urllib.request
url, path, device_id = sys.argv[1:]
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
reqs = json.load(opener.open(url + "/_standin/requests", timeout=10))
answers = [json.loads(r["response"]) for r in reqs if r["status"] == 200]
sets = [a["config"]["mqtt_credentials"] for a in answers if a.get("device_id") == device_id]
assert sets, f"the stand-in handed out no set for {device_id}"
for name in ("private_key", "certificate", "ca_chain"):
    with open(f"{path}/{name}.pem") as f:
        assert f.read() == sets[-1][name], f"{name}.pem is not the {name} handed out"
assert sets[-1]["private_key"].startswith("-----BEGIN PRIVATE KEY-----\n"), "not a PEM key"
EOF
}
check "the keystore holds the device's credentials, $DAEMON_USER only" keystore_ok

# busctl shows only strerror(EACCES) for an AccessDenied; dbus-send shows
# the error's message, which tells the bus's refusal from the daemon's.
outsider_refused () {
  ! as_user "$OUTSIDER" dbus-send --bus="$BUS_ADDRESS" --print-reply --dest="$BUS_NAME" \
      "$OBJECT" "$BUS_NAME.ProvisionUcm" string:pkgtest-site string:PKGTEST0002 \
      string:"Outsider UCM" string:MQTTS >"$T/outsider.out" 2>"$T/outsider.err" &&
  grep -q '^Error org.freedesktop.DBus.Error.AccessDenied: Rejected send message' \
    "$T/outsider.err" &&
  [ "$(find "$KEYSTORE" -mindepth 1 -maxdepth 1 | wc -l)" = 1 ]   # only the first device
}
check "a caller outside $ACCESS_GROUP is refused by the installed bus policy" outsider_refused
diag <"$T/outsider.err"

kill -TERM "$daemon_pid"
daemon_status=0
wait "$daemon_pid" || daemon_status=$?
check "SIGTERM stops the daemon with status 0" test "$daemon_status" = 0

# ------------------------------------------------------------------ remove, purge

if dpkg --remove "$PKG" >"$T/remove.log" 2>&1; then
  ok "dpkg --remove removes the package"
else
  not_ok "dpkg --remove removes the package"
  diag <"$T/remove.log"
fi
check "remove: the daemon is gone" test ! -e /usr/sbin/enapter-provisiond
check "remove keeps the keystore" test -f "$KEYSTORE/${device_id:-none}/device.json"
check "remove keeps the conffile $CONFFILE" test -f "$CONFFILE"

if dpkg --purge "$PKG" >"$T/purge.log" 2>&1; then
  ok "dpkg --purge purges the package"
else
  not_ok "dpkg --purge purges the package"
fi
diag <"$T/purge.log"

dpkg_forgot () {
  local status
  status=$(dpkg-query -W -f='${db:Status-Status}' "$PKG" 2>/dev/null) || status=not-installed
  [ "$status" = not-installed ]
}
check "purge: dpkg knows nothing of $PKG" dpkg_forgot

no_file_left () {
  local left=0 f
  while IFS= read -r f; do
    if [ -e "$f" ] || [ -L "$f" ]; then echo "left: $f" | diag; left=1; fi
  done <"$T/files.actual"
  [ "$left" = 0 ]
}
check "purge: no file of the package is left" no_file_left

# A directory of the package may stay only while another package owns it.
no_dir_left () {
  local left=0 d
  while IFS= read -r d; do
    if [ -d "$d" ] && ! dpkg-query -S "$d" >/dev/null 2>&1; then
      echo "left: $d/ ($(ls -A "$d" | head -5 | tr '\n' ' '))" | diag; left=1
    fi
  done <"$T/dirs.actual"
  [ "$left" = 0 ]
}
check "purge: no directory of the package is left unless another package owns it" no_dir_left

check "purge deletes the keystore $STATE_DIR" test ! -e "$STATE_DIR"
check "purge disables the unit" test ! -e /etc/systemd/system/multi-user.target.wants/$PKG.service
user_kept () { getent passwd "$DAEMON_USER" >/dev/null; }
check "purge keeps the system user $DAEMON_USER (README.Debian)" user_kept

# ------------------------------------------------------------------ end

if [ "$n" != "$PLAN" ]; then
  not_ok "the plan: ran $((n + 1)) checks, planned $PLAN"
fi
[ "$failures" = 0 ]
