/*
 * condstore: CONDSTORE and QRESYNC session pieces (see condstore.h).
 */
#include "imap/condstore.h"

#include <stdlib.h>
#include <string.h>

#include "imap/resp.h"
#include "store/store.h"

/* mod-sequence-value = 1*DIGIT, at most 2^63 - 1 (RFC 7162 7). */
static int
modseq_parse(const struct imap_arg *a, bool zero_ok, uint64_t *n_r)
{
	uint64_t n = 0;

	if (a == NULL || a->type != IMAP_ARG_ATOM || a->str[0] == '\0')
		return -1;
	for (const char *p = a->str; *p != '\0'; p++) {
		if (*p < '0' || *p > '9' ||
		    n > ((uint64_t)INT64_MAX - (uint64_t)(*p - '0')) / 10)
			return -1;
		n = n * 10 + (uint64_t)(*p - '0');
	}
	if (n == 0 && !zero_ok)
		return -1;
	*n_r = n;
	return 0;
}

void
imap_condstore_enable(struct imap_session *s)
{
	s->condstore = true;
}

/* (uidvalidity modseq [known-uids [(seq-match-data)]]) of QRESYNC. */
static int
qresync_parse(const struct imap_arg *l, struct imap_select_params *p)
{
	const struct imap_arg *a;
	uint64_t v;

	if (l == NULL || l->type != IMAP_ARG_LIST)
		return -1;
	a = l->child;
	if (modseq_parse(a, false, &v) < 0 || v > UINT32_MAX)
		return -1;
	p->uidvalidity = (uint32_t)v;
	if (modseq_parse(a->next, false, &p->modseq) < 0)
		return -1;
	a = a->next->next;
	if (a != NULL && a->type == IMAP_ARG_ATOM) {
		if (imap_seqset_parse(a->str, a->len, &p->known) < 0)
			return -1;
		imap_seqset_resolve(&p->known, UINT32_MAX - 1);
		p->has_known = true;
		a = a->next;
	}
	/*
	 * seq-match-data only lets the server shorten VANISHED; the full
	 * list is also correct (3.2.5.2), so it is checked for shape only.
	 */
	if (a != NULL && (a->type != IMAP_ARG_LIST || a->next != NULL))
		return -1;
	return 0;
}

int
imap_condstore_select_parse(struct imap_session *s, const char *tag,
                            const struct imap_arg *params,
                            struct imap_select_params *p)
{
	memset(p, 0, sizeof(*p));
	if (params == NULL)
		return 0;
	if (params->type != IMAP_ARG_LIST || params->next != NULL)
		goto bad;
	for (const struct imap_arg *a = params->child; a != NULL; a = a->next) {
		if (imap_arg_is_atom(a, "CONDSTORE")) {
			imap_condstore_enable(s);
		} else if (imap_arg_is_atom(a, "QRESYNC")) {
			if (!s->qresync) {
				imap_resp_tagged(s, tag, IMAP_BAD, NULL,
				                 "ENABLE QRESYNC first");
				return -1;
			}
			if (p->qresync || qresync_parse(a->next, p) < 0)
				goto bad;
			p->qresync = true;
			a = a->next;
		} else {
			goto bad;
		}
	}
	return 0;
bad:
	imap_condstore_select_free(p);
	imap_resp_tagged(s, tag, IMAP_BAD, NULL, "Invalid SELECT parameters");
	return -1;
}

void
imap_condstore_select_free(struct imap_select_params *p)
{
	imap_seqset_free(&p->known);
}

int
imap_condstore_vanished_write(struct buf *out, bool earlier,
                              const uint32_t *uids, size_t n)
{
	if (n == 0)
		return 0;
	if (buf_append_str(out, earlier ? "* VANISHED (EARLIER) "
	                                : "* VANISHED ") < 0 ||
	    imap_seqset_write(out, uids, n) < 0)
		return -1;
	return buf_append(out, "\r\n", 2) < 0 ? -1 : 0;
}

