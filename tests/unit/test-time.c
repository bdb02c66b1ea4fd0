/* Certificate times past 2^31 s (2038) and 2^32 s (2106) through the whole
 * chain, as a 32-bit ARM build (armhf: 64-bit time_t over a libcrypto with
 * a 32-bit one) must carry them: OpenSSL's reading of the certificate, the
 * set stored in a keystore and read back at open (from device.json, and from
 * certificate.pem alone for a set stored without its dates), the details,
 * the renewal due time ([Renewal] At) and NextRenewal's, and Diagnose's
 * RFC 3339 dates, also judged at a clock past 2106; and the daemon's own
 * reading of the wall clock (wall-clock.h). A Retry-After far in the
 * future: test-http.c. The parts on their own: test-credentials.c,
 * test-diagnose.c. */
#include "config-util.h"
#include "credentials-util.h"
#include "diagnose.h"
#include "keystore-util.h"
#include "renewal.h"
#include "wall-clock.h"

#define US G_GINT64_CONSTANT (1000000)
#define BUILT G_GINT64_CONSTANT (1700000000)
/* The clocks the certificates are judged at: 2033-05-18T03:33:20Z, and
 * 2106-07-31T06:13:20Z (past 2^32 s). */
#define NOW (G_GINT64_CONSTANT (2000000000) * US)
#define LATE (G_GINT64_CONSTANT (4310000000) * US)

typedef struct {
  const char *not_before, *not_after;   /* YYYYMMDDHHMMSSZ */
  gint64 not_before_s, not_after_s;     /* the same as Unix seconds (Python's calendar.timegm) */
  const char *until_text;               /* not_after as Diagnose writes it */
  gint64 due_us;                        /* 99 % of the lifetime, to the microsecond */
  const char *due_text;
  const char *late_text;                /* Diagnose's judgment at LATE */
} Case;

static const Case until_2040 = {
  "20250101000000Z", "20400101000000Z", G_GINT64_CONSTANT (1735689600),
  G_GINT64_CONSTANT (2208988800), "2040-01-01T00:00:00Z", G_GINT64_CONSTANT (2204255808000000),
  "2039-11-07T05:16:48Z", "the certificate expired on 2040-01-01T00:00:00Z",
};

static const Case until_2106 = {
  "20400101000000Z", "21061231235959Z", G_GINT64_CONSTANT (2208988800),
  G_GINT64_CONSTANT (4323283199), "2106-12-31T23:59:59Z", G_GINT64_CONSTANT (4302140255010000),
  "2106-05-01T06:57:35Z", "due for renewal since 2106-05-01T06:57:35Z ([Renewal] At=99 %)",
};

/* An MQTTS set whose device certificate has @c's dates (the CA's do not
 * matter: the check ignores the clock), read back to the exact seconds by
 * the set check and the reader alike. */
static void
make_set (const Case *c, Set *out)
{
  CertSpec leaf = { "device", c->not_before, c->not_after, FALSE, NULL };
  set_make_with (out, ec_key (), &leaf);
  assert_accepted_dates (out->key_pem, out->cert_pem, out->ca_pem, out->cert, c->not_before_s,
                         c->not_after_s);
}

/* Stores the set as the daemon does after the API's answer: with the
 * dates the check read (service.c), or, with @dated FALSE, without them
 * (a set stored by an older daemon). */
static void
store (const char *ks_path, const Set *p, gboolean dated)
{
  g_autoptr (EpArgs) args = unit_args_seed ("ucm");
  unit_args_set (args, "protocol", "MQTTS");
  g_autoptr (EpApiResult) r = parse (args, MQTTS_RESPONSE);
  g_free (r->private_key);
  g_free (r->certificate);
  g_free (r->ca_chain);
  r->private_key = g_strdup (p->key_pem);
  r->certificate = g_strdup (p->cert_pem);
  r->ca_chain = g_strdup (p->ca_pem);
  if (dated)
    {
      EpCertificateInfo info;
      g_autoptr (GError) error = NULL;
      g_assert_true (ep_credentials_verify (p->key_pem, p->cert_pem, p->ca_pem, &info, &error));
      g_assert_no_error (error);
      r->certificate_not_before = info.not_before;
      r->certificate_not_after = info.not_after;
      r->certificate_sha256 = g_strdup (info.sha256);
    }
  g_autoptr (EpKeystore) ks = open_keystore (ks_path, FALSE, 0);
  Outcome o = write_entry (ks, ep_record_entry (args, r, "cloud"));
  g_assert_no_error (o.error);
  g_assert_true (o.ok);
}

