/*
 * utils/buffers.h
 *	  Scratch buffers that grow and are reused from call to call.
 *
 * Each device context keeps its query, candidate, output and staging
 * buffers from one search to the next, so a search allocates only when it
 * needs more than any earlier one did.  The same struct holds device memory
 * or pinned host memory (for asynchronous copies); the functions say which.
 */
#ifndef HS_UTILS_BUFFERS_H
#define HS_UTILS_BUFFERS_H

#include <stddef.h>

struct ScratchBuf
{
	void	   *ptr;
	size_t		capacity;		/* bytes */
};

/* grow to at least bytes (contents are not kept); what names it in errors */
int			dbuf_reserve(ScratchBuf &b, size_t bytes, char *errbuf, size_t errlen, const char *what);
int			hbuf_reserve(ScratchBuf &b, size_t bytes, char *errbuf, size_t errlen, const char *what);
void		dbuf_free(ScratchBuf &b);
void		hbuf_free(ScratchBuf &b);

/* changes whenever any buffer is freed, as growing one frees it first: what
 * a captured search's pointers depend on (graph_cache.h) */
unsigned long long scratch_generation(void);

#endif							/* HS_UTILS_BUFFERS_H */
