/* libcurl's multi-socket interface on the GLib main loop, for http.c: one
 * CURLM whose socket watches and single timer are GSources on the default
 * context. http.c owns the transfers; this owns the multi handle and what
 * drives it, and tells http.c when libcurl has worked so it can read what
 * finished. */
#pragma once

#include <curl/curl.h>
#include <glib.h>

typedef struct EpCurlLoop EpCurlLoop;

/* Sets @opt on @handle with @setopt (curl_easy_setopt, curl_multi_setopt)
 * unless an earlier option failed (@rc is no longer @ok), and keeps the
 * first failure: its code in @rc and @name in @failed, for the message. A
 * macro because the options take different types; @name is the caller's #opt
 * so that it stays the option's own spelling. */
#define EP_CURL_SETOPT(setopt, ok, rc, failed, handle, opt, name, val)                     \
  do {                                                                                     \
    if ((rc) == (ok) && ((rc) = setopt ((handle), (opt), (val))) != (ok))                  \
      (failed) = (name);                                                                   \
  } while (0)

/* Runs after each time libcurl has worked (a socket was ready, its timer
 * fired): the place to call curl_multi_info_read. */
typedef void (*EpCurlLoopProgress) (gpointer user_data);

/* A multi handle keeping at most @max_connections, driven from the loop.
 * NULL with EP_HTTP_ERROR_SETUP when libcurl refuses to set it up; the
 * message names the option and says why (curl_multi_strerror). */
EpCurlLoop *ep_curl_loop_new (long max_connections, EpCurlLoopProgress progress,
                              gpointer user_data, GError **error);

CURLM *ep_curl_loop_multi (EpCurlLoop *loop);

/* Closes every cached connection and drops the watches and the timer.
 * Every easy handle must have left the multi handle first. */
void ep_curl_loop_free (EpCurlLoop *loop);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (EpCurlLoop, ep_curl_loop_free)

/* Destroys *@source, if any, and drops the reference kept to it: for the
 * sources this file and http.c keep. */
void ep_clear_source (GSource **source);
