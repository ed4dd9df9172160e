/*
 * config_schema.c: every configuration key Loka knows, in one table.
 *
 * Each entry gives the key's type, where it is stored, its bounds, its
 * default (as text, in the same syntax the environment uses) and its help
 * text. Loading, `config show`, `init` and docs/configuration.md are all
 * generated from this table, so a key added here is documented and checked
 * everywhere at once. Sections and key names follow the original Loka
 * configuration.
 */
#include <stddef.h>
#include <string.h>

#include "config/config_internal.h"

#define SRV(f) offsetof(struct cfg, server.f)
#define DB(f) offsetof(struct cfg, database.f)
#define MET(f) offsetof(struct cfg, metrics.f)
#define LOGG(f) offsetof(struct cfg, logging.f)
#define PERF(f) offsetof(struct cfg, performance.f)
#define SEC(f) offsetof(struct cfg, security.f)
#define MON(f) offsetof(struct cfg, monitoring.f)
#define POOL(f) offsetof(struct cfg_pool, f)

#define SECONDS(n) ((int64_t)(n) * 1000)
#define DAYS(n) ((int64_t)(n) * 86400 * 1000)

static const char *const level_choices[] = {
	"error", "warn", "info", "debug", "trace", NULL
};
static const char *const format_choices[] = { "text", "json", NULL };
static const char *const ip_filter_choices[] = {
	"none", "allow", "deny", NULL
};

static const struct cfg_key server_keys[] = {
	{ "bind", CFG_T_ADDRLIST, SRV(bind), CFG_F_NONEMPTY, 1, 64, 0, 0,
	    "0.0.0.0:3333", NULL,
	    "Address(es) miners connect to: \"host:port\" or an array of them "
	    "(\"[::]:3333\" for IPv6)." },
	{ "max_connections", CFG_T_INT, SRV(max_connections), 0, 1, 1000000,
	    0, 0, "1000", NULL,
	    "Most miner connections held at once; more are refused politely." },
	{ "connection_timeout", CFG_T_DURATION, SRV(connection_timeout_ms), 0,
	    SECONDS(1), SECONDS(3600), 0, 0, "30s", NULL,
	    "Time a new connection has to subscribe and authorize." },
	{ "idle_timeout", CFG_T_DURATION, SRV(idle_timeout_ms), 0, SECONDS(10),
	    DAYS(1), 0, 0, "10m", NULL,
	    "A miner that sends nothing for this long is disconnected." },
	{ "shutdown_timeout", CFG_T_DURATION, SRV(shutdown_timeout_ms), 0, 0,
	    SECONDS(600), 0, 0, "10s", NULL,
	    "On SIGTERM, how long to wait for submitted shares to get the "
	    "pool's verdict before closing." },
	{ "max_line_length", CFG_T_INT, SRV(max_line_length), 0, 256,
	    1048576, 0, 0, "16384", NULL,
	    "Longest Stratum message (bytes); a longer one gets an error and "
	    "a close." },
	{ "max_output_buffer", CFG_T_INT, SRV(max_output_buffer), 0, 4096,
	    67108864, 0, 0, "1048576", NULL,
	    "Bytes queued for a miner that does not read; past this it is "
	    "disconnected." },
	{ "max_pending_requests", CFG_T_INT, SRV(max_pending_requests), 0, 1,
	    10000, 0, 0, "64", NULL,
	    "Requests of one miner waiting for the pool's answer; past this "
	    "the miner gets an error." },
	{ "trusted_proxies", CFG_T_CIDRLIST, SRV(trusted_proxies), 0, 0, 10000,
	    0, 0, "", NULL,
	    "Load balancers (CIDR blocks) allowed to send a PROXY protocol "
	    "header; from anyone else it is refused." },
	{ "pool_address", CFG_T_STRING, SRV(pool_address), 0, 0, 300, 0, 0,
	    "", NULL,
	    "Shorthand for a single pool \"host:port\" (named \"default\"); "
	    "use [[pools]] for anything more." },
};

