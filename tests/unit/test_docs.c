/*
 * test_docs.c - docs/openapi.yaml (compiled in, served at /api/schema/) is
 * JSON-subset YAML and documents exactly the routes of the route table:
 * a route added without its documentation, or documentation of a route
 * that does not exist, fails here.
 */
#include <criterion/criterion.h>
#include <ctype.h>
#include <json-c/json.h>
#include <string.h>

#include "hms/docs.h"
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
