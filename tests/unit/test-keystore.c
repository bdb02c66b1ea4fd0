/* Unit tests of src/keystore.h: the keystore layout and modes of README
 * "Keystore", atomic replacement, start-up clean-up, look-ups and failures. */
#include "keystore-util.h"

/* ---- writing ------------------------------------------------------------ */

static void
test_first_write (Fixture *f, gconstpointer data)
{
  g_autoptr (EpKeystore) ks = open_keystore (f->ks_path, FALSE, 0);
  g_assert_cmpint (mode_of (f->ks_path) & 07777, ==, 0700);
  g_assert_cmpstr (ep_keystore_path (ks), ==, f->ks_path);
  g_assert_null (ep_keystore_lookup (ks, DEVICE_ID));

  Outcome o = write_entry (ks, entry_for ("ucm", "MQTTS", MQTTS_RESPONSE));
  g_assert_no_error (o.error);
  g_assert_true (o.ok);
  g_assert_false (o.replaced);

  g_autofree char *dev_dir = g_build_filename (f->ks_path, DEVICE_ID, NULL);
  assert_mqtts_set (dev_dir, 0700, 0600);
  g_autofree char *top = list_dir (f->ks_path);
  g_assert_cmpstr (top, ==, DEVICE_ID);
  assert_no_temporaries (f->ks_path);
  assert_no_temporaries (dev_dir);
  g_assert_nonnull (ep_keystore_lookup (ks, DEVICE_ID));
  g_autoptr (GPtrArray) ids = ep_keystore_list (ks);
  g_assert_cmpuint (ids->len, ==, 1);
  g_assert_cmpstr (ids->pdata[0], ==, DEVICE_ID);
}

static void
test_replace (Fixture *f, gconstpointer data)
{
  g_autoptr (EpKeystore) ks = open_keystore (f->ks_path, FALSE, 0);
  Outcome o1 = write_entry (ks, entry_for ("ucm", "MQTTS", MQTTS_RESPONSE));
  g_assert_no_error (o1.error);
  g_assert_false (o1.replaced);

  Outcome o2 = write_entry (ks, entry_for ("ucm", "MQTT", MQTT_RESPONSE));
  g_assert_no_error (o2.error);
  g_assert_true (o2.ok);
  g_assert_true (o2.replaced);

  g_autofree char *dev_dir = g_build_filename (f->ks_path, DEVICE_ID, NULL);
  g_autofree char *names = list_dir (dev_dir);
  g_assert_cmpstr (names, ==, "device.json,password");
  g_autofree char *pw_path = g_build_filename (dev_dir, "password", NULL);
  g_autofree char *pw = read_text (pw_path);
  g_assert_cmpstr (pw, ==, PW_CANARY);   /* no trailing newline */
  g_assert_cmpint (mode_of (pw_path) & 07777, ==, 0600);
  g_assert_cmpint (mode_of (dev_dir) & 07777, ==, 0700);

  g_autofree char *meta_path = g_build_filename (dev_dir, "device.json", NULL);
  g_autofree char *text = read_text (meta_path);
  assert_no_secret (text);
  g_autoptr (JsonObject) meta = read_json_file (meta_path);
  JsonObject *config = json_object_get_object_member (meta, "config");
  g_assert_cmpstr (json_object_get_string_member (config, "protocol"), ==, "MQTT");
  g_assert_cmpstr (json_object_get_string_member (config, "username"), ==, "ucm-user");
  g_assert_cmpint (json_object_get_int_member (config, "mqtt_port"), ==, 1883);

  /* The index follows the newest set. */
  const EpDeviceInfo *indexed = ep_keystore_lookup (ks, DEVICE_ID);
  g_assert_nonnull (indexed);
  g_assert_cmpstr (ep_device_info_get (indexed, "config.protocol"), ==, "MQTT");

  g_autofree char *top = list_dir (f->ks_path);
  g_assert_cmpstr (top, ==, DEVICE_ID);
  assert_no_temporaries (f->ks_path);

  /* And back to MQTTS: the password goes. */
  Outcome o3 = write_entry (ks, entry_for ("ucm", "MQTTS", MQTTS_RESPONSE));
  g_assert_no_error (o3.error);
  g_assert_true (o3.replaced);
  assert_mqtts_set (dev_dir, 0700, 0600);
  assert_no_temporaries (f->ks_path);

  /* A fresh open indexes what is on disk. */
  g_autoptr (EpKeystore) again = open_keystore (f->ks_path, FALSE, 0);
  const EpDeviceInfo *reread = ep_keystore_lookup (again, DEVICE_ID);
  g_assert_nonnull (reread);
  g_assert_cmpstr (ep_device_info_get (reread, "kind"), ==, "ucm");
  g_assert_cmpstr (ep_device_info_get (reread, "config.protocol"), ==, "MQTTS");
}

