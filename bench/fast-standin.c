/* fast-standin: a minimal stand-in of POST /v3/provisioning/ucm for the
 * benchmark. tests/standin/standin.py (Python, one thread per connection)
 * tops out far below what the daemon can push at 64 calls in flight, so the
 * benchmark would measure the stand-in; this one is a single-threaded epoll
 * HTTP/1.1 keep-alive server in C.
 *
 * What it keeps of the real stand-in's contract (tests/standin/README.md):
 * the token, X-Enapter-Allow-HTTP and Content-Type checks, the ucm response
 * shape, the same device id for the same (site_id, hardware_id) with a fresh
 * MQTT password every time, real MQTTS sets, and the connection counters of
 * GET /_standin/stats. It does not validate the body beyond the fields it
 * needs. Every MQTTS answer carries the same set: the PEM files of --key,
 * --cert and --ca (ca_chain), which bench.py makes with openssl once per
 * run; minting a set per answer would make the bench measure the stand-in.
 *
 *   fast-standin --token TOKEN --key KEY.pem --cert CERT.pem --ca CA.pem
 *                [--listen 127.0.0.1] [--port 0] [--port-file PATH]
 *
 * GET /_standin/stats -> {"connections","provisioning_connections","requests"}
 * POST /_standin/reset -> clears the counters (devices are kept).
 *
 * This file is the server; the ucm answer is fast-standin-ucm.c. */
#define _GNU_SOURCE
#include "fast-standin.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

static const char *token;
static unsigned generation = 1;
static unsigned long long n_connections, n_prov_connections, n_requests;
static volatile sig_atomic_t stop;

void
die (const char *what)
{
  fprintf (stderr, "fast-standin: %s: %s\n", what, strerror (errno));
  exit (1);
}

/* ---- output ------------------------------------------------------------ */

static void
out_append (Conn *c, const char *data, size_t len)
{
  if (c->out_len + len > c->out_cap)
    {
      c->out_cap = (c->out_len + len) * 2;
      c->out = realloc (c->out, c->out_cap);
      if (c->out == NULL)
        die ("realloc");
    }
  memcpy (c->out + c->out_len, data, len);
  c->out_len += len;
}

void
respond (Conn *c, int status, const char *reason, const char *body)
{
  char head[256];
  size_t len = strlen (body);
  int n = snprintf (head, sizeof head,
                    "HTTP/1.1 %d %s\r\nServer: enapter-fast-standin\r\n"
                    "Content-Type: application/json\r\nContent-Length: %zu\r\n%s\r\n",
                    status, reason, len, c->closing ? "Connection: close\r\n" : "");
  out_append (c, head, (size_t) n);
  out_append (c, body, len);
}

void
respond_error (Conn *c, int status, const char *reason, const char *code, const char *message)
{
  char body[512];
  snprintf (body, sizeof body,
            "{\"errors\":[{\"code\":\"%s\",\"message\":\"%s\",\"details\":{}}]}", code, message);
  respond (c, status, reason, body);
}

/* ---- requests ------------------------------------------------------------ */
/* The value of header @name in the header block @head (NUL-terminated), or
 * NULL; @out gets at most @size-1 bytes. */
static const char *
header (const char *head, const char *name, char *out, size_t size)
{
  size_t nlen = strlen (name);
  for (const char *line = strstr (head, "\r\n"); line && line[2]; line = strstr (line + 2, "\r\n"))
    {
      const char *h = line + 2;
      if (strncasecmp (h, name, nlen) != 0 || h[nlen] != ':')
        continue;
      const char *v = h + nlen + 1;
      while (*v == ' ' || *v == '\t')
        v++;
      const char *e = strstr (v, "\r\n");
      size_t n = e ? (size_t) (e - v) : strlen (v);
      while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
        n--;
      if (n >= size)
        n = size - 1;
      memcpy (out, v, n);
      out[n] = '\0';
      return out;
    }
  return NULL;
}

static void
stats (Conn *c)
{
  char body[256];
  snprintf (body, sizeof body,
            "{\"connections\":%llu,\"provisioning_connections\":%llu,\"requests\":%llu}",
            n_connections, n_prov_connections, n_requests);
  respond (c, 200, "OK", body);
}

