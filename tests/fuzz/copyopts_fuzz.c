/* libFuzzer target: the CopyOptions and ClusterJDBCURL parsers never read out of bounds, always
 * leave a NUL-terminated reason on refusal, and what they accept is self-consistent. */
#include "warehouse/copyopts.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    memcpy(s, data, size);
    s[size] = 0;
    struct copyopts o;
    char why[160];
    why[0] = 'x';
    if (copyopts_parse(s, &o, why, sizeof why) == 0) {
        if ((o.csv && o.json) || (o.quote && !o.csv) || o.ignore_header < 0 ||
            memchr(o.null_as, 0, sizeof o.null_as) == NULL)
            abort();
    } else if (memchr(why, 0, sizeof why) == NULL || why[0] == 0) {
        abort();
    }
    struct jdbc_url u;
    const char *reason = NULL;
    if (copyopts_jdbc(s, &u, &reason) == 0) {
        if (u.port < 1 || u.port > 65535 || !u.host[0] || !u.db[0] ||
            memchr(u.host, 0, sizeof u.host) == NULL)
            abort();
    } else if (!reason) {
        abort();
    }
    free(s);
    return 0;
}
