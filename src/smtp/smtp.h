/*
 * smtp: the SMTP protocol sessions, plugged into the network layer.
 */
#ifndef POSTAMT_SMTP_SMTP_H
#define POSTAMT_SMTP_SMTP_H

#include "net/conn.h"

/* The hooks the network layer calls for the SMTP services. */
extern const struct proto_ops smtp_proto;

#endif
