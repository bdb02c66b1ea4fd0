/* What service.c (a call on the main loop: started, handed to a writer,
 * finished; ForgetDevice) and service-answer.c (an answer read, checked and
 * turned into a keystore entry in a writer thread) share. Not for other
 * modules. */
#pragma once

#include "service.h"

struct EpService {
  const EpConfig *config;
  EpKeystore *keystore;
  EpHttp *http;
  GHashTable *in_flight;     /* busy_key -> Job; the main thread's */
  /* device id -> the Job that stores it (a call on a stored device from
   * its start, a Provision call once a writer has checked its answer), or
   * ep_service_removing while ForgetDevice removes it. Writers claim the
   * devices answers name, so the table is shared under @lock. */
  GMutex lock;
  GHashTable *claims;
  gboolean stopped;
  GArray *listeners;         /* Listener */
};

/* The claim of a device ForgetDevice removes. */
extern const char ep_service_removing[];

typedef struct {
  EpService *svc;
  const EpArgs *args;
  char *busy_key;
  char *device_id;           /* claimed; set by the writer for a Provision call */
  char *body;                /* the 2xx answer until it is read; wiped */
  gsize body_len;
  EpApiResult *result;       /* ... then read, until its set is checked */
  EpTarget target;
  const char *reason;        /* CredentialsChanged's, NULL: the row's */
  EpProvisionDone done;
  gpointer user_data;
} Job;

/* The target a stored device was provisioned through. Entries written
 * before device.json recorded it went where their kind goes: its fixed
 * target, or DefaultTarget's. */
const char *ep_service_stored_target (EpService *svc, const EpDeviceInfo *info);

/* EpKeystorePrepare of a Job (in a keystore thread): its answer read, its
 * device checked and claimed, and the entry of its credential files. */
EpKeystoreEntry *ep_service_prepare_entry (gpointer job, GError **error);
/* EpKeystoreComplete of a Job: its MQTTS set verified, and device.json,
 * while the files are written. */
gboolean ep_service_complete_entry (gpointer job, EpKeystoreEntry *entry, GError **error);
