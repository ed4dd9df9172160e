/*
 * config_print.c: the configuration written back out, from the schema:
 * `config show` (effective values, secrets masked), `init` (a commented
 * example) and the Markdown reference in docs/configuration.md.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "config/config_internal.h"
#include "util/xmalloc.h"

int
cfg_url_password(const char *url, size_t *off, size_t *len)
{
	const char *scheme = strstr(url, "://");
	const char *auth, *end, *at, *colon, *q;

	if (scheme == NULL)
		return -1;
	auth = scheme + 3;
	end = auth + strcspn(auth, "/?#");
	/* The last '@' before the path ends the userinfo ("p@ss" is legal
	 * when percent-encoded, but be generous with hand-written URLs). */
	at = NULL;
	for (const char *p = auth; p < end; p++)
		if (*p == '@')
			at = p;
	if (at != NULL) {
		colon = memchr(auth, ':', (size_t)(at - auth));
		if (colon != NULL && at > colon + 1) {
			*off = (size_t)(colon + 1 - url);
			*len = (size_t)(at - colon - 1);
			return 0;
		}
	}
	q = strchr(url, '?');
	while (q != NULL) {
		q++;
		if (strncmp(q, "password=", 9) == 0) {
			size_t n = strcspn(q + 9, "&#");

			if (n == 0)
				return -1;
			*off = (size_t)(q + 9 - url);
			*len = n;
			return 0;
		}
		q = strchr(q, '&');
	}
	return -1;
}

char *
cfg_mask_url(const char *url)
{
	size_t off, len;

	if (url == NULL)
		return xstrdup("");
	if (cfg_url_password(url, &off, &len) != 0)
		return xstrdup(url);
	return xasprintf("%.*s***%s", (int)off, url, url + off + len);
}

static void
print_string(FILE *out, const char *s)
{
	fputc('"', out);
	for (; s != NULL && *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(out, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			fprintf(out, "\\u%04x", c);
		else
			fputc(c, out);
	}
	fputc('"', out);
}

static void
print_double(FILE *out, double d)
{
	char buf[64];

	/* Shortest text that reads back as the same number. */
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(buf, sizeof(buf), "%.*g", prec, d);
		if (strtod(buf, NULL) == d)
			break;
	}
	if (strpbrk(buf, ".eninf") == NULL)
		fprintf(out, "%s.0", buf);
	else
		fputs(buf, out);
}

static void
print_value(FILE *out, const struct cfg_key *k, const void *base, bool mask)
{
	const void *f = (const char *)base + k->offset;
	char buf[64];

	switch (k->type) {
	case CFG_T_STRING:
	case CFG_T_ADDR:
	case CFG_T_POOLURL:
	case CFG_T_DBURL: {
		const char *s = *(char *const *)f;

		if (mask && (k->flags & CFG_F_SECRET) && s != NULL &&
		    s[0] != '\0') {
			print_string(out, "***");
		} else if (mask && (k->flags & CFG_F_MASKURL)) {
			char *m = cfg_mask_url(s);

			print_string(out, m);
			free(m);
		} else {
			print_string(out, s);
		}
		break;
	}
	case CFG_T_INT:
		fprintf(out, "%lld", (long long)*(const int64_t *)f);
		break;
	case CFG_T_DOUBLE:
		print_double(out, *(const double *)f);
		break;
	case CFG_T_BOOL:
		fputs(*(const bool *)f ? "true" : "false", out);
		break;
	case CFG_T_DURATION:
		cfg_format_duration(*(const int64_t *)f, buf, sizeof(buf));
		print_string(out, buf);
		break;
	case CFG_T_ENUM:
		print_string(out, k->choices[*(const int *)f]);
		break;
	case CFG_T_ADDRLIST:
	case CFG_T_CIDRLIST: {
		const struct cfg_list *l = f;

		fputc('[', out);
		for (size_t i = 0; i < l->n; i++) {
			if (i > 0)
				fputs(", ", out);
			print_string(out, l->v[i]);
		}
		fputc(']', out);
		break;
	}
	case CFG_T_MAX:
		break;
	}
}

static void
print_section(FILE *out, const struct cfg_section *s, const void *base)
{
	for (size_t i = 0; i < s->nkeys; i++) {
		const struct cfg_key *k = &s->keys[i];

		fprintf(out, "%s = ", k->name);
		print_value(out, k, base, true);
		fputc('\n', out);
	}
}

