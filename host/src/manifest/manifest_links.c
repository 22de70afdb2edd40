/*
 * manifest_links.c — the "links" of a manifest (NATS servers and a
 * JetStream stream) and each queue's "export" / "import" (the
 * bridges are host/src/remote/).  The errors and decisions are those of
 * manifest_load.c (its header comment), plus these:
 *  - "nats" is a URL or a non-empty list of them (several = a cluster);
 *    each is nats://, tls:// or ws(s):// and carries no user or password:
 *    a secret never sits in the manifest text ("credentials" says where it
 *    is: a file, relative to the manifest's folder, or "env:NAME").
 *  - "stream" is a JetStream stream name ([A-Za-z0-9_-], no dots: NATS
 *    refuses them); subjects are dot-separated tokens of [A-Za-z0-9_-],
 *    without the wildcards * and > (a queue publishes to, or consumes,
 *    exactly one subject).
 *  - The stream's duplicates window must cover a redelivery: an input
 *    redelivered after ack_wait_ms is answered again with the same ids,
 *    and JetStream drops the repeated answers only within that window, so
 *    duplicates_ms >= 2 * ack_wait_ms (the blamed key is the one written).
 *  - A queue may export and import, but not one subject: it would consume
 *    what it publishes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "manifest/manifest_pvt.h"

static const char *const link_keys[] = {"nats",        "stream",        "wait",
                                        "credentials", "ack_wait_ms",   "duplicates_ms",
                                        "max_deliver", "replicas"};
static const char *const export_keys[] = {"link", "subject"};
static const char *const import_keys[] = {"link", "subject", "durable"};

#define ACK_WAIT_DEFAULT_MS 30000u
#define MS_MAX 2147483647

/* nats://host[:port] with no "user:pass@" (or any '@': a token is a secret too). */
static int url_ok(const char *u, const char **why)
{
    static const char *const schemes[] = {"nats://", "tls://", "ws://", "wss://"};
    size_t n = 0;
    for (size_t i = 0; i < COUNT(schemes) && !n; i++)
        if (strncmp(u, schemes[i], strlen(schemes[i])) == 0)
            n = strlen(schemes[i]);
    if (!n) {
        *why = "a server URL nats://HOST:PORT (or tls://, ws://, wss://)";
        return 0;
    }
    if (strchr(u, '@')) {
        *why = "a server URL without user, password or token (write where the secret is in "
               "\"credentials\": a file or \"env:NAME\", never the secret itself)";
        return 0;
    }
    if (!u[n] || strlen(u) >= sizeof ((rh_link_decl *)0)->servers[0]) {
        *why = "a server URL nats://HOST:PORT of at most 255 bytes";
        return 0;
    }
    for (const char *c = u + n; *c; c++)
        if (*c <= ' ' || *c == '"' || *c == '\\') {
            *why = "a server URL nats://HOST:PORT (no spaces or quotes)";
            return 0;
        }
    return 1;
}

static int parse_servers(const rh_json_doc *L, const json_t *v, const char *lp, rh_link_decl *k)
{
    char p[RH_JSON_PATH_LEN];
    rh__manifest_path_key(p, sizeof p, lp, "nats");
    const char *why = NULL;
    if (json_is_string(v)) {
        if (!url_ok(json_string_value(v), &why))
            return rh__json_fail(L, p, v, "%s", why);
        snprintf(k->servers[0], sizeof k->servers[0], "%s", json_string_value(v));
        k->n_servers = 1;
        return 0;
    }
    if (!json_is_array(v) || json_array_size(v) == 0 ||
        json_array_size(v) > RH_LINK_SERVERS_MAX)
        return rh__json_fail(L, p, v,
                             "a server URL \"nats://HOST:PORT\" or a list of 1 to %d of them "
                             "(the servers of one cluster)", RH_LINK_SERVERS_MAX);
    for (size_t i = 0; i < json_array_size(v); i++) {
        const json_t *u = json_array_get(v, i);
        char ip[RH_JSON_PATH_LEN];
        rh__json_path_index(ip, sizeof ip, p, i);
        if (!json_is_string(u))
            return rh__json_fail(L, ip, u, "a server URL nats://HOST:PORT");
        if (!url_ok(json_string_value(u), &why))
            return rh__json_fail(L, ip, u, "%s", why);
        snprintf(k->servers[i], sizeof k->servers[i], "%s", json_string_value(u));
    }
    k->n_servers = (uint32_t)json_array_size(v);
    return 0;
}

