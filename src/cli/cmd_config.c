/*
 * cmd_config.c: `config check`, `config show`, `config reference`, `init`.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "config/config.h"

static const char config_usage[] =
    "usage: loka-stratum config check [FILE]\n"
    "       loka-stratum config show [FILE]\n"
    "       loka-stratum config reference\n"
    "\n"
    "check      validate FILE (default " CFG_DEFAULT_PATH "): every error "
    "is printed\n"
    "           with file, line and key; exit 2 if there is any.\n"
    "show       print the effective configuration after ${VAR} "
    "substitution,\n"
    "           environment overrides and defaults; secrets print as "
    "\"***\".\n"
    "reference  print the reference of every setting (Markdown).\n";

static const char init_usage[] =
    "usage: loka-stratum init [--force] [FILE]\n"
    "\n"
    "Write a commented example configuration to FILE (default "
    CFG_DEFAULT_PATH ",\n"
    "\"-\" for standard output). An existing file is kept unless --force "
    "is given.\n";

int
cli_wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		if (strcmp(argv[i], "-h") == 0 ||
		    strcmp(argv[i], "--help") == 0)
			return 1;
	}
	return 0;
}

void
cli_print_diag(const struct cfg_diag *d, const char *prefix)
{
	for (size_t i = 0; i < d->n; i++)
		fprintf(stderr, "%s%s\n", prefix, d->lines[i]);
}

struct cfg *
cli_load_config(const char *path, const char *database)
{
	struct cfg_diag errs = { 0 }, warns = { 0 };
	struct cfg *c;

	if (path == NULL && access(CFG_DEFAULT_PATH, F_OK) == 0)
		path = CFG_DEFAULT_PATH;
	c = cfg_load_file(path, &errs, &warns);
	if (c != NULL && database != NULL &&
	    cfg_override(c, "--database", "database", "url", database,
	    &errs) != 0) {
		cfg_free(c);
		c = NULL;
	}
	if (c != NULL)
		cfg_register_secrets(c);
	cli_print_diag(&warns, "warning: ");
	if (c == NULL)
		cli_print_diag(&errs, "error: ");
	cfg_diag_free(&errs);
	cfg_diag_free(&warns);
	return c;
}

int
cmd_config(int argc, char **argv)
{
	struct cfg_diag errs = { 0 }, warns = { 0 };
	const char *sub, *path;
	struct cfg *c;

	if (cli_wants_help(argc, argv)) {
		fputs(config_usage, stdout);
		return CLI_EXIT_OK;
	}
	if (argc < 2) {
		fputs(config_usage, stderr);
		return CLI_EXIT_USAGE;
	}
	sub = argv[1];
	if (strcmp(sub, "reference") == 0 && argc == 2) {
		cfg_write_reference(stdout);
		return CLI_EXIT_OK;
	}
	if ((strcmp(sub, "check") != 0 && strcmp(sub, "show") != 0) ||
	    argc > 3) {
		fputs(config_usage, stderr);
		return CLI_EXIT_USAGE;
	}
	path = argc == 3 ? argv[2] : CFG_DEFAULT_PATH;
	c = cfg_load_file(path, &errs, &warns);
	cli_print_diag(&warns, "warning: ");
	if (c == NULL) {
		cli_print_diag(&errs, "error: ");
		fprintf(stderr, "%s: %zu error%s\n", path, errs.n,
		    errs.n == 1 ? "" : "s");
		cfg_diag_free(&errs);
		cfg_diag_free(&warns);
		return CLI_EXIT_USAGE;
	}
	if (c->npools == 0)
		fprintf(stderr, "warning: %s: no pool configured: add a "
		    "[[pools]] entry (or [server] pool_address)\n", path);
	if (strcmp(sub, "check") == 0)
		printf("%s: OK (%zu pool%s)\n", path, c->npools,
		    c->npools == 1 ? "" : "s");
	else
		cfg_print(c, stdout);
	cfg_free(c);
	cfg_diag_free(&errs);
	cfg_diag_free(&warns);
	return CLI_EXIT_OK;
}

int
cmd_init(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "force", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = CFG_DEFAULT_PATH;
	int force = 0, ch, fd;
	FILE *out;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "fh", opts, NULL)) != -1) {
		switch (ch) {
		case 'f':
			force = 1;
			break;
		case 'h':
			fputs(init_usage, stdout);
			return CLI_EXIT_OK;
		default:
			fputs(init_usage, stderr);
			return CLI_EXIT_USAGE;
		}
	}
	if (argc - optind > 1) {
		fputs(init_usage, stderr);
		return CLI_EXIT_USAGE;
	}
	if (argc - optind == 1)
		path = argv[optind];
	if (strcmp(path, "-") == 0) {
		cfg_write_example(stdout);
		return CLI_EXIT_OK;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | (force ? 0 : O_EXCL),
	    0640);
	if (fd < 0) {
		if (errno == EEXIST)
			fprintf(stderr, "loka-stratum: %s already exists "
			    "(use --force to overwrite)\n", path);
		else
			fprintf(stderr, "loka-stratum: cannot create %s: %s\n",
			    path, strerror(errno));
		return CLI_EXIT_FAILURE;
	}
	out = fdopen(fd, "w");
	if (out == NULL) {
		close(fd);
		return CLI_EXIT_FAILURE;
	}
	cfg_write_example(out);
	if (fclose(out) != 0) {
		fprintf(stderr, "loka-stratum: cannot write %s: %s\n", path,
		    strerror(errno));
		return CLI_EXIT_FAILURE;
	}
	fprintf(stderr, "wrote %s; check it with: loka-stratum config check "
	    "%s\n", path, path);
	return CLI_EXIT_OK;
}
