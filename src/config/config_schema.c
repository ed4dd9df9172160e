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
#define AGG(f) offsetof(struct cfg, aggregate.f)
#define ROUTE(f) offsetof(struct cfg, routing.f)
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

static const char *const mode_choices[] = {
	"passthrough", "aggregate", NULL
};
static const char *const verdict_choices[] = { "local", "pool", NULL };
static const char *const identity_choices[] = { "worker", "account", NULL };
static const char *const basis_choices[] = {
	"validated", "pool_accepted", NULL
};

static const struct cfg_key server_keys[] = {
	{ "mode", CFG_T_ENUM, SRV(mode), 0, 0, 0, 0, 0, "passthrough",
	    mode_choices,
	    "passthrough: one pool connection per miner, the pool's jobs and "
	    "difficulty relayed as they are. aggregate: miners share a few "
	    "pool connections; Loka checks every share itself, gives each "
	    "miner its own difficulty ([aggregate]) and moves miners between "
	    "pools without reconnecting them." },
	{ "bind", CFG_T_ADDRLIST, SRV(bind), CFG_F_NONEMPTY, 1, 64, 0, 0,
	    "0.0.0.0:3333", NULL,
	    "Address(es) miners connect to: \"host:port\" or an array of them "
	    "(\"[::]:3333\" for IPv6)." },
	{ "max_connections", CFG_T_INT, SRV(max_connections), 0, 1, 1000000,
	    0, 0, "1000", NULL,
	    "Most miner connections held at once; more are refused politely." },
	{ "connection_timeout", CFG_T_DURATION, SRV(connection_timeout_ms), 0,
	    SECONDS(1), SECONDS(3600), 0, 0, "30s", NULL,
	    "Time a new connection has to send mining.subscribe and "
	    "mining.authorize. A miner that did is never closed for the "
	    "pool's slowness: the pool's handshake_timeout covers that." },
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
	{ "pool_outage_hold", CFG_T_DURATION, SRV(pool_outage_hold_ms), 0, 0,
	    SECONDS(3600), 0, 0, "60s", NULL,
	    "While no pool can be reached, miners keep their connections "
	    "(no new work; submits wait, up to max_pending_requests) for this "
	    "long; then they are closed so their own failover acts, and the "
	    "submits that waited are answered with error 20 and booked as "
	    "rejected (other). 0 closes them at once." },
	{ "trusted_proxies", CFG_T_CIDRLIST, SRV(trusted_proxies), 0, 0, 10000,
	    0, 0, "", NULL,
	    "Load balancers (CIDR blocks) allowed to send a PROXY protocol "
	    "header; from anyone else it is refused." },
	{ "pool_address", CFG_T_STRING, SRV(pool_address), 0, 0, 300, 0, 0,
	    "", NULL,
	    "Shorthand for a single pool \"host:port\" (named \"default\"); "
	    "use [[pools]] for anything more." },
	{ "tls_bind", CFG_T_ADDRLIST, SRV(tls_bind), 0, 0, 64, 0, 0, "", NULL,
	    "Address(es) where miners connect over TLS (stratum+ssl://), like "
	    "bind; needs tls_cert_file and tls_key_file. Anything but a TLS "
	    "handshake (after an optional PROXY header) is closed." },
	{ "tls_cert_file", CFG_T_STRING, SRV(tls_cert_file), 0, 0, 4096, 0, 0,
	    "", NULL,
	    "PEM certificate chain miners see on tls_bind (and with "
	    "tls_detect): the server certificate first, then intermediates. "
	    "Read again on SIGHUP." },
	{ "tls_key_file", CFG_T_STRING, SRV(tls_key_file), 0, 0, 4096, 0, 0,
	    "", NULL,
	    "PEM private key of tls_cert_file (unencrypted; keep it readable "
	    "by Loka only). Read again on SIGHUP." },
	{ "tls_detect", CFG_T_BOOL, SRV(tls_detect), 0, 0, 0, 0, 0, "false",
	    NULL,
	    "Also accept TLS on the plain bind ports: a connection that starts "
	    "with a TLS handshake continues over TLS. Off: it is closed." },
	{ "user", CFG_T_STRING, SRV(user), 0, 0, 64, 0, 0, "", NULL,
	    "When started as root: the user Loka switches to once its "
	    "listeners are bound (the database and journal are opened after, "
	    "as this user). Empty: stay root, with a warning." },
	{ "group", CFG_T_STRING, SRV(group), 0, 0, 64, 0, 0, "", NULL,
	    "The group to switch to with user; empty: the user's primary "
	    "group." },
};

