#include "caller.h"

#include "consumers.h"
#include "errors.h"
#include "log.h"

#include <grp.h>
#include <pwd.h>
#include <string.h>
#include <systemd/sd-login.h>
#include <unistd.h>

/* The caller's groups: as the bus reports them, or from the user database
 * when an older bus does not. */
static GArray *
caller_groups (GVariant *creds, uid_t uid)
{
  GArray *out = g_array_new (FALSE, FALSE, sizeof (gid_t));
  g_autoptr (GVariant) gids = g_variant_lookup_value (creds, "UnixGroupIDs", G_VARIANT_TYPE ("au"));
  if (gids != NULL)
    {
      gsize n;
      const guint32 *list = g_variant_get_fixed_array (gids, &n, sizeof (guint32));
      for (gsize i = 0; i < n; i++)
        {
          gid_t gid = list[i];
          g_array_append_val (out, gid);
        }
      return out;
    }
  struct passwd *pw = getpwuid (uid);
  if (pw == NULL)
    return out;
  int n = 64;
  g_autofree gid_t *groups = g_new (gid_t, n);
  if (getgrouplist (pw->pw_name, pw->pw_gid, groups, &n) < 0)
    {
      groups = g_renew (gid_t, groups, n);
      if (getgrouplist (pw->pw_name, pw->pw_gid, groups, &n) < 0)
        return out;
    }
  g_array_append_vals (out, groups, (guint) n);
  return out;
}

/* What the caller is to the service: root (or the daemon's own user, on a
 * development session bus), an operator ([Access] Group), and the consumer
 * sections it matches. */
static void
classify (const EpConfig *config, uid_t uid, GVariant *creds, gboolean *root,
          gboolean *operator, guint64 *consumers)
{
  g_autoptr (GArray) gids = caller_groups (creds, uid);
  *root = uid == 0 || uid == geteuid ();
  *operator = FALSE;
  for (guint i = 0; config->access_gid_known && i < gids->len; i++)
    if (g_array_index (gids, gid_t, i) == config->access_gid)
      *operator = TRUE;
  *consumers = ep_consumers_match (config->consumers, uid, (const gid_t *) gids->data,
                                   gids->len);
}

/* The bus driver's answer to GetConnectionCredentials as a GVariant a{sv}
 * of the few members used here. */
static GVariant *
read_creds (sd_bus_message *reply)
{
  GVariantBuilder b;
  g_variant_builder_init (&b, G_VARIANT_TYPE_VARDICT);
  if (sd_bus_message_enter_container (reply, 'a', "{sv}") < 0)
    return NULL;
  while (sd_bus_message_enter_container (reply, 'e', "sv") > 0)
    {
      const char *key = NULL;
      if (sd_bus_message_read_basic (reply, 's', &key) < 0)
        return NULL;
      uint32_t u;
      if ((strcmp (key, "UnixUserID") == 0 || strcmp (key, "ProcessID") == 0) &&
          sd_bus_message_read (reply, "v", "u", &u) >= 0)
        g_variant_builder_add (&b, "{sv}", key, g_variant_new_uint32 (u));
      else if (strcmp (key, "UnixGroupIDs") == 0 &&
               sd_bus_message_enter_container (reply, 'v', "au") > 0)
        {
          const void *data = NULL;
          size_t size = 0;
          if (sd_bus_message_read_array (reply, 'u', &data, &size) < 0)
            return NULL;
          g_variant_builder_add (&b, "{sv}", key,
                                 g_variant_new_fixed_array (G_VARIANT_TYPE_UINT32, data,
                                                            size / sizeof (uint32_t),
                                                            sizeof (uint32_t)));
          sd_bus_message_exit_container (reply);
        }
      else if (sd_bus_message_skip (reply, "v") < 0)
        return NULL;
      if (sd_bus_message_exit_container (reply) < 0)
        return NULL;
    }
  return g_variant_ref_sink (g_variant_builder_end (&b));
}

/* What is known of a connection: the bus fixes a connection's credentials
 * when it connects and never reuses a unique name, so the answer for one
 * call holds for every later call of that connection. */
