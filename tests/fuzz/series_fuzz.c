/* libFuzzer target: the NAB CSV parser never reads out of bounds, and every detector scores
 * whatever it accepts (extreme and subnormal values included) within [0, 1], deterministically. */
#include "analytics/detector.h"
#include "analytics/series.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct series s;
    const char *why = NULL;
    size_t line = 0;
    if (series_parse((const char *)data, size, &s, &why, &line) != 0)
        return 0;
    double *a = malloc((s.n + 1) * sizeof *a), *b = malloc((s.n + 1) * sizeof *b);
    for (size_t d = 0; d < detector_count; d++) {
        if (detector_run(detector_list[d], s.value, s.n, a) != 0 ||
            detector_run(detector_list[d], s.value, s.n, b) != 0)
            continue; /* allocation failure */
        for (size_t i = 0; i < s.n; i++)
            if (!(a[i] >= 0.0 && a[i] <= 1.0) || memcmp(&a[i], &b[i], sizeof a[i]) != 0)
                abort();
    }
    free(a);
    free(b);
    series_fini(&s);
    return 0;
}