/* VANISHED (EARLIER) for the UIDs expunged since modseq, within set. */
static int
vanished_since(struct imap_session *s, uint64_t modseq,
               const struct imap_seqset *set, struct buf *out, struct err *err)
{
	uint32_t *uids;
	size_t n, kept = 0;
	int rc;

	if (store_expunged_since(s->user, s->box.name, modseq, &uids, &n, err) <
	    0)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (set == NULL || imap_seqset_contains(set, uids[i]))
			uids[kept++] = uids[i];
	rc = imap_condstore_vanished_write(out, true, uids, kept);
	free(uids);
	return rc < 0 ? err_set(err, ERR_TEMP, "out of memory") : 0;
}

void
imap_condstore_select_report(struct imap_session *s,
                             const struct imap_select_params *p)
{
	struct buf out = BUF_INIT;
	struct err err;

	if (!p->qresync || p->uidvalidity != s->box.uidvalidity)
		return;
	if (vanished_since(s, p->modseq, p->has_known ? &p->known : NULL, &out,
	                   &err) < 0)
		conn_log(s->c, LOG_LVL_WARN, "qresync: %s", err.msg);
	for (size_t i = 0; i < s->box.count; i++) {
		const struct store_msg *m = &s->box.msgs[i];

		if (m->modseq <= p->modseq)
			continue;
		buf_printf(&out, "* %zu FETCH (UID %u FLAGS ", i + 1, m->uid);
		imap_resp_flags_kw(&out, s->user, m->flags);
		buf_printf(&out, " MODSEQ (%llu))\r\n",
		           (unsigned long long)m->modseq);
	}
	imap_resp_flush(s, &out);
	buf_free(&out);
}

int
imap_condstore_fetch_parse(struct imap_session *s,
                           const struct imap_cmd_ctx *cx,
                           const struct imap_arg *mods,
                           struct imap_fetch_mods *m)
{
	memset(m, 0, sizeof(*m));
	if (mods == NULL)
		return 0;
	if (mods->type != IMAP_ARG_LIST || mods->next != NULL)
		goto bad;
	for (const struct imap_arg *a = mods->child; a != NULL; a = a->next) {
		if (imap_arg_is_atom(a, "CHANGEDSINCE") &&
		    !m->has_changedsince) {
			if (modseq_parse(a->next, true, &m->changedsince) < 0)
				goto bad;
			m->has_changedsince = true;
			a = a->next;
		} else if (imap_arg_is_atom(a, "VANISHED") && cx->uid &&
		           s->qresync) {
			m->vanished = true; /* 3.2.6: UID FETCH only */
		} else {
			goto bad;
		}
	}
	if (m->vanished && !m->has_changedsince)
		goto bad;
	if (m->has_changedsince)
		imap_condstore_enable(s);
	return 0;
bad:
	imap_resp_tagged(s, cx->tag, IMAP_BAD, NULL, "Invalid FETCH modifiers");
	return -1;
}

int
imap_condstore_fetch_vanished(struct imap_session *s,
                              const struct imap_fetch_mods *m,
                              const struct imap_seqset *uid_set,
                              struct err *err)
{
	struct buf out = BUF_INIT;
	int rc = 0;

	if (!m->vanished)
		return 0;
	rc = vanished_since(s, m->changedsince, uid_set, &out, err);
	if (rc == 0)
		imap_resp_flush(s, &out);
	buf_free(&out);
	return rc;
}

bool
imap_condstore_fetch_skip(const struct imap_session *s,
                          const struct imap_fetch_mods *m, size_t i)
{
	return m->has_changedsince && s->box.msgs[i].modseq <= m->changedsince;
}

bool
imap_condstore_fetch_wants_modseq(const struct imap_fetch_mods *m)
{
	return m->has_changedsince;
}

int
imap_condstore_modseq_write(const struct imap_session *s, size_t i,
                            struct buf *out)
{
	return buf_printf(out, "MODSEQ (%llu)",
	                  (unsigned long long)s->box.msgs[i].modseq) < 0
	           ? -1
	           : 0;
}
