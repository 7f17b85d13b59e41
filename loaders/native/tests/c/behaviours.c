/* Test functions for the native loader, one handler per behaviour. */
#include <string.h>
#include "fnhost_native.h"

uint32_t fnhost_abi_version(void) { return FNHOST_ABI_VERSION; }

static int initialised = 0;
int32_t fnhost_init(void) { initialised = 1; return 0; }

static void write_str(fnhost_response *r, const fnhost_host *h, const char *s) {
    h->write_body(r, (const uint8_t *)s, strlen(s));
}

int32_t hello(const fnhost_request *req, fnhost_response *r, const fnhost_host *h) {
    (void)req;
    write_str(r, h, initialised ? "hello world" : "not initialised");
    return 0;
}

/* Echoes the body, and reports method, path, query, event id and context. */
int32_t echo(const fnhost_request *req, fnhost_response *r, const fnhost_host *h) {
    h->add_header(r, (const uint8_t *)"x-method", 8, req->method.ptr, req->method.len);
    h->add_header(r, (const uint8_t *)"x-path", 6, req->path.ptr, req->path.len);
    h->add_header(r, (const uint8_t *)"x-query", 7, req->query.ptr, req->query.len);
    h->add_header(r, (const uint8_t *)"x-event-id", 10, req->event_id.ptr, req->event_id.len);
    h->add_header(r, (const uint8_t *)"x-function", 10, req->function_name.ptr, req->function_name.len);
    for (size_t i = 0; i < req->headers_len; i++) {
        if (req->headers[i].name.len == 12 && memcmp(req->headers[i].name.ptr, "content-type", 12) == 0)
            h->add_header(r, (const uint8_t *)"content-type", 12, req->headers[i].value.ptr, req->headers[i].value.len);
    }
    h->write_body(r, req->body.ptr, req->body.len);
    return 0;
}

int32_t created(const fnhost_request *req, fnhost_response *r, const fnhost_host *h) {
    (void)req;
    h->set_status(r, 201);
    h->add_header(r, (const uint8_t *)"set-cookie", 10, (const uint8_t *)"a=1", 3);
    h->add_header(r, (const uint8_t *)"set-cookie", 10, (const uint8_t *)"b=2", 3);
    write_str(r, h, "created");
    return 0;
}

int32_t fail(const fnhost_request *req, fnhost_response *r, const fnhost_host *h) {
    (void)req;
    const char *msg = "native boom";
    h->set_error(r, (const uint8_t *)msg, strlen(msg));
    return 7;
}

int32_t bad_status(const fnhost_request *req, fnhost_response *r, const fnhost_host *h) {
    (void)req;
    h->set_status(r, 42);
    return 0;
}

int32_t spin(const fnhost_request *req, fnhost_response *r, const fnhost_host *h) {
    (void)req; (void)r; (void)h;
    volatile unsigned long n = 0;
    for (;;) n++;
    return 0;
}
