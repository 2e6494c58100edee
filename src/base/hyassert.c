#include "base/hyassert.h"

#include <stdio.h>
#include <stdlib.h>

void hy_assert_fail(const char *expr, const char *file, int line)
{
    /* The process is about to die: stderr directly, not through the logger, which may be the
     * thing that failed. */
    fprintf(stderr,
            "{\"level\":\"fatal\",\"msg\":\"assertion failed\",\"expr\":\"%s\","
            "\"at\":\"%s:%d\"}\n",
            expr, file, line);
    abort();
}
