/*
 * identity.c: miner login -> pool-side worker name (see identity.h).
 */
#include "stratum/identity.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

static int
worker_char(unsigned char c)
{
	return isalnum(c) || c == '_' || c == '-';
}

int
identity_rewrite(const char *login, const char *sep1, const char *sep2,
    const char *pool_user, struct identity *id)
{
	const char *cut = sep1[0] != '\0' ? strstr(login, sep1) : NULL;
	size_t ulen = cut != NULL ? (size_t)(cut - login) : strlen(login);
	const char *w = cut != NULL ? cut + strlen(sep1) : "";
	size_t n = 0;
	int len;

	if (ulen == 0 || ulen > IDENTITY_USER_MAX ||
	    strlen(login) > IDENTITY_NAME_MAX)
		return -1;
	for (size_t i = 0; i < ulen; i++)
		if (iscntrl((unsigned char)login[i]) ||
		    isspace((unsigned char)login[i]))
			return -1;
	memcpy(id->user, login, ulen);
	id->user[ulen] = '\0';
	for (; *w != '\0' && n < IDENTITY_WORKER_MAX; w++)
		if (worker_char((unsigned char)*w))
			id->worker[n++] = *w;
	id->worker[n] = '\0';
	if (n == 0)
		memcpy(id->worker, "default", sizeof("default"));
	if (pool_user[0] == '\0')
		len = snprintf(id->pool_name, sizeof(id->pool_name), "%s",
		    login);
	else
		len = snprintf(id->pool_name, sizeof(id->pool_name),
		    "%s.%s%s%s", pool_user, id->user, sep2, id->worker);
	if (len < 0 || (size_t)len >= sizeof(id->pool_name))
		return -1;
	return 0;
}
