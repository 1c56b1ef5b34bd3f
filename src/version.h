/* SPDX-License-Identifier: MIT */
/* version.h: the product name and version shown to peers and users. */
#ifndef RESTANZA_VERSION_H
#define RESTANZA_VERSION_H

#include "config.h"

#define RESTANZA_NAME "restanza"
#define RESTANZA_VERSION PACKAGE_VERSION

#endif
