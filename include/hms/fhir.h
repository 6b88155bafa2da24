/*
 * fhir.h - a read-only HL7 FHIR R4 interface at /fhir/ over the same rows,
 * tokens, role table, list machinery and audit trail as /api/: the
 * CapabilityStatement, and Patient, Practitioner (doctors) and Appointment
 * by id and by search (a searchset Bundle). Answers are
 * application/fhir+json; errors are OperationOutcome (fhir_respond_error,
 * the /fhir/ route family's error writer, router.h).
 */
#ifndef HMS_FHIR_H
#define HMS_FHIR_H

struct http_request;
struct http_response;
struct json_object;

/* The searchable types: a route's arg for fhir_search. */
struct fhir_type;
extern const struct fhir_type fhir_patient, fhir_practitioner, fhir_appointment;

void fhir_metadata(struct http_request *req, struct http_response *res);
void fhir_patient_read(struct http_request *req, struct http_response *res);
void fhir_practitioner_read(struct http_request *req, struct http_response *res);
void fhir_appointment_read(struct http_request *req, struct http_response *res);
void fhir_search(struct http_request *req, struct http_response *res);

/* An OperationOutcome with status: one issue for detail, or one per
 * message of a DRF field-error object (taken). An http_error_writer. */
void fhir_respond_error(struct http_response *res, int status, const char *detail,
                        struct json_object *field_errors);

#endif
