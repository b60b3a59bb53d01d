package intel

import (
	"encoding/json"
	"net/http"
	"reflect"
	"testing"
)

// specExamples are the example resources of the TAXII 2.1 specification
// (OASIS Standard, 10 June 2021: discovery, API root, collections, manifest,
// envelope, versions, status, error), retyped.
var specExamples = map[string]struct {
	v   any
	doc string
}{
	"discovery": {&Discovery{}, `{
		"title": "Some TAXII Server",
		"description": "This TAXII Server contains a listing of",
		"contact": "string containing contact information",
		"default": "https://example.com/api2/",
		"api_roots": ["https://example.com/api1/", "https://example.com/api2/", "https://example.net/trustgroup1/"]}`},
	"api-root": {&APIRoot{}, `{
		"title": "Malware Research Group",
		"description": "A trust group setup for malware researchers",
		"versions": ["application/taxii+json;version=2.1"],
		"max_content_length": 104857600}`},
	"collections": {&Collections{}, `{"collections": [
		{"id": "91a7b528-80eb-42ed-a74d-c6fbd5a26116", "title": "High Value Indicator Collection",
		 "description": "This data collection contains high value IOCs", "can_read": true, "can_write": false,
		 "media_types": ["application/stix+json;version=2.1"]},
		{"id": "52892447-4d7e-4f70-b94d-d7f22742ff63", "title": "Indicators from the past 24-hours",
		 "description": "This data collection is for collecting current IOCs", "can_read": true, "can_write": false,
		 "media_types": ["application/stix+json;version=2.1"]}]}`},
	"manifest": {&Manifest{}, `{"more": true, "objects": [
		{"id": "indicator--29aba82c-5393-42a8-9edb-6a2cb1df070b", "date_added": "2016-11-01T03:04:05.000Z",
		 "version": "2016-11-03T12:30:59.000Z", "media_type": "application/stix+json;version=2.1"},
		{"id": "indicator--ef0b28e1-308c-4a30-8770-9b4851b260a5", "date_added": "2016-11-01T10:29:05.000Z",
		 "version": "2016-11-03T12:30:59.000Z", "media_type": "application/stix+json;version=2.1"}]}`},
	"envelope": {&Envelope{}, `{"more": true, "next": "d3a9b1d2-9b1d-4b8f-a2cc-2e4e1e0cbd47", "objects": [
		{"type": "indicator", "spec_version": "2.1", "id": "indicator--c410e480-e42b-47d1-9476-85307c12bcbf",
		 "created": "2018-02-27T13:57:10.515Z", "modified": "2018-02-27T13:57:10.515Z",
		 "name": "Malicious site hosting downloader", "description": "This is how to add a filter rule to block inbound access to TOR exit nodes",
		 "indicator_types": ["malicious-activity"], "pattern": "[ipv4-addr:value = '1.2.3.4']", "pattern_type": "stix",
		 "valid_from": "2018-02-27T13:57:10.515Z"}]}`},
	"versions": {&Versions{}, `{"more": false, "versions": ["2016-11-03T12:30:59.000Z", "2016-12-03T12:30:59.000Z", "2017-01-03T12:30:59.000Z"]}`},
	"status": {&Status{}, `{
		"id": "2d086da7-4bdc-4f91-900e-d77486753710", "status": "pending", "request_timestamp": "2016-11-02T12:34:34.123456Z",
		"total_count": 4, "success_count": 1,
		"successes": [{"id": "indicator--c410e480-e42b-47d1-9476-85307c12bcbf", "version": "2018-05-27T12:02:41.312Z"}],
		"failure_count": 1,
		"failures": [{"id": "malware--664fa29d-bf65-4f28-a667-bdb76f29ec98", "version": "2018-05-28T14:03:42.543Z", "message": "Unable to process object"}],
		"pending_count": 2,
		"pendings": [{"id": "indicator--252c7c11-daf2-42bd-843b-be65edca9f61", "version": "2018-05-18T20:16:21.148Z"},
		             {"id": "relationship--045585ad-a22f-4333-af33-bfd503a683b5", "version": "2018-05-15T10:13:32.579Z"}]}`},
	"error": {&Error{}, `{
		"title": "Error condition XYZ", "description": "This error is caused when the application tries to access data...",
		"error_id": "1234", "error_code": "581234", "http_status": "409",
		"external_details": "http://example.com/ticketnumber1/errorid-1234",
		"details": {"somekey1": "somevalue", "somekey2": "some other value"}}`},
}

// TestSpecExamplesRoundTrip proves that the resource types model every
// property of the specification's examples: decoding and encoding an
// example gives it back unchanged.
func TestSpecExamplesRoundTrip(t *testing.T) {
	for name, ex := range specExamples {
		if err := json.Unmarshal([]byte(ex.doc), ex.v); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var want, got any
		_ = json.Unmarshal([]byte(ex.doc), &want)
		_ = json.Unmarshal(mustJSON(t, ex.v), &got)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s does not round-trip:\n got %v\nwant %v", name, got, want)
		}
	}
}

// TestServerResourcesHaveRequiredProperties checks the live resources for
// the properties the specification requires of each.
func TestServerResourcesHaveRequiredProperties(t *testing.T) {
	e := newTestEnv(t, nil)
	tlpFixture(t, e)
	has := func(name string, r *response, keys ...string) {
		t.Helper()
		var m map[string]any
		r.decode(t, &m)
		for _, k := range keys {
			if _, ok := m[k]; !ok {
				t.Errorf("%s lacks required %q: %s", name, k, r.body)
			}
		}
	}
	has("discovery", e.get(t, "/taxii2/", "tok-soc", 200, nil), "title")
	has("api root", e.get(t, "/taxii2/api/", "tok-soc", 200, nil), "title", "versions", "max_content_length")
	has("collection", e.get(t, "/taxii2/api/collections/indicators/", "tok-soc", 200, nil), "id", "title", "can_read", "can_write")
	var m Manifest
	e.get(t, "/taxii2/api/collections/indicators/manifest/", "tok-soc", 200, &m)
	for _, rec := range m.Objects {
		if rec.ID == "" || rec.DateAdded == "" || rec.Version == "" {
			t.Errorf("manifest record %+v", rec)
		}
	}
	r := e.do(t, http.MethodPost, "/taxii2/api/collections/indicators/objects/", "tok-soc", `{"objects":[]}`)
	has("status", r, "id", "status", "total_count", "success_count", "failure_count", "pending_count")
	has("error", e.get(t, "/taxii2/api/collections/nope/", "tok-soc", 404, nil), "title", "http_status")
}
