// SPDX-License-Identifier: Apache-2.0
/* Strict parsers and formatters for integers, MACs, IPs and CIDRs. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "lib/util/parse.h"

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

int parse_u64(const char *s, uint64_t max, uint64_t *ret)
{
	if (!s || !*s)
		return -EINVAL;
	uint64_t v = 0;
	for (const char *p = s; *p; p++) {
		if (!is_digit(*p))
			return -EINVAL;
		unsigned d = (unsigned)(*p - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}
	if (v > max)
		return -ERANGE;
	*ret = v;
	return 0;
}

int parse_i64(const char *s, int64_t min, int64_t max, int64_t *ret)
{
	if (!s)
		return -EINVAL;
	bool neg = *s == '-';
	uint64_t mag;
	int r = parse_u64(neg ? s + 1 : s, UINT64_MAX, &mag);
	if (r < 0)
		return r;
	int64_t v;
	if (neg) {
		if (mag > (uint64_t)INT64_MAX + 1)
			return -ERANGE;
		v = mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)mag;
	} else {
		if (mag > (uint64_t)INT64_MAX)
			return -ERANGE;
		v = (int64_t)mag;
	}
	if (v < min || v > max)
		return -ERANGE;
	*ret = v;
	return 0;
}

static int hex_val(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int parse_mac(const char *s, uint8_t ret[MAC_LEN])
{
	if (!s || strlen(s) != MAC_STR_LEN - 1)
		return -EINVAL;
	/* Like Go's net.ParseMAC, one separator throughout. */
	char sep = s[2];
	if (sep != ':' && sep != '-')
		return -EINVAL;
	uint8_t mac[MAC_LEN];
	for (size_t i = 0; i < MAC_LEN; i++) {
		const char *p = s + i * 3;
		int hi = hex_val(p[0]), lo = hex_val(p[1]);
		if (hi < 0 || lo < 0)
			return -EINVAL;
		if (i < MAC_LEN - 1 && p[2] != sep)
			return -EINVAL;
		mac[i] = (uint8_t)(hi << 4 | lo);
	}
	memcpy(ret, mac, MAC_LEN);
	return 0;
}

void format_mac(const uint8_t mac[MAC_LEN], char buf[MAC_STR_LEN])
{
	(void)snprintf(buf, MAC_STR_LEN, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2],
		       mac[3], mac[4], mac[5]);
}

size_t ip_family_len(int family)
{
	switch (family) {
	case AF_INET:
		return 4;
	case AF_INET6:
		return 16;
	default:
		return 0;
	}
}

/* s[0..n) without a prefix; inet_pton already rejects whitespace, zones and leading zeros. */
static int parse_ip_n(const char *s, size_t n, struct ip_addr *ret)
{
	char buf[IP_STR_LEN];
	if (n == 0 || n >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, n);
	buf[n] = '\0';
	struct ip_addr a = { 0 };
	/* A ':' means IPv6, so "::ffff:1.2.3.4" stays AF_INET6. */
	a.family = memchr(buf, ':', n) ? AF_INET6 : AF_INET;
	if (inet_pton(a.family, buf, a.raw) != 1)
		return -EINVAL;
	*ret = a;
	return 0;
}

int parse_ip(const char *s, struct ip_addr *ret)
{
	if (!s)
		return -EINVAL;
	return parse_ip_n(s, strlen(s), ret);
}

int parse_ip_or_ipnet(const char *s, struct ip_net *ret, bool *ret_had_prefix)
{
	if (!s)
		return -EINVAL;
	const char *slash = strchr(s, '/');
	struct ip_net n = { 0 };
	int r = parse_ip_n(s, slash ? (size_t)(slash - s) : strlen(s), &n.ip);
	if (r < 0)
		return r;
	size_t bits = ip_family_len(n.ip.family) * 8;
	if (slash) {
		const char *p = slash + 1;
		/* Decimal, no sign, no leading zeros (as netip.ParsePrefix). */
		if (p[0] == '0' && p[1] != '\0')
			return -EINVAL;
		uint64_t prefix;
		r = parse_u64(p, bits, &prefix);
		if (r < 0)
			return -EINVAL;
		n.prefix = (uint8_t)prefix;
	} else {
		n.prefix = (uint8_t)bits;
	}
	*ret = n;
	if (ret_had_prefix)
		*ret_had_prefix = slash != NULL;
	return 0;
}

int parse_ipnet(const char *s, struct ip_net *ret)
{
	if (!s || !strchr(s, '/'))
		return -EINVAL;
	return parse_ip_or_ipnet(s, ret, NULL);
}

void format_ip(const struct ip_addr *ip, char buf[IP_STR_LEN])
{
	buf[0] = '\0';
	if (ip_family_len(ip->family) == 0 || !inet_ntop(ip->family, ip->raw, buf, IP_STR_LEN))
		buf[0] = '\0';
}

void format_ipnet(const struct ip_net *n, char buf[IPNET_STR_LEN])
{
	char ip[IP_STR_LEN];
	format_ip(&n->ip, ip);
	if (!ip[0]) {
		buf[0] = '\0';
		return;
	}
	(void)snprintf(buf, IPNET_STR_LEN, "%s/%u", ip, (unsigned)n->prefix);
}

bool ip_addr_equal(const struct ip_addr *a, const struct ip_addr *b)
{
	if (a->family != b->family)
		return false;
	return memcmp(a->raw, b->raw, ip_family_len(a->family)) == 0;
}

void ip_net_mask(struct ip_net *n)
{
	size_t len = ip_family_len(n->ip.family);
	for (size_t i = 0; i < len; i++) {
		size_t bit = i * 8;
		if (bit >= n->prefix)
			n->ip.raw[i] = 0;
		else if (bit + 8 > n->prefix)
			n->ip.raw[i] &= (uint8_t)(0xff << (8 - (n->prefix - bit)));
	}
}

bool ip_is_zero(const struct ip_addr *a)
{
	size_t len = ip_family_len(a->family);
	for (size_t i = 0; i < len; i++)
		if (a->raw[i])
			return false;
	return true;
}

bool parse_pci_address_ok(const char *s)
{
	static const char pat[] = "xxxx:xx:xx.f";
	if (!s || strlen(s) != sizeof(pat) - 1)
		return false;
	for (size_t i = 0; pat[i]; i++) {
		if (pat[i] == 'x' && !isxdigit((unsigned char)s[i]))
			return false;
		if (pat[i] == 'f' && (s[i] < '0' || s[i] > '7'))
			return false;
		if ((pat[i] == ':' || pat[i] == '.') && s[i] != pat[i])
			return false;
	}
	return true;
}
