/*
 * wrt stage-plugin ABI.
 *
 * This header is the whole contract between the wrt host and a stage plugin.
 * It is plain C (C11 and C++ both compile it), needs nothing from wrt at
 * link time, and follows these rules so that plugins built today keep
 * loading in later hosts:
 *
 *  1. A plugin library exports exactly one symbol, `wrt_plugin_entry`
 *     (see WRT_PLUGIN_EXPORT). Everything else stays hidden.
 *  2. The ABI version (WRT_ABI_VERSION_*) is separate from wrt's product
 *     version. The host refuses a library whose major differs from its own
 *     and accepts any minor of the same major: fields and functions are only
 *     ever appended, and every growable struct starts with `struct_size`, so
 *     each side can test whether the other knows a field (WRT_HAS_FIELD).
 *  3. The host reaches the plugin only through the function-pointer table
 *     `wrt_host`; a plugin never links against wrt.
 *  4. Optional features are looked up by id ("wrt.<name>/<rev>") through
 *     `get_extension`; NULL means unsupported.
 *  5. Ownership: whoever allocates frees. Every string crossing the boundary
 *     is NUL-terminated UTF-8. Strings the plugin passes to the host are
 *     copied before the host function returns. Strings and buffers the host
 *     returns stay valid until the plugin's `fingerprint`/`run` call returns,
 *     unless a function states otherwise.
 *  6. No C++ exception, longjmp or signal crosses the boundary in either
 *     direction. A plugin written in C++ must catch everything in its entry
 *     points (the C++ helper wrt/plugin.hpp does this for you).
 *  7. Thread rules are stated on every function below.
 *  8. Where plugin code runs: wrt calls `fingerprint` and `run` of every
 *     plugin except its own built-in `command` plugin in a worker process
 *     (the wrt executable started as "wrt-worker"), so a crash, abort(),
 *     exit() or hang in plugin code fails that stage only ("plugin 'x'
 *     crashed: SIGSEGV in run()") and the run goes on. A worker serves many
 *     calls: keep no per-stage state in globals. (wrt's own plugins, loaded
 *     from its own plugin directory, run `fingerprint` in wrt's process.)
 *     `init` and `deinit` run in
 *     wrt's own process (and in each worker) when the library is loaded: keep
 *     them trivial, a crash there does end wrt.
 */
#ifndef WRT_PLUGIN_H
#define WRT_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define WRT_ABI_VERSION_MAJOR 1u
#define WRT_ABI_VERSION_MINOR 5u

#if defined(_WIN32)
#define WRT_PLUGIN_EXPORT __declspec(dllexport)
#else
#define WRT_PLUGIN_EXPORT __attribute__((visibility("default")))
#endif

/* True when the struct pointed to by `ptr` (which starts with struct_size)
 * is large enough to contain `field`. Use it before touching any field that
 * was appended after the ABI version you first supported. */
#define WRT_HAS_FIELD(ptr, type, field) \
  ((ptr) != NULL && (ptr)->struct_size >= offsetof(type, field) + sizeof(((type*)0)->field))

/* Result of a plugin call. */
typedef enum wrt_status {
  WRT_STATUS_PASSED = 0,   /* the stage did its work and its checks hold */
  WRT_STATUS_FAILED = 1,   /* the work ran and found a problem (test failed, lint error) */
  WRT_STATUS_ERROR = 2,    /* the stage could not do its work (bad config, tool missing); never retried */
  WRT_STATUS_RETRY = 3     /* a transient failure; the host retries while attempts remain */
} wrt_status;

typedef enum wrt_log_level {
  WRT_LOG_DEBUG = 0,
  WRT_LOG_INFO = 1,
  WRT_LOG_WARNING = 2,
  WRT_LOG_ERROR = 3
} wrt_log_level;

typedef enum wrt_severity {
  WRT_SEVERITY_NOTE = 0,
  WRT_SEVERITY_WARNING = 1,
  WRT_SEVERITY_ERROR = 2
} wrt_severity;

typedef enum wrt_test_status {
  WRT_TEST_PASSED = 0,
  WRT_TEST_FAILED = 1,
  WRT_TEST_SKIPPED = 2,
  WRT_TEST_FLAKY = 3       /* failed, then passed on a rerun */
} wrt_test_status;

/* Opaque handle for one stage execution. Owned by the host; valid only
 * during the `fingerprint` or `run` call it was passed to. */
