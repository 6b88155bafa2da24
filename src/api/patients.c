/*
 * patients.c - /api/patients/: what a patient is. The generic handlers of
 * crud.c serve it; the only patient-specific code is the date-of-birth rule.
 *
 * Deleted patients stay in the table (records and invoices refer to them)
 * and keep their medical record number, which the database generates
 * (schema/003_patients_doctors.sql); they are invisible to everyone but an
 * admin who asks with include_deleted=true.
 */
#include "hms/patients.h"

#include <string.h>
#include <time.h>

#include "hms/columns.h"
#include "hms/crud.h"
#include "hms/list.h"
#include "hms/validate.h"

static const struct column patient_columns[] = {
    {"id", "id", COL_INT},
    {"medical_record_number", "medical_record_number", COL_TEXT},
    {"first_name", "first_name", COL_TEXT},
    {"last_name", "last_name", COL_TEXT},
    {"date_of_birth", "date_of_birth", COL_DATE},
    {"gender", "gender", COL_TEXT},
    {"contact_phone", "contact_phone", COL_TEXT},
    {"contact_email", "contact_email", COL_TEXT},
    {"address", "address", COL_TEXT},
    {"emergency_contact", "emergency_contact", COL_TEXT},
    {"blood_type", "blood_type", COL_TEXT},
    {"allergies", "allergies", COL_TEXT},
    {"is_deleted", "is_deleted", COL_BOOL},
    {"created_at", "created_at", COL_TIME},
    {"updated_at", "updated_at", COL_TIME},
    {"version", "version", COL_HIDDEN},
    {NULL},
};

static const char *const genders[] = {"male", "female", "other", "unknown", NULL};
static const char *const blood_types[] = {"",    "A+",  "A-", "B+", "B-",
                                          "AB+", "AB-", "O+", "O-", NULL};

/* Not after today in the hospital's time zone (the worker runs with TZ set
 * to it), and not before 1900. */
static const char *check_birth_date(const char *value, struct json_object *raw)
{
	time_t now = time(NULL);
	struct tm tm;
	char today[16];

	(void)raw;
	localtime_r(&now, &tm);
	strftime(today, sizeof(today), "%Y-%m-%d", &tm);
	if (strcmp(value, today) > 0)
		return "Date of birth cannot be in the future.";
	if (strcmp(value, "1900-01-01") < 0)
		return "Date of birth must be after 1900-01-01.";
	return NULL;
}

static const struct field patient_fields[] = {
    {"first_name", FIELD_STRING, .required = true, .max_len = 100},
    {"last_name", FIELD_STRING, .required = true, .max_len = 100},
    {"date_of_birth", FIELD_DATE, .required = true, .check = check_birth_date},
    {"gender", FIELD_CHOICE, .required = true, .choices = genders},
    {"contact_phone", FIELD_STRING, .allow_blank = true, .max_len = 32,
     .check = validate_check_phone},
    {"contact_email", FIELD_EMAIL, .allow_blank = true, .max_len = 254},
    {"address", FIELD_STRING, .allow_blank = true, .max_len = 500},
    {"emergency_contact", FIELD_STRING, .allow_blank = true, .max_len = 200},
    {"blood_type", FIELD_CHOICE, .choices = blood_types},
    {"allergies", FIELD_STRING, .allow_blank = true, .max_len = 2000},
    {NULL},
};

static const struct list_filter patient_filters[] = {
    {{"gender", FIELD_CHOICE, .choices = genders}, "gender = $?"},
    {{"date_of_birth", FIELD_DATE}, "date_of_birth = $?::date"},
    {{"born_after", FIELD_DATE}, "date_of_birth >= $?::date"},
    {{"born_before", FIELD_DATE}, "date_of_birth <= $?::date"},
    {{NULL}},
};

