/*
 * routes: what the HTTP service answers, independent of the connection.
 */
#ifndef POSTAMT_HTTP_ROUTES_H
#define POSTAMT_HTTP_ROUTES_H

#include "util/buf.h"
#include "util/config.h"

/* The ports clients reach each service on (0: not served). */
struct http_ports {
	int port[SVC_COUNT];
};

struct http_response {
	int status;               /* 200, 404, ... */
	const char *reason;       /* "OK", "Not Found", ... */
	const char *content_type; /* NULL for no body type */
	struct buf body;
};

/*
 * Fills resp for a GET of path (the request target without the query).
 * Routes: /health, /mail/config-v1.1.xml and
 * /.well-known/autoconfig/mail/config-v1.1.xml (Thunderbird autoconfig,
 * also read by other clients).  Returns 0, or -1 if out of memory.
 */
int http_route(const struct config *cfg, const struct http_ports *ports,
               const char *path, struct http_response *resp);

#endif
