/*
 * config.h: Loka's configuration (loka-stratum.toml), loaded through a
 * table-driven schema.
 *
 * Every key has a type, bounds, a default and help text in one table
 * (config_schema.c); loading, validation, environment overrides, `config
 * show`, `init` and the configuration reference are all driven by it.
 *
 * Precedence, highest first: command-line flags (cfg_override), the
 * environment (LOKA_<SECTION>_<KEY>, or LOKA_<SECTION>_<KEY>_FILE), the file
 * (`key = ...` or `key_file = "path"`), the default. String values may use
 * ${VAR} and ${VAR:-default}; a numeric, boolean or duration key may be
 * written as a string, which is converted after substitution.
 *
 * Reload-safe: cfg_load_*() builds a fresh object and touches no global
 * state; a caller swaps it in only if it loaded without errors.
 */
#ifndef LOKA_CONFIG_H
#define LOKA_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* The file `start` reads when no -c is given. */
#define CFG_DEFAULT_PATH "loka-stratum.toml"

struct cfg_list {
	char **v;
	size_t n;
};

enum cfg_ip_filter {
	CFG_IP_FILTER_NONE = 0,
	CFG_IP_FILTER_ALLOW,
	CFG_IP_FILTER_DENY,
	CFG_IP_FILTER_MAX
};

struct cfg_pool {
	char *name;
	char *url;        /* stratum+tcp:// (or +ssl://) host:port, no userinfo */
	char *host;       /* without brackets for IPv6 */
	uint16_t port;
	bool tls;         /* stratum+ssl:// or stratum+tls:// */
	char *tls_ca_file;     /* "" = the system's CA store */
	char *tls_fingerprint; /* "" = no pinning; else SHA-256, hex */
	bool tls_verify;       /* check chain and host name (off: testing) */
	char *username;   /* operator's pool account; "" = forward miners' own */
	char *password;   /* secret; "" when unset */
	char *sep1;
	char *sep2;
	int64_t priority; /* lower is preferred; ties keep file order */
	bool enabled;
	bool extranonce_subscribe; /* forward mining.extranonce.subscribe */
	int64_t connect_timeout_ms;
	int64_t handshake_timeout_ms; /* subscribe + authorize answered */
	int64_t breaker_failures;
	int64_t breaker_timeout_ms;
	char *settlement_time;      /* "HH:MM" UTC: the pool's day boundary */
	int64_t settlement_offset;  /* minutes added to settlement_time */
	int verdict;      /* enum cfg_verdict (aggregate mode) */
	int identity;     /* enum cfg_identity (aggregate mode) */
	int settlement_basis; /* enum cfg_basis */
	int line;         /* line of its [[pools]] header; 0 if not from a file */
};

/* [server] mode */
enum cfg_mode { CFG_MODE_PASSTHROUGH = 0, CFG_MODE_AGGREGATE };
/* [[pools]] verdict: who answers a miner's share in aggregate mode. */
enum cfg_verdict { CFG_VERDICT_LOCAL = 0, CFG_VERDICT_POOL };
/* [[pools]] settlement_basis: which difficulty a day is shared by. */
enum cfg_basis { CFG_BASIS_VALIDATED = 0, CFG_BASIS_POOL_ACCEPTED };
/* [[pools]] identity: the names forwarded shares carry. */
enum cfg_identity { CFG_IDENTITY_WORKER = 0, CFG_IDENTITY_ACCOUNT };

struct cfg_server {
	int mode;                 /* enum cfg_mode */
	struct cfg_list bind;
	int64_t max_connections;
	int64_t connection_timeout_ms;
	int64_t idle_timeout_ms;
	int64_t shutdown_timeout_ms;
	int64_t max_line_length;
	int64_t max_output_buffer;
	int64_t max_pending_requests;
	int64_t pool_outage_hold_ms; /* sessions kept while no pool answers */
	struct cfg_list trusted_proxies;
	char *pool_address;
	struct cfg_list tls_bind; /* TLS listeners for miners */
	char *tls_cert_file;      /* PEM chain, server certificate first */
	char *tls_key_file;       /* PEM private key */
	bool tls_detect;          /* TLS on a plain bind port is accepted */
	char *user;  /* drop root to this user after binding; "" = stay */
	char *group; /* and this group; "" = the user's primary group */
};

struct cfg_database {
	char *url; /* may hold a password: print with cfg_mask_url() */
	int64_t max_connections;
	int64_t min_connections;
	int64_t connection_timeout_ms;
	bool auto_migrate;
	bool share_log;
	bool store_pool_passwords;
	int64_t batch_size;
	int64_t batch_interval_ms;
	int64_t queue_size;
	char *spool_path;  /* never empty after loading: cfg_derive() */
	bool spool_path_derived; /* not configured: the default location */
	int64_t spool_max_bytes;
	int64_t fsync_interval_ms;
	int64_t verdict_wait_ms;
	char *instance; /* "" = derived from the host name and bind port */
};