/* Two devices written at once both land complete. */
static void
test_concurrent_devices (Fixture *f, gconstpointer data)
{
  g_autoptr (EpKeystore) ks = open_keystore (f->ks_path, FALSE, 0);
  Outcome a = { 0 }, b = { 0 };
  current_ks = ks;
  ep_keystore_write_async (ks, entry_for ("standalone", NULL,
                                          "{\"device_id\":\"sa-1\",\"slug\":\"sa-1\"}"),
                           on_written_current, &a);
  ep_keystore_write_async (ks, entry_for ("standalone", NULL,
                                          "{\"device_id\":\"sa-2\",\"slug\":\"sa-2\"}"),
                           on_written_current, &b);
  wait_for (&a);
  wait_for (&b);
  current_ks = NULL;
  g_assert_no_error (a.error);
  g_assert_no_error (b.error);
  g_assert_true (a.ok && b.ok);
  g_autofree char *top = list_dir (f->ks_path);
  g_assert_cmpstr (top, ==, "sa-1,sa-2");
  g_assert_nonnull (ep_keystore_lookup (ks, "sa-1"));
  g_assert_nonnull (ep_keystore_lookup (ks, "sa-2"));
}

/* ---- opening ------------------------------------------------------------ */

static void
make_dir (const char *path, mode_t mode)
{
  g_assert_cmpint (g_mkdir (path, mode), ==, 0);
}

static void
put_file (const char *path, const char *contents)
{
  g_autoptr (GError) error = NULL;
  g_file_set_contents (path, contents, -1, &error);
  g_assert_no_error (error);
}

static void
test_open_cleans_leftovers (Fixture *f, gconstpointer data)
{
  make_dir (f->ks_path, 0700);
  /* A complete entry. */
  g_autofree char *dev = g_build_filename (f->ks_path, "dev-1", NULL);
  make_dir (dev, 0700);
  g_autofree char *dev_meta = g_build_filename (dev, "device.json", NULL);
  put_file (dev_meta, "{\"kind\":\"standalone\",\"device_id\":\"dev-1\",\"site_id\":\"s\","
                      "\"name\":\"n\",\"slug\":\"n\"}");
  g_autofree char *dev_pw = g_build_filename (dev, "password", NULL);
  put_file (dev_pw, "pw");
  /* Leftovers of an interrupted write and an interrupted forget. */
  g_autofree char *new_dir = g_build_filename (f->ks_path, ".new-0badf00d-dev-1", NULL);
  make_dir (new_dir, 0700);
  g_autofree char *new_meta = g_build_filename (new_dir, "device.json", NULL);
  put_file (new_meta, "{\"kind\":\"standalone\",\"device_id\":\"dev-1\"}");
  g_autofree char *new_pk = g_build_filename (new_dir, "private_key.pem", NULL);
  put_file (new_pk, "half");
  g_autofree char *new_file = g_build_filename (f->ks_path, ".new-12345678-dev-2", NULL);
  put_file (new_file, "stray");
  g_autofree char *old_dir = g_build_filename (f->ks_path, ".old-00000001-dev-3", NULL);
  make_dir (old_dir, 0700);
  /* An entry whose device.json names another device is not indexed. */
  g_autofree char *liar = g_build_filename (f->ks_path, "dev-4", NULL);
  make_dir (liar, 0700);
  g_autofree char *liar_meta = g_build_filename (liar, "device.json", NULL);
  put_file (liar_meta, "{\"kind\":\"standalone\",\"device_id\":\"dev-1\"}");

  g_autoptr (EpKeystore) ks = open_keystore (f->ks_path, FALSE, 0);
  assert_no_temporaries (f->ks_path);
  g_assert_true (g_file_test (dev_meta, G_FILE_TEST_IS_REGULAR));
  g_autofree char *pw = read_text (dev_pw);
  g_assert_cmpstr (pw, ==, "pw");
  const EpDeviceInfo *info = ep_keystore_lookup (ks, "dev-1");
  g_assert_nonnull (info);
  g_assert_cmpstr (ep_device_info_get (info, "kind"), ==, "standalone");
  g_assert_null (ep_keystore_lookup (ks, "dev-4"));
  g_assert_null (ep_keystore_lookup (ks, ".new-0badf00d-dev-1"));
  g_autoptr (GPtrArray) ids = ep_keystore_list (ks);
  g_assert_cmpuint (ids->len, ==, 1);
  g_assert_cmpstr (ids->pdata[0], ==, "dev-1");
}

