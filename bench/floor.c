/* bench-floor: the cost of durably storing one credential set, done the way
 * src/keystore.c does it (README "Keystore"), without the daemon: a temporary
 * directory beside the device's, each file created O_EXCL, fchmod'ed,
 * written and fsynced (the credential files, then device.json, which the
 * daemon completes while it writes them), the directory fsynced, swapped in
 * with renameat2
 * (RENAME_EXCHANGE, else RENAME_NOREPLACE), the keystore directory fsynced,
 * and the old set removed. Prints the latency of each store as one JSON
 * object.
 *
 *   bench-floor --dir KEYSTORE --sample DEVICE_DIR --count N [--pool P] [--threads T]
 *               [--raw PATH]
 *
 * --sample is a device directory the daemon wrote: its files (the
 * credential files, then device.json) are written byte for byte. --pool P
 * cycles P device ids (every store after the first P replaces a set);
 * --pool 0 (default) stores a new device each time. --threads T stores
 * from T threads at once (store i in thread i mod T): the most credential
 * sets per second this file system can store durably with T writers.
 * The summary includes the CPU time (user+sys, all threads) per store. */
#define _GNU_SOURCE
#include "stats.h"

#include <dirent.h>
#include <pthread.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const NAMES[] = { "private_key.pem", "certificate.pem", "ca_chain.pem",
                                     "password", "device.json" };
#define N_NAMES (sizeof NAMES / sizeof NAMES[0])

typedef struct {
  const char *name;
  char *data;
  size_t len;
} File;

static void
die (const char *what)
{
  fprintf (stderr, "bench-floor: %s: %s\n", what, strerror (errno));
  exit (1);
}

