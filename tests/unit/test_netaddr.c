/*
 * test_netaddr.c - listen_address and fastcgi_allowed_peers
 * (src/util/netaddr.c): what parses, what is refused, and which peers the
 * allow-list lets in (IPv4, IPv6, ranges, IPv4-mapped IPv6).
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <string.h>

#include "hms/netaddr.h"

static struct sockaddr_storage v4(const char *addr, unsigned short port)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *in = (struct sockaddr_in *)&ss;

	memset(&ss, 0, sizeof(ss));
	in->sin_family = AF_INET;
	in->sin_port = htons(port);
	cr_assert_eq(inet_pton(AF_INET, addr, &in->sin_addr), 1);
	return ss;
}

static struct sockaddr_storage v6(const char *addr, unsigned short port)
{
	struct sockaddr_storage ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;

	memset(&ss, 0, sizeof(ss));
	in6->sin6_family = AF_INET6;
	in6->sin6_port = htons(port);
	cr_assert_eq(inet_pton(AF_INET6, addr, &in6->sin6_addr), 1);
	return ss;
}

Test(netaddr, listen_ipv4)
{
	struct sockaddr_storage ss;
	socklen_t len = 0;
	const struct sockaddr_in *in = (const struct sockaddr_in *)&ss;
	char text[NETADDR_TEXT_MAX];

	cr_assert_eq(netaddr_parse_listen("10.0.0.5:9000", &ss, &len), 0);
	cr_assert_eq(in->sin_family, AF_INET);
	cr_assert_eq(ntohs(in->sin_port), 9000);
	cr_assert_eq(len, sizeof(struct sockaddr_in));
	netaddr_format((struct sockaddr *)&ss, text, sizeof(text));
	cr_assert_str_eq(text, "10.0.0.5:9000");
	cr_assert_eq(netaddr_parse_listen("0.0.0.0:1", &ss, &len), 0);
	cr_assert_eq(netaddr_parse_listen("127.0.0.2:65535", &ss, &len), 0);
}

Test(netaddr, listen_ipv6)
{
	struct sockaddr_storage ss;
	socklen_t len = 0;
	const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&ss;
	char text[NETADDR_TEXT_MAX];

	cr_assert_eq(netaddr_parse_listen("[2001:db8::5]:9000", &ss, &len), 0);
	cr_assert_eq(in6->sin6_family, AF_INET6);
	cr_assert_eq(ntohs(in6->sin6_port), 9000);
	cr_assert_eq(len, sizeof(struct sockaddr_in6));
	netaddr_format((struct sockaddr *)&ss, text, sizeof(text));
	cr_assert_str_eq(text, "[2001:db8::5]:9000");
	cr_assert_eq(netaddr_parse_listen("[::]:9000", &ss, &len), 0);
	cr_assert_eq(netaddr_parse_listen("[::ffff:10.0.0.5]:9000", &ss, &len), 0);
}

Test(netaddr, listen_refused)
{
	static const char *const bad[] = {
	    "",
	    "10.0.0.5",             /* no port */
	    "10.0.0.5:",            /* empty port */
	    "10.0.0.5:0",           /* port 0 */
	    "10.0.0.5:65536",       /* past the last port */
	    "10.0.0.5:123456",      /* six digits */
	    "10.0.0.5:+90",         /* a sign */
	    "10.0.0.5:90 ",         /* a blank */
	    "10.0.0.5:9000x",       /* junk after the port */
	    "10.0.0:9000",          /* three parts */
	    "10.0.0.256:9000",      /* a part past 255 */
	    "localhost:9000",       /* a host name */
	    "hms.example.org:9000", /* a host name */
	    "::1:9000",             /* IPv6 without brackets */
	    "[::1]9000",            /* no colon after the bracket */
	    "[::1:9000",            /* no closing bracket */
	    "[]:9000",              /* an empty address */
	    "[10.0.0.5]:9000",      /* IPv4 in brackets */
	    "[fe80::1%eth0]:9000",  /* a zone */
	    ":9000",                /* no address */
	    "[2001:db8:1111:2222:3333:4444:5555:6666:7777]:9000",
	    "[0000:0000:0000:0000:0000:ffff:255.255.255.255]:9000x",
	};
	struct sockaddr_storage ss;
	socklen_t len = 0;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_expect_eq(netaddr_parse_listen(bad[i], &ss, &len), -1, "'%s' should be refused",
		             bad[i]);
	cr_expect_eq(netaddr_parse_listen(NULL, &ss, &len), -1);
}

Test(netaddr, peers_parse)
{
	struct netaddr_peer peers[NETADDR_MAX_PEERS];
	char bad[80] = "";

	cr_assert_eq(netaddr_parse_peers("10.0.0.2", peers, NETADDR_MAX_PEERS, bad, sizeof(bad)),
	             1);
	cr_assert_eq(peers[0].family, AF_INET);
	cr_assert_eq(peers[0].prefix_bits, 32);
	cr_assert_eq(netaddr_parse_peers(" 10.0.0.2, 10.0.1.0/24 2001:db8::/32,\t::1 ", peers,
	                                 NETADDR_MAX_PEERS, bad, sizeof(bad)),
	             4);
	cr_assert_eq(peers[1].prefix_bits, 24);
	cr_assert_eq(peers[2].family, AF_INET6);
	cr_assert_eq(peers[2].prefix_bits, 32);
	cr_assert_eq(peers[3].prefix_bits, 128);
	cr_assert_eq(netaddr_parse_peers("", peers, NETADDR_MAX_PEERS, bad, sizeof(bad)), 0);
	cr_assert_eq(netaddr_parse_peers(NULL, peers, NETADDR_MAX_PEERS, bad, sizeof(bad)), 0);
	cr_assert_eq(netaddr_parse_peers(" , ", peers, NETADDR_MAX_PEERS, bad, sizeof(bad)), 0);
}

