/*
 * fnhost Wasm ABI, version 1: Kubeless-shaped handlers in a WebAssembly core module
 * (docs/wasm-abi.md). Build with clang for WASI preview 1 as a reactor:
 *
 *   clang-19 --target=wasm32-wasi --sysroot=/usr -O2 -mexec-model=reactor \
 *       -I loaders/wasm/include -o hello.wasm hello.c
 *
 * (Debian: clang-19, lld-19, wasi-libc, libclang-rt-19-dev-wasm32.) The module exports
 * `memory` (clang does), `fnhost_abi_version` (FNHOST_WASM_ABI_VERSION) and one
 * `int32_t handler(void)` per handler, each marked `__attribute__((export_name("…")))`: 0 is success, anything else a failure (500,
 * with the fnhost_set_error text in the log). Each call runs in a fresh instance.
 *
 * The imports copy in and out of the module's memory during the call; fnhost keeps no
 * pointer. The `(…, buf, cap) -> len` imports copy at most `cap` bytes and return the whole
 * length (call with cap 0 to size a buffer), or -1 when there is no such value.
 */
#ifndef FNHOST_WASM_H
#define FNHOST_WASM_H

#include <stdint.h>

#define FNHOST_WASM_ABI_VERSION 1

/* Request fields for fnhost_request_field. */
enum fnhost_field {
    FNHOST_METHOD = 0,
    FNHOST_PATH = 1,            /* without the query */
    FNHOST_QUERY = 2,           /* without '?' */
    FNHOST_BODY = 3,            /* raw bytes */
    FNHOST_EVENT_ID = 4,
    FNHOST_EVENT_TYPE = 5,
    FNHOST_EVENT_TIME = 6,
    FNHOST_EVENT_NAMESPACE = 7,
    FNHOST_FUNCTION_NAME = 8,   /* module.handler */
    FNHOST_RUNTIME = 9,
    FNHOST_MEMORY_LIMIT = 10,
    FNHOST_TIMEOUT = 11,        /* seconds, as text */
};

#define FNHOST_IMPORT(name) __attribute__((import_module("fnhost"), import_name(name)))

FNHOST_IMPORT("request_field")
int32_t fnhost_request_field(uint32_t field, void *buf, uint32_t cap);
FNHOST_IMPORT("header_count")
int32_t fnhost_header_count(void);
FNHOST_IMPORT("header_name")
int32_t fnhost_header_name(uint32_t index, void *buf, uint32_t cap);
FNHOST_IMPORT("header_value")
int32_t fnhost_header_value(uint32_t index, void *buf, uint32_t cap);
FNHOST_IMPORT("set_status")
void fnhost_set_status(uint32_t status);
FNHOST_IMPORT("add_header")
void fnhost_add_header(const void *name, uint32_t name_len, const void *value, uint32_t value_len);
FNHOST_IMPORT("write_body")
void fnhost_write_body(const void *data, uint32_t len);
FNHOST_IMPORT("set_error")
void fnhost_set_error(const void *message, uint32_t len);

#endif /* FNHOST_WASM_H */
