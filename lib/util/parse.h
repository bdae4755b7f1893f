/* SPDX-License-Identifier: Apache-2.0 */
/* Strict parsers for the values CNI configurations carry: integers, MACs, IPs, CIDRs. */
#pragma once

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MAC_LEN 6
#define MAC_STR_LEN 18 /* "aa:bb:cc:dd:ee:ff" + NUL */
#define IP_STR_LEN 46  /* INET6_ADDRSTRLEN */
#define IPNET_STR_LEN 50

/* An IPv4 or IPv6 address; family 0 means "unset". */
struct ip_addr {
	int family; /* 0, AF_INET or AF_INET6 */
	union {
		struct in_addr v4;
		struct in6_addr v6;
		uint8_t raw[16];
	};
};

/* An address with a prefix length ("10.1.2.3/24"); the address keeps its host bits. */
struct ip_net {
	struct ip_addr ip;
	uint8_t prefix;
};

/* All return 0 or -EINVAL/-ERANGE; they accept no leading/trailing junk or whitespace. */
int parse_u64(const char *s, uint64_t max, uint64_t *ret);
int parse_i64(const char *s, int64_t min, int64_t max, int64_t *ret);
/* Six colon-separated hex octets; '-' separators too (Go's net.ParseMAC accepts both). */
int parse_mac(const char *s, uint8_t ret[MAC_LEN]);
void format_mac(const uint8_t mac[MAC_LEN], char buf[MAC_STR_LEN]);
int parse_ip(const char *s, struct ip_addr *ret);
/* "addr/prefix"; the prefix is mandatory. */
int parse_ipnet(const char *s, struct ip_net *ret);
/* "addr" or "addr/prefix"; without a prefix, ret->prefix is the full length (32/128). */
int parse_ip_or_ipnet(const char *s, struct ip_net *ret, bool *ret_had_prefix);
void format_ip(const struct ip_addr *ip, char buf[IP_STR_LEN]);
void format_ipnet(const struct ip_net *n, char buf[IPNET_STR_LEN]);
/* Address length in bytes for a family (4, 16) or 0. */
size_t ip_family_len(int family);
bool ip_addr_equal(const struct ip_addr *a, const struct ip_addr *b);
/* Zero the host bits of n (so "10.1.2.3/24" becomes "10.1.2.0/24"). */
void ip_net_mask(struct ip_net *n);
bool ip_is_zero(const struct ip_addr *a);
/* A PCI address in sysfs's full form dddd:bb:dd.f (hex, function 0-7). */
bool parse_pci_address_ok(const char *s);
