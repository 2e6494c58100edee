/*
 * log: the one logger. Writes JSON lines to stderr: {"ts":"...","level":"info","mod":"wal",
 * "msg":"...", extra fields}. Extra fields come from a printf-style "key=value key=value" string;
 * each pair becomes a JSON string field (values may not contain spaces; use %s of safe text).
 * The macros check the level before formatting anything. Thread-safe (one write(2) per line).
 */
#ifndef HY_LOG_H
#define HY_LOG_H

enum log_level { LOG_LEVEL_ERROR = 0, LOG_LEVEL_WARN, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG };

extern int log_level_current;

/* Parse "error|warn|info|debug"; returns 0 and sets *out, or HY_EINVAL. */
int log_level_parse(const char *s, int *out);
void log_set_level(int level);
void log_write(int level, const char *mod, const char *msg, const char *kv_fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define LOG_AT(lvl, mod, msg, ...)                                                                 \
    do {                                                                                           \
        if ((lvl) <= log_level_current)                                                            \
            log_write((lvl), (mod), (msg), __VA_ARGS__);                                           \
    } while (0)
/* Usage: LOG_WARN("wal", "torn tail cut", "stream=%s offset=%lld", name, off);
 *        LOG_INFO("main", "ready", "%s", ""); */
#define LOG_ERROR(mod, msg, ...) LOG_AT(LOG_LEVEL_ERROR, mod, msg, __VA_ARGS__)
#define LOG_WARN(mod, msg, ...) LOG_AT(LOG_LEVEL_WARN, mod, msg, __VA_ARGS__)
#define LOG_INFO(mod, msg, ...) LOG_AT(LOG_LEVEL_INFO, mod, msg, __VA_ARGS__)
#define LOG_DEBUG(mod, msg, ...) LOG_AT(LOG_LEVEL_DEBUG, mod, msg, __VA_ARGS__)

#endif
