/* SPDX-License-Identifier: MIT */
/* httpc_priv.h: what httpc.c exports for its unit tests only. */
#ifndef RESTANZA_HTTPC_PRIV_H
#define RESTANZA_HTTPC_PRIV_H

#include "httpc.h"

/* Requests in flight now. */
size_t httpc_active(const struct httpc *c);

#endif