static void
assert_detail (const EpDetails *d, const char *key, gint64 value)
{
  const EpDetail *e = ep_details_lookup (d, key);
  g_assert_nonnull (e);
  g_assert_cmpint (e->type, ==, 'x');
  g_assert_cmpint (e->number, ==, value);
}

/* What a keystore opened afresh (the daemon's start) makes of the set. */
static void
assert_read_back (const char *ks_path, const Case *c)
{
  g_autoptr (EpConfig) config = load_ok ("[Renewal]\nAuto=yes\nAt=99\n");
  g_autoptr (EpKeystore) ks = open_keystore (ks_path, FALSE, 0);
  const EpDeviceInfo *info = ep_keystore_lookup (ks, DEVICE_ID);
  g_assert_nonnull (info);

  g_auto (EpDetails) details = { 0 };
  ep_record_details (&details, info, ks_path, FALSE);
  assert_detail (&details, "certificate_not_before", c->not_before_s);
  assert_detail (&details, "certificate_not_after", c->not_after_s);

  gint64 nb = 0, na = 0;
  g_assert_cmpint (ep_renewal_due (config, info, &nb, &na), ==, c->due_us);
  g_assert_cmpint (nb, ==, c->not_before_s * US);
  g_assert_cmpint (na, ==, c->not_after_s * US);
  /* NextRenewal is this in seconds. */
  g_assert_cmpint (ep_renewal_next_due (config, ks), ==, c->due_us);

  g_autoptr (EpCheck) now = ep_diagnose_certificate (config, DEVICE_ID, info, NOW, BUILT);
  g_autofree char *ok = g_strdup_printf ("valid until %s; renewal due %s (automatic: [Renewal] "
                                         "Auto=yes)", c->until_text, c->due_text);
  g_assert_cmpint (now->level, ==, EP_CHECK_OK);
  g_assert_cmpstr (now->message, ==, ok);

  g_autoptr (EpCheck) late = ep_diagnose_certificate (config, DEVICE_ID, info, LATE, BUILT);
  g_assert_cmpint (late->level, !=, EP_CHECK_OK);
  g_assert_true (g_str_has_prefix (late->message, c->late_text));
  g_assert_nonnull (strstr (late->message, c->until_text));
}

/* A case, stored with its dates in device.json or (@dated FALSE) without
 * them, which the keystore then reads off certificate.pem when it opens. */
typedef struct {
  const Case *c;
  gboolean dated;
} Variant;

static void
test_dates (Fixture *f, gconstpointer data)
{
  const Variant *v = data;
  g_auto (Set) p = { 0 };
  make_set (v->c, &p);
  store (f->ks_path, &p, v->dated);
  g_autofree char *path = g_build_filename (f->ks_path, DEVICE_ID, "device.json", NULL);
  g_autofree char *stored = read_text (path);
  g_assert_true ((strstr (stored, "certificate_not_after") != NULL) == v->dated);
  assert_read_back (f->ks_path, v->c);
}

/* The daemon's own clock (wall-clock.h) agrees with GLib's while GLib's
 * works (before 2038 everywhere). */
static void
test_wall_clock (void)
{
  gint64 glib_before = g_get_real_time ();
  gint64 ours = ep_wall_clock_us ();
  gint64 glib_after = g_get_real_time ();
  g_assert_cmpint (ours, >=, glib_before);
  g_assert_cmpint (ours, <=, glib_after);
  g_assert_cmpint (ours, >, BUILT * US);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  static const struct {
    const char *path;
    Variant v;
  } variants[] = {
    { "/time/until-2040", { &until_2040, TRUE } },
    { "/time/until-2106", { &until_2106, TRUE } },
    { "/time/until-2040-from-certificate-file", { &until_2040, FALSE } },
    { "/time/until-2106-from-certificate-file", { &until_2106, FALSE } },
  };
  for (size_t i = 0; i < G_N_ELEMENTS (variants); i++)
    g_test_add (variants[i].path, Fixture, &variants[i].v, fixture_setup, test_dates,
                fixture_teardown);
  g_test_add_func ("/time/wall-clock", test_wall_clock);
  return g_test_run ();
}
