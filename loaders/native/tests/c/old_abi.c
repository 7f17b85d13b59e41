#include "fnhost_native.h"
uint32_t fnhost_abi_version(void) { return 99; }
int32_t hello(const fnhost_request *req, fnhost_response *r, const fnhost_host *h) { (void)req; (void)r; (void)h; return 0; }
