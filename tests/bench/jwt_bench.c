/*
 * jwt_bench.c - time of one access-token verification and one signing
 * (release build, single thread), for `make bench`.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "hms/arena.h"
#include "hms/jwt.h"

static double seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(void)
{
	static unsigned char secret[] = "bench-secret-bench-secret-bench-secret-0123";
	struct config_jwt_key key = {"bench", secret, sizeof(secret) - 1};
	struct jwt_keyring ring = {&key, 1, "hms", "hms-api"};
	struct jwt_claims claims = {.sub = 42, .role = "doctor", .type = JWT_ACCESS};
	struct jwt_claims out;
	struct arena *arena = arena_new(64 * 1024, 0);
	char token[JWT_MAX_BYTES];
	const int rounds = 200000;
	double start;

	claims.iat = (int64_t)time(NULL);
	claims.exp = claims.iat + 600;
	jwt_new_jti(claims.jti);
	start = seconds();
	for (int i = 0; i < rounds; i++)
		jwt_sign(&ring, &claims, token, sizeof(token));
	printf("jwt sign:   %.2f us\n", (seconds() - start) / rounds * 1e6);
	start = seconds();
	for (int i = 0; i < rounds; i++) {
		if (jwt_verify(&ring, arena, token, JWT_ACCESS, claims.iat, &out) != JWT_OK) {
			fprintf(stderr, "verification failed\n");
			return 1;
		}
		arena_reset(arena);
	}
	printf("jwt verify: %.2f us\n", (seconds() - start) / rounds * 1e6);
	arena_free(arena);
	return 0;
}
