/* Helpers of the keystore and record tests: a temporary keystore per test,
 * synchronous wrappers around the async writes, and file checks. */
#pragma once

#include "api.h"
#include "errors.h"
#include "keystore.h"
#include "record.h"
#include "unit-util.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <sys/stat.h>
#include <unistd.h>

#define PK_CANARY "PRIVKEY-CANARY-31c9aa"
#define PW_CANARY "PASSWORD-CANARY-77e0b1"
#define CERT_CANARY "CERT-CANARY-4410fe"
#define CA_CANARY "CA-CANARY-9a2b6c"
#define DEVICE_ID "ucmbbba0-79f2-4e9e-a6f0-69a310ab110b"

#define MQTTS_RESPONSE                                                                         \
  "{\"config\":{\"mqtt_host\":\"mqtt.enapter.com\",\"mqtt_port\":8883,"                      \
  "\"mqtt_credentials\":{\"protocol\":\"MQTTS\",\"private_key\":\"" PK_CANARY "\","          \
  "\"certificate\":\"" CERT_CANARY "\",\"ca_chain\":\"" CA_CANARY "\"},"                     \
  "\"time_sync_protocol\":\"HTTP\",\"time_sync_host\":\"127.0.0.1\",\"time_sync_port\":80," \
  "\"hardware_id\":\"C8795CBA5375484E829105E959663C8B\",\"channel_id\":\"ucm\"},"            \
  "\"device_id\":\"" DEVICE_ID "\",\"slug\":\"my-ucm\"}"

#define MQTT_RESPONSE                                                                          \
  "{\"config\":{\"mqtt_host\":\"mqtt.enapter.com\",\"mqtt_port\":1883,"                      \
  "\"mqtt_credentials\":{\"protocol\":\"MQTT\",\"username\":\"ucm-user\","                   \
  "\"password\":\"" PW_CANARY "\"},"                                                         \
  "\"time_sync_protocol\":\"HTTP\",\"time_sync_host\":\"127.0.0.1\",\"time_sync_port\":80," \
  "\"hardware_id\":\"C8795CBA5375484E829105E959663C8B\",\"channel_id\":\"ucm\"},"            \
  "\"device_id\":\"" DEVICE_ID "\",\"slug\":\"my-ucm\"}"

typedef struct {
  char *tmp;        /* the test's own temporary directory */
  char *ks_path;    /* <tmp>/keystore */
} Fixture;

static inline void
rm_tree (const char *path)
{
  GStatBuf st;
  if (g_lstat (path, &st) < 0)
    return;
  if (S_ISDIR (st.st_mode))
    {
      g_autoptr (GDir) d = g_dir_open (path, 0, NULL);
      const char *name;
      while (d && (name = g_dir_read_name (d)) != NULL)
        {
          g_autofree char *sub = g_build_filename (path, name, NULL);
          rm_tree (sub);
        }
      g_rmdir (path);
    }
  else
    g_unlink (path);
}

static inline void
fixture_setup (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  f->tmp = g_dir_make_tmp ("ep-keystore-XXXXXX", &error);
  g_assert_no_error (error);
  f->ks_path = g_build_filename (f->tmp, "keystore", NULL);
}

static inline void
fixture_teardown (Fixture *f, gconstpointer data)
{
  rm_tree (f->tmp);
  g_free (f->ks_path);
  g_free (f->tmp);
}

static inline EpKeystore *
open_keystore (const char *path, gboolean group_set, gid_t gid)
{
  g_autoptr (GError) error = NULL;
  EpKeystore *ks = ep_keystore_open (path, group_set, gid, &error);
  g_assert_no_error (error);
  g_assert_nonnull (ks);
  return ks;
}

typedef struct {
  gboolean done;
  gboolean ok;
  gboolean replaced;
  GError *error;
  gpointer data;    /* the test's, for the callback */
} Outcome;

/* The keystore the pending callback finishes on (tests run one at a time). */
static EpKeystore *current_ks;

/* write_finish must set @replaced on success; this value shows it did not. */
#define REPLACED_UNSET (-1)

static inline void
on_written_current (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Outcome *o = user_data;
  o->replaced = REPLACED_UNSET;
  o->ok = ep_keystore_write_finish (current_ks, result, &o->replaced, &o->error);
  o->done = TRUE;
}

static inline void
on_forgotten (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Outcome *o = user_data;
  o->ok = ep_keystore_forget_finish (current_ks, result, &o->error);
  o->done = TRUE;
}

static inline void
wait_for (Outcome *o)
{
  while (!o->done)
    g_main_context_iteration (NULL, TRUE);
}

