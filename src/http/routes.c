#include "http/routes.h"

#include <string.h>

static void
xml_escaped(struct buf *b, const char *s)
{
	for (; *s != '\0'; s++) {
		switch (*s) {
		case '<':
			buf_append_str(b, "&lt;");
			break;
		case '>':
			buf_append_str(b, "&gt;");
			break;
		case '&':
			buf_append_str(b, "&amp;");
			break;
		case '"':
			buf_append_str(b, "&quot;");
			break;
		default:
			buf_append(b, s, 1);
		}
	}
}

static void
autoconfig_server(struct buf *b, const char *tag, const char *type,
                  const char *host, int port, const char *socket_type)
{
	if (port == 0)
		return;
	buf_printf(b, "    <%s type=\"%s\">\n      <hostname>", tag, type);
	xml_escaped(b, host);
	buf_printf(b,
	           "</hostname>\n      <port>%d</port>\n"
	           "      <socketType>%s</socketType>\n"
	           "      <authentication>password-cleartext</authentication>\n"
	           "      <username>%%EMAILADDRESS%%</username>\n    </%s>\n",
	           port, socket_type, tag);
}

/*
 * Thunderbird's autoconfig format (clientConfig 1.1).  Implicit TLS is
 * listed first: RFC 8314 3 prefers it to STARTTLS.
 */
static void
autoconfig(const struct config *cfg, const struct http_ports *p, struct buf *b)
{
	const char *h = cfg->hostname;

	buf_append_str(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	                  "<clientConfig version=\"1.1\">\n"
	                  "  <emailProvider id=\"");
	xml_escaped(b, cfg->domain);
	buf_append_str(b, "\">\n    <domain>");
	xml_escaped(b, cfg->domain);
	buf_append_str(b, "</domain>\n    <displayName>");
	xml_escaped(b, cfg->domain);
	buf_append_str(b, "</displayName>\n");
	autoconfig_server(b, "incomingServer", "imap", h, p->port[SVC_IMAPS],
	                  "SSL");
	autoconfig_server(b, "incomingServer", "imap", h, p->port[SVC_IMAP],
	                  "STARTTLS");
	autoconfig_server(b, "incomingServer", "pop3", h, p->port[SVC_POP3S],
	                  "SSL");
	autoconfig_server(b, "incomingServer", "pop3", h, p->port[SVC_POP3],
	                  "STARTTLS");
	autoconfig_server(b, "outgoingServer", "smtp", h,
	                  p->port[SVC_SUBMISSIONS], "SSL");
	autoconfig_server(b, "outgoingServer", "smtp", h,
	                  p->port[SVC_SUBMISSION], "STARTTLS");
	buf_append_str(b, "  </emailProvider>\n</clientConfig>\n");
}

int
http_route(const struct config *cfg, const struct http_ports *ports,
           const char *path, struct http_response *resp)
{
	buf_init(&resp->body, 0);
	resp->content_type = "text/plain; charset=utf-8";
	if (strcmp(path, "/health") == 0) {
		resp->status = 200;
		resp->reason = "OK";
		buf_append_str(&resp->body, "ok\n");
	} else if (strcmp(path, "/mail/config-v1.1.xml") == 0 ||
	           strcmp(path, "/.well-known/autoconfig/mail/"
	                        "config-v1.1.xml") == 0) {
		resp->status = 200;
		resp->reason = "OK";
		resp->content_type = "application/xml; charset=utf-8";
		autoconfig(cfg, ports, &resp->body);
	} else {
		resp->status = 404;
		resp->reason = "Not Found";
		buf_append_str(&resp->body, "not found\n");
	}
	return resp->body.data != NULL ? 0 : -1;
}
