/*
 * fingerprint.h: SHA-256 certificate fingerprints as text (a pool's
 * tls_fingerprint). Pure functions, any thread; computing one from a
 * certificate is net/tls.h's.
 */
#ifndef LOKA_UTIL_FINGERPRINT_H
#define LOKA_UTIL_FINGERPRINT_H

#include <stdint.h>

/* A SHA-256 certificate fingerprint, in bytes. */
#define FINGERPRINT_LEN 32
/* Its text form "AB:CD:...", NUL included. */
#define FINGERPRINT_TEXT (FINGERPRINT_LEN * 3)

/*
 * fingerprint_parse(text, out): 64 hexadecimal digits (either case),
 * bare or with a ':' between every two ("AB:CD:..."), as `openssl x509
 * -fingerprint -sha256` prints them. Returns 0, or -1 for anything else.
 */
int fingerprint_parse(const char *text, uint8_t out[FINGERPRINT_LEN]);

/* fingerprint_format(fp, buf): "AB:CD:..." into buf (at least
 * FINGERPRINT_TEXT bytes). Returns buf. */
char *fingerprint_format(const uint8_t fp[FINGERPRINT_LEN], char *buf);

#endif
