/*
 * sockopt.h: socket options Loka sets on every miner and pool connection.
 */
#ifndef LOKA_NET_SOCKOPT_H
#define LOKA_NET_SOCKOPT_H

/* TCP keepalive probing (see sockopt.c for the timings). */
#define SOCKOPT_KEEPIDLE_S 60  /* idle time before the first probe */
#define SOCKOPT_KEEPINTVL_S 10 /* between probes */
#define SOCKOPT_KEEPCNT 6      /* unanswered probes before the reset */

/*
 * sockopt_keepalive(fd): turn on TCP keepalive with short probes and bound
 * how long sent data may stay unacknowledged, so that a half-open
 * connection (a miner or pool that vanished without a FIN or RST: power
 * cut, NAT state lost) is noticed and closed within about two minutes
 * instead of the kernel's default two hours, and its descriptor freed.
 * Failures are ignored (a Unix socket in tests has no TCP options).
 */
void sockopt_keepalive(int fd);

/* sockopt_local_port(fd): the port a bound socket listens on (port 0
 * resolved by the kernel), or -1. */
int sockopt_local_port(int fd);

#endif
