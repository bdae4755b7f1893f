// SPDX-License-Identifier: Apache-2.0
/* libFuzzer harness: kubeconfig YAML through the libyaml-based loader (via a memfd path). */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "lib/cni/err.h"
#include "lib/kube/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int fd = memfd_create("kubeconfig", MFD_CLOEXEC);
	if (fd < 0)
		return 0;
	if (write(fd, data, size) == (ssize_t)size) {
		char path[64];
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		struct kube_config *cfg = NULL;
		struct cni_err err = { 0 };
		if (kube_config_load_file(path, &cfg, &err) == 0)
			kube_config_free(cfg);
	}
	close(fd);
	return 0;
}
