/*
 * tzone: UTC offsets of IANA time zones for CustomTimeZone (firehose-reference.md section 1.3),
 * read from the system's compiled zone files (/usr/share/zoneinfo, Debian's tzdata, TZif
 * format, RFC 8536). Written here because the C library only converts through the process-wide
 * TZ variable (localtime_r after setenv/tzset), which delivery threads of streams in different
 * zones cannot share; no Debian C library offers a per-call zone short of ICU.
 *
 * A loaded zone is immutable: any thread may call tzone_offset.
 */
#ifndef HY_TZONE_H
#define HY_TZONE_H

#include <stdint.h>

struct tzone;

/* Load zone name ("Asia/Tokyo", "UTC"): letters, '/', '_' (and '-', '+', digits as in
 * "Etc/GMT+5"), no leading '/', no "..". 0 and *out (free with tzone_free); HY_ENOTFOUND for an
 * unknown zone, HY_EINVAL for a bad name, HY_EBADMSG for a file that is not TZif, HY_ENOMEM. */
int tzone_open(const char *name, struct tzone **out);
void tzone_free(struct tzone *z);

/* Seconds east of UTC in zone z at epoch_s. Past the file's last transition the last offset
 * holds (Debian's "fat" files list transitions to 2037). */
int32_t tzone_offset(const struct tzone *z, int64_t epoch_s);

#endif
