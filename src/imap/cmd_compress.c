/*
 * cmd_compress: COMPRESS DEFLATE (RFC 4978).  The network layer stacks the
 * DEFLATE filter once the tagged OK has been sent.
 */
#include "imap/cmd.h"
#include "imap/resp.h"

void
imap_cmd_compress(struct imap_session *s, const struct imap_cmd_ctx *cx)
{
	if (!imap_arg_is_atom(cx->args, "DEFLATE")) {
		imap_resp_tagged(s, cx->tag, IMAP_BAD, NULL,
		                 "Unknown compression mechanism");
		return;
	}
	/* RFC 4978 3: a second COMPRESS is refused with this code. */
	if (conn_is_compressed(s->c)) {
		imap_resp_tagged(s, cx->tag, IMAP_NO, "COMPRESSIONACTIVE",
		                 "DEFLATE active via COMPRESS");
		return;
	}
	imap_resp_tagged(s, cx->tag, IMAP_OK, NULL, "DEFLATE active");
	if (conn_compress(s->c) < 0)
		imap_session_close(s, "cannot start compression");
}
