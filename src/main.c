/*
 * main.c: loka-stratum's entry point; dispatches to the subcommands in
 * src/cli/.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static const char usage[] =
    "usage: loka-stratum <command> [options]\n"
    "\n"
    "Loka is a Bitcoin Stratum V1 mining proxy.\n"
    "\n"
    "commands:\n"
    "  start [-c FILE]      run the proxy\n"
    "  config check [FILE]  validate a configuration file\n"
    "  config show [FILE]   print the effective configuration (secrets "
    "masked)\n"
    "  config reference     print the configuration reference (Markdown)\n"
    "  init [FILE]          write a commented example configuration\n"
    "  database migrate|status|reset|backup|restore\n"
    "                       the accounting database: schema, backups\n"
    "  journal status|adopt|set-aside\n"
    "                       the share-event journal and its database\n"
    "  earnings add --pool NAME --date D --reward SATS\n"
    "                       record a pool's reward for its day D\n"
    "  settle --pool NAME --date D\n"
    "                       share day D's reward among the workers\n"
    "  distributions --pool NAME --date D [--json]\n"
    "                       print day D's shares\n"
    "  status               a running instance at a glance (its API)\n"
    "  workers [--offline]  its workers by state: what stopped, since when\n"
    "  health [--ready]     exit 0 if it is alive (ready): a HEALTHCHECK\n"
    "  version              print the version\n"
    "\n"
    "`loka-stratum <command> --help` tells more about a command.\n"
    "Exit status: 0 ok, 1 runtime failure, 2 usage or configuration error.\n";

int
main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : NULL;

	if (cmd == NULL) {
		fputs(usage, stderr);
		return CLI_EXIT_USAGE;
	}
	if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 ||
	    strcmp(cmd, "help") == 0) {
		fputs(usage, stdout);
		return CLI_EXIT_OK;
	}
	if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
		if (cli_wants_help(argc - 1, argv + 1)) {
			puts("usage: loka-stratum version\n\n"
			    "Print the version of loka-stratum.");
			return CLI_EXIT_OK;
		}
		printf("loka-stratum %s\n", LOKA_VERSION);
		return CLI_EXIT_OK;
	}
	if (strcmp(cmd, "start") == 0)
		return cmd_start(argc - 1, argv + 1);
	if (strcmp(cmd, "config") == 0)
		return cmd_config(argc - 1, argv + 1);
	if (strcmp(cmd, "init") == 0)
		return cmd_init(argc - 1, argv + 1);
	if (strcmp(cmd, "database") == 0)
		return cmd_database(argc - 1, argv + 1);
	if (strcmp(cmd, "status") == 0)
		return cmd_status(argc - 1, argv + 1);
	if (strcmp(cmd, "workers") == 0)
		return cmd_workers(argc - 1, argv + 1);
	if (strcmp(cmd, "health") == 0)
		return cmd_health(argc - 1, argv + 1);
	if (strcmp(cmd, "journal") == 0)
		return cmd_journal(argc - 1, argv + 1);
	if (strcmp(cmd, "earnings") == 0)
		return cmd_earnings(argc - 1, argv + 1);
	if (strcmp(cmd, "settle") == 0)
		return cmd_settle(argc - 1, argv + 1);
	if (strcmp(cmd, "distributions") == 0)
		return cmd_distributions(argc - 1, argv + 1);
	fprintf(stderr, "loka-stratum: unknown command \"%s\"\n\n%s", cmd,
	    usage);
	return CLI_EXIT_USAGE;
}
