/*
 * link.c — one entry of "links": the connection to its NATS servers and
 * the JetStream stream its queues use.
 *
 * Decisions written down here:
 *  - Reconnects never end (max reconnect -1, 250 ms apart): a link that is
 *    down does not stop the host; exports keep their messages in their
 *    local queue, imports wait.  Each change is logged:
 *    link.down, link.up (with the server, never a credential) and counted.
 *  - An unreachable server at launch is an error naming every URL, unless
 *    the link says "wait": true: then the client retries in the background
 *    and the stream is checked when it comes (rh__link_ready).
 *  - Credentials are read at connect from where the manifest says (a file,
 *    or "env:NAME"), handed to the client and wiped: a NATS .creds file
 *    (JWT and nkey seed) is given to the client by path; otherwise the first
 *    line is "user:password" or a token.  They are never logged or put in
 *    an error message.
 *  - The stream is created when missing (file storage, the manifest's
 *    subjects on this link, duplicates window duplicates_ms); an existing
 *    one must use file storage, cover every subject and keep a duplicates
 *    window at least as long as the manifest asks, else it is refused
 *    naming both.  The host never changes a stream it did not create.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/clock.h"
#include "base/log.h"
#include "remote/remote_pvt.h"

static void on_disconnected(natsConnection *nc, void *arg)
{
    rh_link *l = arg;
    (void)nc;
    atomic_store(&l->connected, 0);
    if (atomic_load(&l->closing))
        return; /* the host closes it: not a link going down */
    atomic_fetch_add(&l->disconnects, 1);
    rh__log_event(l->log, RH_LOG_WARN, "link.down", "link=%s", l->decl->name);
}

/* The connection's last callback: after it none touches the link. */
static void on_closed(natsConnection *nc, void *arg)
{
    rh_link *l = arg;
    (void)nc;
    atomic_store_explicit(&l->closed, 1, memory_order_release);
}

static void on_connected(natsConnection *nc, void *arg)
{
    rh_link *l = arg;
    char url[256] = "";
    natsConnection_GetConnectedUrl(nc, url, sizeof url);
    int was_reconnect = atomic_load(&l->disconnects) > 0;
    if (was_reconnect)
        atomic_fetch_add(&l->reconnects, 1);
    atomic_store(&l->connected, 1);
    rh__log_event(l->log, RH_LOG_INFO, "link.up", "link=%s server=%s reconnects=%llu",
                  l->decl->name, url, (unsigned long long)atomic_load(&l->reconnects));
}

/* Every URL of the link, for messages: "nats://a:1, nats://b:2". */
static void urls_of(const rh_link *l, char *out, size_t n)
{
    size_t w = 0;
    out[0] = '\0';
    for (uint32_t i = 0; i < l->decl->n_servers && w < n; i++)
        w += (size_t)snprintf(out + w, n - w, "%s%s", i ? ", " : "", l->decl->servers[i]);
}

/* Hand the secret to the client.  0, or -1 with why (never the secret). */
static int set_credentials(rh_link *l, natsOptions *o, char *why, size_t n)
{
    const char *where = l->decl->credentials;
    if (!where[0])
        return 0;
    char text[4096] = "";
    if (strncmp(where, "env:", 4) == 0) {
        const char *v = getenv(where + 4);
        if (!v || !v[0]) {
            snprintf(why, n, "credentials: the environment variable %s is not set", where + 4);
            return -1;
        }
        snprintf(text, sizeof text, "%s", v);
    } else {
        FILE *f = fopen(where, "r");
        if (!f) {
            snprintf(why, n, "credentials: cannot read the file %s", where);
            return -1;
        }
        size_t got = fread(text, 1, sizeof text - 1, f);
        text[got] = '\0';
        fclose(f);
        if (strstr(text, "BEGIN NATS USER JWT")) {
            memset(text, 0, sizeof text);
            natsStatus s = natsOptions_SetUserCredentialsFromFiles(o, where, NULL);
            if (s != NATS_OK) {
                snprintf(why, n, "credentials: the file %s is not a NATS credentials file the "
                                 "client accepts (%s)", where, natsStatus_GetText(s));
                return -1;
            }
            return 0;
        }
    }
    text[strcspn(text, "\r\n")] = '\0';
    char *colon = strchr(text, ':');
    natsStatus s;
    if (colon) {
        *colon = '\0';
        s = natsOptions_SetUserInfo(o, text, colon + 1);
    } else {
        s = natsOptions_SetToken(o, text);
    }
    memset(text, 0, sizeof text);
    if (s != NATS_OK) {
        snprintf(why, n, "credentials from %s were refused by the client", where);
        return -1;
    }
    return 0;
}

