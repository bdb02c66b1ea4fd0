/* A scripted HTTP server in the test process, for the unit tests of http.c
 * and service.c: it answers each request with the next of its answers (the
 * last one repeats) and records when each request came. */
#pragma once

#include "config.h"

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <string.h>

#define TOKEN "unit-test-token"

/* One scripted answer: status, extra header lines, body. */
typedef struct {
  int status;
  const char *headers;
  const char *body;
} Answer;

typedef struct {
  GThreadedSocketService *service;
  guint16 port;
  const Answer *answers;     /* the last one repeats */
  guint n_answers;
  gint requests;             /* atomic */
  gint64 request_time[8];    /* monotonic, of the first eight */
} Server;

static inline gboolean
on_incoming (GThreadedSocketService *service, GSocketConnection *conn, GObject *source,
             gpointer data)
{
  Server *srv = data;
  GInputStream *in = g_io_stream_get_input_stream (G_IO_STREAM (conn));
  GOutputStream *out = g_io_stream_get_output_stream (G_IO_STREAM (conn));
  for (;;)
    {
      /* Headers up to the blank line, then Content-Length bytes of body. */
      GString *head = g_string_new (NULL);
      char c;
      while (!g_str_has_suffix (head->str, "\r\n\r\n"))
        {
          if (g_input_stream_read (in, &c, 1, NULL, NULL) != 1)
            {
              g_string_free (head, TRUE);
              return TRUE;
            }
          g_string_append_c (head, c);
        }
      const char *cl = strstr (head->str, "Content-Length: ");
      gsize body_len = cl ? g_ascii_strtoull (cl + 16, NULL, 10) : 0;
      g_string_free (head, TRUE);
      g_autofree char *body = g_malloc (body_len + 1);
      if (body_len > 0 && !g_input_stream_read_all (in, body, body_len, NULL, NULL, NULL))
        return TRUE;

      gint n = g_atomic_int_add (&srv->requests, 1);
      if (n < (gint) G_N_ELEMENTS (srv->request_time))
        srv->request_time[n] = g_get_monotonic_time ();
      const Answer *a = &srv->answers[MIN ((guint) n, srv->n_answers - 1)];
      g_autofree char *reply = g_strdup_printf (
          "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n%s\r\n%s",
          a->status, strlen (a->body), a->headers ? a->headers : "", a->body);
      if (!g_output_stream_write_all (out, reply, strlen (reply), NULL, NULL, NULL))
        return TRUE;
    }
}

static inline void
server_start (Server *srv, const Answer *answers, guint n_answers)
{
  memset (srv, 0, sizeof *srv);
  srv->answers = answers;
  srv->n_answers = n_answers;
  srv->service = G_THREADED_SOCKET_SERVICE (g_threaded_socket_service_new (4));
  g_autoptr (GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) addr = g_inet_socket_address_new (lo, 0);
  g_autoptr (GSocketAddress) bound = NULL;
  g_autoptr (GError) error = NULL;
  g_socket_listener_add_address (G_SOCKET_LISTENER (srv->service), addr, G_SOCKET_TYPE_STREAM,
                                 G_SOCKET_PROTOCOL_TCP, NULL, &bound, &error);
  g_assert_no_error (error);
  srv->port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
  g_signal_connect (srv->service, "run", G_CALLBACK (on_incoming), srv);
  g_socket_service_start (G_SOCKET_SERVICE (srv->service));
}

static inline void
server_stop (Server *srv)
{
  g_socket_service_stop (G_SOCKET_SERVICE (srv->service));
  g_socket_listener_close (G_SOCKET_LISTENER (srv->service));
  g_object_unref (srv->service);
}

/* A config whose cloud API is the server at @port (the token from a private
 * file), plus the lines @extra. */
static inline EpConfig *
server_config (guint16 port, const char *extra)
{
  g_autofree char *dir = g_dir_make_tmp ("ep-unit-http-XXXXXX", NULL);
  g_autofree char *token = g_build_filename (dir, "token", NULL);
  g_assert_true (g_file_set_contents_full (token, TOKEN, -1, G_FILE_SET_CONTENTS_NONE, 0600,
                                           NULL));
  g_autofree char *text = g_strdup_printf ("[Cloud]\nURL=http://127.0.0.1:%u\nTokenFile=%s\n"
                                           "[Provisioning]\nTimeout=2\nDeadline=10\n%s",
                                           port, token, extra ? extra : "");
  g_autoptr (GError) error = NULL;
  EpConfig *config = ep_config_load_data (text, strlen (text), "unit.conf", &error);
  g_assert_no_error (error);
  g_unlink (token);
  g_rmdir (dir);
  return config;
}