typedef struct wrt_stage wrt_stage;

/* A static analysis result, a compiler diagnostic, a failed proof check. */
typedef struct wrt_finding {
  uint32_t struct_size;    /* sizeof(wrt_finding) as the plugin knows it */
  const char* rule;        /* e.g. "-Wunused-variable", "clippy::unwrap_used"; may be NULL */
  wrt_severity severity;
  const char* file;        /* workspace-relative path preferred; may be NULL */
  uint32_t line;           /* 1-based; 0 = unknown */
  uint32_t column;         /* 1-based; 0 = unknown */
  const char* message;     /* required */
} wrt_finding;

typedef struct wrt_test_case {
  uint32_t struct_size;
  const char* suite;       /* may be NULL */
  const char* name;        /* required */
  wrt_test_status status;
  double duration_s;       /* < 0 = unknown */
  const char* message;     /* failure message; may be NULL */
} wrt_test_case;

/* How the host runs a child process for the plugin. The host places it in a
 * process group of its own, applies the stage's remaining timeout, kills the
 * whole group (TERM, then KILL) on timeout or interruption, and appends its
 * stdout and stderr to the stage log. */
typedef struct wrt_spawn_request {
  uint32_t struct_size;
  const char* const* argv; /* argv[0] is looked up in PATH; NULL-terminated */
  const char* cwd;         /* workspace-relative or absolute; NULL = workspace root */
  const char* const* env;  /* extra "NAME=VALUE" entries, NULL-terminated; may be NULL */
  int capture_output;      /* non-zero: also return stdout+stderr in the result */
} wrt_spawn_request;

typedef struct wrt_spawn_result {
  uint32_t struct_size;    /* set by the plugin before the call */
  int exit_code;           /* exit status, or -1 when killed by a signal or not started */
  int term_signal;         /* signal that ended the child, 0 if none */
  int timed_out;           /* non-zero: the stage deadline passed and the host killed the group */
  int interrupted;         /* non-zero: the run was interrupted (Ctrl-C) and the host killed the group */
  const char* output;      /* with capture_output: stdout+stderr interleaved, host-owned,
                              valid until the plugin call returns; else NULL */
  size_t output_size;
  const char* error;       /* why the process could not be started, or NULL */
} wrt_spawn_result;

/* Services the host offers. Every function takes the stage handle it acts
 * on. Thread rules: all functions may be called from any thread, but only
 * while the `fingerprint`/`run` call that received `stage` is active; calls
 * for different stages may run concurrently. */
