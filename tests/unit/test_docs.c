/*
 * test_docs.c - docs/openapi.yaml (compiled in, served at /api/schema/) is
 * JSON-subset YAML and documents exactly the routes of the route table:
 * a route added without its documentation, or documentation of a route
 * that does not exist, fails here. Each operation's roles (x-roles,
 * x-roles-own-only and the "Roles:" sentence of its description) are the
 * permission table's row for the route (src/auth/permissions.c).
 */
#include <criterion/criterion.h>
#include <ctype.h>
#include <stdio.h>
#include <json-c/json.h>
#include <string.h>

#include "hms/docs.h"
#include "hms/permissions.h"
#include "hms/router.h"

static struct json_object *load_paths(struct json_object **doc)
{
	size_t len;
	const char *text = docs_openapi_text(&len);
	struct json_object *paths;

	*doc = json_tokener_parse(text);
	cr_assert_not_null(*doc, "docs/openapi.yaml must be valid JSON (the JSON subset of YAML)");
	cr_assert(json_object_object_get_ex(*doc, "paths", &paths));
	return paths;
}

static void lower(const char *in, char *out, size_t size)
{
	size_t i = 0;

	for (; in[i] != '\0' && i + 1 < size; i++)
		out[i] = (char)tolower((unsigned char)in[i]);
	out[i] = '\0';
}

Test(docs, every_route_is_documented)
{
	struct json_object *doc;
	struct json_object *paths = load_paths(&doc);

	for (size_t i = 0; i < hms_route_count; i++) {
		struct json_object *item, *op;
		char method[16];

		lower(hms_routes[i].method, method, sizeof(method));
		cr_assert(json_object_object_get_ex(paths, hms_routes[i].pattern, &item),
		          "%s is not in docs/openapi.yaml", hms_routes[i].pattern);
		cr_assert(json_object_object_get_ex(item, method, &op), "%s %s is not documented",
		          hms_routes[i].method, hms_routes[i].pattern);
		cr_assert(json_object_object_get_ex(op, "responses", NULL));
	}
	json_object_put(doc);
}

Test(docs, every_documented_operation_exists)
{
	static const char *const methods[] = {"get", "post", "put", "patch", "delete"};
	struct json_object *doc;
	struct json_object *paths = load_paths(&doc);

	json_object_object_foreach(paths, path, item)
	{
		for (size_t m = 0; m < sizeof(methods) / sizeof(methods[0]); m++) {
			bool found = false;

			if (!json_object_object_get_ex(item, methods[m], NULL))
				continue;
			for (size_t i = 0; i < hms_route_count && !found; i++) {
				char method[16];

				lower(hms_routes[i].method, method, sizeof(method));
				found = strcmp(hms_routes[i].pattern, path) == 0 &&
				        strcmp(method, methods[m]) == 0;
			}
			cr_assert(found, "docs/openapi.yaml documents %s %s, which has no route",
			          methods[m], path);
		}
	}
	json_object_put(doc);
}

Test(docs, public_routes_say_so)
{
	struct json_object *doc;
	struct json_object *paths = load_paths(&doc);

	for (size_t i = 0; i < hms_route_count; i++) {
		struct json_object *item, *op, *security;
		char method[16];
		bool is_public = strcmp(hms_routes[i].permission, "public") == 0;

		lower(hms_routes[i].method, method, sizeof(method));
		json_object_object_get_ex(paths, hms_routes[i].pattern, &item);
		json_object_object_get_ex(item, method, &op);
		if (is_public) {
			cr_assert(json_object_object_get_ex(op, "security", &security) &&
			              json_object_array_length(security) == 0,
			          "%s %s is public but documented as needing a token",
			          hms_routes[i].method, hms_routes[i].pattern);
		} else {
			cr_assert(!json_object_object_get_ex(op, "security", NULL),
			          "%s %s needs a token but is documented as public",
			          hms_routes[i].method, hms_routes[i].pattern);
		}
	}
	json_object_put(doc);
}

/* The roles of mask, in the table's order, as a JSON array and as the
 * description's words ("admin, doctor (own only)"). */
static void roles_of(unsigned mask, unsigned own, struct json_object **array, char *words,
                     size_t size)
{
	static const enum role order[] = {ROLE_ADMIN, ROLE_DOCTOR, ROLE_NURSE, ROLE_RECEPTIONIST,
	                                  ROLE_BILLING};

	*array = json_object_new_array();
	words[0] = '\0';
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		if ((mask & (unsigned)order[i]) == 0)
			continue;
		json_object_array_add(*array, json_object_new_string(role_name(order[i])));
		snprintf(words + strlen(words), size - strlen(words), "%s%s%s",
		         words[0] != '\0' ? ", " : "", role_name(order[i]),
		         (own & (unsigned)order[i]) != 0 ? " (own only)" : "");
	}
}

Test(docs, roles_are_the_permission_table)
{
	struct json_object *doc;
	struct json_object *paths = load_paths(&doc);

	for (size_t i = 0; i < hms_route_count; i++) {
		const struct permission *perm = permission_find(hms_routes[i].permission);
		struct json_object *item, *op, *got, *want, *want_own, *description;
		char method[16], words[128], sentence[160];

		cr_assert_not_null(perm);
		lower(hms_routes[i].method, method, sizeof(method));
		json_object_object_get_ex(paths, hms_routes[i].pattern, &item);
		json_object_object_get_ex(item, method, &op);
		roles_of(perm->is_public ? 0 : perm->roles, perm->own_only, &want, words,
		         sizeof(words));
		cr_assert(json_object_object_get_ex(op, "x-roles", &got) &&
		              json_object_equal(got, want),
		          "%s %s: x-roles is %s, the permission table says %s",
		          hms_routes[i].method, hms_routes[i].pattern,
		          json_object_to_json_string(got), json_object_to_json_string(want));
		json_object_put(want);
		roles_of(perm->own_only, 0, &want_own, sentence, sizeof(sentence));
		if (perm->own_only == 0)
			cr_assert(!json_object_object_get_ex(op, "x-roles-own-only", NULL),
			          "%s %s: x-roles-own-only, but no role is limited to its own",
			          hms_routes[i].method, hms_routes[i].pattern);
		else
			cr_assert(json_object_object_get_ex(op, "x-roles-own-only", &got) &&
			              json_object_equal(got, want_own),
			          "%s %s: x-roles-own-only differs from the permission table",
			          hms_routes[i].method, hms_routes[i].pattern);
		json_object_put(want_own);
		if (perm->is_public)
			snprintf(sentence, sizeof(sentence), "Roles: none needed (no token).");
		else
			snprintf(sentence, sizeof(sentence), "Roles: %s.", words);
		cr_assert(json_object_object_get_ex(op, "description", &description) &&
		              strstr(json_object_get_string(description), sentence) != NULL,
		          "%s %s: the description does not say \"%s\"", hms_routes[i].method,
		          hms_routes[i].pattern, sentence);
	}
	json_object_put(doc);
}