static const struct list_ordering patient_orderings[] = {
    {"last_name", "last_name"},
    {"first_name", "first_name"},
    {"date_of_birth", "date_of_birth"},
    {"created_at", "created_at"},
    {NULL, NULL},
};

/* A search word: a name by word prefix, or an identifier whole. */
#define PATIENT_NAME_WORD "hms_prefix_query($?) IS NULL OR search_vector @@ hms_prefix_query($?)"
#define PATIENT_ID_WORD                                                                            \
	"medical_record_number = upper($?) OR "                                                    \
	"(contact_email <> '' AND lower(contact_email) = lower($?))"

/* One-word searches: patient_name_words (schema/009), the words of live
 * patients' names with the orderings' keys. */
static const struct list_word_index patient_words = {
    .table = "patient_name_words",
    .word = "hms_name_word($?)",
};

static const struct list_spec patient_list = {
    .columns = patient_columns,
    .from = "patients",
    .where = "NOT is_deleted",
    .filters = patient_filters,
    .orderings = patient_orderings,
    /* Each word: a name by word prefix, or a whole MRN or email; a word of
     * punctuation alone (no lexeme) constrains nothing. The whole text: a
     * phone number (which may contain spaces). */
    .search_word = PATIENT_NAME_WORD " OR " PATIENT_ID_WORD,
    .search = "contact_phone <> '' AND contact_phone = $?",
    .search_name = PATIENT_NAME_WORD,
    .search_id = PATIENT_ID_WORD,
    .word_index = &patient_words,
    .default_order = "last_name ASC, first_name ASC",
    .unfiltered_count = "SELECT live FROM patient_counts",
    .tiebreak = "id",
    .audit_entity = "patient",
};

/* FHIR's Patient search (src/api/fhir.c), over the same rows and list
 * machinery. String parameters match the start of the stored text, case-
 * and accent-insensitively (FHIR string search); `name` the start of any
 * word of either name, as ?search= does. A date prefix is part of the
 * filter's name ("birthdate:ge"); fhir.c reads the FHIR parameters into
 * these names. */
#define STARTS_WITH(column) "lower(hms_unaccent(" column ")) ^@ lower(hms_unaccent($?))"

static const struct list_filter patient_fhir_filters[] = {
    {{"family", FIELD_STRING, .max_len = 200}, STARTS_WITH("last_name")},
    {{"given", FIELD_STRING, .max_len = 200}, STARTS_WITH("first_name")},
    {{"name", FIELD_STRING, .max_len = 200}, PATIENT_NAME_WORD},
    {{"gender", FIELD_CHOICE, .choices = genders}, "gender = $?"},
    {{"identifier", FIELD_STRING, .max_len = 200}, "medical_record_number = $?"},
    {{"birthdate", FIELD_DATE}, "date_of_birth = $?::date"},
    {{"birthdate:lt", FIELD_DATE}, "date_of_birth < $?::date"},
    {{"birthdate:gt", FIELD_DATE}, "date_of_birth > $?::date"},
    {{"birthdate:le", FIELD_DATE}, "date_of_birth <= $?::date"},
    {{"birthdate:ge", FIELD_DATE}, "date_of_birth >= $?::date"},
    {{NULL}},
};

const struct list_spec patients_fhir_search = {
    .columns = patient_columns,
    .from = "patients",
    .where = "NOT is_deleted",
    .filters = patient_fhir_filters,
    .default_order = "last_name ASC, first_name ASC",
    .unfiltered_count = "SELECT live FROM patient_counts",
    .tiebreak = "id",
    .audit_entity = "patient",
};

const struct resource patients_resource = {
    .table = "patients",
    .entity = "patient",
    .columns = patient_columns,
    .fields = patient_fields,
    .list = &patient_list,
    .live = "NOT is_deleted",
    .deleted_permission = "patients.admin",
    .delete_set = "is_deleted = true, deleted_at = now()",
    .restore_set = "is_deleted = false, deleted_at = NULL",
    .audit_reads = true,
};
