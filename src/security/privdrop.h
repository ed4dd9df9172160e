/*
 * privdrop.h: giving up root once the listeners are bound.
 *
 * Loka may be started as root to bind a port below 1024. [server] user and
 * group name the account it then runs as: privdrop_prepare() resolves them
 * early (a missing user stops the start with a clear error before anything
 * is bound), privdrop_apply() switches after the binds and before any file
 * is opened for writing (database, journal), so those are created by, and
 * must be writable by, that account. Main thread only, before other
 * threads start.
 */
#ifndef LOKA_SECURITY_PRIVDROP_H
#define LOKA_SECURITY_PRIVDROP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct privdrop {
	bool wanted;       /* a user was configured */
	char user[64];
	char group[64];    /* the group's name, for the log */
	uid_t uid;
	gid_t gid;
};

/*
 * privdrop_prepare(user, group, pd, err, errlen): resolve user and group
 * (names from /etc/passwd, /etc/group or NSS) into pd. user "" means no
 * switch (pd->wanted false); group "" means the user's primary group; a
 * group without a user is an error. Returns 0, or -1 with a message in err
 * ("[server] user \"loka\": no such user").
 */
int privdrop_prepare(const char *user, const char *group,
    struct privdrop *pd, char *err, size_t errlen);

/*
 * privdrop_apply(pd): when running as root and pd->wanted, set the
 * supplementary groups (initgroups), the group and the user, and check that
 * root cannot be regained. Running as root with nothing wanted logs a loud
 * warning; not running as root with a user wanted logs that it is ignored.
 * Returns 0, or -1 (logged) when a switch failed: the caller must stop.
 */
int privdrop_apply(const struct privdrop *pd);

#endif
