#include "pop3/parse.h"

#include <string.h>

static bool
parse_is_vchar(char ch)
{
	return ch > 0x20 && ch < 0x7f;
}

static char
parse_upper(char ch)
{
	return ch >= 'a' && ch <= 'z' ? (char)(ch - 'a' + 'A') : ch;
}

/* Splits line[pos..end) at single spaces into cmd->args. */
static void
parse_args(const char *line, size_t pos, size_t end, struct pop3_cmdline *cmd)
{
	while (pos <= end) {
		size_t start = pos;

		while (pos < end && line[pos] != ' ')
			pos++;
		if (pos == start)
			cmd->args_valid =
			    false; /* empty: two spaces in a row */
		for (size_t i = start; i < pos; i++)
			if (!parse_is_vchar(line[i]))
				cmd->args_valid = false;
		if (cmd->nargs < POP3_MAX_ARGS) {
			cmd->args[cmd->nargs].p = line + start;
			cmd->args[cmd->nargs].len = pos - start;
		}
		cmd->nargs++;
		pos++; /* past the space, or past end to stop */
	}
}

enum pop3_parse
pop3_parse_command(const char *line, size_t len, struct pop3_cmdline *cmd)
{
	size_t vlen = 0, end = len;

	memset(cmd, 0, sizeof(*cmd));
	cmd->args_valid = true;
	cmd->rest.p = line + len;
	while (vlen < len && line[vlen] != ' ') {
		char ch = line[vlen];

		/* Letters, and digits after the first (RFC 6856: UTF8). */
		if (vlen == 4 ||
		    !((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		      (vlen > 0 && ch >= '0' && ch <= '9')))
			return POP3_PARSE_BAD_VERB;
		cmd->verb[vlen] = parse_upper(ch);
		vlen++;
	}
	if (vlen < 3)
		return POP3_PARSE_BAD_VERB;
	cmd->verb[vlen] = '\0';
	if (vlen == len)
		return POP3_PARSE_OK;
	cmd->rest.p = line + vlen + 1;
	cmd->rest.len = len - vlen - 1;
	while (end > vlen + 1 && line[end - 1] == ' ')
		end--;
	if (end == vlen + 1)
		return POP3_PARSE_OK; /* "LIST " means no argument */
	parse_args(line, vlen + 1, end, cmd);
	return POP3_PARSE_OK;
}

bool
pop3_parse_number(const struct pop3_arg *arg, uint32_t *n_r)
{
	uint64_t n = 0;

	if (arg->len == 0 || arg->len > 10)
		return false;
	for (size_t i = 0; i < arg->len; i++) {
		if (arg->p[i] < '0' || arg->p[i] > '9')
			return false;
		n = n * 10 + (uint64_t)(arg->p[i] - '0');
	}
	if (n > UINT32_MAX)
		return false;
	*n_r = (uint32_t)n;
	return true;
}

bool
pop3_parse_arg_is(const struct pop3_arg *arg, const char *s)
{
	size_t n = strlen(s);

	if (arg->len != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (parse_upper(arg->p[i]) != parse_upper(s[i]))
			return false;
	return true;
}