typedef struct {
  uid_t uid;
  pid_t pid;
  char *unit;
  gboolean root;
  gboolean operator;
  guint64 consumers;
} Known;

struct EpCallers {
  const EpConfig *config;
  sd_bus *bus;
  GHashTable *known;         /* unique name -> Known */
  GHashTable *asking;        /* unique name -> Query in flight */
  sd_bus_slot *match;        /* NameOwnerChanged: forget connections that left */
};

/* A bound for connections that leave without the signal being seen. */
#define MAX_KNOWN 4096

/* A call waiting for its connection's credentials. */
typedef struct {
  char *member;
  EpAccess access;
  EpCallerChecked done;
  gpointer user_data;
} Check;

/* One question to the bus driver per connection, however many of its calls
 * arrive before the answer: a client that sends 64 calls at once on a new
 * connection made 64 queries (and 64 reads of /proc) before. */
typedef struct {
  EpCallers *callers;
  char *sender;
  sd_bus_slot *slot;
  GPtrArray *checks;         /* Check, in arrival order */
} Query;

static void
known_free (gpointer data)
{
  Known *k = data;
  g_free (k->unit);
  g_free (k);
}

static void
check_free (gpointer data)
{
  Check *check = data;
  g_free (check->member);
  g_free (check);
}

/* Unanswered checks are dropped with it: only when the callers go. */
static void
query_free (gpointer data)
{
  Query *q = data;
  sd_bus_slot_unref (q->slot);
  g_ptr_array_unref (q->checks);
  g_free (q->sender);
  g_free (q);
}

static void
answer (EpCallers *callers, const Known *k, const char *member, EpAccess access,
        EpCallerChecked done, gpointer user_data)
{
  EpCaller caller = { .uid = k->uid, .pid = k->pid, .unit = k->unit, .root = k->root,
                      .operator = k->operator, .consumers = k->consumers };
  g_autoptr (GError) error = NULL;
  const char *group = callers->config->access_group ? callers->config->access_group : "(none)";
  gboolean allowed = k->root || k->operator ||
                     (access == EP_ACCESS_CONSUMERS && k->consumers != 0);
  if (!allowed && access == EP_ACCESS_CONSUMERS)
    error = g_error_new (EP_ERROR, EP_ERROR_ACCESS_DENIED,
                         "%s may be called by root, members of group %s and the consumers of "
                         "[Consumer] sections only", member, group);
  else if (!allowed)
    error = g_error_new (EP_ERROR, EP_ERROR_ACCESS_DENIED,
                         "%s may be called by root and members of group %s only", member, group);
  done (&caller, error, user_data);
}

/* AccessDenied for a caller whose credentials are unknown; @why is added
 * in parentheses when given. */
static void
unverified (EpCallerChecked done, gpointer user_data, const char *why)
{
  EpCaller caller = { .uid = (uid_t) -1 };
  g_autoptr (GError) error = g_error_new (EP_ERROR, EP_ERROR_ACCESS_DENIED,
                                          "the caller's credentials could not be verified%s%s%s",
                                          why ? " (" : "", why ? why : "", why ? ")" : "");
  done (&caller, error, user_data);
}

/* The bus driver's answer, for every call of the connection that waits. */
static int
on_creds (sd_bus_message *reply, void *data, sd_bus_error *ret_error)
{
  Query *q = data;
  EpCallers *callers = q->callers;
  /* Answered here and freed after: sd-bus holds the slot until this returns,
   * and a check made from a callback below asks again. */
  g_hash_table_steal (callers->asking, q->sender);
  g_autoptr (GVariant) creds = NULL;
  guint32 uid = G_MAXUINT32, pid = 0;

  if (!sd_bus_message_is_method_error (reply, NULL))
    creds = read_creds (reply);
  if (creds == NULL || !g_variant_lookup (creds, "UnixUserID", "u", &uid))
    {
      for (guint i = 0; i < q->checks->len; i++)
        {
          Check *check = q->checks->pdata[i];
          unverified (check->done, check->user_data, NULL);
        }
      query_free (q);
      return 0;
    }
  g_variant_lookup (creds, "ProcessID", "u", &pid);
  Known *k = g_new0 (Known, 1);
  k->uid = uid;
  k->pid = (pid_t) pid;
  if (pid > 0 && sd_pid_get_unit (k->pid, &k->unit) < 0)
    k->unit = NULL;
  classify (callers->config, k->uid, creds, &k->root, &k->operator, &k->consumers);
  /* Without the NameOwnerChanged match nothing would tell when to forget. */
  gboolean keep = callers->match != NULL;
  if (keep && g_hash_table_size (callers->known) >= MAX_KNOWN)
    g_hash_table_remove_all (callers->known);
  if (keep)
    g_hash_table_replace (callers->known, g_strdup (q->sender), k);
  for (guint i = 0; i < q->checks->len; i++)
    {
      Check *check = q->checks->pdata[i];
      answer (callers, k, check->member, check->access, check->done, check->user_data);
    }
  if (!keep)
    known_free (k);
  query_free (q);
  return 0;
}