static void
test_open_fixes_mode (Fixture *f, gconstpointer data)
{
  make_dir (f->ks_path, 0700);
  g_assert_cmpint (g_chmod (f->ks_path, 0755), ==, 0);
  g_autoptr (EpKeystore) ks = open_keystore (f->ks_path, FALSE, 0);
  g_assert_nonnull (ks);
  g_assert_cmpint (mode_of (f->ks_path) & 07777, ==, 0700);

  g_autofree char *nested = g_build_filename (f->tmp, "a", "b", "keystore", NULL);
  g_autoptr (EpKeystore) ks2 = open_keystore (nested, FALSE, 0);
  g_assert_nonnull (ks2);
  g_assert_cmpint (mode_of (nested) & 07777, ==, 0700);
}

static void
test_open_fails (Fixture *f, gconstpointer data)
{
  /* A regular file where the keystore should be. */
  put_file (f->ks_path, "not a directory");
  g_autoptr (GError) error = NULL;
  g_autoptr (EpKeystore) ks = ep_keystore_open (f->ks_path, FALSE, 0, &error);
  g_assert_null (ks);
  g_assert_error (error, EP_KEYSTORE_ERROR, EP_KEYSTORE_ERROR_OPEN);
  g_assert_nonnull (strstr (error->message, f->ks_path));
}

/* A keystore others can write to is refused as untrusted, not as a failed
 * open, and the caller is told how to fix it; both are KeystoreError. */
static void
test_open_untrusted (Fixture *f, gconstpointer data)
{
  make_dir (f->ks_path, 0700);
  g_assert_cmpint (g_chmod (f->ks_path, 0770), ==, 0);
  g_autoptr (GError) error = NULL;
  g_autoptr (EpKeystore) ks = ep_keystore_open (f->ks_path, FALSE, 0, &error);
  g_assert_null (ks);
  g_assert_error (error, EP_KEYSTORE_ERROR, EP_KEYSTORE_ERROR_UNTRUSTED);
  g_assert_nonnull (strstr (error->message, f->ks_path));
  g_assert_nonnull (strstr (error->message, "chmod go-w"));
  g_assert_cmpstr (ep_error_dbus_name (error), ==, EP_DBUS_ERROR_PREFIX "KeystoreError");
}

static void
test_group_modes (Fixture *f, gconstpointer data)
{
  gid_t gid = getgid ();
  g_autoptr (EpKeystore) ks = open_keystore (f->ks_path, TRUE, gid);
  g_assert_cmpint (mode_of (f->ks_path) & 07777, ==, 0750);

  Outcome o = write_entry (ks, entry_for ("ucm", "MQTTS", MQTTS_RESPONSE));
  g_assert_no_error (o.error);
  g_autofree char *dev_dir = g_build_filename (f->ks_path, DEVICE_ID, NULL);
  assert_mqtts_set (dev_dir, 0750, 0640);
  GStatBuf st;
  g_assert_cmpint (g_lstat (dev_dir, &st), ==, 0);
  g_assert_cmpuint (st.st_gid, ==, gid);

  Outcome o2 = write_entry (ks, entry_for ("ucm", "MQTT", MQTT_RESPONSE));
  g_assert_no_error (o2.error);
  g_autofree char *pw_path = g_build_filename (dev_dir, "password", NULL);
  g_assert_cmpint (mode_of (pw_path) & 07777, ==, 0640);
  g_assert_cmpint (mode_of (dev_dir) & 07777, ==, 0750);
  assert_no_temporaries (f->ks_path);

  /* Reopened without a group, the keystore closes again. */
  g_autoptr (EpKeystore) closed = open_keystore (f->ks_path, FALSE, 0);
  g_assert_nonnull (closed);
  g_assert_cmpint (mode_of (f->ks_path) & 07777, ==, 0700);
  g_assert_cmpint (mode_of (dev_dir) & 07777, ==, 0700);
  g_assert_cmpint (mode_of (pw_path) & 07777, ==, 0600);
  g_assert_nonnull (ep_keystore_lookup (closed, DEVICE_ID));
}

