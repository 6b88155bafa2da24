/*
 * netaddr.c - parsing listen_address and fastcgi_allowed_peers, and the
 * peer check every worker makes before libfcgi reads a byte of a TCP
 * connection (see netaddr.h and worker.c).
 */
#include "hms/netaddr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 1-65535, decimal digits only (no sign, no blanks). */
static int parse_port(const char *text)
{
	size_t digits = strspn(text, "0123456789");
	long port;

	if (digits == 0 || digits > 5 || text[digits] != '\0')
		return -1;
	port = strtol(text, NULL, 10);
	return port >= 1 && port <= 65535 ? (int)port : -1;
}

int netaddr_parse_listen(const char *text, struct sockaddr_storage *sa, socklen_t *len)
{
	char host[NETADDR_LISTEN_MAX + 1];
	const char *port_text;
	int port;

	memset(sa, 0, sizeof(*sa));
	if (text == NULL || strlen(text) > NETADDR_LISTEN_MAX)
		return -1;
	if (text[0] == '[') {
		const char *close = strchr(text, ']');
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)(void *)sa;

		if (close == NULL || close[1] != ':')
			return -1;
		snprintf(host, sizeof(host), "%.*s", (int)(close - text - 1), text + 1);
		port_text = close + 2;
		port = parse_port(port_text);
		if (port < 0 || inet_pton(AF_INET6, host, &in6->sin6_addr) != 1)
			return -1;
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((unsigned short)port);
		*len = sizeof(*in6);
		return 0;
	}
	{
		const char *colon = strrchr(text, ':');
		struct sockaddr_in *in = (struct sockaddr_in *)(void *)sa;

		/* An IPv6 address must be bracketed: "::1:9000" is ambiguous. */
		if (colon == NULL || memchr(text, ':', (size_t)(colon - text)) != NULL)
			return -1;
		snprintf(host, sizeof(host), "%.*s", (int)(colon - text), text);
		port = parse_port(colon + 1);
		if (port < 0 || inet_pton(AF_INET, host, &in->sin_addr) != 1)
			return -1;
		in->sin_family = AF_INET;
		in->sin_port = htons((unsigned short)port);
		*len = sizeof(*in);
		return 0;
	}
}

/* One entry, "addr" or "addr/bits", of len bytes. */
static int parse_peer(const char *text, size_t len, struct netaddr_peer *peer)
{
	char addr[INET6_ADDRSTRLEN + 1];
	const char *slash = memchr(text, '/', len);
	size_t addr_len = slash != NULL ? (size_t)(slash - text) : len;
	int max_bits;

	memset(peer, 0, sizeof(*peer));
	if (addr_len == 0 || addr_len >= sizeof(addr))
		return -1;
	memcpy(addr, text, addr_len);
	addr[addr_len] = '\0';
	if (inet_pton(AF_INET, addr, peer->addr) == 1) {
		peer->family = AF_INET;
		max_bits = 32;
	} else if (inet_pton(AF_INET6, addr, peer->addr) == 1) {
		peer->family = AF_INET6;
		max_bits = 128;
	} else {
		return -1;
	}
	peer->prefix_bits = max_bits;
	if (slash != NULL) {
		size_t bits_len = len - addr_len - 1;
		size_t digits = strspn(slash + 1, "0123456789");
		long bits;

		if (bits_len == 0 || bits_len > 3 || digits < bits_len)
			return -1;
		bits = strtol(slash + 1, NULL, 10);
		if (bits < 1 || bits > max_bits)
			return -1;
		peer->prefix_bits = (int)bits;
	}
	return 0;
}

int netaddr_parse_peers(const char *text, struct netaddr_peer *peers, size_t max, char *bad,
                        size_t badlen)
{
	static const char separators[] = ", \t";
	size_t count = 0;
	const char *p = text != NULL ? text : "";

	for (;;) {
		size_t len;

		p += strspn(p, separators);
		if (*p == '\0')
			break;
		len = strcspn(p, separators);
		if (count == max) {
			snprintf(bad, badlen, "more than %zu entries", max);
			return -1;
		}
		if (parse_peer(p, len, &peers[count]) != 0) {
			snprintf(bad, badlen, "%.*s", (int)(len < 64 ? len : 64), p);
			return -1;
		}
		count++;
		p += len;
	}
	return (int)count;
}

static bool prefix_matches(const unsigned char *a, const unsigned char *b, int bits)
{
	int whole = bits / 8, rest = bits % 8;

	if (memcmp(a, b, (size_t)whole) != 0)
		return false;
	if (rest == 0)
		return true;
	return ((a[whole] ^ b[whole]) & (0xff << (8 - rest)) & 0xff) == 0;
}

bool netaddr_peer_allowed(const struct netaddr_peer *peers, size_t count, const struct sockaddr *sa)
{
	unsigned char addr[16];
	int family;

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;

		family = AF_INET;
		memcpy(addr, &in->sin_addr, 4);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;

		/* A dual-stack listener sees IPv4 peers as ::ffff:a.b.c.d. */
		if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
			family = AF_INET;
			memcpy(addr, in6->sin6_addr.s6_addr + 12, 4);
		} else {
			family = AF_INET6;
			memcpy(addr, in6->sin6_addr.s6_addr, 16);
		}
	} else {
		return false;
	}
	for (size_t i = 0; i < count; i++)
		if (peers[i].family == family &&
		    prefix_matches(peers[i].addr, addr, peers[i].prefix_bits))
			return true;
	return false;
}

void netaddr_format(const struct sockaddr *sa, char *buf, size_t size)
{
	char host[INET6_ADDRSTRLEN];

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;

		inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		snprintf(buf, size, "%s:%u", host, (unsigned)ntohs(in->sin_port));
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;

		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		snprintf(buf, size, "[%s]:%u", host, (unsigned)ntohs(in6->sin6_port));
	} else {
		snprintf(buf, size, "unix");
	}
}
