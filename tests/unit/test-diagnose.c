/* Diagnose's judgments made from what the daemon holds (diagnose.h): the
 * clock rule and each certificate's level by its dates, [Renewal] At and
 * Auto; the renewal due time they share with the schedule and NextRenewal
 * (renewal.h); and how findings make one check (diagnose-check.h). */
#include "config-util.h"
#include "diagnose-keystore.h"
#include "diagnose.h"
#include "keystore-util.h"
#include "renewal.h"

#include <fcntl.h>
#include <sys/resource.h>

#define US G_GINT64_CONSTANT (1000000)
#define DAY (G_GINT64_CONSTANT (24) * 3600)
/* Some time after any build of this daemon (2033-05-18). */
#define NOW (G_GINT64_CONSTANT (2000000000) * US)
#define BUILT G_GINT64_CONSTANT (1700000000)

/* A stored device.json of @protocol with certificate dates (Unix seconds;
 * 0: none). */
static EpDeviceInfo *
device (const char *protocol, gint64 not_before, gint64 not_after)
{
  g_autoptr (JsonObject) meta = json_object_new ();
  json_object_set_string_member (meta, "device_id", "dev-1");
  json_object_set_string_member (meta, "target", "gateway");
  JsonObject *config = json_object_new ();
  json_object_set_string_member (config, "protocol", protocol);
  if (not_after != 0)
    {
      json_object_set_int_member (config, "certificate_not_before", not_before);
      json_object_set_int_member (config, "certificate_not_after", not_after);
    }
  json_object_set_object_member (meta, "config", config);
  return ep_device_info_new (meta);
}

static EpConfig *
renewal_config (const char *auto_, guint at)
{
  g_autofree char *text = g_strdup_printf ("[Renewal]\nAuto=%s\nAt=%u\n", auto_, at);
  return load_ok (text);
}

static void
assert_check (const EpCheck *c, const char *name, EpCheckLevel level, const char *phrase)
{
  g_assert_nonnull (c);
  g_assert_cmpstr (c->name, ==, name);
  if (c->level != level)
    g_test_fail_printf ("%s: level %s, not %s: %s", name, ep_check_level_name (c->level),
                        ep_check_level_name (level), c->message);
  if (strstr (c->message, phrase) == NULL)
    g_test_fail_printf ("%s: \"%s\" lacks \"%s\"", name, c->message, phrase);
}

static void
test_clock (void)
{
  g_autoptr (EpCheck) ok = ep_diagnose_clock (NOW, BUILT);
  assert_check (ok, "clock", EP_CHECK_OK, "2033-05-18T03:33:20Z");
  g_autoptr (EpCheck) early = ep_diagnose_clock ((BUILT - 1) * US, BUILT);
  assert_check (early, "clock", EP_CHECK_ERROR, "timedatectl");
  g_autoptr (EpCheck) at_build = ep_diagnose_clock (BUILT * US, BUILT);
  assert_check (at_build, "clock", EP_CHECK_OK, "built");
}

static void
test_due (void)
{
  g_autoptr (EpConfig) config = renewal_config ("yes", 80);
  /* 80 % of 1001 s: the µs of the fraction are kept. */
  g_autoptr (EpDeviceInfo) info = device ("MQTTS", 1000, 2001);
  gint64 nb = 0, na = 0;
  g_assert_cmpint (ep_renewal_due (config, info, &nb, &na), ==, 1000 * US + 800800000);
  g_assert_cmpint (nb, ==, 1000 * US);
  g_assert_cmpint (na, ==, 2001 * US);
  /* No certificate: MQTT, no dates, dates the wrong way round. */
  g_autoptr (EpDeviceInfo) mqtt = device ("MQTT", 1000, 2001);
  g_autoptr (EpDeviceInfo) undated = device ("MQTTS", 0, 0);
  g_autoptr (EpDeviceInfo) reversed = device ("MQTTS", 2001, 1000);
  g_assert_cmpint (ep_renewal_due (config, mqtt, NULL, NULL), ==, G_MAXINT64);
  g_assert_cmpint (ep_renewal_due (config, undated, NULL, NULL), ==, G_MAXINT64);
  g_assert_cmpint (ep_renewal_due (config, reversed, NULL, NULL), ==, G_MAXINT64);
  g_assert_cmpint (ep_renewal_due (config, NULL, NULL, NULL), ==, G_MAXINT64);
}

