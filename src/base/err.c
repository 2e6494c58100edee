#include "base/err.h"

#include <string.h>

const char *hy_errname(int code)
{
    if (code == 0)
        return "OK";
    switch (code) {
#define HY_ERR_NAME(name, off, msg)                                                                \
    case name:                                                                                     \
        return #name;
        HY_ERRORS(HY_ERR_NAME)
#undef HY_ERR_NAME
    default:
        break;
    }
    if (code < 0 && code > -HY_ERR_BASE) {
        const char *n = strerrorname_np(-code);
        return n ? n : "EUNKNOWN";
    }
    return "EUNKNOWN";
}

const char *hy_strerror(int code)
{
    if (code == 0)
        return "success";
    switch (code) {
#define HY_ERR_MSG(name, off, msg)                                                                 \
    case name:                                                                                     \
        return msg;
        HY_ERRORS(HY_ERR_MSG)
#undef HY_ERR_MSG
    default:
        break;
    }
    if (code < 0 && code > -HY_ERR_BASE) {
        const char *d = strerrordesc_np(-code);
        return d ? d : "unknown error";
    }
    return "unknown error";
}
