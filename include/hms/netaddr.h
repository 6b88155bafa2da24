/*
 * netaddr.h - IP addresses for the FastCGI TCP listener: the text of
 * listen_address ("10.0.0.5:9000", "[2001:db8::5]:9000"), the allow-list
 * fastcgi_allowed_peers ("10.0.0.2, 10.0.1.0/24, 2001:db8::2"), and whether
 * a connecting peer is on it.
 *
 * Literals only, never host names: the master binds before anything could
 * resolve them reliably, and the allow-list must not depend on DNS.
 */
#ifndef HMS_NETADDR_H
#define HMS_NETADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#define NETADDR_MAX_PEERS 32
/* The longest listen_address: "[" IPv6 (45) "]:" port (5). */
#define NETADDR_LISTEN_MAX 53
/* Room for netaddr_format(). */
#define NETADDR_TEXT_MAX 64

/* One allow-list entry: an address, or a range of prefix_bits leading bits. */
struct netaddr_peer {
	int family;             /* AF_INET or AF_INET6 */
	unsigned char addr[16]; /* network order; the first 4 bytes for IPv4 */
	int prefix_bits;        /* 32 (IPv4) or 128 (IPv6) for one address */
};

/* "a.b.c.d:port" or "[IPv6]:port", port 1-65535, into *sa (*len set).
 * Returns 0, or -1 when the text is anything else. */
int netaddr_parse_listen(const char *text, struct sockaddr_storage *sa, socklen_t *len);

/* Entries separated by commas and/or blanks, each an IPv4 or IPv6 address
 * with an optional "/bits" (1-32, 1-128: /0 would let everyone in).
 * Returns how many (at most max), or -1 with the first bad entry (or "too
 * many") in bad. */
int netaddr_parse_peers(const char *text, struct netaddr_peer *peers, size_t max, char *bad,
                        size_t badlen);

/* Whether the peer address sa (AF_INET or AF_INET6; an IPv4-mapped IPv6
 * address counts as the IPv4 one) is on the list. Anything else is not. */
bool netaddr_peer_allowed(const struct netaddr_peer *peers, size_t count,
                          const struct sockaddr *sa);

/* "10.0.0.2:51234", "[2001:db8::2]:51234", or "unix" for a log line. */
void netaddr_format(const struct sockaddr *sa, char *buf, size_t size);

#endif