/* ---- finding and forgetting -------------------------------------------- */

static void
test_find_and_forget (Fixture *f, gconstpointer data)
{
  g_autoptr (EpKeystore) ks = open_keystore (f->ks_path, FALSE, 0);
  Outcome o = write_entry (ks, entry_for ("lua_device", NULL,
                                          "{\"device_id\":\"lua-1\",\"slug\":\"gas-sensor-1\"}"));
  g_assert_no_error (o.error);
  Outcome o2 = write_entry (ks, entry_for ("standalone", NULL,
                                           "{\"device_id\":\"sa-1\",\"slug\":\"gas-sensor-1\"}"));
  g_assert_no_error (o2.error);

  static const char *const names[] = { "runtime_id", "slug", NULL };
  static const char *const values[] = { "ucmbbba0-79f2-4e9e-a6f0-69a310ab110b", "gas-sensor-1",
                                        NULL };
  static const char *const other_slug[] = { "ucmbbba0-79f2-4e9e-a6f0-69a310ab110b",
                                            "gas-sensor-2", NULL };
  static const char *const other_rt[] = { "runtime-2", "gas-sensor-1", NULL };
  g_assert_cmpstr (ep_keystore_find (ks, "lua_device", names, values), ==, "lua-1");
  g_assert_null (ep_keystore_find (ks, "lua_device", names, other_slug));
  g_assert_null (ep_keystore_find (ks, "lua_device", names, other_rt));
  g_assert_null (ep_keystore_find (ks, "standalone", names, values));

  /* The index survives a restart. */
  g_autoptr (EpKeystore) reopened = open_keystore (f->ks_path, FALSE, 0);
  g_assert_cmpstr (ep_keystore_find (reopened, "lua_device", names, values), ==, "lua-1");

  Outcome gone = forget_device (ks, "lua-1");
  g_assert_no_error (gone.error);
  g_assert_true (gone.ok);
  g_assert_null (ep_keystore_lookup (ks, "lua-1"));
  g_assert_null (ep_keystore_find (ks, "lua_device", names, values));
  g_autofree char *lua_dir = g_build_filename (f->ks_path, "lua-1", NULL);
  g_assert_false (g_file_test (lua_dir, G_FILE_TEST_EXISTS));
  g_autofree char *top = list_dir (f->ks_path);
  g_assert_cmpstr (top, ==, "sa-1");
  assert_no_temporaries (f->ks_path);
  g_assert_nonnull (ep_keystore_lookup (ks, "sa-1"));

  /* Forgetting what is not there fails, naming the device. */
  Outcome missing = forget_device (ks, "lua-1");
  g_assert_false (missing.ok);
  g_assert_error (missing.error, EP_KEYSTORE_ERROR, EP_KEYSTORE_ERROR_FORGET);
  g_assert_nonnull (strstr (missing.error->message, "lua-1"));
  g_clear_error (&missing.error);
}

/* ---- failures ----------------------------------------------------------- */

/* A write that fails half-way (the second file cannot be created) leaves the
 * old set as it was and no temporary. */
