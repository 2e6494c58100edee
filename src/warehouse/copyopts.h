/*
 * copyopts: the pure parsing half of the warehouse destination: Firehose's ClusterJDBCURL
 * (jdbc:redshift://host:port/db, jdbc:postgresql://host[:port]/db[?params]) and the Redshift COPY
 * options PostgreSQL can honour (CSV, DELIMITER, NULL AS, IGNOREHEADER, QUOTE, JSON 'auto',
 * GZIP). Hand-written: the grammar is Redshift's, no Debian library parses it.
 */
#ifndef HY_COPYOPTS_H
#define HY_COPYOPTS_H

#include <stddef.h>

#define COPYOPTS_NULL_MAX 64
#define JDBC_HOST_MAX 256
#define JDBC_DB_MAX 128

struct jdbc_url {
    char host[JDBC_HOST_MAX];
    int port;
    char db[JDBC_DB_MAX];
};

struct copyopts {
    int csv;      /* CSV */
    int json;     /* JSON 'auto': objects mapped to DataTableColumns by key */
    int gzip;     /* GZIP: staged objects are gzip-compressed */
    char delim;   /* DELIMITER; 0 = default (',' with CSV, '|' otherwise, Redshift's) */
    char quote;   /* QUOTE (CSV only); 0 = '"' */
    int has_null; /* NULL AS given */
    char null_as[COPYOPTS_NULL_MAX];
    long ignore_header; /* IGNOREHEADER: lines skipped at the start of each staged object */
};

/* Parse a ClusterJDBCURL. 0, or -1 with *reason a static message. */
int copyopts_jdbc(const char *url, struct jdbc_url *out, const char **reason);
/* Parse CopyOptions (NULL or "" = none). 0, or -1 with reason (size n) naming the problem,
 * e.g. the unsupported option. */
int copyopts_parse(const char *s, struct copyopts *o, char *reason, size_t n);

#endif
