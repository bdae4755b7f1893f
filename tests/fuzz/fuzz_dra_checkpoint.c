// SPDX-License-Identifier: Apache-2.0
/* libFuzzer harness: the DRA driver's checkpoint as a start reads it back (dra_ckpt_parse). It
 * is the driver's own file, but a crash or the disk can leave any bytes in it. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dra/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dra d = { 0 };
	struct cni_err err = { 0 };
	/* The parser takes a NUL-terminated text of len bytes, as file_read_all hands it. */
	char *text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	(void)dra_ckpt_parse(&d, text, size, &err);
	dra_ckpt_free(&d);
	free(text);
	return 0;
}