static void
test_failed_write_keeps_old_set (Fixture *f, gconstpointer data)
{
  g_autoptr (EpKeystore) ks = open_keystore (f->ks_path, FALSE, 0);
  Outcome o = write_entry (ks, entry_for ("ucm", "MQTTS", MQTTS_RESPONSE));
  g_assert_no_error (o.error);
  g_autofree char *dev_dir = g_build_filename (f->ks_path, DEVICE_ID, NULL);
  g_autofree char *meta_path = g_build_filename (dev_dir, "device.json", NULL);
  g_autofree char *meta_before = read_text (meta_path);
  const EpDeviceInfo *indexed_before = ep_keystore_lookup (ks, DEVICE_ID);

  EpKeystoreEntry *bad = entry_for ("ucm", "MQTT", MQTT_RESPONSE);
  ep_keystore_entry_add_file (bad, "password", "second copy");   /* EEXIST on write */
  Outcome failed = write_entry (ks, bad);
  g_assert_false (failed.ok);
  g_assert_error (failed.error, EP_KEYSTORE_ERROR, EP_KEYSTORE_ERROR_WRITE);
  g_assert_nonnull (strstr (failed.error->message, DEVICE_ID));
  assert_no_secret (failed.error->message);
  g_clear_error (&failed.error);

  assert_no_temporaries (f->ks_path);
  assert_mqtts_set (dev_dir, 0700, 0600);
  g_autofree char *meta_after = read_text (meta_path);
  g_assert_cmpstr (meta_after, ==, meta_before);
  g_assert_true (ep_keystore_lookup (ks, DEVICE_ID) == indexed_before);
  g_autofree char *top = list_dir (f->ks_path);
  g_assert_cmpstr (top, ==, DEVICE_ID);
}

/* The keystore directory vanished under the daemon: the write fails with
 * KeystoreError naming the device, and nothing appears anywhere. */
static void
test_failed_write_vanished_keystore (Fixture *f, gconstpointer data)
{
  g_autoptr (EpKeystore) ks = open_keystore (f->ks_path, FALSE, 0);
  g_assert_cmpint (g_rmdir (f->ks_path), ==, 0);
  make_dir (f->ks_path, 0700);   /* a new directory at the same path */

  Outcome o = write_entry (ks, entry_for ("ucm", "MQTTS", MQTTS_RESPONSE));
  g_assert_false (o.ok);
  g_assert_error (o.error, EP_KEYSTORE_ERROR, EP_KEYSTORE_ERROR_WRITE);
  g_assert_nonnull (strstr (o.error->message, DEVICE_ID));
  g_clear_error (&o.error);
  g_autofree char *top = list_dir (f->ks_path);
  g_assert_cmpstr (top, ==, "");
  g_assert_null (ep_keystore_lookup (ks, DEVICE_ID));
}

/* A regular file sits where the device's directory goes. Either the write
 * fails (KeystoreError naming the device, the file untouched) or the device
 * directory replaces it whole; never a temporary or a partial set. */
static void
test_file_in_place_of_device (Fixture *f, gconstpointer data)
{
  g_autoptr (EpKeystore) ks = open_keystore (f->ks_path, FALSE, 0);
  g_autofree char *dev_path = g_build_filename (f->ks_path, DEVICE_ID, NULL);
  put_file (dev_path, "a stray file");

  Outcome o = write_entry (ks, entry_for ("ucm", "MQTTS", MQTTS_RESPONSE));
  assert_no_temporaries (f->ks_path);
  if (o.ok)
    {
      g_assert_no_error (o.error);
      assert_mqtts_set (dev_path, 0700, 0600);
      g_assert_nonnull (ep_keystore_lookup (ks, DEVICE_ID));
      g_test_message ("a stray file at the device path was replaced (replaced=%d)", o.replaced);
    }
  else
    {
      g_assert_error (o.error, EP_KEYSTORE_ERROR, EP_KEYSTORE_ERROR_WRITE);
      g_assert_nonnull (strstr (o.error->message, DEVICE_ID));
      g_clear_error (&o.error);
      g_autofree char *text = read_text (dev_path);
      g_assert_cmpstr (text, ==, "a stray file");
    }
}

/* A directory the index does not hold sits at the device's name (start-up
 * left it alone): the write fails, naming the device, and leaves it intact. */