static const struct cfg_key pool_keys[] = {
	{ "name", CFG_T_STRING, POOL(name), CFG_F_REQUIRED | CFG_F_NONEMPTY,
	    1, 64, 0, 0, NULL, NULL,
	    "Unique name of the pool (letters, digits, '.', '_', '-')." },
	{ "url", CFG_T_POOLURL, POOL(url), CFG_F_REQUIRED | CFG_F_NONEMPTY, 1,
	    300, 0, 0, NULL, NULL,
	    "Pool address: stratum+tcp://host:port." },
	{ "username", CFG_T_STRING, POOL(username), 0, 0, 256, 0, 0, "", NULL,
	    "The operator's account at the pool. Miners' logins become "
	    "<username>.<user><sep2><worker>; empty forwards miners' own "
	    "logins." },
	{ "password", CFG_T_STRING, POOL(password), CFG_F_SECRET, 0, 256, 0, 0,
	    "", NULL,
	    "Password sent to the pool; empty sends each miner's own. Prefer "
	    "password_file or ${VAR}." },
	{ "sep1", CFG_T_STRING, POOL(sep1), CFG_F_NONEMPTY, 1, 8, 0, 0, ".",
	    NULL, "Separator between user and worker in miners' logins." },
	{ "sep2", CFG_T_STRING, POOL(sep2), 0, 0, 8, 0, 0, "_", NULL,
	    "Separator between user and worker in the pool-side worker name." },
	{ "priority", CFG_T_INT, POOL(priority), 0, 0, 1000, 0, 0, "0", NULL,
	    "Lower is preferred; new sessions go to the most preferred pool "
	    "that is up." },
	{ "enabled", CFG_T_BOOL, POOL(enabled), 0, 0, 0, 0, 0, "true", NULL,
	    "A disabled pool is kept in the books but gets no miners." },
	{ "extranonce_subscribe", CFG_T_BOOL, POOL(extranonce_subscribe), 0, 0,
	    0, 0, 0, "false", NULL,
	    "Forward miners' mining.extranonce.subscribe to this pool (some "
	    "pools disconnect on it); otherwise Loka answers it." },
	{ "connect_timeout", CFG_T_DURATION, POOL(connect_timeout_ms), 0,
	    SECONDS(1), SECONDS(300), 0, 0, "10s", NULL,
	    "Time allowed to connect to the pool." },
	{ "breaker_failures", CFG_T_INT, POOL(breaker_failures), 0, 1, 1000, 0,
	    0, "5", NULL,
	    "Consecutive failures that open the circuit breaker (no new "
	    "connections to this pool for breaker_timeout)." },
	{ "breaker_timeout", CFG_T_DURATION, POOL(breaker_timeout_ms), 0,
	    SECONDS(1), SECONDS(3600), 0, 0, "30s", NULL,
	    "How long an open circuit breaker keeps the pool out of use." },
	{ "settlement_time", CFG_T_STRING, POOL(settlement_time), 0, 5, 5, 0,
	    0, "00:00", NULL,
	    "Time of day (HH:MM, UTC) at which the pool's earnings day "
	    "starts." },
	{ "settlement_offset", CFG_T_INT, POOL(settlement_offset), 0, -1440,
	    1440, 0, 0, "0", NULL,
	    "Minutes added to settlement_time (a pool that closes its day "
	    "late)." },
};