static const struct cfg_key pool_keys[] = {
	{ "name", CFG_T_STRING, POOL(name), CFG_F_REQUIRED | CFG_F_NONEMPTY,
	    1, 64, 0, 0, NULL, NULL,
	    "Unique name of the pool (letters, digits, '.', '_', '-')." },
	{ "url", CFG_T_POOLURL, POOL(url), CFG_F_REQUIRED | CFG_F_NONEMPTY, 1,
	    300, 0, 0, NULL, NULL,
	    "Pool address: stratum+tcp://host:port, or stratum+ssl://host:port "
	    "(also stratum+tls://) for TLS." },
	{ "tls_ca_file", CFG_T_STRING, POOL(tls_ca_file), 0, 0, 4096, 0, 0, "",
	    NULL,
	    "TLS pools: PEM file of the CA certificate(s) the pool's "
	    "certificate must chain to, instead of the system's CA store." },
	{ "tls_fingerprint", CFG_T_STRING, POOL(tls_fingerprint), 0, 0, 95, 0,
	    0, "", NULL,
	    "TLS pools: SHA-256 fingerprint of the certificate the pool must "
	    "present (64 hex digits, colons allowed, as `openssl x509 "
	    "-fingerprint -sha256` prints it); any other is refused." },
	{ "tls_verify", CFG_T_BOOL, POOL(tls_verify), 0, 0, 0, 0, 0, "true",
	    NULL,
	    "TLS pools: check the certificate chain and that it names the "
	    "URL's host. false is for testing only: anyone on the path could "
	    "pose as the pool (a tls_fingerprint is still checked)." },
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
	{ "verdict", CFG_T_ENUM, POOL(verdict), 0, 0, 0, 0, 0, "local",
	    verdict_choices,
	    "Aggregate mode: local answers a share as soon as Loka has checked "
	    "it; pool makes a share that goes to the pool wait for the pool's "
	    "answer. Either way the pool's verdict is counted per worker." },
	{ "identity", CFG_T_ENUM, POOL(identity), 0, 0, 0, 0, 0, "worker",
	    identity_choices,
	    "Aggregate mode: worker authorizes every miner's worker on the "
	    "shared connection and sends its shares under that name (the "
	    "pool shows each worker); account sends every share under the "
	    "pool account (username) alone." },
	{ "settlement_basis", CFG_T_ENUM, POOL(settlement_basis), 0, 0, 0, 0,
	    0, "validated", basis_choices,
	    "The difficulty a day's earnings are shared by: validated (each "
	    "share Loka accepted, at the miner's difficulty) or "
	    "pool_accepted (only what the pool accepted, at its difficulty; "
	    "aggregate mode, coarser). The same in passthrough mode, where "
	    "the pool's verdict is the only one." },
	{ "connect_timeout", CFG_T_DURATION, POOL(connect_timeout_ms), 0,
	    SECONDS(1), SECONDS(300), 0, 0, "10s", NULL,
	    "Time allowed to connect to the pool (TCP, and TLS for "
	    "stratum+ssl)." },
	{ "handshake_timeout", CFG_T_DURATION, POOL(handshake_timeout_ms), 0,
	    SECONDS(1), SECONDS(300), 0, 0, "5s", NULL,
	    "Time the pool has, once connected, to answer mining.subscribe "
	    "and mining.authorize. A pool that does not is a failed "
	    "connection (circuit breaker, backoff, the next pool), never the "
	    "miner's fault." },
	{ "breaker_failures", CFG_T_INT, POOL(breaker_failures), 0, 1, 1000, 0,
	    0, "5", NULL,
	    "Consecutive failures that open the circuit breaker (no new "
	    "connections to this pool for breaker_timeout). A failure is a "
	    "connection that did not complete its handshake (refused, timed "
	    "out, unanswered) or a protocol violation (an oversize or "
	    "unparsable line)." },
	{ "breaker_timeout", CFG_T_DURATION, POOL(breaker_timeout_ms), 0,
	    SECONDS(1), SECONDS(3600), 0, 0, "30s", NULL,
	    "How long an open circuit breaker keeps the pool out of use while "
	    "another pool is usable; with none, trials go on at the backoff "
	    "pace (at most a second apart)." },
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
	    "Share events waiting for the store thread: queue_size x 64 "
	    "bytes of rings (16 MiB by default), all of it resident from "
	    "the start (an event is 36 bytes plus its pool, miner and "
	    "worker names, rounded up to 8). Past this they are refused "
	    "loudly (log and metric)." },
	{ "spool_path", CFG_T_STRING, DB(spool_path), 0, 0, 4096, 0, 0, "",
	    NULL,
	    "Directory of the append-only journal of share events: written "
	    "before the database, replayed after an outage or a crash, into "
	    "the database it belongs to only. Empty: beside the SQLite file "
	    "(PATH.spool), or for PostgreSQL $STATE_DIRECTORY/journal, else "
	    "/var/lib/loka-stratum/journal (root) or "
	    "~/.local/state/loka-stratum/journal." },
	{ "spool_max_bytes", CFG_T_INT, DB(spool_max_bytes), 0, 1048576,
	    INT64_C(1099511627776), 0, 0, "1073741824", NULL,
	    "Largest the journal may grow while the database is away." },
	{ "fsync_interval", CFG_T_DURATION, DB(fsync_interval_ms), 0, 1,
	    SECONDS(10), 0, 0, "100ms", NULL,
	    "How often the journal is fdatasync()ed: a power cut or a kernel "
	    "crash loses at most this much (a killed process loses nothing "
	    "it answered: see verdict_wait)." },
	{ "verdict_wait", CFG_T_DURATION, DB(verdict_wait_ms), 0, 0,
	    SECONDS(10), 0, 0, "1s", NULL,
	    "A miner's verdict is sent once its share is in the journal's "
	    "file, so a killed process never loses a share its miner was "
	    "told about; this is the longest it waits for that (a full or "
	    "hanging disk), then it is sent anyway and counted in "
	    "loka_verdicts_unjournaled_total. 0: send at once." },
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
	{ "tls_cert_file", CFG_T_STRING, MET(tls_cert_file), 0, 0, 4096, 0, 0,
	    "", NULL,
	    "With tls_key_file: serve metrics and the API over HTTPS with "
	    "this PEM certificate chain. Read again on SIGHUP." },
	{ "tls_key_file", CFG_T_STRING, MET(tls_key_file), 0, 0, 4096, 0, 0,
	    "", NULL, "PEM private key of the metrics tls_cert_file." },
	{ "api_token", CFG_T_STRING, MET(api_token), CFG_F_SECRET, 0, 512, 0,
	    0, "", NULL,
	    "Bearer token required by the API's changes (POST, DELETE); "
	    "empty: changes are refused. Prefer api_token_file." },
	{ "per_worker", CFG_T_BOOL, MET(per_worker), 0, 0, 0, 0, 0, "false",
	    NULL,
	    "Export a series per worker (shares, difficulty); off by default: "
	    "a farm has thousands." },
	{ "per_worker_max", CFG_T_INT, MET(per_worker_max), 0, 1, 100000, 0,
	    0, "1000", NULL,
	    "Most workers exported with per_worker; the rest are summed into "
	    "worker=\"other\"." },
	{ "dashboard", CFG_T_BOOL, MET(dashboard), 0, 0, 0, 0, 0, "true", NULL,
	    "Serve the web dashboard at / on this listener (it reads the "
	    "API); false: / answers 404." },
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
	{ "rate_limit_burst", CFG_T_INT, SEC(rate_limit_burst), 0, 1,
	    1000000, 0, 0, "200", NULL,
	    "Messages a connection may send at once before rate_limit "
	    "applies. A message over the limit gets error 20 and counts a "
	    "violation." },
	{ "max_violations", CFG_T_INT, SEC(max_violations), 0, 1, 1000000, 0,
	    0, "10", NULL,
	    "Violations by one IP address within violation_window that get "
	    "it banned." },
	{ "violation_window", CFG_T_DURATION, SEC(violation_window_ms), 0,
	    SECONDS(1), DAYS(1), 0, 0, "1m", NULL,
	    "Window in which an address's violations are counted; it starts "
	    "at the first one." },
	{ "ban_duration", CFG_T_DURATION, SEC(ban_duration_ms), 0, SECONDS(1),
	    DAYS(365), 0, 0, "5m", NULL,
	    "How long a ban lasts: new connections are refused and existing "
	    "ones closed." },
	{ "max_connections_per_ip", CFG_T_INT, SEC(max_connections_per_ip), 0,
	    0, 1000000, 0, 0, "0", NULL,
	    "Connections one IP address may hold at once; 0 turns it off. "
	    "Set it above the largest farm behind one NAT address." },
	{ "connection_rate_per_ip", CFG_T_DOUBLE, SEC(connection_rate_per_ip),
	    0, 0, 0, 0, 1e6, "0", NULL,
	    "New connections per second one IP address may open; 0 turns it "
	    "off." },
	{ "connection_burst_per_ip", CFG_T_INT, SEC(connection_burst_per_ip),
	    0, 1, 1000000, 0, 0, "20", NULL,
	    "New connections one IP address may open at once before "
	    "connection_rate_per_ip applies." },
	{ "max_auth_failures", CFG_T_INT, SEC(max_auth_failures), 0, 0, 1000,
	    0, 0, "5", NULL,
	    "Refused mining.authorize answers one connection may get; past "
	    "this it is closed and a violation counted. 0 turns it off." },
	{ "line_timeout", CFG_T_DURATION, SEC(line_timeout_ms), 0, SECONDS(1),
	    SECONDS(3600), 0, 0, "30s", NULL,
	    "Time a started line (or connection header) has to be completed; "
	    "a slower sender is closed (slow-loris defence)." },
	{ "ip_filter_mode", CFG_T_ENUM, SEC(ip_filter_mode), 0, 0, 0, 0, 0,
	    "none", ip_filter_choices,
	    "none, allow (only ip_allowlist may connect) or deny (ip_denylist "
	    "may not)." },
	{ "ip_allowlist", CFG_T_CIDRLIST, SEC(ip_allowlist), 0, 0, 10000, 0, 0,
	    "", NULL, "CIDR blocks (IPv4 or IPv6) for ip_filter_mode = allow." },
	{ "ip_denylist", CFG_T_CIDRLIST, SEC(ip_denylist), 0, 0, 10000, 0, 0,
	    "", NULL, "CIDR blocks (IPv4 or IPv6) for ip_filter_mode = deny." },
	{ "enable_cors", CFG_T_BOOL, SEC(enable_cors), 0, 0, 0, 0, 0, "false",
	    NULL,
	    "Answer browsers' cross-origin requests to the API (for a "
	    "dashboard served elsewhere)." },
	{ "cors_origins", CFG_T_STRING, SEC(cors_origins), 0, 0, 4096, 0, 0,
	    "*", NULL,
	    "Origins allowed with enable_cors: \"*\" or a comma-separated "
	    "list (\"https://ops.example.com,https://grafana.example.com\")." },
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
	{ "worker_offline_after", CFG_T_DURATION,
	    MON(worker_offline_after_ms), 0, SECONDS(10), SECONDS(7 * 86400),
	    0, 0, "10m", NULL,
	    "A worker with no accepted share for this long is offline." },
	{ "worker_slow_window", CFG_T_DURATION, MON(worker_slow_window_ms), 0,
	    SECONDS(120), SECONDS(86400), 0, 0, "15m", NULL,
	    "A worker's recent hashrate is measured over this window (whole "
	    "minutes)." },
	{ "worker_slow_fraction", CFG_T_DOUBLE, MON(worker_slow_fraction), 0,
	    0, 0, 0, 1, "0.5", NULL,
	    "A worker whose recent hashrate is below this fraction of its own "
	    "24-hour average is slow (0: never)." },
	{ "worker_check_interval", CFG_T_DURATION,
	    MON(worker_check_interval_ms), 0, SECONDS(1), SECONDS(3600), 0, 0,
	    "1m", NULL,
	    "How often worker states are recomputed from the books." },
};

