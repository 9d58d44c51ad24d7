#include "net/compress.h"

#include <stdbool.h>
#include <stdlib.h>

#include <event2/buffer.h>
#include <zlib.h>

/*
 * Our compressor uses a 4 KiB window and little hash memory (about 32 KiB
 * of state); the decompressor must accept the client's full 32 KiB window
 * (about 40 KiB).  Both are raw DEFLATE: negative window bits.
 */
#define COMPRESS_OUT_WBITS (-12)
#define COMPRESS_OUT_MEMLEVEL 5
#define COMPRESS_IN_WBITS (-15)
#define COMPRESS_CHUNK 16384

struct compress_ctx {
	z_stream in, out;
	bool in_ok, out_ok;
};

static void
compress_ctx_free(void *arg)
{
	struct compress_ctx *z = arg;

	if (z->in_ok)
		inflateEnd(&z->in);
	if (z->out_ok)
		deflateEnd(&z->out);
	free(z);
}

/*
 * Runs zs over every byte of src into dst.  flush: Z_NO_FLUSH for input,
 * Z_SYNC_FLUSH for output.  Returns BEV_OK, or BEV_ERROR on corrupt input.
 */
static enum bufferevent_filter_result
compress_pump(z_stream *zs, bool inflating, struct evbuffer *src,
              struct evbuffer *dst)
{
	struct evbuffer_iovec out;
	unsigned char *data;
	size_t len;
	int rc;

	for (;;) {
		len = evbuffer_get_contiguous_space(src);
		data = evbuffer_pullup(src, (ev_ssize_t)len);
		zs->next_in = data;
		zs->avail_in = (uInt)len;
		do {
			if (evbuffer_reserve_space(dst, COMPRESS_CHUNK, &out,
			                           1) < 1)
				return BEV_ERROR;
			zs->next_out = out.iov_base;
			zs->avail_out = COMPRESS_CHUNK;
			rc = inflating ? inflate(zs, Z_SYNC_FLUSH)
			               : deflate(zs, Z_SYNC_FLUSH);
			out.iov_len = COMPRESS_CHUNK - zs->avail_out;
			evbuffer_commit_space(dst, &out, 1);
			if (rc != Z_OK && rc != Z_BUF_ERROR)
				return BEV_ERROR;
		} while (zs->avail_out == 0);
		evbuffer_drain(src, len - zs->avail_in);
		if (evbuffer_get_length(src) == 0 || len == 0)
			return BEV_OK;
	}
}

static enum bufferevent_filter_result
compress_input(struct evbuffer *src, struct evbuffer *dst, ev_ssize_t limit,
               enum bufferevent_flush_mode mode, void *arg)
{
	struct compress_ctx *z = arg;

	(void)limit;
	(void)mode;
	if (evbuffer_get_length(src) == 0)
		return BEV_NEED_MORE;
	return compress_pump(&z->in, true, src, dst);
}

static enum bufferevent_filter_result
compress_output(struct evbuffer *src, struct evbuffer *dst, ev_ssize_t limit,
                enum bufferevent_flush_mode mode, void *arg)
{
	struct compress_ctx *z = arg;

	(void)limit;
	(void)mode;
	if (evbuffer_get_length(src) == 0)
		return BEV_OK;
	return compress_pump(&z->out, false, src, dst);
}

struct bufferevent *
compress_bev_new(struct bufferevent *underlying)
{
	struct compress_ctx *z = calloc(1, sizeof(*z));
	struct bufferevent *bev;

	if (z == NULL)
		return NULL;
	z->in_ok = inflateInit2(&z->in, COMPRESS_IN_WBITS) == Z_OK;
	z->out_ok = deflateInit2(&z->out, Z_DEFAULT_COMPRESSION, Z_DEFLATED,
	                         COMPRESS_OUT_WBITS, COMPRESS_OUT_MEMLEVEL,
	                         Z_DEFAULT_STRATEGY) == Z_OK;
	if (!z->in_ok || !z->out_ok) {
		compress_ctx_free(z);
		return NULL;
	}
	bev = bufferevent_filter_new(
	    underlying, compress_input, compress_output,
	    BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS, compress_ctx_free,
	    z);
	if (bev == NULL)
		compress_ctx_free(z);
	return bev;
}
