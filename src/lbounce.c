/*
 * lbounce.c - `bounce.core`, for Lua 5.1/LuaJIT, 5.3, 5.4: the module table
 * assembled from the binding files, one per concern of the core, each
 * adding its functions with its bnc_open_*(L) (lbnc.h):
 *
 *   lrules.c    rule sets (new_rules, the rule-set metatable)
 *   lclassify.c classify, reasons, type_of, describe, the FFI table
 *   lpolicy.c   params (the state machine's numbers)
 *   lrecord.c   step, the record codec, history_info
 *   lmstore.c   the memory store, the tracker's fast path (recorder),
 *               whose health buffer is lhealth.c
 *   laddress.c  normalize_address
 *   lmessage.c  parse, ses_bounce
 *   lverp.c     verp_decode, verp_find
 *   ldns.c      DNS messages, IDN, the mailbox syntax check
 *   lpattern.c  pattern_funcs: find, match, gmatch, gsub under a step budget
 *   lmemory.c   memory_guard: a memory bound while a policy runs
 *
 * The binding files are the only ones that include Lua headers (with
 * lsqlite.c, the separate bounce.sqlite module). The module's default rule
 * set (default_rules) is made here, before the files whose functions hold
 * it as an upvalue.
 */
#include "bnc.h"
#include "lbnc.h"

BNC_EXPORT int luaopen_bounce_core(lua_State *L);

BNC_EXPORT int luaopen_bounce_core(lua_State *L) {
  lrules *def;
  lua_newtable(L);                                    /* M */
  bnc_open_rules(L);
  def = bnc_l_new_rules(L, 1);                        /* M, rules */
  bnc_l_compile(L, def->rs);
  lua_setfield(L, -2, "default_rules");               /* M */
  bnc_open_classify(L);
  bnc_open_policy(L);
  bnc_open_record(L);
  bnc_open_mstore(L);
  bnc_open_address(L);
  bnc_open_message(L);
  bnc_open_verp(L);
  bnc_open_dns(L);
  bnc_open_pattern(L);
  bnc_open_memory(L);
  lua_pushliteral(L, BNC_VERSION);
  lua_setfield(L, -2, "_VERSION");
  return 1;
}