static const struct cfg_key database_keys[] = {
	{ "url", CFG_T_DBURL, DB(url), CFG_F_NONEMPTY | CFG_F_MASKURL, 1,
	    4096, 0, 0, "sqlite://loka.db", NULL,
	    "sqlite://PATH (embedded) or postgresql://user@host/db "
	    "(several hosts for a standby). A password here is never shown; "
	    "prefer url_file or ${VAR}." },
	{ "max_connections", CFG_T_INT, DB(max_connections), 0, 1, 1000, 0, 0,
	    "10", NULL, "Most database connections held (PostgreSQL)." },
	{ "min_connections", CFG_T_INT, DB(min_connections), 0, 0, 1000, 0, 0,
	    "1", NULL, "Database connections kept open when idle." },
	{ "connection_timeout", CFG_T_DURATION, DB(connection_timeout_ms), 0,
	    SECONDS(1), SECONDS(600), 0, 0, "10s", NULL,
	    "Time allowed to open a database connection." },
	{ "auto_migrate", CFG_T_BOOL, DB(auto_migrate), 0, 0, 0, 0, 0, "true",
	    NULL, "Apply pending schema migrations when start connects." },
	{ "share_log", CFG_T_BOOL, DB(share_log), 0, 0, 0, 0, 0, "false",
	    NULL, "Also keep one audit row per share (large: per-minute "
	    "buckets are always kept)." },
	{ "store_pool_passwords", CFG_T_BOOL, DB(store_pool_passwords), 0, 0,
	    0, 0, 0, "false", NULL,
	    "Keep pool passwords in the pools table (off: never stored)." },
	{ "batch_size", CFG_T_INT, DB(batch_size), 0, 1, 1000000, 0, 0, "5000",
	    NULL, "Share events written per database transaction at most." },
	{ "batch_interval", CFG_T_DURATION, DB(batch_interval_ms), 0, 10,
	    SECONDS(60), 0, 0, "1s", NULL,
	    "How often buffered share events are written." },
	{ "queue_size", CFG_T_INT, DB(queue_size), 0, 1024, 100000000, 0, 0,
	    "262144", NULL,
	    "Share events waiting for the store thread at most (about 64 "
	    "bytes each); past this they are refused loudly (log and "
	    "metric)." },
	{ "spool_path", CFG_T_STRING, DB(spool_path), CFG_F_NONEMPTY, 1, 4096,
	    0, 0, "loka.spool", NULL,
	    "Append-only journal of share events: written before the "
	    "database, replayed after an outage or a crash." },
	{ "spool_max_bytes", CFG_T_INT, DB(spool_max_bytes), 0, 1048576,
	    INT64_C(1099511627776), 0, 0, "1073741824", NULL,
	    "Largest the journal may grow while the database is away." },
	{ "fsync_interval", CFG_T_DURATION, DB(fsync_interval_ms), 0, 1,
	    SECONDS(10), 0, 0, "100ms", NULL,
	    "How often the journal is flushed to disk: a crash loses at most "
	    "this much." },
	{ "instance", CFG_T_STRING, DB(instance), 0, 0, 128, 0, 0, "", NULL,
	    "This instance's name in a shared database (empty: host name and "
	    "first bind port). Must be unique per instance and stable "
	    "across restarts." },
};

static const struct cfg_key metrics_keys[] = {
	{ "enabled", CFG_T_BOOL, MET(enabled), 0, 0, 0, 0, 0, "true", NULL,
	    "Serve /metrics, /health and the API." },
	{ "bind", CFG_T_ADDR, MET(bind), CFG_F_NONEMPTY, 1, 300, 0, 0,
	    "127.0.0.1:9090", NULL,
	    "Address of the metrics and API listener (loopback by default)." },
};

static const struct cfg_key logging_keys[] = {
	{ "level", CFG_T_ENUM, LOGG(level), 0, 0, 0, 0, 0, "info",
	    level_choices, "error, warn, info, debug or trace." },
	{ "format", CFG_T_ENUM, LOGG(format), 0, 0, 0, 0, 0, "text",
	    format_choices, "text (for people) or json (one object per line)." },
	{ "stats_interval", CFG_T_DURATION, LOGG(stats_interval_ms), 0, 0,
	    DAYS(1), 0, 0, "1m", NULL,
	    "How often a summary line (miners, shares accepted and rejected "
	    "since the last one) is logged; 0 turns it off." },
};

static const struct cfg_key performance_keys[] = {
	{ "worker_threads", CFG_T_INT, PERF(worker_threads), 0, 0, 1024, 0, 0,
	    "0", NULL, "Network threads; 0 = one per CPU core." },
};

