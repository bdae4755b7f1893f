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

/* A stream over the directory dfd (its own fd); NULL with errno set. */
static DIR *open_dir(int dfd)
{
	int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd < 0 ? NULL : fdopendir(fd);
	if (!d && fd >= 0) {
		int e = errno;
		close(fd);
		errno = e;
	}
	return d;
}

/* The journal file name a temp file of safedir_replace is for, or NULL (the temp's name is
 * SAFEDIR_TMP_PREFIX "<name>.<pid>"). */
static bool temp_of(const char *tmp, char base[256])
{
	size_t pl = strlen(SAFEDIR_TMP_PREFIX);
	const char *dot = strrchr(tmp, '.');
	if (strncmp(tmp, SAFEDIR_TMP_PREFIX, pl) != 0 || !dot || dot <= tmp + pl ||
	    (size_t)(dot - tmp - pl) >= 256)
		return false;
	memcpy(base, tmp + pl, (size_t)(dot - tmp - pl));
	base[dot - tmp - pl] = '\0';
	return true;
}

/* Remove the temp files a killed writer left for the journal files keep() says no to. Only
 * the operations of one attachment write its file, and the runtime runs those one at a time. */
static void sweep_temps(int dfd, bool (*keep)(const char *base, const void *data), const void *data)
{
	DIR *d = open_dir(dfd);
	if (!d)
		return;
	char base[256];
	for (struct dirent *de; (de = readdir(d));)
		if (temp_of(de->d_name, base) && !keep(base, data))
			(void)unlinkat(dfd, de->d_name, 0);
	closedir(d);
}

static bool keep_other(const char *base, const void *data)
{
	return strcmp(base, data) != 0;
}

void wb_journal_remove(int dfd, const char *id, const char *ifname)
{
	char name[256];
	if (file_name(id, ifname, name) < 0)
		return;
	if (unlinkat(dfd, name, 0) < 0 && errno != ENOENT)
		log_warning("whereabouts journal: remove '%s': %m, ignoring", name);
	sweep_temps(dfd, keep_other, name);
}

struct valid_set {
	const struct cni_attachment *v;
	size_t n;
};

static bool keep_valid(const char *base, const void *data)
{
	const struct valid_set *s = data;
	char name[256];
	for (size_t i = 0; i < s->n; i++)
		if (file_name(s->v[i].container_id, s->v[i].ifname, name) == 0 &&
		    !strcmp(name, base))
			return true;
	return false;
}

void wb_journal_sweep(int dfd, const struct cni_attachment *valid, size_t n)
{
	struct valid_set s = { valid, n };
	sweep_temps(dfd, keep_valid, &s);
}

int wb_journal_list(int dfd, const char *network, struct wb_entry **ret, size_t *ret_n)
{
	DIR *d = open_dir(dfd);
	if (!d)
		return -errno;
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
