/*
 * invoices.h - billing: invoices with their line items and the payments
 * taken against them. An invoice is a declaration served by crud.h (list,
 * get, create, replace, update of a draft); its transitions and its
 * payments are the handlers below. Every amount is a two-place decimal
 * string computed by PostgreSQL in exact numeric arithmetic
 * (schema/012_billing.sql); every read and change is audited, never with an
 * amount or a description.
 */
#ifndef HMS_INVOICES_H
#define HMS_INVOICES_H

struct http_request;
struct http_response;
struct resource;

extern const struct resource invoices_resource;

/* POST /api/invoices/{id}/issue/: draft -> issued (paid when its total is
 * 0.00); 409 from any other status. */
void invoices_issue(struct http_request *req, struct http_response *res);

/* POST /api/invoices/{id}/void/: a draft, or an issued invoice with nothing
 * paid -> void; 409 otherwise. */
void invoices_void(struct http_request *req, struct http_response *res);

/* GET /api/invoices/{id}/payments/: the invoice's payments, oldest first. */
void invoices_payments_list(struct http_request *req, struct http_response *res);

/* POST /api/invoices/{id}/payments/: {"amount", "method", "reference"} on an
 * issued invoice (a draft or void one: 409), never beyond the amount due
 * (400; a paid invoice has 0.00 due). */
void invoices_pay(struct http_request *req, struct http_response *res);

#endif
