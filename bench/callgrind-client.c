/*
 * Valgrind client requests for `bench/instructions.ts`, as a tiny Node-API addon: the child
 * process starts callgrind's instrumentation after its warm-up and dumps the counters after each
 * window, from inside the process, so no window depends on when a parent's signal arrives.
 * Outside valgrind every request is a no-op.
 */
#include <node_api.h>
#include <valgrind/callgrind.h>

static napi_value start(napi_env env, napi_callback_info info) {
  (void)env;
  (void)info;
  CALLGRIND_START_INSTRUMENTATION;
  CALLGRIND_ZERO_STATS;
  return NULL;
}

static napi_value dump(napi_env env, napi_callback_info info) {
  (void)env;
  (void)info;
  CALLGRIND_DUMP_STATS;
  return NULL;
}

static napi_value stop(napi_env env, napi_callback_info info) {
  (void)env;
  (void)info;
  CALLGRIND_STOP_INSTRUMENTATION;
  return NULL;
}

NAPI_MODULE_INIT() {
  napi_property_descriptor functions[] = {
      {"start", NULL, start, NULL, NULL, NULL, napi_default, NULL},
      {"dump", NULL, dump, NULL, NULL, NULL, napi_default, NULL},
      {"stop", NULL, stop, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, 3, functions);
  return exports;
}