int
ep_callers_check (EpCallers *callers, sd_bus_message *call, EpAccess access,
                  EpCallerChecked done, gpointer user_data)
{
  const char *sender = sd_bus_message_get_sender (call);
  const char *member = sd_bus_message_get_member (call);
  if (sender == NULL)
    {
      /* Only a peer-to-peer connection has none, and no bus driver to ask. */
      unverified (done, user_data, "the call came without a sender");
      return 0;
    }
  const Known *k = g_hash_table_lookup (callers->known, sender);
  if (k != NULL)
    {
      answer (callers, k, member, access, done, user_data);
      return 0;
    }
  Query *q = g_hash_table_lookup (callers->asking, sender);
  if (q == NULL)
    {
      q = g_new0 (Query, 1);
      q->callers = callers;
      q->sender = g_strdup (sender);
      q->checks = g_ptr_array_new_with_free_func (check_free);
      int r = sd_bus_call_method_async (callers->bus, &q->slot, "org.freedesktop.DBus",
                                        "/org/freedesktop/DBus", "org.freedesktop.DBus",
                                        "GetConnectionCredentials", on_creds, q, "s", sender);
      if (r < 0)
        {
          query_free (q);
          return r;
        }
      g_hash_table_insert (callers->asking, q->sender, q);
    }
  Check *check = g_new0 (Check, 1);
  check->member = g_strdup (member);
  check->access = access;
  check->done = done;
  check->user_data = user_data;
  g_ptr_array_add (q->checks, check);
  return 0;
}

static int
on_name_owner_changed (sd_bus_message *m, void *data, sd_bus_error *ret_error)
{
  EpCallers *callers = data;
  const char *name = NULL, *old_owner = NULL, *new_owner = NULL;
  if (sd_bus_message_read (m, "sss", &name, &old_owner, &new_owner) >= 0 && name[0] == ':' &&
      new_owner[0] == '\0')
    g_hash_table_remove (callers->known, name);
  return 0;
}

EpCallers *
ep_callers_new (sd_bus *bus, const EpConfig *config)
{
  EpCallers *callers = g_new0 (EpCallers, 1);
  callers->bus = sd_bus_ref (bus);
  callers->config = config;
  callers->known = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, known_free);
  callers->asking = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, query_free);
  int r = sd_bus_match_signal_async (bus, &callers->match, "org.freedesktop.DBus",
                                     "/org/freedesktop/DBus", "org.freedesktop.DBus",
                                     "NameOwnerChanged", on_name_owner_changed, NULL, callers);
  if (r < 0)
    ep_warning ("bus: cannot watch callers leaving (%s); caching no caller",
                g_strerror (-r));
  return callers;
}

void
ep_callers_free (EpCallers *callers)
{
  if (callers == NULL)
    return;
  sd_bus_slot_unref (callers->match);
  g_hash_table_unref (callers->asking);
  sd_bus_unref (callers->bus);
  g_hash_table_unref (callers->known);
  g_free (callers);
}

const char *
ep_caller_describe (const EpCaller *caller, char *buf, size_t size)
{
  g_snprintf (buf, size, "uid %d, pid %d, unit %s", (int) caller->uid, (int) caller->pid,
              caller->unit ? caller->unit : "-");
  return buf;
}
