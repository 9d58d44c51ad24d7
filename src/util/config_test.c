#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "util/config.h"

static char *
write_temp(const char *text)
{
	char *path = strdup("/tmp/postamt-config-test-XXXXXX");
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

static void
test_sizes_and_durations(void **state)
{
	uint64_t v;

	(void)state;
	assert_int_equal(parse_size("64K", &v), 0);
	assert_int_equal(v, 65536);
	assert_int_equal(parse_size("50M", &v), 0);
	assert_int_equal(v, 50ULL << 20);
	assert_int_equal(parse_size("2g", &v), 0);
	assert_int_equal(v, 2ULL << 30);
	assert_int_equal(parse_size("12", &v), 0);
	assert_int_equal(v, 12);
	assert_int_equal(parse_size("12KB", &v), -1);
	assert_int_equal(parse_size("-1", &v), -1);
	assert_int_equal(parse_size("", &v), -1);
	assert_int_equal(parse_size("99999999999999999999", &v), -1);
	assert_int_equal(parse_size("17179869184G", &v), -1);
	assert_int_equal(parse_duration("5m", &v), 0);
	assert_int_equal(v, 300);
	assert_int_equal(parse_duration("30", &v), 0);
	assert_int_equal(v, 30);
	assert_int_equal(parse_duration("2h", &v), 0);
	assert_int_equal(v, 7200);
	assert_int_equal(parse_duration("1x", &v), -1);
	assert_int_equal(parse_duration("1mm", &v), -1);
}

static void
test_load_valid_file(void **state)
{
	char *path = write_temp("# comment\n\nhostname = mx.example.org\n"
	                        "max_line_length = 8K  # trailing comment\n"
	                        "port_imap = 1143\nimap_timeout = 31m\n"
	                        "plaintext_auth_on_loopback = yes\n");
	struct buf errors = BUF_INIT;
	struct config cfg;

	(void)state;
	config_defaults(&cfg, "/var/lib/postamt");
	assert_int_equal(config_load(&cfg, path, &errors), 0);
	assert_string_equal(buf_cstr(&errors), "");
	assert_string_equal(cfg.hostname, "mx.example.org");
	assert_int_equal(cfg.max_line_length, 8192);
	assert_int_equal(cfg.port[SVC_IMAP], 1143);
	assert_int_equal(cfg.port[SVC_IMAPS], 993);
	assert_int_equal(cfg.imap_timeout, 31 * 60);
	assert_true(cfg.plaintext_auth_on_loopback);
	assert_int_equal(config_key_line(&cfg, "port_imap"), 5);
	assert_int_equal(config_key_line(&cfg, "port_pop3"), 0);
	assert_string_equal(cfg.tls_cert, "/var/lib/postamt/tls/cert.pem");
	config_free(&cfg);
	buf_free(&errors);
	unlink(path);
	free(path);
}

static void
test_every_error_is_reported_with_its_line(void **state)
{
	char *path = write_temp("hostname = a\nbogus_key = 1\n"
	                        "port_smtp = seventy\nmax_line_length = 1T\n"
	                        "no equals sign\nlog_level = loud\n"
	                        "smtp_bare_lf = ignore\n");
	struct buf errors = BUF_INIT;
	struct config cfg;
	char expect[512];

	(void)state;
	config_defaults(&cfg, "/d");
	assert_int_equal(config_load(&cfg, path, &errors), -1);
	snprintf(expect, sizeof(expect), "%s:2: unknown key \"bogus_key\"",
	         path);
	assert_non_null(strstr(buf_cstr(&errors), expect));
	snprintf(expect, sizeof(expect), "%s:3: port_smtp = \"seventy\"", path);
	assert_non_null(strstr(buf_cstr(&errors), expect));
	snprintf(expect, sizeof(expect), "%s:4: max_line_length", path);
	assert_non_null(strstr(buf_cstr(&errors), expect));
	snprintf(expect, sizeof(expect), "%s:5: no '='", path);
	assert_non_null(strstr(buf_cstr(&errors), expect));
	snprintf(expect, sizeof(expect), "%s:6: log_level", path);
	assert_non_null(strstr(buf_cstr(&errors), expect));
	snprintf(expect, sizeof(expect), "%s:7: smtp_bare_lf", path);
	assert_non_null(strstr(buf_cstr(&errors), expect));
	config_free(&cfg);
	buf_free(&errors);
	unlink(path);
	free(path);
}

static void
test_written_file_reads_back(void **state)
{
	char path[] = "/tmp/postamt-config-out-XXXXXX";
	struct buf errors = BUF_INIT;
	struct config cfg, back;
	FILE *f;
	int fd;

	(void)state;
	config_defaults(&cfg, "/d");
	free(cfg.hostname);
	cfg.hostname = strdup("written.example");
	cfg.max_message_size = 1234;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_int_equal(config_write(&cfg, f), 0);
	fclose(f);
	config_defaults(&back, "/d");
	assert_int_equal(config_load(&back, path, &errors), 0);
	assert_string_equal(back.hostname, "written.example");
	assert_int_equal(back.max_message_size, 1234);
	assert_int_equal(back.port[SVC_SUBMISSIONS], 465);
	config_free(&cfg);
	config_free(&back);
	buf_free(&errors);
	unlink(path);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sizes_and_durations),
	    cmocka_unit_test(test_load_valid_file),
	    cmocka_unit_test(test_every_error_is_reported_with_its_line),
	    cmocka_unit_test(test_written_file_reads_back),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