/* The certificate check of a device whose certificate began @age seconds
 * before NOW and lasts @lifetime seconds. */
static EpCheck *
judge (const EpConfig *config, gint64 age, gint64 lifetime)
{
  gint64 nb = NOW / US - age;
  g_autoptr (EpDeviceInfo) info = device ("MQTTS", nb, nb + lifetime);
  return ep_diagnose_certificate (config, "dev-1", info, NOW, BUILT);
}

static void
test_certificate_levels (void)
{
  g_autoptr (EpConfig) manual = renewal_config ("no", 80);
  g_autoptr (EpConfig) automatic = renewal_config ("yes", 80);
  g_autoptr (EpCheck) fresh = judge (manual, DAY, 365 * DAY);
  assert_check (fresh, "certificate:dev-1", EP_CHECK_OK, "valid until");
  g_autoptr (EpCheck) due = judge (manual, 81 * DAY, 100 * DAY);
  assert_check (due, "certificate:dev-1", EP_CHECK_WARNING, "due for renewal since");
  g_assert_nonnull (strstr (due->message, "enapter-provisionctl generate dev-1 --protocol mqtts"));
  g_autoptr (EpCheck) due_auto = judge (automatic, 81 * DAY, 100 * DAY);
  assert_check (due_auto, "certificate:dev-1", EP_CHECK_WARNING, "api:gateway");
  /* Not due (At=80 of 365 days) but within 7 days of its end. */
  g_autoptr (EpConfig) late = renewal_config ("yes", 99);
  g_autoptr (EpCheck) soon = judge (late, 359 * DAY, 365 * DAY);
  assert_check (soon, "certificate:dev-1", EP_CHECK_WARNING, "within 7 days");
  g_autoptr (EpCheck) expired = judge (manual, 2 * DAY, DAY);
  assert_check (expired, "certificate:dev-1", EP_CHECK_ERROR, "expired");
  g_autoptr (EpCheck) expired_now = judge (manual, DAY, DAY);
  assert_check (expired_now, "certificate:dev-1", EP_CHECK_ERROR, "expired");
  g_autoptr (EpCheck) just_before = judge (late, DAY - 1, DAY);
  assert_check (just_before, "certificate:dev-1", EP_CHECK_WARNING, "due for renewal");
}

static void
test_certificate_unjudged (void)
{
  g_autoptr (EpConfig) config = renewal_config ("no", 80);
  g_autoptr (EpDeviceInfo) mqtt = device ("MQTT", 0, 0);
  g_assert_null (ep_diagnose_certificate (config, "dev-1", mqtt, NOW, BUILT));
  g_autoptr (EpDeviceInfo) undated = device ("MQTTS", 0, 0);
  g_autoptr (EpCheck) unknown = ep_diagnose_certificate (config, "dev-1", undated, NOW, BUILT);
  assert_check (unknown, "certificate:dev-1", EP_CHECK_WARNING, "dates are unknown");
  /* Expired by the clock, but the clock is before the build. */
  g_autoptr (EpDeviceInfo) old = device ("MQTTS", 1000, 2000);
  g_autoptr (EpCheck) clockless = ep_diagnose_certificate (config, "dev-1", old, 3000 * US,
                                                           BUILT);
  assert_check (clockless, "certificate:dev-1", EP_CHECK_WARNING, "not judged");
}

