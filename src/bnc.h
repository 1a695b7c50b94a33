/*
 * bnc.h - what every part of the core shares: the version and the status
 * codes its functions return. Nothing else: a file that needs only these
 * includes this header, not the parser that happens to use them.
 */
#ifndef BNC_BNC_H
#define BNC_BNC_H

#define BNC_VERSION "0.1.0"

/* Status codes of the core's functions (0 or negative). */
#define BNC_OK        0
#define BNC_EEMPTY   -1   /* nothing but white space */
#define BNC_ETOOBIG  -2   /* over the documented size bound */
#define BNC_ENOMEM   -3
#define BNC_EINVAL   -4

#endif