static const struct cfg_key security_keys[] = {
	{ "rate_limit", CFG_T_DOUBLE, SEC(rate_limit), 0, 0, 0, 0, 1e6,
	    "100", NULL,
	    "Messages per second allowed per connection; 0 turns it off." },
	{ "max_violations", CFG_T_INT, SEC(max_violations), 0, 1, 1000000, 0,
	    0, "10", NULL, "Violations that get an IP address banned." },
	{ "ban_duration", CFG_T_DURATION, SEC(ban_duration_ms), 0, SECONDS(1),
	    DAYS(365), 0, 0, "5m", NULL, "How long a ban lasts." },
	{ "ip_filter_mode", CFG_T_ENUM, SEC(ip_filter_mode), 0, 0, 0, 0, 0,
	    "none", ip_filter_choices,
	    "none, allow (only ip_allowlist may connect) or deny (ip_denylist "
	    "may not)." },
	{ "ip_allowlist", CFG_T_CIDRLIST, SEC(ip_allowlist), 0, 0, 10000, 0, 0,
	    "", NULL, "CIDR blocks (IPv4 or IPv6) for ip_filter_mode = allow." },
	{ "ip_denylist", CFG_T_CIDRLIST, SEC(ip_denylist), 0, 0, 10000, 0, 0,
	    "", NULL, "CIDR blocks (IPv4 or IPv6) for ip_filter_mode = deny." },
};

static const struct cfg_key monitoring_keys[] = {
	{ "health_check_interval", CFG_T_DURATION,
	    MON(health_check_interval_ms), 0, SECONDS(1), SECONDS(3600), 0, 0,
	    "30s", NULL, "How often Loka checks its own health." },
	{ "cpu_threshold", CFG_T_DOUBLE, MON(cpu_threshold), 0, 0, 0, 0, 100,
	    "80", NULL, "CPU use (percent of one core) reported as unhealthy." },
	{ "memory_threshold", CFG_T_DOUBLE, MON(memory_threshold), 0, 0, 0, 0,
	    100, "80", NULL,
	    "Memory use (percent of the machine) reported as unhealthy." },
	{ "error_rate_threshold", CFG_T_DOUBLE, MON(error_rate_threshold), 0,
	    0, 0, 0, 100, "10", NULL,
	    "Rejected shares (percent) reported as unhealthy." },
};

#define NKEYS(a) (sizeof(a) / sizeof((a)[0]))

const struct cfg_section cfg_sections[] = {
	{ "server", server_keys, NKEYS(server_keys), 0,
	    "Where miners connect, and connection limits." },
	{ "pools", pool_keys, NKEYS(pool_keys), 1,
	    "Upstream pools, one [[pools]] entry each." },
	{ "database", database_keys, NKEYS(database_keys), 0,
	    "Where the books (shares, earnings, distributions) are kept." },
	{ "metrics", metrics_keys, NKEYS(metrics_keys), 0,
	    "Prometheus metrics, health checks and the JSON API." },
	{ "logging", logging_keys, NKEYS(logging_keys), 0,
	    "Log lines go to standard error." },
	{ "performance", performance_keys, NKEYS(performance_keys), 0,
	    "Threads." },
	{ "security", security_keys, NKEYS(security_keys), 0,
	    "Rate limits, bans and IP filtering." },
	{ "monitoring", monitoring_keys, NKEYS(monitoring_keys), 0,
	    "Self-monitoring thresholds." },
};

const size_t cfg_nsections = NKEYS(cfg_sections);

const struct cfg_section *
cfg_section_find(const char *name)
{
	for (size_t i = 0; i < cfg_nsections; i++)
		if (strcmp(cfg_sections[i].name, name) == 0)
			return &cfg_sections[i];
	return NULL;
}

const struct cfg_key *
cfg_key_find(const struct cfg_section *s, const char *name)
{
	for (size_t i = 0; i < s->nkeys; i++)
		if (strcmp(s->keys[i].name, name) == 0)
			return &s->keys[i];
	return NULL;
}
