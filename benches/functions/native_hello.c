/* The native hello world of the load benchmark (built by benches/run.sh). */
#include <string.h>
#include "fnhost_native.h"

uint32_t fnhost_abi_version(void) { return FNHOST_ABI_VERSION; }

int32_t foo(const fnhost_request *req, fnhost_response *r, const fnhost_host *h) {
    (void)req;
    static const char type[] = "text/html; charset=UTF-8";
    h->add_header(r, (const uint8_t *)"content-type", 12, (const uint8_t *)type, sizeof type - 1);
    h->write_body(r, (const uint8_t *)"hello world", 11);
    return 0;
}
