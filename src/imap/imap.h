/*
 * imap: the IMAP protocol sessions, plugged into the network layer.
 */
#ifndef POSTAMT_IMAP_IMAP_H
#define POSTAMT_IMAP_IMAP_H

#include "net/conn.h"

/* The hooks the network layer calls for the IMAP services. */
extern const struct proto_ops imap_proto;

#endif
