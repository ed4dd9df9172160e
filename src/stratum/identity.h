/*
 * identity.h: the miner's login rewritten onto the operator's pool account.
 *
 * A miner authorizes as "user<sep1>worker" (split at the first sep1; no
 * worker means "default"). The pool sees "<pool username>.<user><sep2>
 * <worker>" in mining.authorize and in every mining.submit. Case is kept
 * (Base58 addresses are case-sensitive); characters outside [A-Za-z0-9_-]
 * are dropped from the worker part. Pure functions, any thread.
 */
#ifndef LOKA_STRATUM_IDENTITY_H
#define LOKA_STRATUM_IDENTITY_H

#include <stddef.h>

/* Longest user and worker parts kept; longer logins are refused. */
#define IDENTITY_USER_MAX 128
#define IDENTITY_WORKER_MAX 64
/* Longest pool-side name: account + '.' + user + sep2 + worker. */
#define IDENTITY_NAME_MAX 512

struct identity {
	char user[IDENTITY_USER_MAX + 1];
	char worker[IDENTITY_WORKER_MAX + 1];
	char pool_name[IDENTITY_NAME_MAX + 1];
};

/*
 * identity_rewrite(login, sep1, sep2, pool_user, id): split login and build
 * the pool-side name. An empty pool_user forwards the login unchanged (no
 * pool account: miners mine on their own). Returns 0, or -1 when the login
 * is empty, too long, or holds control characters or spaces in the user.
 */
int identity_rewrite(const char *login, const char *sep1, const char *sep2,
    const char *pool_user, struct identity *id);

#endif