static double
cpu_seconds (void)
{
  struct rusage ru;
  getrusage (RUSAGE_SELF, &ru);
  return (double) (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         (double) (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static void
write_file (int dirfd, const File *f)
{
  int fd = openat (dirfd, f->name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0 || fchmod (fd, 0600) < 0)
    die ("creating a file");
  size_t off = 0;
  while (off < f->len)
    {
      ssize_t n = write (fd, f->data + off, f->len - off);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        die ("writing a file");
      off += (size_t) n;
    }
  if (fsync (fd) < 0 || close (fd) < 0)
    die ("syncing a file");
}

/* The old set, now at @name: its files, then the directory. */
static void
remove_set (int dirfd, const char *name)
{
  int fd = openat (dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    die ("opening the old set");
  DIR *dir = fdopendir (dup (fd));
  struct dirent *de;
  while ((de = readdir (dir)) != NULL)
    if (strcmp (de->d_name, ".") != 0 && strcmp (de->d_name, "..") != 0 &&
        unlinkat (fd, de->d_name, 0) < 0)
      die ("removing an old file");
  closedir (dir);
  close (fd);
  if (unlinkat (dirfd, name, AT_REMOVEDIR) < 0)
    die ("removing the old set");
}

static void
store (int dirfd, const char *id, const File *files, size_t n_files, unsigned serial)
{
  char tmp[256];
  snprintf (tmp, sizeof tmp, ".new-%08x-%s", serial, id);
  if (mkdirat (dirfd, tmp, 0700) < 0)
    die ("creating the temporary directory");
  int fd = openat (dirfd, tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0 || fchmod (fd, 0700) < 0)
    die ("opening the temporary directory");
  for (size_t i = 0; i < n_files; i++)
    write_file (fd, &files[i]);
  if (fsync (fd) < 0)
    die ("syncing the temporary directory");
  close (fd);
  int replaced = 1;
  if (renameat2 (dirfd, tmp, dirfd, id, RENAME_EXCHANGE) < 0)
    {
      if (errno != ENOENT || renameat2 (dirfd, tmp, dirfd, id, RENAME_NOREPLACE) < 0)
        die ("swapping the set in");
      replaced = 0;
    }
  if (fsync (dirfd) < 0)
    die ("syncing the keystore directory");
  if (replaced)
    remove_set (dirfd, tmp);
}

typedef struct {
  int dirfd;
  const File *files;
  size_t n_files, count, pool, threads, index;
  uint64_t *lat;
} Worker;

static void *
worker (void *data)
{
  Worker *w = data;
  for (size_t i = w->index; i < w->count; i += w->threads)
    {
      char id[64];
      snprintf (id, sizeof id, "00000000-0000-4000-8000-%012zx", w->pool ? i % w->pool : i);
      uint64_t t0 = now_ns ();
      store (w->dirfd, id, w->files, w->n_files, (unsigned) i);
      w->lat[i] = now_ns () - t0;
    }
  return NULL;
}

int
main (int argc, char **argv)
{
  const char *raw = NULL, *dir = NULL, *sample = NULL;
  size_t count = 100, pool = 0, threads = 1;
  for (int i = 1; i + 1 < argc; i += 2)
    {
      const char *o = argv[i], *v = argv[i + 1];
      if (strcmp (o, "--dir") == 0)
        dir = v;
      else if (strcmp (o, "--sample") == 0)
        sample = v;
      else if (strcmp (o, "--count") == 0)
        count = strtoul (v, NULL, 10);
      else if (strcmp (o, "--pool") == 0)
        pool = strtoul (v, NULL, 10);
      else if (strcmp (o, "--threads") == 0)
        threads = strtoul (v, NULL, 10);
      else if (strcmp (o, "--raw") == 0)
        raw = v;
      else
        {
          fprintf (stderr, "bench-floor: unknown option %s\n", o);
          return 2;
        }
    }
  if (dir == NULL || sample == NULL || count == 0 || threads == 0 ||
      (pool > 0 && pool < threads))
    {
      fprintf (stderr, "usage: bench-floor --dir KEYSTORE --sample DEVICE_DIR --count N "
                       "[--pool P>=T] [--threads T] [--raw PATH]\n");
      return 2;
    }

  File files[N_NAMES];
  size_t n_files = 0, bytes = 0;
  int sfd = open (sample, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (sfd < 0)
    die (sample);
  for (size_t i = 0; i < N_NAMES; i++)
    {
      int fd = openat (sfd, NAMES[i], O_RDONLY | O_CLOEXEC);
      if (fd < 0)
        continue;
      struct stat st;
      if (fstat (fd, &st) < 0)
        die ("reading the sample");
      File *f = &files[n_files++];
      f->name = NAMES[i];
      f->len = (size_t) st.st_size;
      f->data = malloc (f->len + 1);
      if (read (fd, f->data, f->len) != (ssize_t) f->len)
        die ("reading the sample");
      bytes += f->len;
      close (fd);
    }
  close (sfd);
  if (n_files == 0)
    {
      fprintf (stderr, "bench-floor: %s holds none of the keystore files\n", sample);
      return 1;
    }

  if (mkdir (dir, 0700) < 0 && errno != EEXIST)
    die (dir);
  int dirfd = open (dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (dirfd < 0)
    die (dir);
  uint64_t *lat = calloc (count, sizeof *lat);
  Worker *workers = calloc (threads, sizeof *workers);
  pthread_t *tids = calloc (threads, sizeof *tids);
  double cpu0 = cpu_seconds ();
  uint64_t start = now_ns ();
  for (size_t t = 0; t < threads; t++)
    {
      workers[t] = (Worker) { dirfd, files, n_files, count, pool, threads, t, lat };
      if (pthread_create (&tids[t], NULL, worker, &workers[t]) != 0)
        die ("starting a thread");
    }
  for (size_t t = 0; t < threads; t++)
    pthread_join (tids[t], NULL);
  uint64_t elapsed = now_ns () - start;
  double cpu_us = (cpu_seconds () - cpu0) / (double) count * 1e6;
  close (dirfd);
  char extra[160];
  snprintf (extra, sizeof extra,
            "\"files\":%zu,\"bytes\":%zu,\"threads\":%zu,\"cpu_us_per_store\":%.1f", n_files,
            bytes, threads, cpu_us);
  if (raw != NULL && write_raw (raw, lat, count) < 0)
    {
      perror (raw);
      return 1;
    }
  print_stats (stdout, lat, count, 0, elapsed, extra);
  free (workers);
  free (tids);
  free (lat);
  return 0;
}
