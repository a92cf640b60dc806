/*
 * swift_demangle.c
 *	  Preloaded after the ASan runtime when an uninstrumented PostgreSQL
 *	  runs the sanitized extension (test/sanitize/run-sanitized).
 *
 * Preloaded, ASan initialises lazily, on the first malloc, which comes from
 * a library constructor (libgpg-error's) inside bindtextdomain() with
 * glibc's gettext lock held.  Its start-up then looks up swift_demangle;
 * the failed dlsym() translates its error message, retaking that lock, and
 * leaves it corrupted: the next bindtextdomain() (every PostgreSQL program
 * calls one) waits forever.  With the symbol present the lookup succeeds.
 * A NULL result means "not a Swift name", so demangling is unchanged.
 */
#include <stddef.h>

char	   *swift_demangle(const char *mangled, size_t length, char *output,
						   size_t *output_length, unsigned int flags);

char *
swift_demangle(const char *mangled, size_t length, char *output,
			   size_t *output_length, unsigned int flags)
{
	(void) mangled;
	(void) length;
	(void) output;
	(void) output_length;
	(void) flags;
	return NULL;
}