static void
test_unindexed_entry_in_place (Fixture *f, gconstpointer data)
{
  make_dir (f->ks_path, 0700);
  g_autofree char *dev_path = g_build_filename (f->ks_path, DEVICE_ID, NULL);
  make_dir (dev_path, 0755);
  g_autofree char *notes = g_build_filename (dev_path, "notes", NULL);
  put_file (notes, "keep me");
  g_autoptr (EpKeystore) ks = open_keystore (f->ks_path, FALSE, 0);
  g_assert_null (ep_keystore_lookup (ks, DEVICE_ID));

  Outcome o = write_entry (ks, entry_for ("ucm", "MQTTS", MQTTS_RESPONSE));
  g_assert_false (o.ok);
  g_assert_error (o.error, EP_KEYSTORE_ERROR, EP_KEYSTORE_ERROR_WRITE);
  g_assert_nonnull (strstr (o.error->message, DEVICE_ID));
  g_assert_nonnull (strstr (o.error->message, "not one of this daemon's device sets"));
  assert_no_secret (o.error->message);
  g_clear_error (&o.error);
  assert_no_temporaries (f->ks_path);
  g_autofree char *names = list_dir (dev_path);
  g_assert_cmpstr (names, ==, "notes");
  g_autofree char *kept = read_text (notes);
  g_assert_cmpstr (kept, ==, "keep me");
  g_assert_cmpint (mode_of (dev_path) & 07777, ==, 0755);
  g_assert_null (ep_keystore_lookup (ks, DEVICE_ID));
}

/* A symlink at the device's path is never followed: its target stays as it
 * was. */
static void
test_symlink_in_place_of_device (Fixture *f, gconstpointer data)
{
  g_autoptr (EpKeystore) ks = open_keystore (f->ks_path, FALSE, 0);
  g_autofree char *victim = g_build_filename (f->tmp, "victim", NULL);
  make_dir (victim, 0755);
  g_autofree char *keep = g_build_filename (victim, "keep", NULL);
  put_file (keep, "keep me");
  g_autofree char *dev_path = g_build_filename (f->ks_path, DEVICE_ID, NULL);
  g_assert_cmpint (symlink (victim, dev_path), ==, 0);

  Outcome o = write_entry (ks, entry_for ("ucm", "MQTTS", MQTTS_RESPONSE));
  g_clear_error (&o.error);
  assert_no_temporaries (f->ks_path);
  g_autofree char *victim_names = list_dir (victim);
  g_assert_cmpstr (victim_names, ==, "keep");
  g_autofree char *kept = read_text (keep);
  g_assert_cmpstr (kept, ==, "keep me");
  g_assert_cmpint (mode_of (victim) & 07777, ==, 0755);
  if (o.ok)
    {
      g_assert_false (S_ISLNK (mode_of (dev_path)));
      assert_mqtts_set (dev_path, 0700, 0600);
    }
}

/* ---- writes made in two steps ------------------------------------------- */

/* What the two steps of a prepared write do (ep_keystore_write_prepared_async). */
typedef struct {
  const char *protocol, *body;
  gboolean duplicate;         /* a file twice in the entry: the writer fails */
  gboolean refuse;            /* the completion fails */
  gboolean completed;         /* ... has ended */
  EpApiResult *result;
  EpArgs *args;
} Steps;

static EpKeystoreEntry *
prepare_files (gpointer data, GError **error)
{
  Steps *st = data;
  st->args = unit_args_seed ("ucm");
  unit_args_set (st->args, "protocol", st->protocol);
  st->result = parse (st->args, st->body);
  EpKeystoreEntry *entry = ep_record_files (st->result);
  if (st->duplicate)
    ep_keystore_entry_add_file (entry, "password", "second copy");   /* EEXIST */
  return entry;
}

static gboolean
complete_slowly (gpointer data, EpKeystoreEntry *entry, GError **error)
{
  Steps *st = data;
  /* The writer has written the files meanwhile; it must wait for this. */
  g_usleep (50 * G_TIME_SPAN_MILLISECOND);
  gboolean ok = !st->refuse;
  if (ok)
    ep_record_complete (entry, st->args, st->result, "cloud");
  else
    g_set_error (error, EP_ERROR, EP_ERROR_PROTOCOL_ERROR, "refused by the test");
  g_clear_pointer (&st->result, ep_api_result_free);
  g_clear_pointer (&st->args, ep_args_free);
  st->completed = TRUE;
  return ok;
}

static void
on_written_steps (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Outcome *o = user_data;
  g_assert_true (((Steps *) o->data)->completed);
  on_written_current (source, result, user_data);
}