/* Writes @entry (taken) and runs the main context until it is stored. */
static inline Outcome
write_entry (EpKeystore *ks, EpKeystoreEntry *entry)
{
  Outcome o = { 0 };
  current_ks = ks;
  ep_keystore_write_async (ks, entry, on_written_current, &o);
  wait_for (&o);
  current_ks = NULL;
  if (o.ok)
    g_assert_cmpint (o.replaced, !=, REPLACED_UNSET);
  return o;
}

static inline Outcome
forget_device (EpKeystore *ks, const char *device_id)
{
  Outcome o = { 0 };
  current_ks = ks;
  ep_keystore_forget_async (ks, device_id, on_forgotten, &o);
  wait_for (&o);
  current_ks = NULL;
  return o;
}

static inline EpApiResult *
parse (const EpArgs *args, const char *body)
{
  g_autoptr (GError) error = NULL;
  EpApiResult *r = ep_api_parse_result (args, body, strlen (body), &error);
  g_assert_no_error (error);
  g_assert_nonnull (r);
  return r;
}

/* The keystore entry a call of @kind with seed arguments (protocol
 * @protocol where the kind has one) and response @body produces. */
static inline EpKeystoreEntry *
entry_for (const char *kind, const char *protocol, const char *body)
{
  g_autoptr (EpArgs) args = unit_args_seed (kind);
  if (protocol != NULL)
    unit_args_set (args, "protocol", protocol);
  g_autoptr (EpApiResult) r = parse (args, body);
  return ep_record_entry (args, r, "cloud");
}

static inline mode_t
mode_of (const char *path)
{
  GStatBuf st;
  g_assert_cmpint (g_lstat (path, &st), ==, 0);
  return st.st_mode;
}

static inline char *
read_text (const char *path)
{
  g_autoptr (GError) error = NULL;
  char *text = NULL;
  g_file_get_contents (path, &text, NULL, &error);
  g_assert_no_error (error);
  return text;
}

static inline int
compare_names (gconstpointer a, gconstpointer b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

/* The names in @dir, sorted, joined with ','. */
static inline char *
list_dir (const char *dir)
{
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  g_assert_nonnull (d);
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  const char *name;
  while ((name = g_dir_read_name (d)) != NULL)
    g_ptr_array_add (names, g_strdup (name));
  g_ptr_array_sort (names, compare_names);
  g_ptr_array_add (names, NULL);
  return g_strjoinv (",", (char **) names->pdata);
}

static inline void
assert_no_temporaries (const char *dir)
{
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  g_assert_nonnull (d);
  const char *name;
  while ((name = g_dir_read_name (d)) != NULL)
    if (name[0] == '.')
      g_test_fail_printf ("%s holds a temporary %s", dir, name);
}

static inline JsonObject *
read_json_file (const char *path)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;
  json_parser_load_from_file (parser, path, &error);
  g_assert_no_error (error);
  JsonNode *root = json_parser_get_root (parser);
  g_assert_true (root && JSON_NODE_HOLDS_OBJECT (root));
  return json_object_ref (json_node_get_object (root));
}

static inline void
assert_no_secret (const char *text)
{
  static const char *const secrets[] = { PK_CANARY, PW_CANARY, CERT_CANARY, CA_CANARY };
  for (size_t i = 0; i < G_N_ELEMENTS (secrets); i++)
    if (strstr (text, secrets[i]) != NULL)
      g_test_fail_printf ("found %s in: %s", secrets[i], text);
}

static inline void
assert_mqtts_set (const char *dev_dir, mode_t dmode, mode_t fmode)
{
  g_autofree char *names = list_dir (dev_dir);
  g_assert_cmpstr (names, ==, "ca_chain.pem,certificate.pem,device.json,private_key.pem");
  g_assert_true (S_ISDIR (mode_of (dev_dir)));
  g_assert_cmpint (mode_of (dev_dir) & 07777, ==, dmode);
  static const char *const files[] = { "device.json", "private_key.pem", "certificate.pem",
                                       "ca_chain.pem" };
  for (size_t i = 0; i < G_N_ELEMENTS (files); i++)
    {
      g_autofree char *p = g_build_filename (dev_dir, files[i], NULL);
      g_assert_true (S_ISREG (mode_of (p)));
      g_assert_cmpint (mode_of (p) & 07777, ==, fmode);
    }
  g_autofree char *pk_path = g_build_filename (dev_dir, "private_key.pem", NULL);
  g_autofree char *cert_path = g_build_filename (dev_dir, "certificate.pem", NULL);
  g_autofree char *ca_path = g_build_filename (dev_dir, "ca_chain.pem", NULL);
  g_autofree char *pk = read_text (pk_path);
  g_autofree char *cert = read_text (cert_path);
  g_autofree char *ca = read_text (ca_path);
  g_assert_cmpstr (pk, ==, PK_CANARY);
  g_assert_cmpstr (cert, ==, CERT_CANARY);
  g_assert_cmpstr (ca, ==, CA_CANARY);
}

