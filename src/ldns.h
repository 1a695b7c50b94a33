/*
 * ldns.h - the verification binding's entry point (ldns.c), called by
 * luaopen_bounce_core with the module table on top of the stack.
 */
#ifndef BNC_LDNS_H
#define BNC_LDNS_H

#include "lua.h"

void bnc_open_dns(lua_State *L);

#endif
