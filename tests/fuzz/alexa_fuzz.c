/* libFuzzer target: the Alexa skill's untrusted inputs. The bytes are tried as a certificate
 * URL (the normaliser stays inside its buffers; anything accepted is https, the Amazon host and
 * under /echo.api/), as a timestamp, and as a request envelope answered without a service (the
 * answer is valid JSON with a version). */
#include "api/alexa/alexa_int.h"

#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static struct alexa *ax;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!ax) {
        struct alexa_config cfg = {.skill_id = "amzn1.ask.skill.fuzz"};
        ax = alexa_new(&cfg);
        if (!ax)
            abort();
    }
    char norm[512];
    if (alexa_verify_cert_url((const char *)data, size, NULL, norm, sizeof norm) == 0 &&
        strncmp(norm, "https://s3.amazonaws.com/echo.api/", 34) != 0)
        abort();
    char *s = malloc(size + 1);
    memcpy(s, data, size);
    s[size] = '\0';
    (void)alexa_verify_timestamp(s, 1714564800000, 150);
    free(s);
    cJSON *root = cJSON_ParseWithLength((const char *)data, size);
    if (root) {
        char *out = NULL;
        size_t n = 0;
        if (alexa_answer(ax, root, &out, &n) == 0) {
            cJSON *back = cJSON_Parse(out);
            if (!back || !cJSON_GetObjectItem(back, "version"))
                abort();
            cJSON_Delete(back);
            cJSON_free(out);
        }
        cJSON_Delete(root);
    }
    return 0;
}