typedef struct wrt_host {
  uint32_t struct_size;
  uint32_t abi_major;
  uint32_t abi_minor;
  const char* wrt_version; /* product version, e.g. "0.1.0"; static lifetime */

  /* Appends a line to the stage log (and the console at WARNING and above). */
  void (*log)(wrt_stage* stage, wrt_log_level level, const char* message);

  /* The stage's `with` table as a JSON object; valid during the call. */
  const char* (*config_json)(wrt_stage* stage);

  /* Typed lookups in `with`. `key` is a dotted path ("build.type"); arrays
   * are indexed with [i] ("argv[0]"). Return 1 when found with the right
   * type, 0 when absent, -1 when present with another type. */
  int (*config_string)(wrt_stage* stage, const char* key, const char** out);
  int (*config_int)(wrt_stage* stage, const char* key, int64_t* out);
  int (*config_double)(wrt_stage* stage, const char* key, double* out);
  int (*config_bool)(wrt_stage* stage, const char* key, int* out);
  /* Number of elements of an array value, or -1 if `key` is absent or not an array. */
  int64_t (*config_array_size)(wrt_stage* stage, const char* key);

  /* The stage's name and the absolute workspace root. */
  const char* (*stage_name)(wrt_stage* stage);
  const char* (*workspace_dir)(wrt_stage* stage);

  /* Runs a child under the host's timeout and kill control (see
   * wrt_spawn_request). Blocks until the child exits. Returns 0 when the
   * child ran (whatever its exit code), -1 when it could not be started
   * (result->error says why). */
  int (*spawn)(wrt_stage* stage, const wrt_spawn_request* request, wrt_spawn_result* result);

  /* Results. Reported values are copied. */
  void (*report_metric)(wrt_stage* stage, const char* name, double value);
  void (*report_finding)(wrt_stage* stage, const wrt_finding* finding);
  void (*report_test_case)(wrt_stage* stage, const wrt_test_case* test);
  /* A file the stage produced that belongs in the report (not cached unless
   * it is also among the stage's declared outputs). */
  void (*report_artifact)(wrt_stage* stage, const char* path, const char* kind);
  /* The message shown with the stage's status (last call wins). */
  void (*set_message)(wrt_stage* stage, const char* message);

  /* Only valid during `fingerprint`: adds a named value to the stage's cache
   * key, such as a tool's version, so a tool upgrade re-runs the stage. */
  void (*add_fingerprint)(wrt_stage* stage, const char* name, const char* value);

  /* Host extensions by id; NULL when unsupported. Static lifetime. */
  const void* (*get_extension)(const char* id);

  /* The name of the index-th key (0-based, in sorted order) of the table at
   * `key` in `with` ("" = `with` itself), or NULL past the end or when `key`
   * is not a table. Valid during the call. */
  const char* (*config_key_at)(wrt_stage* stage, const char* key, int64_t index);

  /* --- ABI 1.1 (test with WRT_HAS_FIELD(host, wrt_host, data_dir)) --- */

  /* Absolute path of a directory where the plugin keeps state between runs
   * (a compiler cache, benchmark baselines). It lies inside wrt's cache
   * directory, so a CI job that caches that one directory keeps it too. One
   * directory per plugin name, shared by all its stages and by concurrent
   * wrt processes: write files atomically (temp file + rename). Created
   * before it is returned. Valid during the call. */
  const char* (*data_dir)(wrt_stage* stage);

  /* --- ABI 1.2 (test with WRT_HAS_FIELD(host, wrt_host, <field>)) --- */

  /* The stage's input files: the workspace-relative paths wrt hashed for its
   * cache key (its `inputs` globs expanded, sorted). Only during `run`
   * (0 / NULL in fingerprint). input_at returns NULL past the end. */
  int64_t (*input_count)(wrt_stage* stage);
  const char* (*input_at)(wrt_stage* stage, int64_t index);
  /* The stage's declared outputs, as written in wrt.toml (files or
   * directories, workspace-relative). */
  int64_t (*output_count)(wrt_stage* stage);
  const char* (*output_at)(wrt_stage* stage, int64_t index);

  /* Validates the keys of the table at `table` in `with` ("" or NULL = `with`
   * itself) against `known` (NULL-terminated). Keys the host adds itself
   * (`profile`, `component`) are always accepted. On the first unknown key
   * it sets the stage message to "with.KEY: unknown key (did you mean
   * 'X'?)" and returns 0; returns 1 when every key is known. A plugin calls
   * it in `fingerprint` and returns WRT_STATUS_ERROR on 0: wrt then reports
   * a configuration error (exit 2) before any stage runs. */
  int (*check_keys)(wrt_stage* stage, const char* table, const char* const* known);

  /* Logs a line that belongs to no stage (from `init` or `deinit`, where
   * there is no stage handle): to wrt's stderr, prefixed with the level. */
  void (*log_global)(wrt_log_level level, const char* message);

  /* A tool's version text: the output of running `argv` (argv[0] looked up
   * in PATH, typically {"gcc", "--version", NULL}), cached by the host under
   * the resolved binary's path, size, mtime, ctime and inode plus argv, so
   * it runs once per installed tool, not on every run. NULL when the tool
   * cannot be found or run (then `*error`, when given, says why). Valid
   * during the call. Meant for `fingerprint`. */
  const char* (*tool_version)(wrt_stage* stage, const char* const* argv, const char** error);

  /* --- ABI 1.3 (test with WRT_HAS_FIELD(host, wrt_host, declare_state)) --- */

  /* Only valid during `fingerprint`: declares `dir` (workspace-relative) a
   * state directory of the stage -- an incremental build tree such as
   * CMake's build/ or Cargo's target/ that later stages read. It is merged
   * with the stage's `state` list in wrt.toml and means the same: before a
   * stage that needs this one runs, wrt checks that `dir` exists and was
   * produced for this stage's current key, and re-runs this stage first
   * when not (a revert, a fresh checkout). State directories are local:
   * never cached, never part of a key. Returns 1 when accepted; 0 when
   * `dir` is absolute, leaves the workspace, or is the workspace itself,
   * .git or .wrt (the stage message then says why; return
   * WRT_STATUS_ERROR to make it a configuration error), or when called
   * outside `fingerprint`. */
  int (*declare_state)(wrt_stage* stage, const char* dir);

  /* --- ABI 1.4 (test with WRT_HAS_FIELD(host, wrt_host, never_cache)) --- */

  /* Only valid during `fingerprint`: the stage's result is never served
   * from the cache nor stored in it, as with `cache = false` in wrt.toml,
   * decided by the plugin. For stages whose effect lies outside the
   * workspace (a deploy, a release tag, a notification): replaying a cached
   * "passed" would claim work that was not done. Returns 1 when accepted; 0
   * outside `fingerprint`. */
  int (*never_cache)(wrt_stage* stage);

  /* --- ABI 1.5 (test with WRT_HAS_FIELD(host, wrt_host, run_context)) --- */

  /* Only valid during `run`, and only for a stage that is never cached
   * (never_cache, or `cache = false` in wrt.toml): what this run knows when
   * the stage starts, as a JSON object owned by the host for the call:
   *   {"run_id": "...",                  the id the run's history record gets
   *    "gate": {"verdict": "pass" | "warn" | "block" | "none",
   *             "why": "prove:core failed at ASIL D" (empty on pass),
   *             "levels": {"D": "pass", ...}},   over the stages it depends on
   *    "dependencies": [{"name", "status", "asil" (or null), "key"}]}
   * (dependencies direct or not; "key" is the hex cache key, "" when none).
   * NULL otherwise: none of it is part of a cache key, so a cacheable
   * result must not depend on it. */
  const char* (*run_context)(wrt_stage* stage);
} wrt_host;

