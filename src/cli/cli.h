/*
 * cli.h: the subcommands of loka-stratum.
 *
 * Each cmd_*() gets the arguments after its own name (argv[0] is the
 * subcommand) and returns the process exit code.
 */
#ifndef LOKA_CLI_H
#define LOKA_CLI_H

#include <stddef.h>

/* Exit codes, the same for every subcommand. */
#define CLI_EXIT_OK 0
#define CLI_EXIT_FAILURE 1 /* runtime failure */
#define CLI_EXIT_USAGE 2   /* bad usage or configuration */

int cmd_start(int argc, char **argv);
int cmd_config(int argc, char **argv);
int cmd_init(int argc, char **argv);
int cmd_database(int argc, char **argv);
int cmd_journal(int argc, char **argv);
int cmd_status(int argc, char **argv);     /* cmd_status.c */
int cmd_workers(int argc, char **argv);    /* cmd_status.c */
int cmd_health(int argc, char **argv);     /* cmd_status.c */
int cmd_earnings(int argc, char **argv);      /* cmd_earnings.c */
int cmd_settle(int argc, char **argv);        /* cmd_earnings.c */
int cmd_distributions(int argc, char **argv); /* cmd_earnings.c */

/* True if argv holds -h or --help (before any "--"). */
int cli_wants_help(int argc, char **argv);

struct cfg;
struct cfg_diag;
/*
 * cli_load_config(path, database): the configuration as `start` loads it
 * (path, else loka-stratum.toml if present, else defaults), with
 * --database applied and secrets registered with the logger. NULL (errors
 * printed) on failure; warnings are printed too.
 */
struct cfg *cli_load_config(const char *path, const char *database);

/*
 * The running instance's API (cli_api.c), for status and workers:
 * cli_api_address(prog, config, url, ...): host and port from --url, else
 * [metrics] bind of the configuration; -1 with a message printed.
 * cli_api_get(prog, host, port, path): the JSON of a 200 answer, or NULL
 * with a message printed (unreachable, an error status, not JSON).
 */
typedef struct json_t json_t;
int cli_api_address(const char *prog, const char *config, const char *url,
    char *host, size_t hlen, char *port, size_t plen);
json_t *cli_api_get(const char *prog, const char *host, const char *port,
    const char *path);
int cli_split_url(const char *url, char *host, size_t hlen, char *port,
    size_t plen);

/* Print each line of d to stderr with a prefix ("error: ", "warning: "). */
void cli_print_diag(const struct cfg_diag *d, const char *prefix);

#endif