int rh__link_open(rh_link *l, rh_error *err)
{
    const rh_link_decl *d = l->decl;
    natsOptions *o = NULL;
    char why[512] = "", urls[2048];
    urls_of(l, urls, sizeof urls);
    pthread_mutex_init(&l->lock, NULL);
    const char *servers[RH_LINK_SERVERS_MAX];
    for (uint32_t i = 0; i < d->n_servers; i++)
        servers[i] = d->servers[i];
    if (natsOptions_Create(&o) != NATS_OK)
        return rh_error_set(err, RH_ENOMEM, "%s: %s: out of memory", l->manifest, d->json_path);
    natsOptions_SetServers(o, servers, (int)d->n_servers);
    natsOptions_SetMaxReconnect(o, -1);
    natsOptions_SetReconnectWait(o, 250);
    natsOptions_SetTimeout(o, 2000);
    natsOptions_SetReconnectBufSize(o, 64 * 1024 * 1024);
    /* Write each publish, ack and pull request at once: by default libnats
     * leaves writes to its flusher thread, which waits ~1 ms to batch them,
     * and every hop of a remote round trip (publish, pull, ack) paid it: the
     * bench's round trip p50 was 2.0 ms with it, 0.4 ms without; the
     * pipeline is no slower (bench/base_nats.c measured the same). */
    natsOptions_SetSendAsap(o, true);
    natsOptions_SetDisconnectedCB(o, on_disconnected, l);
    natsOptions_SetReconnectedCB(o, on_connected, l);
    natsOptions_SetClosedCB(o, on_closed, l);
    if (d->wait)
        natsOptions_SetRetryOnFailedConnect(o, true, on_connected, l);
    if (set_credentials(l, o, why, sizeof why) != 0) {
        natsOptions_Destroy(o);
        return rh_error_set(err, RH_EREMOTE, "%s: %s.credentials: %s", l->manifest, d->json_path,
                            why);
    }
    natsStatus s = natsConnection_Connect(&l->nc, o);
    natsOptions_Destroy(o);
    if (s == NATS_NOT_YET_CONNECTED) {
        rh__log_event(l->log, RH_LOG_WARN, "link.waiting", "link=%s servers=%s", d->name, urls);
    } else if (s != NATS_OK) {
        const char *last = nats_GetLastError(NULL);
        int auth = s == NATS_CONNECTION_AUTH_FAILED || s == NATS_NOT_PERMITTED ||
                   (last && strstr(last, "uthorization"));
        l->nc = NULL;
        if (auth)
            return rh_error_set(err, RH_EREMOTE,
                                "%s: %s.credentials: the server %s refused the link's "
                                "credentials (%s); check the file or variable %s",
                                l->manifest, d->json_path, urls,
                                last && last[0] ? last : natsStatus_GetText(s),
                                d->credentials[0] ? d->credentials : "(none given)");
        return rh_error_set(err, RH_EREMOTE,
                            "%s: %s.nats: cannot reach %s (%s); start the server, or set "
                            "\"wait\": true on the link to wait for it",
                            l->manifest, d->json_path, urls, natsStatus_GetText(s));
    } else {
        on_connected(l->nc, l);
    }
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Wait = 5000;
    if (natsConnection_JetStream(&l->js, l->nc, &jo) != NATS_OK)
        return rh_error_set(err, RH_EREMOTE, "%s: %s: cannot open a JetStream context on %s",
                            l->manifest, d->json_path, urls);
    if (s == NATS_OK && !rh__link_ready(l, err))
        return err->code ? err->code : RH_EREMOTE;
    return 0;
}

/* Subject s matched by filter f (tokens, '*' one, '>' the rest). */
static int subject_matches(const char *f, const char *s)
{
    for (;;) {
        size_t fl = strcspn(f, "."), sl = strcspn(s, ".");
        if (fl == 1 && f[0] == '>')
            return sl > 0;
        if (!(fl == 1 && f[0] == '*') && (fl != sl || strncmp(f, s, fl) != 0))
            return 0;
        if (!f[fl] || !s[sl])
            return !f[fl] && !s[sl];
        f += fl + 1;
        s += sl + 1;
    }
}

/* A stream that exists: agrees with the manifest, or why not in l->stream_error. */
static int stream_agrees(rh_link *l, const jsStreamConfig *c)
{
    const rh_link_decl *d = l->decl;
    char *e = l->stream_error;
    size_t n = sizeof l->stream_error;
    if (c->Storage != js_FileStorage) {
        snprintf(e, n, "%s: %s.stream: the stream %s on the server has memory storage; the "
                       "link needs file storage (messages must survive a server restart): "
                       "delete the stream or name another",
                 l->manifest, d->json_path, d->stream);
        return 0;
    }
    for (int i = 0; i < l->n_subjects; i++) {
        int covered = 0;
        for (int j = 0; j < c->SubjectsLen && !covered; j++)
            covered = subject_matches(c->Subjects[j], l->subjects[i]);
        if (!covered) {
            char have[256] = "";
            size_t w = 0;
            for (int j = 0; j < c->SubjectsLen && w < sizeof have; j++)
                w += (size_t)snprintf(have + w, sizeof have - w, "%s%s", j ? ", " : "",
                                      c->Subjects[j]);
            snprintf(e, n, "%s: %s.stream: the stream %s on the server has the subjects [%s], "
                           "which do not include %s that this manifest uses; name another "
                           "stream, or delete that one",
                     l->manifest, d->json_path, d->stream, have, l->subjects[i]);
            return 0;
        }
    }
    if (c->Duplicates < (int64_t)d->duplicates_ms * 1000000) {
        snprintf(e, n, "%s: %s.stream: the stream %s on the server keeps message ids for %lld "
                       "ms; the link needs at least duplicates_ms = %u (a redelivered input's "
                       "answers must be recognised as repeats)",
                 l->manifest, d->json_path, d->stream, (long long)(c->Duplicates / 1000000),
                 d->duplicates_ms);
        return 0;
    }
    return 1;
}

