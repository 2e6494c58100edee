/*
 * ancli: the analytics subcommands, `hydrant detect` and `hydrant nab` (main.c dispatches here).
 * They print to stdout/stderr and return the process exit code (0 ok, 1 failure, 2 usage).
 */
#ifndef HY_ANCLI_H
#define HY_ANCLI_H

/* hydrant detect [--detector NAME] --input F.csv [--train F.csv] --output OUT.csv */
int ancli_detect(int argc, char **argv);
/* hydrant nab --data DIR [--detector NAME|all] */
int ancli_nab(int argc, char **argv);

#endif