void
cfg_print(const struct cfg *c, FILE *out)
{
	fprintf(out, "# Effective configuration from %s (secrets shown as "
	    "\"***\").\n", c->path);
	for (size_t i = 0; i < cfg_nsections; i++) {
		const struct cfg_section *s = &cfg_sections[i];

		if (s->is_array) {
			for (size_t j = 0; j < c->npools; j++) {
				fprintf(out, "\n[[%s]]\n", s->name);
				print_section(out, s, &c->pools[j]);
			}
			continue;
		}
		fprintf(out, "\n[%s]\n", s->name);
		if (strcmp(s->name, "server") == 0 &&
		    c->server.pool_address[0] != '\0') {
			/* Shown as the [[pools]] entry it became. */
			for (size_t j = 0; j < s->nkeys; j++) {
				const struct cfg_key *k = &s->keys[j];

				if (strcmp(k->name, "pool_address") == 0) {
					fprintf(out, "# pool_address = ");
					print_value(out, k, c, true);
					fprintf(out, " (shown as the [[pools]] "
					    "entry \"default\")\n");
					continue;
				}
				fprintf(out, "%s = ", k->name);
				print_value(out, k, c, true);
				fputc('\n', out);
			}
			continue;
		}
		print_section(out, s, c);
	}
}

/* Help text as "# " comment lines wrapped at ~76 columns. */
static void
print_comment(FILE *out, const char *text)
{
	const char *p = text;

	while (*p != '\0') {
		size_t n = strlen(p), cut = n;

		if (n > 74) {
			cut = 74;
			while (cut > 0 && p[cut] != ' ')
				cut--;
			if (cut == 0)
				cut = 74;
		}
		fprintf(out, "# %.*s\n", (int)cut, p);
		p += cut;
		while (*p == ' ')
			p++;
	}
}

static void
print_default(FILE *out, const struct cfg_key *k)
{
	switch (k->type) {
	case CFG_T_INT:
	case CFG_T_DOUBLE:
	case CFG_T_BOOL:
		fputs(k->def, out);
		break;
	case CFG_T_ADDRLIST:
	case CFG_T_CIDRLIST:
		if (k->def[0] == '\0')
			fputs("[]", out);
		else
			fprintf(out, "[\"%s\"]", k->def);
		break;
	default:
		print_string(out, k->def);
		break;
	}
}

void
cfg_write_example(FILE *out)
{
	fputs("# loka-stratum.toml: configuration of the Loka mining proxy.\n"
	    "#\n"
	    "# Every setting below shows its default; uncomment to change it.\n"
	    "# Strings may use ${VAR} or ${VAR:-default}; any setting can be\n"
	    "# overridden by the environment as LOKA_<SECTION>_<KEY>, and any\n"
	    "# string setting read from a file with <key>_file = \"path\".\n"
	    "# Check a file with: loka-stratum config check FILE\n", out);
	for (size_t i = 0; i < cfg_nsections; i++) {
		const struct cfg_section *s = &cfg_sections[i];

		fputc('\n', out);
		print_comment(out, s->help);
		if (s->is_array) {
			fputs("# A pool needs at least a name and a url:\n"
			    "#\n"
			    "# [[pools]]\n"
			    "# name = \"main\"\n"
			    "# url = \"stratum+tcp://pool.example.com:3333\"\n"
			    "# username = \"your-pool-account\"\n"
			    "# password_file = \"/run/secrets/pool-password\"\n"
			    "# priority = 0\n"
			    "#\n"
			    "# Repeat [[pools]] for backups (a higher priority "
			    "number is tried later).\n", out);
			continue;
		}
		fprintf(out, "[%s]\n", s->name);
		for (size_t j = 0; j < s->nkeys; j++) {
			const struct cfg_key *k = &s->keys[j];

			print_comment(out, k->help);
			fprintf(out, "# %s = ", k->name);
			print_default(out, k);
			fputc('\n', out);
		}
	}
}

static const char *
type_name(const struct cfg_key *k)
{
	static const char *const names[CFG_T_MAX] = {
		"string", "integer", "number", "boolean", "duration", "choice",
		"address", "address(es)", "CIDR list", "database URL",
		"pool URL",
	};

	return names[k->type];
}

