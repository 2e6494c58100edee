/* Unit tests for src/net/statsd.c: Prometheus text from a source becomes statsd lines, counters
 * as increases (sent only when they moved), the rest as gauges; and a real UDP push arrives. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "base/buf.h"
#include "net/statsd.h"

static int counter_value;

static int source(void *ud, struct buf *out)
{
    return buf_printf(out,
                      "# TYPE x counter\n"
                      "hydrant_auth_validations_total{result=\"denied\",reason=\"bad alg\"} %d\n"
                      "hydrant_auth_key_fetch_seconds_max{cache=\"alb\"} 0.25\n"
                      "other_total 7\n",
                      counter_value);
}

static void test_statsd_counters_go_as_increases_and_gauges_as_values(void **state)
{
    struct statsd *s = statsd_new("127.0.0.1:9", "h.", 1000);
    assert_non_null(s);
    assert_int_equal(statsd_add_source(s, source, NULL), 0);
    struct buf b;
    buf_init(&b, 1 << 16);
    counter_value = 3;
    assert_int_equal(statsd_render(s, &b), 0);
    assert_int_equal(buf_append(&b, "", 1), 0);
    assert_string_equal(b.data, "h.auth_validations_total.denied.bad_alg:3|c\n"
                                "h.auth_key_fetch_seconds_max.alb:0.25|g\n"
                                "h.other_total:7|c\n");
    buf_reset(&b);
    counter_value = 5;
    assert_int_equal(statsd_render(s, &b), 0);
    assert_int_equal(buf_append(&b, "", 1), 0);
    assert_string_equal(b.data, "h.auth_validations_total.denied.bad_alg:2|c\n"
                                "h.auth_key_fetch_seconds_max.alb:0.25|g\n");
    buf_fini(&b);
    statsd_free(s);
    assert_null(statsd_new("nohostport", NULL, 0));
    assert_null(statsd_new("127.0.0.1:", NULL, 0));
}

static void test_statsd_pushes_over_udp(void **state)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &al), 0);
    struct timeval tv = {10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", ntohs(a.sin_port));
    struct statsd *s = statsd_new(addr, NULL, 20);
    assert_non_null(s);
    counter_value = 1;
    assert_int_equal(statsd_add_source(s, source, NULL), 0);
    assert_int_equal(statsd_start(s), 0);
    char got[2048];
    ssize_t n = recv(fd, got, sizeof got - 1, 0);
    assert_true(n > 0);
    got[n] = '\0';
    assert_non_null(strstr(got, "hydrant.auth_validations_total.denied.bad_alg:1|c\n"));
    statsd_free(s);
    close(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_statsd_counters_go_as_increases_and_gauges_as_values),
        cmocka_unit_test(test_statsd_pushes_over_udp),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