static Outcome
write_in_steps (EpKeystore *ks, Steps *st)
{
  Outcome o = { .data = st };
  current_ks = ks;
  ep_keystore_write_prepared_async (ks, prepare_files, complete_slowly, st, on_written_steps,
                                    &o);
  wait_for (&o);
  current_ks = NULL;
  return o;
}

/* The files are written while the entry is completed; device.json comes
 * when it is. A refused completion stores nothing and leaves no temporary,
 * and its error is the one the caller gets, also when the writer failed
 * too; the writer never ends the write before the completion has. */
static void
test_prepared_write (Fixture *f, gconstpointer data)
{
  g_autoptr (EpKeystore) ks = open_keystore (f->ks_path, FALSE, 0);
  g_autofree char *dev_dir = g_build_filename (f->ks_path, DEVICE_ID, NULL);

  Steps refused = { .protocol = "MQTTS", .body = MQTTS_RESPONSE, .refuse = TRUE };
  Outcome o = write_in_steps (ks, &refused);
  g_assert_error (o.error, EP_ERROR, EP_ERROR_PROTOCOL_ERROR);
  g_clear_error (&o.error);
  g_autofree char *empty = list_dir (f->ks_path);
  g_assert_cmpstr (empty, ==, "");
  g_assert_null (ep_keystore_lookup (ks, DEVICE_ID));

  Steps first = { .protocol = "MQTTS", .body = MQTTS_RESPONSE };
  o = write_in_steps (ks, &first);
  g_assert_no_error (o.error);
  g_assert_false (o.replaced);
  assert_mqtts_set (dev_dir, 0700, 0600);
  g_assert_nonnull (ep_keystore_lookup (ks, DEVICE_ID));

  g_autofree char *meta_path = g_build_filename (dev_dir, "device.json", NULL);
  g_autofree char *before = read_text (meta_path);
  Steps both = { .protocol = "MQTT", .body = MQTT_RESPONSE, .duplicate = TRUE, .refuse = TRUE };
  o = write_in_steps (ks, &both);
  g_assert_error (o.error, EP_ERROR, EP_ERROR_PROTOCOL_ERROR);
  g_clear_error (&o.error);
  Steps writer = { .protocol = "MQTT", .body = MQTT_RESPONSE, .duplicate = TRUE };
  o = write_in_steps (ks, &writer);
  g_assert_error (o.error, EP_KEYSTORE_ERROR, EP_KEYSTORE_ERROR_WRITE);
  g_clear_error (&o.error);
  assert_no_temporaries (f->ks_path);
  assert_mqtts_set (dev_dir, 0700, 0600);
  g_autofree char *after = read_text (meta_path);
  g_assert_cmpstr (after, ==, before);

  Steps second = { .protocol = "MQTT", .body = MQTT_RESPONSE };
  o = write_in_steps (ks, &second);
  g_assert_no_error (o.error);
  g_assert_true (o.replaced);
  g_autofree char *names = list_dir (dev_dir);
  g_assert_cmpstr (names, ==, "device.json,password");
  assert_no_temporaries (f->ks_path);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
#define ADD(path, fn) g_test_add (path, Fixture, NULL, fixture_setup, fn, fixture_teardown)
  ADD ("/keystore/first-write", test_first_write);
  ADD ("/keystore/replace", test_replace);
  ADD ("/keystore/concurrent-devices", test_concurrent_devices);
  ADD ("/keystore/prepared-write", test_prepared_write);
  ADD ("/keystore/open/cleans-leftovers", test_open_cleans_leftovers);
  ADD ("/keystore/open/fixes-mode", test_open_fixes_mode);
  ADD ("/keystore/open/fails", test_open_fails);
  ADD ("/keystore/open/untrusted", test_open_untrusted);
  ADD ("/keystore/group-modes", test_group_modes);
  ADD ("/keystore/find-and-forget", test_find_and_forget);
  ADD ("/keystore/failure/keeps-old-set", test_failed_write_keeps_old_set);
  ADD ("/keystore/failure/vanished-keystore", test_failed_write_vanished_keystore);
  ADD ("/keystore/failure/file-in-place", test_file_in_place_of_device);
  ADD ("/keystore/failure/symlink-in-place", test_symlink_in_place_of_device);
  ADD ("/keystore/failure/unindexed-entry-in-place", test_unindexed_entry_in_place);
#undef ADD
  return g_test_run ();
}

