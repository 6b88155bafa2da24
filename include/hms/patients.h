/*
 * patients.h - the patient register: search, filters, soft delete and
 * restore, optimistic concurrency, and an audit row for every read of a
 * single patient and every change. Served by the generic handlers of
 * crud.h.
 */
#ifndef HMS_PATIENTS_H
#define HMS_PATIENTS_H

struct list_spec;
struct resource;

extern const struct resource patients_resource;

/* The same rows searched by FHIR's Patient parameters (src/api/fhir.c). */
extern const struct list_spec patients_fhir_search;

#endif
