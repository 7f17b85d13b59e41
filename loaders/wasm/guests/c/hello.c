/* The fnhost Wasm ABI from C: `handle` greets the caller, echoing the method, the query, one
 * header and the body; `fail` reports a failure. Build: see fnhost_wasm.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fnhost_wasm.h"

__attribute__((export_name("fnhost_abi_version")))
int32_t fnhost_abi_version(void) { return FNHOST_WASM_ABI_VERSION; }

/* A request field as a NUL-terminated string the caller frees. */
static char *field(enum fnhost_field which) {
    int32_t len = fnhost_request_field(which, NULL, 0);
    char *text = malloc(len > 0 ? (size_t)len + 1 : 1);
    if (len > 0) fnhost_request_field(which, text, (uint32_t)len);
    text[len > 0 ? len : 0] = '\0';
    return text;
}

/* The first value of header `name` (lower case), or "" (caller frees). */
static char *header(const char *name) {
    char key[64];
    for (int32_t i = 0; i < fnhost_header_count(); i++) {
        int32_t n = fnhost_header_name((uint32_t)i, key, sizeof key - 1);
        if (n < 0 || n >= (int32_t)sizeof key) continue;
        key[n] = '\0';
        if (strcmp(key, name) != 0) continue;
        int32_t len = fnhost_header_value((uint32_t)i, NULL, 0);
        char *value = malloc((size_t)len + 1);
        fnhost_header_value((uint32_t)i, value, (uint32_t)len);
        value[len] = '\0';
        return value;
    }
    return calloc(1, 1);
}

__attribute__((export_name("handle")))
int32_t handle(void) {
    char *method = field(FNHOST_METHOD), *query = field(FNHOST_QUERY), *body = field(FNHOST_BODY);
    char *greeting = header("x-greeting");
    char out[512];
    int n = snprintf(out, sizeof out, "%s from C: method=%s query=%s body=%s", greeting, method,
                     query, body);
    printf("handled %s\n", method);
    fnhost_set_status(202);
    fnhost_add_header("content-type", 12, "text/plain", 10);
    fnhost_write_body(out, (uint32_t)(n < (int)sizeof out ? n : (int)sizeof out - 1));
    free(method); free(query); free(body); free(greeting);
    return 0;
}

__attribute__((export_name("fail")))
int32_t fail(void) {
    const char *message = "C handler failed on purpose";
    fnhost_set_error(message, (uint32_t)strlen(message));
    return 7;
}