Test(netaddr, peers_refused)
{
	static const char *const bad_lists[][2] = {
	    {"nginx.example.org", "nginx.example.org"},
	    {"10.0.0.2, localhost", "localhost"},
	    {"0.0.0.0/0", "0.0.0.0/0"}, /* everyone */
	    {"::/0", "::/0"},
	    {"10.0.0.0/33", "10.0.0.0/33"},
	    {"2001:db8::/129", "2001:db8::/129"},
	    {"10.0.0.0/", "10.0.0.0/"},
	    {"10.0.0.0/2x", "10.0.0.0/2x"},
	    {"10.0.0.0/-8", "10.0.0.0/-8"},
	    {"10.0.0.0/0008", "10.0.0.0/0008"},
	    {"/24", "/24"},
	    {"10.0.0.2;10.0.0.3", "10.0.0.2;10.0.0.3"},
	};
	struct netaddr_peer peers[NETADDR_MAX_PEERS];
	char bad[80];

	for (size_t i = 0; i < sizeof(bad_lists) / sizeof(bad_lists[0]); i++) {
		bad[0] = '\0';
		cr_expect_eq(netaddr_parse_peers(bad_lists[i][0], peers, NETADDR_MAX_PEERS, bad,
		                                 sizeof(bad)),
		             -1, "'%s' should be refused", bad_lists[i][0]);
		cr_expect_str_eq(bad, bad_lists[i][1]);
	}
	cr_expect_eq(netaddr_parse_peers("10.0.0.1 10.0.0.2 10.0.0.3", peers, 2, bad, sizeof(bad)),
	             -1);
	cr_expect_not_null(strstr(bad, "more than 2"), "%s", bad);
}

Test(netaddr, peer_allowed)
{
	struct netaddr_peer peers[NETADDR_MAX_PEERS];
	char bad[80];
	int n = netaddr_parse_peers("10.0.0.2, 192.168.4.0/22, 2001:db8:aa::/48, ::1", peers,
	                            NETADDR_MAX_PEERS, bad, sizeof(bad));
	struct sockaddr_storage ss;

	cr_assert_eq(n, 4, "%s", bad);
	ss = v4("10.0.0.2", 40000);
	cr_expect(netaddr_peer_allowed(peers, 4, (struct sockaddr *)&ss));
	ss = v4("10.0.0.3", 40000);
	cr_expect_not(netaddr_peer_allowed(peers, 4, (struct sockaddr *)&ss));
	ss = v4("192.168.4.1", 1);
	cr_expect(netaddr_peer_allowed(peers, 4, (struct sockaddr *)&ss));
	ss = v4("192.168.7.255", 1);
	cr_expect(netaddr_peer_allowed(peers, 4, (struct sockaddr *)&ss));
	ss = v4("192.168.8.0", 1); /* just past the /22 */
	cr_expect_not(netaddr_peer_allowed(peers, 4, (struct sockaddr *)&ss));
	ss = v4("192.168.3.255", 1); /* just before it */
	cr_expect_not(netaddr_peer_allowed(peers, 4, (struct sockaddr *)&ss));
	ss = v6("2001:db8:aa:ffff::1", 1);
	cr_expect(netaddr_peer_allowed(peers, 4, (struct sockaddr *)&ss));
	ss = v6("2001:db8:ab::1", 1);
	cr_expect_not(netaddr_peer_allowed(peers, 4, (struct sockaddr *)&ss));
	ss = v6("::1", 1);
	cr_expect(netaddr_peer_allowed(peers, 4, (struct sockaddr *)&ss));
	ss = v6("::2", 1);
	cr_expect_not(netaddr_peer_allowed(peers, 4, (struct sockaddr *)&ss));
	/* A dual-stack listener's IPv4 peer is judged as IPv4. */
	ss = v6("::ffff:10.0.0.2", 1);
	cr_expect(netaddr_peer_allowed(peers, 4, (struct sockaddr *)&ss));
	ss = v6("::ffff:10.0.0.9", 1);
	cr_expect_not(netaddr_peer_allowed(peers, 4, (struct sockaddr *)&ss));
	/* The IPv4 bytes of an allowed address inside an IPv6 one are not it. */
	ss = v6("::10.0.0.2", 1);
	cr_expect_not(netaddr_peer_allowed(peers, 4, (struct sockaddr *)&ss));
	/* An empty list lets no one in; a unix peer is not an IP peer. */
	ss = v4("10.0.0.2", 1);
	cr_expect_not(netaddr_peer_allowed(peers, 0, (struct sockaddr *)&ss));
	ss.ss_family = AF_UNIX;
	cr_expect_not(netaddr_peer_allowed(peers, 4, (struct sockaddr *)&ss));
}
