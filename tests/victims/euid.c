/*
 * euid.c: prints the real and effective uid and the no_new_privs bit.
 *
 * gvnet-harness's `descendants` scenario installs it setuid root in an image and runs it as
 * uid 1000 in a container started by the gvnet-enabled dockerd: `uid=1000 euid=0
 * no_new_privs=0` shows that setuid still works below dockerd (gvnet's seccomp filter never
 * sets no_new_privs, which would make the kernel ignore the setuid bit).
 *
 * Build: gcc -static -O2 -Wall -Wextra -o euid euid.c
 */
#include <stdio.h>
#include <sys/prctl.h>
#include <unistd.h>

int main(void)
{
	printf("uid=%d euid=%d no_new_privs=%d\n", (int)getuid(), (int)geteuid(),
	       prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
	return 0;
}