static const struct cfg_key aggregate_keys[] = {
	{ "share_rate", CFG_T_DOUBLE, AGG(share_rate), 0, 0, 0, 0.1, 600,
	    "15", NULL,
	    "Shares per minute each miner is given the difficulty for." },
	{ "start_difficulty", CFG_T_DOUBLE, AGG(start_difficulty), 0, 0, 0,
	    1e-8, 1e15, "1024", NULL,
	    "A new miner's difficulty until it is measured (never above the "
	    "pool's; mining.suggest_difficulty replaces it)." },
	{ "min_difficulty", CFG_T_DOUBLE, AGG(min_difficulty), 0, 0, 0, 1e-8,
	    1e15, "0.0001", NULL,
	    "The lowest difficulty a miner is given (fractions allowed: small "
	    "miners need them)." },
	{ "retarget_interval", CFG_T_DURATION, AGG(retarget_interval_ms), 0,
	    SECONDS(1), SECONDS(3600), 0, 0, "30s", NULL,
	    "Least time between two difficulty changes of a miner." },
	{ "standby", CFG_T_BOOL, AGG(standby), 0, 0, 0, 0, 0, "true", NULL,
	    "Keep every usable pool connected and subscribed, so that miners "
	    "move to the next pool at once when theirs fails. false: only "
	    "the pool in use and the ones preferred to it stay connected "
	    "(every pool subscribes once at start, for the extranonce "
	    "split); a failover then waits for a connection and a "
	    "handshake." },
};

static const struct cfg_key routing_keys[] = {
	{ "failback_delay", CFG_T_DURATION, ROUTE(failback_delay_ms), 0, 0,
	    SECONDS(3600), 0, 0, "60s", NULL,
	    "A more preferred pool that failed takes its miners back only "
	    "once it has been up and sending jobs this long (aggregate mode), "
	    "so a pool that keeps failing does not pull the farm back and "
	    "forth." },
};

#define NKEYS(a) (sizeof(a) / sizeof((a)[0]))

const struct cfg_section cfg_sections[] = {
	{ "server", server_keys, NKEYS(server_keys), 0,
	    "Where miners connect, and connection limits." },
	{ "aggregate", aggregate_keys, NKEYS(aggregate_keys), 0,
	    "Aggregate mode ([server] mode = \"aggregate\"): each miner's "
	    "difficulty and the shared pool connections." },
	{ "routing", routing_keys, NKEYS(routing_keys), 0,
	    "How miners move between pools." },
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
