/* bcryptprimitives.dll for Wine 8 (test only, never shipped): Go >= 1.24
 * reads random bytes through bcryptprimitives!ProcessPrng, which Wine 8
 * does not export. This one forwards to BCryptGenRandom, which it has.
 * Built by packaging/test/wine.sh with mingw-w64 and copied into the Wine
 * prefix's system32 (WINEDLLOVERRIDES=bcryptprimitives=n). */
#include <windows.h>
#include <bcrypt.h>

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
	while (len > 0) {
		ULONG n = len > 0x40000000 ? 0x40000000 : (ULONG)len;
		if (BCryptGenRandom(NULL, data, n, BCRYPT_USE_SYSTEM_PREFERRED_RNG) != 0)
			return FALSE;
		data += n;
		len -= n;
	}
	return TRUE;
}
