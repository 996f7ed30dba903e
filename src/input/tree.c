#include "derpcheck/input/tree.h"

#include <stdlib.h>
#include <string.h>

const char *dc_json_type_name(enum dc_json_type type)
{
	switch (type) {
	case DC_JSON_NULL: return "null";
	case DC_JSON_BOOL: return "boolean";
	case DC_JSON_NUMBER: return "number";
	case DC_JSON_STRING: return "string";
	case DC_JSON_ARRAY: return "array";
	case DC_JSON_OBJECT: return "object";
	}
	return "value";
}

void dc_json_clear(struct dc_json *v)
{
	for (size_t i = 0; i < v->count; i++)
		dc_json_clear(&v->items[i]);
	free(v->items);
	free(v->key);
	free(v->text);
	v->items = NULL;
	v->count = 0;
	v->key = NULL;
	v->text = NULL;
}

void dc_json_free(struct dc_json *root)
{
	if (!root)
		return;
	dc_json_clear(root);
	free(root);
}

const struct dc_json *dc_json_member(const struct dc_json *obj, const char *key)
{
	const struct dc_json *found = NULL;
	if (obj && obj->type == DC_JSON_OBJECT)
		for (size_t i = 0; i < obj->count; i++)
			if (obj->items[i].key && strcmp(obj->items[i].key, key) == 0)
				found = &obj->items[i];
	return found;
}
