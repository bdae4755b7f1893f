// SPDX-License-Identifier: Apache-2.0
/* The node journal: what an ADD may have allocated, written before each API write, so that DEL
 * and GC release it after a crash or while the API is down (docs/ipam.md). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/cni/err.h"
#include "lib/json/json.h"
#include "lib/util/cleanup.h"
#include "lib/util/log.h"
#include "lib/util/safedir.h"
#include "whereabouts/internal.h"

#define JOURNAL_MAX (256 * 1024)
#define JOURNAL_SUFFIX ".json"

void wb_entry_done(struct wb_entry *e)
{
	free(e->container_id);
	free(e->ifname);
	free(e->network);
	free(e->podref);
	free(e->pod_uid);
	free(e->ips);
	memset(e, 0, sizeof(*e));
}

int wb_journal_open(struct cni_err *err)
{
	const char *dir = secure_getenv("PLEXUS_WHEREABOUTS_DIR");
	if (!dir || !*dir)
		dir = WB_JOURNAL_DIR_DEFAULT;
	int fd = safedir_open(dir, true, 0700, NULL);
	if (fd < 0)
		return cni_err_set(err, CNI_ERR_IO, -fd, "whereabouts journal '%s': %s", dir,
				   strerror(-fd));
	return fd;
}

/* "<id>@<ifname>.json", each part with every byte outside [A-Za-z0-9_.-] as %XX. */
static int file_name(const char *id, const char *ifname, char buf[256])
{
	size_t o = 0;
	const char *parts[] = { id, ifname };
	for (size_t p = 0; p < 2; p++) {
		if (p)
			buf[o++] = '@';
		for (const unsigned char *c = (const unsigned char *)parts[p]; *c; c++) {
			if (o + 4 + sizeof(JOURNAL_SUFFIX) >= 256)
				return -ENAMETOOLONG;
			bool plain = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
				     (*c >= '0' && *c <= '9') || *c == '_' || *c == '-' ||
				     (*c == '.' && o > 0);
			o += (size_t)(plain ? snprintf(buf + o, 256 - o, "%c", *c)
					    : snprintf(buf + o, 256 - o, "%%%02X", *c));
		}
	}
	memcpy(buf + o, JOURNAL_SUFFIX, sizeof(JOURNAL_SUFFIX));
	return 0;
}

int wb_journal_write(int dfd, const struct wb_entry *e, struct cni_err *err)
{
	char name[256];
	if (file_name(e->container_id, e->ifname, name) < 0)
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, ENAMETOOLONG,
				   "container ID and ifname too long for the whereabouts journal");
	_cleanup_json_ cJSON *j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "containerID", e->container_id);
	cJSON_AddStringToObject(j, "ifname", e->ifname);
	cJSON_AddStringToObject(j, "network", e->network ? e->network : "");
	cJSON_AddStringToObject(j, "podref", e->podref ? e->podref : "");
	if (e->pod_uid && *e->pod_uid)
		cJSON_AddStringToObject(j, "podUID", e->pod_uid);
	cJSON *ips = cJSON_AddArrayToObject(j, "ips");
	for (size_t i = 0; i < e->n_ips; i++) {
		char s[IP_STR_LEN];
		format_ip(&e->ips[i], s);
		cJSON_AddItemToArray(ips, cJSON_CreateString(s));
	}
	_cleanup_free_ char *text = json_print(j);
	int r = safedir_replace(dfd, name, text, strlen(text), 0600);
	if (r < 0)
		return cni_err_set(err, CNI_ERR_IO, -r, "whereabouts journal '%s': %s", name,
				   strerror(-r));
	return 0;
}

/* Decode one journal file; anything malformed is -EBADMSG (the file is then left alone). */
static int decode(const char *text, size_t len, struct wb_entry *ret)
{
	_cleanup_json_ cJSON *j = cJSON_ParseWithLength(text, len);
	const char *id = cJSON_GetStringValue(json_get(j, "containerID"));
	const char *ifn = cJSON_GetStringValue(json_get(j, "ifname"));
	const char *net = cJSON_GetStringValue(json_get(j, "network"));
	const char *pr = cJSON_GetStringValue(json_get(j, "podref"));
	const char *uid = cJSON_GetStringValue(json_get(j, "podUID"));
	const cJSON *ips = json_get(j, "ips");
	if (!id || !*id || !ifn || !*ifn || !net || !pr || !cJSON_IsArray(ips))
		return -EBADMSG;
	_cleanup_(wb_entry_done) struct wb_entry e = {
		.container_id = xstrdup(id),
		.ifname = xstrdup(ifn),
		.network = xstrdup(net),
		.podref = xstrdup(pr),
		.pod_uid = uid && *uid ? xstrdup(uid) : NULL,
	};
	size_t n = (size_t)cJSON_GetArraySize(ips);
	e.ips = xcalloc(n ? n : 1, sizeof(*e.ips));
	const cJSON *ip;
	cJSON_ArrayForEach (ip, ips) {
		const char *s = cJSON_GetStringValue(ip);
		if (!s || parse_ip(s, &e.ips[e.n_ips]) < 0)
			return -EBADMSG;
		e.n_ips++;
	}
	*ret = e;
	memset(&e, 0, sizeof(e));
	return 0;
}

int wb_journal_read(int dfd, const char *id, const char *ifname, struct wb_entry *ret)
{
	char name[256];
	if (file_name(id, ifname, name) < 0)
		return -ENOENT;
	_cleanup_free_ char *text = NULL;
	size_t len;
	int r = safedir_read(dfd, name, JOURNAL_MAX, &text, &len);
	if (r < 0)
		return r;
	struct wb_entry e;
	if ((r = decode(text, len, &e)) < 0)
		return r;
	/* A file must describe the attachment its name says. */
	if (strcmp(e.container_id, id) != 0 || strcmp(e.ifname, ifname) != 0) {
		wb_entry_done(&e);
		return -EBADMSG;
	}
	*ret = e;
	return 0;
}

void wb_journal_remove(int dfd, const char *id, const char *ifname)
{
	char name[256];
	if (file_name(id, ifname, name) == 0 && unlinkat(dfd, name, 0) < 0 && errno != ENOENT)
		log_warning("whereabouts journal: remove '%s': %m, ignoring", name);
}

int wb_journal_list(int dfd, const char *network, struct wb_entry **ret, size_t *ret_n)
{
	int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	DIR *d = fdopendir(fd);
	if (!d) {
		int r = -errno;
		close(fd);
		return r;
	}
	struct wb_entry *v = NULL;
	size_t n = 0;
	for (struct dirent *de; (de = readdir(d));) {
		size_t l = strlen(de->d_name);
		if (de->d_name[0] == '.' || l <= strlen(JOURNAL_SUFFIX) ||
		    strcmp(de->d_name + l - strlen(JOURNAL_SUFFIX), JOURNAL_SUFFIX) != 0)
			continue;
		_cleanup_free_ char *text = NULL;
		size_t len;
		struct wb_entry e;
		if (safedir_read(dfd, de->d_name, JOURNAL_MAX, &text, &len) < 0 ||
		    decode(text, len, &e) < 0)
			continue;
		char want[256];
		if ((network && strcmp(e.network, network) != 0) ||
		    file_name(e.container_id, e.ifname, want) < 0 || strcmp(want, de->d_name)) {
			wb_entry_done(&e);
			continue;
		}
		v = xrealloc(v, (n + 1) * sizeof(*v));
		v[n++] = e;
	}
	closedir(d);
	*ret = v;
	*ret_n = n;
	return 0;
}
