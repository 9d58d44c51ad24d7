/*
 * pop3: the POP3 protocol sessions, plugged into the network layer.
 */
#ifndef POSTAMT_POP3_POP3_H
#define POSTAMT_POP3_POP3_H

#include "net/conn.h"

/* The hooks the network layer calls for the POP3 services. */
extern const struct proto_ops pop3_proto;

#endif