static void
test_findings (void)
{
  EpFindings f = { 0 };
  g_autoptr (EpCheck) ok = ep_findings_take (&f, "x", "all well");
  assert_check (ok, "x", EP_CHECK_OK, "all well");
  ep_findings_add (&f, EP_CHECK_WARNING, "a %d", 1);
  ep_findings_add (&f, EP_CHECK_ERROR, "b");
  ep_findings_add (&f, EP_CHECK_WARNING, "c");
  g_autoptr (EpCheck) bad = ep_findings_take (&f, "y", "all well");
  assert_check (bad, "y", EP_CHECK_ERROR, "a 1; b; c");
  g_assert_null (f.text);
  ep_findings_add (&f, EP_CHECK_ERROR, "gone");
  ep_findings_clear (&f);
  g_autoptr (EpCheck) cleared = ep_findings_take (&f, "z", "fine");
  assert_check (cleared, "z", EP_CHECK_OK, "fine");
  g_assert_cmpstr (ep_check_level_name (EP_CHECK_OK), ==, "ok");
  g_assert_cmpstr (ep_check_level_name (EP_CHECK_WARNING), ==, "warning");
  g_assert_cmpstr (ep_check_level_name (EP_CHECK_ERROR), ==, "error");
}

static void
on_diagnosed (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Outcome *o = user_data;
  o->data = ep_diagnose_keystore_finish (current_ks, result);
  o->done = TRUE;
}

static void
on_copied (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Outcome *o = user_data;
  g_autoptr (JsonObject) meta = NULL;
  g_autoptr (GArray) copies = NULL;
  o->ok = ep_keystore_copy_finish (current_ks, result, &meta, &copies, &o->error);
  o->done = TRUE;
}

/* The keystore jobs in worker threads hold their own descriptor of the
 * keystore. With none left to make it, each says what to do, and no
 * device is judged on a descriptor that is not there. */
static void
test_no_descriptor_left (Fixture *f, gconstpointer data)
{
  g_autoptr (EpKeystore) ks = open_keystore (f->ks_path, FALSE, 0);
  Outcome w = write_entry (ks, entry_for ("ucm", "MQTT", MQTT_RESPONSE));
  g_assert_true (w.ok);

  /* Every descriptor below a limit just above the ones open is taken. */
  struct rlimit saved, low;
  g_assert_cmpint (getrlimit (RLIMIT_NOFILE, &saved), ==, 0);
  int probe = open ("/dev/null", O_RDONLY | O_CLOEXEC);
  g_assert_cmpint (probe, >=, 0);
  close (probe);
  low = saved;
  low.rlim_cur = (rlim_t) probe + 8;
  g_assert_cmpint (setrlimit (RLIMIT_NOFILE, &low), ==, 0);
  g_autoptr (GArray) filler = g_array_new (FALSE, FALSE, sizeof (int));
  for (int fd; (fd = open ("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0;)
    g_array_append_val (filler, fd);
  g_assert_cmpint (errno, ==, EMFILE);

  current_ks = ks;
  Outcome d = { 0 };
  ep_diagnose_keystore_async (ks, on_diagnosed, &d);
  wait_for (&d);
  static const char *const names[] = { "password", NULL };
  Outcome c = { 0 };
  ep_keystore_copy_async (ks, DEVICE_ID, names, on_copied, &c);
  wait_for (&c);
  current_ks = NULL;

  for (guint i = 0; i < filler->len; i++)
    close (g_array_index (filler, int, i));
  g_assert_cmpint (setrlimit (RLIMIT_NOFILE, &saved), ==, 0);

  g_autoptr (GPtrArray) checks = d.data;
  g_assert_cmpuint (checks->len, ==, 2);
  assert_check (checks->pdata[0], "keystore", EP_CHECK_ERROR, "LimitNOFILE=");
  assert_check (checks->pdata[1], "device:" DEVICE_ID, EP_CHECK_WARNING,
                "not checked: the keystore could not be opened");
  g_assert_false (c.ok);
  g_assert_error (c.error, EP_KEYSTORE_ERROR, EP_KEYSTORE_ERROR_READ);
  g_assert_nonnull (strstr (c.error->message, "LimitNOFILE="));
  g_clear_error (&c.error);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/diagnose/clock", test_clock);
  g_test_add_func ("/diagnose/renewal-due", test_due);
  g_test_add_func ("/diagnose/certificate-levels", test_certificate_levels);
  g_test_add_func ("/diagnose/certificate-unjudged", test_certificate_unjudged);
  g_test_add_func ("/diagnose/findings", test_findings);
  g_test_add ("/diagnose/no-descriptor-left", Fixture, NULL, fixture_setup,
              test_no_descriptor_left, fixture_teardown);
  return g_test_run ();
}
