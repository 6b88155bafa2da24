/*
 * test_idempotency.c - the Idempotency-Key header's rule (idempotency.h):
 * 1 to 255 visible ASCII characters. Replays and races are tested through
 * the real stack (tests/integration/test_idempotency*.c).
 */
#include <criterion/criterion.h>
#include <string.h>

#include "hms/idempotency.h"

Test(idempotency, visible_ascii_up_to_255_characters_is_a_key)
{
	char key[IDEMPOTENCY_KEY_MAX + 2];

	cr_assert(idempotency_key_is_valid("a"));
	cr_assert(idempotency_key_is_valid("8e03978e-40d5-43e8-bc93-6894a57f9324"));
	cr_assert(idempotency_key_is_valid("\"quoted\""));
	cr_assert(idempotency_key_is_valid("!~"));
	memset(key, 'k', IDEMPOTENCY_KEY_MAX);
	key[IDEMPOTENCY_KEY_MAX] = '\0';
	cr_assert(idempotency_key_is_valid(key));
	key[IDEMPOTENCY_KEY_MAX] = 'k';
	key[IDEMPOTENCY_KEY_MAX + 1] = '\0';
	cr_assert_not(idempotency_key_is_valid(key));
}

Test(idempotency, empty_spaces_controls_and_non_ascii_are_not)
{
	cr_assert_not(idempotency_key_is_valid(NULL));
	cr_assert_not(idempotency_key_is_valid(""));
	cr_assert_not(idempotency_key_is_valid("a b"));
	cr_assert_not(idempotency_key_is_valid("a\tb"));
	cr_assert_not(idempotency_key_is_valid("a\x01"));
	cr_assert_not(idempotency_key_is_valid("a\x7f"));
	cr_assert_not(idempotency_key_is_valid("caf\xc3\xa9"));
}