/* Handles one complete request; @head is NUL-terminated at the blank line. */
static void
handle (Conn *c, char *head, const char *body, size_t body_len)
{
  char method[16] = "", path[256] = "", value[512];
  if (sscanf (head, "%15s %255s", method, path) != 2)
    {
      c->closing = 1;
      respond_error (c, 400, "Bad Request", "bad_request", "malformed request line");
      return;
    }
  if (header (head, "Connection", value, sizeof value) && strcasecmp (value, "close") == 0)
    c->closing = 1;
  if (strcmp (path, "/_standin/stats") == 0)
    {
      stats (c);
      return;
    }
  if (strcmp (path, "/_standin/reset") == 0)
    {
      generation++;
      n_connections = n_prov_connections = n_requests = 0;
      respond (c, 200, "OK", "{\"reset\":true}");
      return;
    }
  n_requests++;
  if (c->generation != generation)
    {
      c->generation = generation;
      n_prov_connections++;
    }
  if (strcmp (path, "/v3/provisioning/ucm") != 0)
    respond_error (c, 404, "Not Found", "not_found", "this stand-in serves /v3/provisioning/ucm");
  else if (strcmp (method, "POST") != 0)
    respond_error (c, 405, "Method Not Allowed", "method_not_allowed", "use POST");
  else if (!header (head, "X-Enapter-Auth-Token", value, sizeof value) ||
           strcmp (value, token) != 0)
    respond_error (c, 401, "Unauthorized", "unauthorized", "bad or missing token");
  else if (!header (head, "X-Enapter-Allow-HTTP", value, sizeof value) ||
           strcasecmp (value, "true") != 0)
    respond_error (c, 400, "Bad Request", "http_not_allowed", "X-Enapter-Allow-HTTP missing");
  else if (!header (head, "Content-Type", value, sizeof value) ||
           strncasecmp (value, "application/json", 16) != 0)
    respond_error (c, 422, "Unprocessable Entity", "invalid_request",
                   "Content-Type must be application/json");
  else
    provision (c, body, body_len);
}

/* Handles every complete request in the input buffer. */
static void
process_input (Conn *c)
{
  while (!c->closing)
    {
      char *end = memmem (c->in, c->in_len, "\r\n\r\n", 4);
      if (end == NULL)
        {
          if (c->in_len == IN_MAX)
            {
              c->closing = 1;
              respond_error (c, 431, "Request Header Fields Too Large", "bad_request",
                             "headers too large");
            }
          return;
        }
      *end = '\0';
      size_t head_len = (size_t) (end - c->in) + 4;
      char value[64];
      size_t body_len = 0;
      if (header (c->in, "Transfer-Encoding", value, sizeof value))
        {
          c->closing = 1;
          respond_error (c, 411, "Length Required", "bad_request", "send a Content-Length");
          return;
        }
      if (header (c->in, "Content-Length", value, sizeof value))
        body_len = strtoul (value, NULL, 10);
      if (head_len + body_len > IN_MAX)
        {
          c->closing = 1;
          respond_error (c, 413, "Content Too Large", "bad_request", "request too large");
          return;
        }
      /* Not complete: parse again when more arrives. The daemon and
       * bench-direct send no "Expect: 100-continue". */
      if (c->in_len < head_len + body_len)
        {
          *end = '\r';
          return;
        }
      handle (c, c->in, c->in + head_len, body_len);
      size_t used = head_len + body_len;
      memmove (c->in, c->in + used, c->in_len - used);
      c->in_len -= used;
    }
}

/* ---- the loop ------------------------------------------------------------ */

static void
conn_close (int ep, Conn *c)
{
  epoll_ctl (ep, EPOLL_CTL_DEL, c->fd, NULL);
  close (c->fd);
  free (c->out);
  free (c);
}

/* Writes what it can; returns -1 when the connection is to be closed. */
static int
flush_output (int ep, Conn *c)
{
  while (c->out_off < c->out_len)
    {
      ssize_t n = send (c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && errno == EAGAIN)
        {
          struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT, .data.ptr = c };
          epoll_ctl (ep, EPOLL_CTL_MOD, c->fd, &ev);
          return 0;
        }
      if (n <= 0)
        return -1;
      c->out_off += (size_t) n;
    }
  c->out_off = c->out_len = 0;
  struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
  epoll_ctl (ep, EPOLL_CTL_MOD, c->fd, &ev);
  return c->closing ? -1 : 0;
}

