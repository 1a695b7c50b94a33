/*
 * laddress.c - `core.normalize_address`: the key an address is tracked
 * under and its domain (address.c), for the tracker and the stores.
 */
#include <string.h>
#include "address.h"
#include "lbnc.h"

/* normalize_address(s [, case_sensitive]) -> key, domain | nil, err (also
 * for a non-string s, so callers check types off the hot path).
 * The input string itself comes back when it is already normal. */
static int l_normalize_address(lua_State *L) {
  size_t len, olen, at;
  const char *s;
  if (lua_type(L, 1) != LUA_TSTRING) {   /* the caller names its own argument */
    lua_pushnil(L);
    lua_pushfstring(L, "invalid address: string expected, got %s", luaL_typename(L, 1));
    return 2;
  }
  s = lua_tolstring(L, 1, &len);
  char out[BNC_ADDRESS_MAX + 2];
  const char *why = len > 1024 ? "longer than RFC 5321 allows"
    : bnc_address_normalize(s, len, lua_toboolean(L, 2), out, &olen, &at);
  if (why) {
    char shown[84];
    size_t n = len > 80 ? 80 : len;
    memcpy(shown, s, n);
    strcpy(shown + n, len > 80 ? "..." : "");
    lua_pushnil(L);
    lua_pushfstring(L, "invalid address '%s': %s", shown, why);
    return 2;
  }
  if (olen == len && memcmp(out, s, len) == 0) lua_settop(L, 1);
  else lua_pushlstring(L, out, olen);
  lua_pushlstring(L, out + at + 1, olen - at - 1);
  return 2;
}

void bnc_open_address(lua_State *L) {
  lua_pushcfunction(L, l_normalize_address);
  lua_setfield(L, -2, "normalize_address");
}
