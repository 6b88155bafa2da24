/*
 * hello.c - the reference point of `make bench`: a bare FastCGI responder
 * (libfcgi, pre-forked like hms, no database, no JSON library) behind the
 * same nginx. usage: hello SOCKET_PATH WORKERS
 */
#include <fcgiapp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	int fd, workers;

	if (argc != 3 || strlen(argv[1]) >= sizeof(addr.sun_path)) {
		fprintf(stderr, "usage: hello SOCKET_PATH WORKERS\n");
		return 2;
	}
	workers = atoi(argv[2]);
	strcpy(addr.sun_path, argv[1]);
	unlink(argv[1]);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0 ||
	    chmod(argv[1], 0666) != 0 || listen(fd, 1024) != 0) {
		perror("hello");
		return 1;
	}
	for (int i = 0; i < workers; i++) {
		if (fork() == 0) {
			FCGX_Request req;

			prctl(PR_SET_PDEATHSIG, SIGTERM);
			FCGX_Init();
			FCGX_InitRequest(&req, fd, 0);
			while (FCGX_Accept_r(&req) >= 0) {
				FCGX_PutS("Status: 200 OK\r\nContent-Type: application/json\r\n\r\n"
				          "{\"hello\":\"world\"}",
				          req.out);
				FCGX_Finish_r(&req);
			}
			_exit(0);
		}
	}
	signal(SIGTERM, SIG_DFL);
	while (wait(NULL) > 0)
		;
	return 0;
}
