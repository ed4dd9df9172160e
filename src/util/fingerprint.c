/*
 * fingerprint.c: the text form of SHA-256 certificate fingerprints.
 */
#include <stdbool.h>
#include <string.h>

#include "util/fingerprint.h"

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
fingerprint_parse(const char *text, uint8_t out[FINGERPRINT_LEN])
{
	uint8_t md[FINGERPRINT_LEN];
	size_t len = strlen(text);
	bool colons;

	if (len == FINGERPRINT_LEN * 2)
		colons = false;
	else if (len == FINGERPRINT_LEN * 3 - 1)
		colons = true;
	else
		return -1;
	for (size_t i = 0; i < FINGERPRINT_LEN; i++) {
		int hi = hexval(text[0]), lo = hexval(text[1]);

		if (hi < 0 || lo < 0)
			return -1;
		md[i] = (uint8_t)(hi << 4 | lo);
		text += 2;
		if (colons && i + 1 < FINGERPRINT_LEN && *text++ != ':')
			return -1;
	}
	memcpy(out, md, sizeof(md));
	return 0;
}

char *
fingerprint_format(const uint8_t fp[FINGERPRINT_LEN], char *buf)
{
	static const char digits[] = "0123456789ABCDEF";
	char *p = buf;

	for (size_t i = 0; i < FINGERPRINT_LEN; i++) {
		*p++ = digits[fp[i] >> 4];
		*p++ = digits[fp[i] & 0xf];
		*p++ = i + 1 < FINGERPRINT_LEN ? ':' : '\0';
	}
	return buf;
}
