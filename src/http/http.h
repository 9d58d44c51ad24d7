/*
 * http: the small HTTP/1.1 service on ports 80 and 443: a health check for
 * monitors and mail client autoconfiguration.  GET and HEAD only, one
 * request per connection (Connection: close), bounded request size.
 */
#ifndef POSTAMT_HTTP_HTTP_H
#define POSTAMT_HTTP_HTTP_H

#include "net/conn.h"

extern const struct proto_ops http_proto;

#endif