static int ensure_stream(rh_link *l)
{
    const rh_link_decl *d = l->decl;
    jsStreamInfo *si = NULL;
    jsErrCode jerr = 0;
    natsStatus s = js_GetStreamInfo(&si, l->js, d->stream, NULL, &jerr);
    if (s == NATS_OK) {
        int ok = stream_agrees(l, si->Config);
        jsStreamInfo_Destroy(si);
        return ok;
    }
    if (s != NATS_NOT_FOUND) {
        snprintf(l->stream_error, sizeof l->stream_error,
                 "%s: %s.stream: cannot read the stream %s: %s (is JetStream enabled on the "
                 "server? nats-server -js)",
                 l->manifest, d->json_path, d->stream, natsStatus_GetText(s));
        return -1; /* maybe passing: tried again */
    }
    jsStreamConfig c;
    jsStreamConfig_Init(&c);
    c.Name = d->stream;
    c.Subjects = l->subjects;
    c.SubjectsLen = l->n_subjects;
    c.Storage = js_FileStorage;
    c.Duplicates = (int64_t)d->duplicates_ms * 1000000;
    c.Replicas = (int64_t)d->replicas;
    s = js_AddStream(&si, l->js, &c, NULL, &jerr);
    if (s == NATS_OK) {
        jsStreamInfo_Destroy(si);
        rh__log_event(l->log, RH_LOG_INFO, "link.stream_created",
                      "link=%s stream=%s subjects=%d duplicates_ms=%u", d->name, d->stream,
                      l->n_subjects, d->duplicates_ms);
        return 1;
    }
    /* another host created it meanwhile: check that one */
    if (js_GetStreamInfo(&si, l->js, d->stream, NULL, &jerr) == NATS_OK) {
        int ok = stream_agrees(l, si->Config);
        jsStreamInfo_Destroy(si);
        return ok;
    }
    const char *last = nats_GetLastError(NULL);
    snprintf(l->stream_error, sizeof l->stream_error,
             "%s: %s.stream: cannot create the stream %s: %s%s%s", l->manifest, d->json_path,
             d->stream, natsStatus_GetText(s), last ? ": " : "", last ? last : "");
    return 0;
}

int rh__link_ready(rh_link *l, rh_error *err)
{
    pthread_mutex_lock(&l->lock);
    int ok = l->stream_ok;
    if (!ok && !l->stream_error[0] && l->nc && natsConnection_Status(l->nc) == NATS_CONN_STATUS_CONNECTED) {
        int r = ensure_stream(l);
        if (r > 0) {
            l->stream_ok = ok = 1;
            l->max_payload = natsConnection_GetMaxPayload(l->nc);
        } else if (r == 0) {
            rh__log_event(l->log, RH_LOG_ERROR, "link.stream_refused", "link=%s error=%s",
                          l->decl->name, l->stream_error);
        } else if (err) { /* a launch: say it now */
            r = 0;
        } else {
            l->stream_error[0] = '\0'; /* try again later */
        }
        if (!ok && err && l->stream_error[0])
            rh_error_set(err, RH_EREMOTE, "%s", l->stream_error);
    }
    pthread_mutex_unlock(&l->lock);
    return ok && atomic_load(&l->connected);
}

void rh__link_disconnect(rh_link *l)
{
    atomic_store(&l->closing, 1);
    if (!l->nc)
        return;
    natsConnection_Close(l->nc);
    /* The client runs callbacks on threads of its own, after Close returns:
     * wait for the last one (closed), so that none runs on freed memory.
     * Bounded: a client that never calls it costs 5 s, not a hang. */
    uint64_t until = rh_now_ns() + 5 * RH_NS_PER_S;
    while (!atomic_load_explicit(&l->closed, memory_order_acquire) && rh_now_ns() < until) {
        struct timespec ts = rh_timespec_of_ns(RH_NS_PER_MS);
        nanosleep(&ts, NULL);
    }
}

void rh__link_close(rh_link *l)
{
    if (l->js)
        jsCtx_Destroy(l->js);
    l->js = NULL;
    if (l->nc)
        natsConnection_Destroy(l->nc);
    l->nc = NULL;
    if (l->decl)
        pthread_mutex_destroy(&l->lock);
}
