/*
 * privdrop.c: switching from root to the configured user and group (see
 * privdrop.h). Runs once on the main thread before the worker, store and
 * API threads start; glibc applies set*id() to every thread anyway.
 */
#include "security/privdrop.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "util/errbuf.h"
#include "util/log.h"

/* getpwnam_r()/getgrnam_r() buffer: ample for any sane entry. */
#define PRIVDROP_BUF 16384

int
privdrop_prepare(const char *user, const char *group, struct privdrop *pd,
    char *err, size_t errlen)
{
	char buf[PRIVDROP_BUF];
	struct passwd pw, *pwp = NULL;
	struct group gr, *grp = NULL;
	int rc;

	memset(pd, 0, sizeof(*pd));
	if (user == NULL || user[0] == '\0') {
		if (group != NULL && group[0] != '\0') {
			errbuf_set(err, errlen, "[server] group \"%s\" is set "
			    "but [server] user is not; set both", group);
			return -1;
		}
		return 0;
	}
	rc = getpwnam_r(user, &pw, buf, sizeof(buf), &pwp);
	if (pwp == NULL) {
		errbuf_set(err, errlen, "[server] user \"%s\": %s", user,
		    rc != 0 ? strerror(rc) : "no such user (create it, e.g. "
		    "useradd --system loka)");
		return -1;
	}
	pd->wanted = true;
	snprintf(pd->user, sizeof(pd->user), "%s", user);
	pd->uid = pw.pw_uid;
	pd->gid = pw.pw_gid;
	if (group == NULL || group[0] == '\0') {
		/* Only for the log: a group without a name is fine. */
		if (getgrgid_r(pd->gid, &gr, buf, sizeof(buf), &grp) != 0)
			grp = NULL;
		snprintf(pd->group, sizeof(pd->group), "%s",
		    grp != NULL ? gr.gr_name : "(primary)");
		return 0;
	}
	rc = getgrnam_r(group, &gr, buf, sizeof(buf), &grp);
	if (grp == NULL) {
		errbuf_set(err, errlen, "[server] group \"%s\": %s", group,
		    rc != 0 ? strerror(rc) : "no such group");
		return -1;
	}
	pd->gid = gr.gr_gid;
	snprintf(pd->group, sizeof(pd->group), "%s", group);
	return 0;
}

int
privdrop_apply(const struct privdrop *pd)
{
	if (geteuid() != 0) {
		if (pd->wanted && geteuid() != pd->uid)
			log_warnx("main", "[server] user = \"%s\" is ignored: "
			    "Loka was not started as root (it runs as uid "
			    "%ld)", pd->user, (long)geteuid());
		return 0;
	}
	if (!pd->wanted) {
		log_warnx("main", "RUNNING AS ROOT: a flaw in Loka would give "
		    "an attacker the whole machine. Set [server] user (and "
		    "group) to drop privileges once the ports are bound, or "
		    "start Loka as an ordinary user");
		return 0;
	}
	/* Groups first: once the user is not root it cannot change them. */
	if (initgroups(pd->user, pd->gid) != 0) {
		log_error("main", "cannot set the groups of user %s", pd->user);
		return -1;
	}
	if (setgid(pd->gid) != 0) {
		log_error("main", "cannot switch to group %s (gid %ld)",
		    pd->group, (long)pd->gid);
		return -1;
	}
	if (setuid(pd->uid) != 0) {
		log_error("main", "cannot switch to user %s (uid %ld)",
		    pd->user, (long)pd->uid);
		return -1;
	}
	/* A switch that can be undone is no switch at all. */
	if (pd->uid != 0 && (setuid(0) == 0 || geteuid() == 0)) {
		log_errorx("main", "privileges could be regained after "
		    "switching to user %s; refusing to run", pd->user);
		return -1;
	}
	log_info("main", "dropped root: running as user %s (uid %ld), group "
	    "%s (gid %ld)", pd->user, (long)pd->uid, pd->group,
	    (long)pd->gid);
	return 0;
}
