/*
 * sockopt.c: keepalive settings for miner and pool sockets (see
 * sockopt.h). Stateless; any thread.
 *
 * Timings: after SOCKOPT_KEEPIDLE_S (60 s) without a packet from the
 * peer, the kernel probes every SOCKOPT_KEEPINTVL_S (10 s); after
 * SOCKOPT_KEEPCNT (6) unanswered probes the connection is reset: a dead
 * peer is found in 60 + 6 * 10 = 120 s. Keepalive alone does not cover a
 * peer that vanished while Loka still has data in flight (a job sent to a
 * powered-off miner is retransmitted, not probed), so TCP_USER_TIMEOUT
 * bounds unacknowledged data to the same 120 s. The read-side deadlines
 * (connection_timeout, idle_timeout, line_timeout) cover peers that are
 * alive but silent or slow.
 */
#include "net/sockopt.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>

void
sockopt_keepalive(int fd)
{
	int one = 1, idle = SOCKOPT_KEEPIDLE_S, intvl = SOCKOPT_KEEPINTVL_S;
	int cnt = SOCKOPT_KEEPCNT;
	unsigned user_ms = (unsigned)(SOCKOPT_KEEPIDLE_S +
	    SOCKOPT_KEEPINTVL_S * SOCKOPT_KEEPCNT) * 1000u;

	(void)setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
	(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl,
	    sizeof(intvl));
	(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
	(void)setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_ms,
	    sizeof(user_ms));
}

int
sockopt_local_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	memset(&ss, 0, sizeof(ss));
	if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
		return -1;
	if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 in6;

		memcpy(&in6, &ss, sizeof(in6));
		return ntohs(in6.sin6_port);
	}
	if (ss.ss_family == AF_INET) {
		struct sockaddr_in in;

		memcpy(&in, &ss, sizeof(in));
		return ntohs(in.sin_port);
	}
	return -1;
}