/* A file (relative to the manifest's folder) or "env:NAME". */
static int parse_credentials(const rh_json_doc *L, const json_t *v, const char *lp,
                             const rh_manifest *m, rh_link_decl *k)
{
    char p[RH_JSON_PATH_LEN];
    rh__manifest_path_key(p, sizeof p, lp, "credentials");
    const char *what = "a credentials file (relative to the manifest's folder) or "
                       "\"env:NAME\" (an environment variable holding them); never the secret "
                       "itself";
    if (!json_is_string(v) || json_string_length(v) == 0 ||
        strlen(json_string_value(v)) != json_string_length(v))
        return rh__json_fail(L, p, v, "%s", what);
    const char *s = json_string_value(v);
    if (strncmp(s, "env:", 4) == 0) {
        if (!rh__json_name_ok(s + 4, 128, 0))
            return rh__json_fail(L, p, v, "\"env:NAME\" with NAME of [A-Za-z0-9_-]");
        snprintf(k->credentials, sizeof k->credentials, "%s", s);
        return 0;
    }
    /* Something that reads like a secret rather than a place: refused, so
     * that a password pasted here is never stored or logged. */
    if (strchr(s, ':') || strchr(s, ' ') || strncmp(s, "eyJ", 3) == 0)
        return rh__json_fail_str(L, p, "(not shown)", "%s", what);
    const char *slash = strrchr(m->path, '/');
    int n = s[0] == '/' || !slash
                ? snprintf(k->credentials, sizeof k->credentials, "%s", s)
                : snprintf(k->credentials, sizeof k->credentials, "%.*s/%s",
                           (int)(slash - m->path), m->path, s);
    if (n < 0 || (size_t)n >= sizeof k->credentials)
        return rh__json_fail(L, p, v, "a file path shorter than %zu bytes", sizeof k->credentials);
    return 0;
}

static int parse_link(const rh_json_doc *L, const char *name, const json_t *v, rh_manifest *m,
                      rh_link_decl *k)
{
    char lp[RH_JSON_PATH_LEN], p[RH_JSON_PATH_LEN];
    int rc;
    rh__manifest_path_key(lp, sizeof lp, "links", name);
    if (!rh__json_name_ok(name, sizeof k->name - 1, 0))
        return rh__json_fail_str(L, lp, name, "a link name of 1 to %zu characters from "
                                              "[A-Za-z0-9_-]", sizeof k->name - 1);
    snprintf(k->name, sizeof k->name, "%s", name);
    snprintf(k->json_path, sizeof k->json_path, "%s", lp);
    if (!json_is_object(v))
        return rh__json_fail(L, lp, v, "an object with \"nats\" and \"stream\"");
    if ((rc = rh__json_check_keys(L, v, lp, link_keys, COUNT(link_keys))))
        return rc;
    if ((rc = parse_servers(L, json_object_get(v, "nats"), lp, k)))
        return rc;
    rh__manifest_path_key(p, sizeof p, lp, "stream");
    if ((rc = rh__json_get_name(L, json_object_get(v, "stream"), p,
                                "a JetStream stream name (no dots)", 0, k->stream,
                                sizeof k->stream)))
        return rc;
    const json_t *c = json_object_get(v, "credentials");
    if (c && (rc = parse_credentials(L, c, lp, m, k)))
        return rc;
    k->ack_wait_ms = ACK_WAIT_DEFAULT_MS;
    k->replicas = 1;
    k->duplicates_ms = 0;
    if ((rc = rh__json_opt_bool(L, v, lp, "wait", &k->wait)) ||
        (rc = rh__json_opt_uint(L, v, lp, "ack_wait_ms", 100, MS_MAX / 2, 0, "milliseconds",
                                &k->ack_wait_ms)) ||
        (rc = rh__json_opt_uint(L, v, lp, "duplicates_ms", 100, MS_MAX, 0, "milliseconds",
                                &k->duplicates_ms)) ||
        (rc = rh__json_opt_uint(L, v, lp, "max_deliver", 0, 1000000, 0,
                                "deliveries, 0 = no limit", &k->max_deliver)) ||
        (rc = rh__json_opt_uint(L, v, lp, "replicas", 1, 5, 0,
                                "copies of the stream in the cluster", &k->replicas)))
        return rc;
    if (!k->duplicates_ms) {
        k->duplicates_ms = 4 * k->ack_wait_ms < 120000 ? 120000 : 4 * k->ack_wait_ms;
    } else if (k->duplicates_ms < 2 * k->ack_wait_ms) {
        rh__manifest_path_key(p, sizeof p, lp, "duplicates_ms");
        return rh__json_fail(L, p, json_object_get(v, "duplicates_ms"),
                             "at least 2 * ack_wait_ms = %u (milliseconds: a redelivered "
                             "input's answers must fall within the stream's duplicates window)",
                             2 * k->ack_wait_ms);
    }
    return 0;
}

