#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "http/routes.h"

static void
test_health_and_unknown(void **state)
{
	struct config cfg;
	struct http_ports ports = {{0}};
	struct http_response r;

	(void)state;
	config_defaults(&cfg, "/d");
	assert_int_equal(http_route(&cfg, &ports, "/health", &r), 0);
	assert_int_equal(r.status, 200);
	assert_string_equal(buf_cstr(&r.body), "ok\n");
	buf_free(&r.body);
	assert_int_equal(http_route(&cfg, &ports, "/etc/passwd", &r), 0);
	assert_int_equal(r.status, 404);
	buf_free(&r.body);
	config_free(&cfg);
}

static void
test_autoconfig_lists_served_ports(void **state)
{
	struct config cfg;
	struct http_ports ports = {{0}};
	struct http_response r;
	const char *xml;

	(void)state;
	config_defaults(&cfg, "/d");
	free(cfg.hostname);
	cfg.hostname = strdup("mx.example.org");
	free(cfg.domain);
	cfg.domain = strdup("a&b.example");
	ports.port[SVC_IMAPS] = 10993;
	ports.port[SVC_SUBMISSION] = 10587;
	assert_int_equal(
	    http_route(&cfg, &ports,
	               "/.well-known/autoconfig/mail/config-v1.1.xml", &r),
	    0);
	xml = buf_cstr(&r.body);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(xml, "<domain>a&amp;b.example</domain>"));
	assert_non_null(strstr(xml, "<hostname>mx.example.org</hostname>\n"
	                            "      <port>10993</port>\n"
	                            "      <socketType>SSL</socketType>"));
	assert_non_null(strstr(xml, "<port>10587</port>\n"
	                            "      <socketType>STARTTLS</socketType>"));
	/* Services with port 0 are not offered. */
	assert_null(strstr(xml, "type=\"pop3\""));
	buf_free(&r.body);
	config_free(&cfg);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_health_and_unknown),
	    cmocka_unit_test(test_autoconfig_lists_served_ports),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