struct cfg_metrics {
	bool enabled;
	char *bind;
	char *tls_cert_file; /* both set: HTTPS */
	char *tls_key_file;
	char *api_token; /* secret; "" = API changes refused */
	bool per_worker;
	int64_t per_worker_max;
	bool dashboard; /* the web page at / */
};

struct cfg_logging {
	int level;  /* enum log_level */
	int format; /* enum log_format */
	int64_t stats_interval_ms; /* 0: no periodic summary line */
};

struct cfg_performance {
	int64_t worker_threads; /* 0 = one per core */
};

struct cfg_security {
	double rate_limit; /* messages per second per connection; 0 = off */
	int64_t rate_limit_burst;
	int64_t max_violations;
	int64_t violation_window_ms;
	int64_t ban_duration_ms;
	int64_t max_connections_per_ip;   /* 0 = off */
	double connection_rate_per_ip;    /* new connections/s; 0 = off */
	int64_t connection_burst_per_ip;
	int64_t max_auth_failures;        /* per connection; 0 = off */
	int64_t line_timeout_ms;
	int ip_filter_mode; /* enum cfg_ip_filter */
	struct cfg_list ip_allowlist;
	struct cfg_list ip_denylist;
	bool enable_cors;
	char *cors_origins; /* "*" or comma-separated origins */
};

struct cfg_monitoring {
	int64_t health_check_interval_ms;
	double cpu_threshold;
	double memory_threshold;
	double error_rate_threshold;
	int64_t worker_offline_after_ms;
	int64_t worker_slow_window_ms;
	double worker_slow_fraction;
	int64_t worker_check_interval_ms;
};

/* [aggregate]: per-miner difficulty and shared connections. */
struct cfg_aggregate {
	double share_rate;        /* shares per minute aimed at per miner */
	double start_difficulty;
	double min_difficulty;
	int64_t retarget_interval_ms;
	bool standby;             /* keep the next pool subscribed */
};

/* [routing]: moving miners between pools. */
struct cfg_routing {
	int64_t failback_delay_ms; /* a pool that failed, healthy this long,
	                            * takes its miners back */
};

struct cfg {
	char *path; /* file it was read from; "(defaults)" if none */
	struct cfg_server server;
	struct cfg_aggregate aggregate;
	struct cfg_routing routing;
	struct cfg_pool *pools;
	size_t npools;
	struct cfg_database database;
	struct cfg_metrics metrics;
	struct cfg_logging logging;
	struct cfg_performance performance;
	struct cfg_security security;
	struct cfg_monitoring monitoring;
};

/* Messages collected while loading: one complete line each, no newline. */
struct cfg_diag {
	char **lines;
	size_t n;
};

void cfg_diag_free(struct cfg_diag *d);

/*
 * cfg_load_file(path, errs, warns): read and validate a configuration file.
 * Returns a new object, or NULL with every problem found in errs, each line
 * naming file, line and key ("loka-stratum.toml:12: [server]
 * max_connections: must be between 1 and 1000000, got 0"). warns (may be
 * NULL) receives non-fatal remarks. path NULL means "no file: defaults plus
 * environment".
 */
struct cfg *cfg_load_file(const char *path, struct cfg_diag *errs,
    struct cfg_diag *warns);

/* cfg_load_string(name, text, len, ...): the same from memory; name is used
 * in messages. */
struct cfg *cfg_load_string(const char *name, const char *text, size_t len,
    struct cfg_diag *errs, struct cfg_diag *warns);

void cfg_free(struct cfg *c);

/*
 * cfg_override(c, origin, section, key, value, errs): set one key from text
 * (a command-line flag), with the same conversion and checks as the
 * environment. origin names it in errors ("--bind"). Returns 0 or -1.
 */
int cfg_override(struct cfg *c, const char *origin, const char *section,
    const char *key, const char *value, struct cfg_diag *errs);

/*
 * cfg_set_single_pool(c, origin, url, errs): replace all pools by one pool
 * named "cli" at url (stratum+tcp://[user[:pass]@]host:port).
 */
int cfg_set_single_pool(struct cfg *c, const char *origin, const char *url,
    struct cfg_diag *errs);

/*
 * cfg_derive(c): fill in the settings whose default depends on others
 * ([database] spool_path from the URL). Loading and cfg_override() call
 * it; a caller that changes c directly calls it again.
 */
void cfg_derive(struct cfg *c);

/* This instance's name in the books and the journal ([database]
 * instance, else host name and first bind port). Free it. */
char *cfg_instance_name(const struct cfg *c);

/* cfg_register_secrets(c): hand every secret value to log_add_secret(). */
void cfg_register_secrets(const struct cfg *c);

/* cfg_print(c, out): the effective configuration as TOML, secrets "***". */
void cfg_print(const struct cfg *c, FILE *out);

/* cfg_write_example(out): a commented example file that passes check. */
void cfg_write_example(FILE *out);

/* cfg_write_reference(out): the configuration reference in Markdown. */
void cfg_write_reference(FILE *out);

/*
 * cfg_mask_url(url): a copy of url with any password replaced by "***"
 * (userinfo "user:pass@" and a "password=" query parameter). Caller frees.
 */
char *cfg_mask_url(const char *url);

#endif
