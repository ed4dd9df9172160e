/*
 * toml_decode.c: toml-decode FILE -- parse FILE with Loka's TOML parser and
 * print the toml-test "tagged JSON" form of it on stdout (exit 0), or print
 * "FILE:LINE:COL: message" on stderr and exit 1. Exit 2 on usage or I/O
 * errors. This is the decoder interface the toml-test tool drives.
 */
#include <stdio.h>
#include <stdlib.h>

#include <jansson.h>

#include "config/toml.h"
#include "toml_json.h"

int
main(int argc, char **argv)
{
	struct toml_error err;
	struct toml_value *root;
	json_t *j;
	char *text;
	size_t len;

	if (argc != 2) {
		fprintf(stderr, "usage: toml-decode FILE\n");
		return 2;
	}
	if ((text = toml_json_read_file(argv[1], &len)) == NULL) {
		perror(argv[1]);
		return 2;
	}
	root = toml_parse(text, len, &err);
	free(text);
	if (root == NULL) {
		fprintf(stderr, "%s:%d:%d: %s\n", argv[1], err.line, err.col,
		    err.msg);
		return 1;
	}
	j = toml_json_from_toml(root, NULL);
	toml_free(root);
	json_dumpf(j, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
	fputc('\n', stdout);
	json_decref(j);
	return 0;
}