static void
on_conn (int ep, Conn *c, uint32_t events)
{
  if (events & EPOLLIN)
    for (;;)
      {
        if (c->in_len == IN_MAX)
          break;
        ssize_t n = recv (c->fd, c->in + c->in_len, IN_MAX - c->in_len, 0);
        if (n < 0 && errno == EINTR)
          continue;
        if (n < 0 && errno == EAGAIN)
          break;
        if (n <= 0)
          {
            conn_close (ep, c);
            return;
          }
        c->in_len += (size_t) n;
      }
  process_input (c);
  if (flush_output (ep, c) < 0)
    conn_close (ep, c);
}

static void
on_stop (int sig)
{
  stop = 1;
}

int
main (int argc, char **argv)
{
  const char *listen_addr = "127.0.0.1", *port_file = NULL;
  const char *key = NULL, *cert = NULL, *ca = NULL;
  int port = 0;
  for (int i = 1; i + 1 < argc; i += 2)
    {
      if (strcmp (argv[i], "--token") == 0)
        token = argv[i + 1];
      else if (strcmp (argv[i], "--listen") == 0)
        listen_addr = argv[i + 1];
      else if (strcmp (argv[i], "--port") == 0)
        port = atoi (argv[i + 1]);
      else if (strcmp (argv[i], "--port-file") == 0)
        port_file = argv[i + 1];
      else if (strcmp (argv[i], "--key") == 0)
        key = argv[i + 1];
      else if (strcmp (argv[i], "--cert") == 0)
        cert = argv[i + 1];
      else if (strcmp (argv[i], "--ca") == 0)
        ca = argv[i + 1];
      else
        {
          fprintf (stderr, "fast-standin: unknown option %s\n", argv[i]);
          return 2;
        }
    }
  if (token == NULL || key == NULL || cert == NULL || ca == NULL)
    {
      fprintf (stderr, "usage: fast-standin --token TOKEN --key KEY.pem --cert CERT.pem "
                       "--ca CA.pem [--listen ADDR] [--port N] [--port-file PATH]\n");
      return 2;
    }
  load_set (key, cert, ca);
  struct sigaction sa = { .sa_handler = on_stop };
  sigaction (SIGTERM, &sa, NULL);
  sigaction (SIGINT, &sa, NULL);

  int lfd = socket (AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt (lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons ((uint16_t) port) };
  if (inet_pton (AF_INET, listen_addr, &addr.sin_addr) != 1)
    {
      fprintf (stderr, "fast-standin: --listen takes an IPv4 address\n");
      return 2;
    }
  if (bind (lfd, (struct sockaddr *) &addr, sizeof addr) < 0 || listen (lfd, 1024) < 0)
    die ("bind/listen");
  socklen_t alen = sizeof addr;
  getsockname (lfd, (struct sockaddr *) &addr, &alen);
  port = ntohs (addr.sin_port);
  if (port_file != NULL)
    {
      char tmp[4096];
      snprintf (tmp, sizeof tmp, "%s.tmp", port_file);
      FILE *f = fopen (tmp, "w");
      if (f == NULL || fprintf (f, "%d\n", port) < 0 || fclose (f) != 0 ||
          rename (tmp, port_file) < 0)
        die ("writing the port file");
    }
  printf ("fast-standin: listening on http://%s:%d\n", listen_addr, port);
  fflush (stdout);

  int ep = epoll_create1 (EPOLL_CLOEXEC);
  struct epoll_event lev = { .events = EPOLLIN, .data.ptr = NULL };
  epoll_ctl (ep, EPOLL_CTL_ADD, lfd, &lev);
  struct epoll_event events[256];
  while (!stop)
    {
      int n = epoll_wait (ep, events, 256, -1);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        die ("epoll_wait");
      for (int i = 0; i < n; i++)
        {
          if (events[i].data.ptr != NULL)
            {
              on_conn (ep, events[i].data.ptr, events[i].events);
              continue;
            }
          int fd;
          while ((fd = accept4 (lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0)
            {
              setsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
              Conn *c = calloc (1, sizeof *c);
              if (c == NULL)
                die ("calloc");
              c->fd = fd;
              n_connections++;
              struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
              epoll_ctl (ep, EPOLL_CTL_ADD, fd, &ev);
            }
        }
    }
  return 0;
}