/* One stage type. A library may provide several. */
typedef struct wrt_plugin {
  uint32_t struct_size;
  const char* name;        /* the value of `plugin = "..."` in wrt.toml; [a-z0-9_-]+ */
  const char* version;     /* the plugin's own version; enters every cache key */
  const char* description; /* one line, for `wrt plugins` */

  /* Optional (may be NULL). Called before the cache key is computed, every
   * time the stage is considered -- on every run, also when nothing changed
   * -- so it must be cheap: validate `with` (check_keys), declare
   * fingerprints (add_fingerprint). wrt calls it for every selected stage
   * before any stage starts; returning anything but WRT_STATUS_PASSED is a
   * configuration error of the run (a bad `with` table, a tool that is not
   * installed): wrt prints "wrt.toml:LINE:COL: stage 'x': <set_message
   * text>", starts no stage and exits 2. `wrt list` and `--dry-run` report
   * the same. A crash here fails only that stage (see 8. above).
   * `spawn` works here, bounded by a fixed time limit, but a process started
   * on every no-op run is what makes a no-op slow: for a tool's version use
   * `tool_version` (ABI 1.2), which the host caches by the tool binary's
   * path and stat. `input_count` is 0 here (inputs are hashed after).
   * Thread rules: may be called concurrently for different stages. */
  wrt_status (*fingerprint)(const wrt_host* host, wrt_stage* stage);

  /* Does the stage's work. Called only on a cache miss, once per attempt.
   * Thread rules: may be called concurrently for different stages, from
   * any host worker thread; must not keep `stage` after returning. */
  wrt_status (*run)(const wrt_host* host, wrt_stage* stage);

  /* Optional (may be NULL): plugin extensions by id. */
  const void* (*get_extension)(const char* id);
} wrt_plugin;

/* What `wrt_plugin_entry()` returns: static data owned by the library. */
typedef struct wrt_entry {
  uint32_t struct_size;
  uint32_t abi_major;      /* WRT_ABI_VERSION_MAJOR the library was built with */
  uint32_t abi_minor;      /* WRT_ABI_VERSION_MINOR the library was built with */

  /* Optional. Called once after loading, before any other call, on the
   * host's main thread. Return 0 to refuse loading (log why through host). */
  int (*init)(const wrt_host* host);
  /* Optional. Called once before unloading, on the main thread, after every
   * other call has returned. */
  void (*deinit)(void);

  uint32_t plugin_count;
  const wrt_plugin* const* plugins;
} wrt_entry;

/* The one exported symbol. Must be callable at any time after dlopen,
 * without side effects, from the host's main thread. */
typedef const wrt_entry* (*wrt_plugin_entry_fn)(void);
#define WRT_PLUGIN_ENTRY_SYMBOL "wrt_plugin_entry"

#ifdef __cplusplus
}
#endif

#endif /* WRT_PLUGIN_H */