void
cfg_write_reference(FILE *out)
{
	fputs("# Configuration reference\n\n"
	    "<!-- Generated by `loka-stratum config reference`; a test keeps "
	    "it in sync. -->\n\n"
	    "Loka reads one TOML file, `loka-stratum.toml` by default "
	    "(`loka-stratum start -c FILE` for another). "
	    "`loka-stratum init` writes a commented example and "
	    "`loka-stratum config check FILE` validates one; "
	    "`loka-stratum config show FILE` prints the effective values, "
	    "secrets as `***`.\n\n"
	    "## Where values come from\n\n"
	    "Highest first:\n\n"
	    "1. command-line flags of `start` (`--bind`, `--pool`, "
	    "`--database`, `-v`);\n"
	    "2. the environment: `LOKA_<SECTION>_<KEY>` "
	    "(`LOKA_SERVER_MAX_CONNECTIONS=5000`), or "
	    "`LOKA_<SECTION>_<KEY>_FILE` naming a file that holds the value "
	    "(not for `[[pools]]`);\n"
	    "3. the file: `key = value`, or for string settings "
	    "`key_file = \"/run/secrets/x\"` (the file's content, trailing "
	    "newlines removed);\n"
	    "4. the default.\n\n"
	    "Inside string values `${VAR}` is replaced by the environment "
	    "variable VAR (an error if it is unset or empty) and "
	    "`${VAR:-default}` by VAR or, if VAR is unset or empty, "
	    "`default`; `$${` is a literal `${`. A numeric, boolean or "
	    "duration setting may be written as a string, which is "
	    "converted after substitution: `max_connections = "
	    "\"${LOKA_MAX_CONNECTIONS:-1000}\"`.\n\n"
	    "Durations are seconds (`30`, `1.5`) or strings with a unit: "
	    "`\"100ms\"`, `\"30s\"`, `\"5m\"`, `\"1h\"`, `\"1d\"`. "
	    "Booleans from text accept true/false, yes/no, on/off, 1/0. "
	    "Lists from text (environment, flags) are comma-separated.\n\n"
	    "Unknown sections and keys are errors, with a hint at the "
	    "nearest known name. Every error names the file, the line and "
	    "the key, e.g. `loka-stratum.toml:12: [server] max_connections: "
	    "must be between 1 and 1000000, got 0`. Secrets (pool "
	    "passwords, a password in the database URL) are never printed "
	    "or logged.\n", out);
	for (size_t i = 0; i < cfg_nsections; i++) {
		const struct cfg_section *s = &cfg_sections[i];

		fprintf(out, "\n## %s\n\n%s\n\n", s->is_array ? "[[pools]]" :
		    s->name, s->help);
		fputs("| key | type | default | range | description |\n"
		    "|---|---|---|---|---|\n", out);
		for (size_t j = 0; j < s->nkeys; j++) {
			const struct cfg_key *k = &s->keys[j];
			char range[96] = "";
			char lo[32], hi[32];

			if (k->type == CFG_T_INT) {
				snprintf(range, sizeof(range), "%lld – %lld",
				    (long long)k->imin, (long long)k->imax);
			} else if (k->type == CFG_T_DOUBLE) {
				snprintf(range, sizeof(range), "%g – %g",
				    k->dmin, k->dmax);
			} else if (k->type == CFG_T_DURATION) {
				cfg_format_duration(k->imin, lo, sizeof(lo));
				cfg_format_duration(k->imax, hi, sizeof(hi));
				snprintf(range, sizeof(range), "%s – %s", lo,
				    hi);
			} else if (k->type == CFG_T_ENUM) {
				size_t off = 0;

				for (int c = 0; k->choices[c] != NULL; c++)
					off += (size_t)snprintf(range + off,
					    sizeof(range) - off, "%s`%s`",
					    c ? ", " : "", k->choices[c]);
			}
			fprintf(out, "| `%s`%s | %s | %s%s%s | %s | %s%s |\n",
			    k->name,
			    (k->flags & CFG_F_REQUIRED) ? " (required)" : "",
			    type_name(k), k->def && k->def[0] ? "`" : "",
			    k->def == NULL ? "—" :
			    k->def[0] ? k->def : "(empty)",
			    k->def && k->def[0] ? "`" : "", range, k->help,
			    (k->flags & CFG_F_SECRET) ? " *Secret.*" : "");
		}
	}
}
