/*
 * HTTP/1.1 sessions (RFC 9112): read one request line and its header
 * fields, answer, close.
 */
#include <stdlib.h>
#include <string.h>

#include "http/http.h"
#include "http/routes.h"

/* Request line and header field limits (RFC 9112 3 and 5 leave them to us). */
#define HTTP_MAX_LINE 8192
#define HTTP_MAX_FIELDS 100

struct http_session {
	struct conn *c;
	char *method; /* NULL until the request line arrived */
	char *target;
	int fields;
};

static void *
http_open(struct conn *c)
{
	struct http_session *s = calloc(1, sizeof(*s));

	if (s != NULL)
		s->c = c;
	return s;
}

static void
http_reply(struct http_session *s, int status, const char *reason,
           const char *type, const struct buf *body)
{
	bool head = s->method != NULL && strcmp(s->method, "HEAD") == 0;
	size_t len = body != NULL ? body->len : 0;

	conn_printf(s->c,
	            "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n"
	            "Content-Length: %zu\r\nCache-Control: no-store\r\n"
	            "Connection: close\r\n\r\n",
	            status, reason, type, len);
	if (!head && len > 0)
		conn_write(s->c, body->data, len);
	conn_log(s->c, LOG_LVL_INFO, "%s %s %d",
	         s->method != NULL ? s->method : "-",
	         s->target != NULL ? s->target : "-", status);
	conn_close(s->c, "request done");
}

static void
http_error(struct http_session *s, int status, const char *reason)
{
	struct buf body = BUF_INIT;

	buf_printf(&body, "%s\n", reason);
	http_reply(s, status, reason, "text/plain; charset=utf-8", &body);
	buf_free(&body);
}

static void
http_answer(struct http_session *s)
{
	struct http_ports ports;
	struct http_response resp;
	char *query;

	if (strcmp(s->method, "GET") != 0 && strcmp(s->method, "HEAD") != 0) {
		http_error(s, 405, "Method Not Allowed");
		return;
	}
	if ((query = strchr(s->target, '?')) != NULL)
		*query = '\0';
	for (int i = 0; i < SVC_COUNT; i++)
		ports.port[i] = conn_service_port(s->c, (enum service)i);
	if (http_route(conn_config(s->c), &ports, s->target, &resp) < 0) {
		http_error(s, 500, "Internal Server Error");
		return;
	}
	http_reply(s, resp.status, resp.reason, resp.content_type, &resp.body);
	buf_free(&resp.body);
}

/* "METHOD SP request-target SP HTTP-version" (RFC 9112 3). */
static int
http_request_line(struct http_session *s, char *line)
{
	char *sp1 = strchr(line, ' '), *sp2;

	if (sp1 == NULL || (sp2 = strchr(sp1 + 1, ' ')) == NULL ||
	    strchr(sp2 + 1, ' ') != NULL || strncmp(sp2 + 1, "HTTP/1.", 7) != 0)
		return -1;
	*sp1 = *sp2 = '\0';
	if (sp1[1] != '/' || line[0] == '\0')
		return -1;
	s->method = strdup(line);
	s->target = strdup(sp1 + 1);
	return s->method != NULL && s->target != NULL ? 0 : -1;
}

static void
http_input(void *arg)
{
	struct http_session *s = arg;
	char *line;
	size_t len;

	for (;;) {
		switch (conn_read_line(s->c, HTTP_MAX_LINE, CONN_EOL_LF_OR_CRLF,
		                       &line, &len)) {
		case CONN_LINE_MORE:
			return;
		case CONN_LINE_TOO_LONG:
			http_error(s, 431, "Request Header Fields Too Large");
			return;
		case CONN_LINE_OK:
			break;
		}
		if (memchr(line, '\0', len) != NULL ||
		    (s->method == NULL && http_request_line(s, line) < 0)) {
			free(line);
			http_error(s, 400, "Bad Request");
			return;
		}
		if (len == 0 && s->method != NULL) {
			free(line);
			http_answer(s);
			return;
		}
		free(line);
		if (++s->fields > HTTP_MAX_FIELDS) {
			http_error(s, 431, "Request Header Fields Too Large");
			return;
		}
	}
}

static void
http_tls_ready(void *arg)
{
	(void)arg; /* HTTP has no STARTTLS; never called */
}

static void
http_timeout(void *arg)
{
	struct http_session *s = arg;

	http_error(s, 408, "Request Timeout");
}

static void
http_shutdown(void *arg)
{
	struct http_session *s = arg;

	conn_close(s->c, "server shutdown");
}

static void
http_free(void *arg)
{
	struct http_session *s = arg;

	free(s->method);
	free(s->target);
	free(s);
}

const struct proto_ops http_proto = {
    .open = http_open,
    .input = http_input,
    .tls_ready = http_tls_ready,
    .timeout = http_timeout,
    .shutdown = http_shutdown,
    .close = http_free,
    .busy_reply = "HTTP/1.1 503 Service Unavailable\r\n"
                  "Content-Length: 0\r\nConnection: close\r\n\r\n",
};