int rh__manifest_parse_links(const rh_json_doc *L, const json_t *ls, rh_manifest *m)
{
    if (!ls)
        return 0;
    if (!json_is_object(ls) || json_object_size(ls) > RH_MAX_LINKS)
        return rh__json_fail(L, "links", ls,
                             "an object mapping at most %d link names to {\"nats\": URL, "
                             "\"stream\": NAME}", RH_MAX_LINKS);
    const char *name;
    json_t *v;
    json_object_foreach ((json_t *)ls, name, v) {
        int rc = parse_link(L, name, v, m, &m->links[m->n_links]);
        if (rc)
            return rc;
        m->n_links++;
    }
    return 0;
}

/* A subject: dot-separated tokens of [A-Za-z0-9_-], no wildcard. */
static int subject_ok(const char *s)
{
    size_t len = strlen(s);
    if (len == 0 || len > RH_SUBJECT_MAX || s[0] == '.' || s[len - 1] == '.' || strstr(s, ".."))
        return 0;
    for (const char *c = s; *c; c++)
        if (*c != '.' && *c != '_' && *c != '-' && !(*c >= 'a' && *c <= 'z') &&
            !(*c >= 'A' && *c <= 'Z') && !(*c >= '0' && *c <= '9'))
            return 0;
    return 1;
}

static int parse_remote(const rh_json_doc *L, const json_t *v, const char *qp, const char *key,
                        const rh_manifest *m, rh_remote_decl *r)
{
    char rp[RH_JSON_PATH_LEN], p[RH_JSON_PATH_LEN];
    int rc, import = key[0] == 'i';
    rh__manifest_path_key(rp, sizeof rp, qp, key);
    if (!json_is_object(v))
        return rh__json_fail(L, rp, v, "an object {\"link\": NAME, \"subject\": SUBJECT}");
    if ((rc = import ? rh__json_check_keys(L, v, rp, import_keys, COUNT(import_keys))
                     : rh__json_check_keys(L, v, rp, export_keys, COUNT(export_keys))))
        return rc;
    const json_t *l = json_object_get(v, "link");
    rh__manifest_path_key(p, sizeof p, rp, "link");
    if (!json_is_string(l))
        return rh__json_fail(L, p, l, "the name of a link declared in \"links\"");
    uint32_t i = 0;
    while (i < m->n_links && strcmp(m->links[i].name, json_string_value(l)) != 0)
        i++;
    if (i == m->n_links) {
        char known[512] = "";
        size_t w = 0;
        for (uint32_t j = 0; j < m->n_links && w < sizeof known; j++)
            w += (size_t)snprintf(known + w, sizeof known - w, "%s\"%s\"", j ? ", " : "",
                                  m->links[j].name);
        return rh__json_fail(L, p, l, "the name of a link declared in \"links\" (%s)",
                             m->n_links ? known : "there is none");
    }
    r->link = i;
    const json_t *s = json_object_get(v, "subject");
    rh__manifest_path_key(p, sizeof p, rp, "subject");
    if (!json_is_string(s) || !subject_ok(json_string_value(s)))
        return rh__json_fail(L, p, s,
                             "a NATS subject of 1 to %d bytes: tokens of [A-Za-z0-9_-] "
                             "separated by dots, no wildcards", RH_SUBJECT_MAX);
    snprintf(r->subject, sizeof r->subject, "%s", json_string_value(s));
    const json_t *d = json_object_get(v, "durable");
    rh__manifest_path_key(p, sizeof p, rp, "durable");
    if (d && (rc = rh__json_get_name(L, d, p, "a durable consumer name ([A-Za-z0-9_-])", 0,
                                     r->durable, sizeof r->durable)))
        return rc;
    r->set = 1;
    return 0;
}

int rh__manifest_parse_queue_remote(const rh_json_doc *L, const json_t *qv, const char *qp,
                                    rh_manifest *m, rh_queue_decl *q)
{
    int rc;
    const json_t *e = json_object_get(qv, "export"), *i = json_object_get(qv, "import");
    if ((e && (rc = parse_remote(L, e, qp, "export", m, &q->export_to))) ||
        (i && (rc = parse_remote(L, i, qp, "import", m, &q->import_from))))
        return rc;
    if (e && i && q->export_to.link == q->import_from.link &&
        strcmp(q->export_to.subject, q->import_from.subject) == 0) {
        char ip[RH_JSON_PATH_LEN], p[RH_JSON_PATH_LEN];
        rh__manifest_path_key(ip, sizeof ip, qp, "import");
        rh__manifest_path_key(p, sizeof p, ip, "subject");
        return rh__json_fail(L, p, json_object_get(i, "subject"),
                             "a subject other than the one this queue exports (\"%s\": it would "
                             "consume what it publishes)", q->export_to.subject);
    }
    m->n_remote += (e != NULL) + (i != NULL);
    return 0;
}
