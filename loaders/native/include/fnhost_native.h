/*
 * fnhost native function ABI, version 1.
 *
 * A native function is a shared object (`libhello.so`) that exports:
 *
 *   uint32_t fnhost_abi_version(void);          required: returns FNHOST_ABI_VERSION
 *   int32_t  fnhost_init(void);                 optional: called once at load, 0 = ready
 *   int32_t  <handler>(const fnhost_request *request,
 *                      fnhost_response *response,
 *                      const fnhost_host *host); one per handler, e.g. `handle`
 *
 * The handler is named like any Kubeless handler, `<module>.<symbol>`: `libhello.handle`
 * loads `libhello.so` and calls `handle`.
 *
 * Memory: everything in `fnhost_request` is owned by fnhost and valid only during the call;
 * strings are UTF-8 (or raw bytes for the body), NOT NUL-terminated. The function builds its
 * answer through the `fnhost_host` callbacks, which copy what they are given, so the
 * function frees nothing it did not allocate itself and never hands memory to fnhost.
 *
 * Return 0 for success: the response is what the callbacks built (status 200 and an empty
 * body unless set). Any other value is a failure: the client gets 500 and the call counts in
 * function_failures_total; the text given to `host->set_error` (if any) goes to the log.
 *
 * Threads: the handler is called from several threads at once (FNHOST_THREADS); it must be
 * thread-safe. Timeouts and crashes: see docs/native-abi.md.
 */
#ifndef FNHOST_NATIVE_H
#define FNHOST_NATIVE_H

#include <stddef.h>
#include <stdint.h>

#define FNHOST_ABI_VERSION 1u

typedef struct fnhost_str {
    const uint8_t *ptr;
    size_t len;
} fnhost_str;

typedef struct fnhost_header {
    fnhost_str name;  /* lower case */
    fnhost_str value;
} fnhost_header;

typedef struct fnhost_request {
    fnhost_str method;          /* "GET", "POST", ... */
    fnhost_str path;            /* "/a/b" */
    fnhost_str query;           /* "x=1&y=2", without '?' */
    const fnhost_header *headers;
    size_t headers_len;
    fnhost_str body;
    /* The Kubeless event (empty when the header was absent). */
    fnhost_str event_id;
    fnhost_str event_type;
    fnhost_str event_time;
    fnhost_str event_namespace;
    /* The Kubeless context. */
    fnhost_str function_name;
    fnhost_str runtime;
    fnhost_str memory_limit;
    double timeout_seconds;
} fnhost_request;

/* Opaque: the response under construction. */
typedef struct fnhost_response fnhost_response;

typedef struct fnhost_host {
    /* Sets the status code (100-999). */
    void (*set_status)(fnhost_response *response, uint16_t status);
    /* Adds a header; repeated names are kept (e.g. several Set-Cookie). */
    void (*add_header)(fnhost_response *response, const uint8_t *name, size_t name_len,
                       const uint8_t *value, size_t value_len);
    /* Appends to the body. */
    void (*write_body)(fnhost_response *response, const uint8_t *data, size_t len);
    /* Describes a failure for the log (when the handler returns non-zero). */
    void (*set_error)(fnhost_response *response, const uint8_t *message, size_t len);
} fnhost_host;

typedef uint32_t (*fnhost_abi_version_fn)(void);
typedef int32_t (*fnhost_init_fn)(void);
typedef int32_t (*fnhost_handler_fn)(const fnhost_request *request, fnhost_response *response,
                                     const fnhost_host *host);

#endif /* FNHOST_NATIVE_H */
