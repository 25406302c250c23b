package openapitest

import (
	"strings"
	"testing"
)

const testDoc = `{
  "openapi": "3.0.3",
  "paths": {
    "/things/{name}": {"get": {"responses": {
      "200": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Thing"}}}},
      "default": {"$ref": "#/components/responses/Error"}
    }}},
    "/either": {"get": {"responses": {
      "200": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Either"}}}}
    }}},
    "/text": {"get": {"responses": {
      "200": {"content": {"text/plain": {"schema": {"type": "string"}}}}
    }}},
    "/moved": {"get": {"responses": {
      "302": {"description": "elsewhere", "headers": {"Location": {"schema": {"type": "string"}}}}
    }}}
  },
  "components": {
    "schemas": {
      "Base": {"type": "object", "properties": {"at": {"type": "string", "format": "date-time"}}, "required": ["at"]},
      "Thing": {"allOf": [
        {"type": "object", "properties": {
          "name": {"type": "string", "pattern": "^[a-z]+$"},
          "count": {"type": "integer", "minimum": 0},
          "ratio": {"type": "number", "maximum": 1},
          "ok": {"type": "boolean"},
          "kind": {"type": "string", "enum": ["a", "b"]},
          "tags": {"type": "array", "items": {"type": "string"}},
          "byName": {"type": "object", "additionalProperties": {"$ref": "#/components/schemas/Base"}},
          "free": {"type": "object", "additionalProperties": true}
        }, "required": ["name", "count"]},
        {"$ref": "#/components/schemas/Base"}
      ]},
      "Either": {"oneOf": [
        {"type": "object", "properties": {"exists": {"type": "boolean", "enum": [true]}, "n": {"type": "integer"}}, "required": ["exists", "n"]},
        {"type": "object", "properties": {"exists": {"type": "boolean", "enum": [false]}}, "required": ["exists"]}
      ]},
      "Error": {"type": "object", "properties": {"error": {"type": "string"}}, "required": ["error"]}
    },
    "responses": {
      "Error": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    }
  }
}`

const jsonCT = "application/json; charset=utf-8"

func load(t *testing.T) *Doc {
	t.Helper()
	d, err := Load([]byte(testDoc))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestLoadRejectsDanglingRefs(t *testing.T) {
	bad := strings.Replace(testDoc, `"#/components/schemas/Base"`, `"#/components/schemas/Missing"`, 1)
	if _, err := Load([]byte(bad)); err == nil || !strings.Contains(err.Error(), "Missing") {
		t.Fatalf("Load of a dangling $ref: %v", err)
	}
	if _, err := Load([]byte(`{"openapi": "2.0"}`)); err == nil {
		t.Fatal("Load accepted a Swagger 2 document")
	}
}

func TestCheckResponse(t *testing.T) {
	d := load(t)
	const good = `{"name":"abc","count":3,"ratio":0.5,"ok":true,"kind":"a","tags":["x"],"byName":{"k":{"at":"2024-01-15T10:30:00Z"}},"free":{"anything":1},"at":"2024-01-15T10:30:00Z"}`
	tests := []struct {
		name, path string
		status     int
		ct, body   string
		wantErr    string // "" means valid
	}{
		{"valid", "/things/x", 200, jsonCT, good, ""},
		{"minimal", "/things/x", 200, jsonCT, `{"name":"a","count":0,"at":"2024-01-15T10:30:00Z"}`, ""},
		{"undeclared field", "/things/x", 200, jsonCT, `{"name":"a","count":0,"at":"2024-01-15T10:30:00Z","secret":"x"}`, `field "secret" is not declared`},
		{"missing required", "/things/x", 200, jsonCT, `{"name":"a","at":"2024-01-15T10:30:00Z"}`, `required field "count"`},
		{"missing required from allOf part", "/things/x", 200, jsonCT, `{"name":"a","count":0}`, `required field "at"`},
		{"number for integer", "/things/x", 200, jsonCT, `{"name":"a","count":1.5,"at":"2024-01-15T10:30:00Z"}`, "$.count: is a number, want integer"},
		{"string for integer", "/things/x", 200, jsonCT, `{"name":"a","count":"1","at":"2024-01-15T10:30:00Z"}`, "want integer"},
		{"null", "/things/x", 200, jsonCT, `{"name":null,"count":1,"at":"2024-01-15T10:30:00Z"}`, "$.name: is null, want string"},
		{"below minimum", "/things/x", 200, jsonCT, `{"name":"a","count":-1,"at":"2024-01-15T10:30:00Z"}`, "below the minimum"},
		{"above maximum", "/things/x", 200, jsonCT, `{"name":"a","count":1,"ratio":2,"at":"2024-01-15T10:30:00Z"}`, "above the maximum"},
		{"pattern", "/things/x", 200, jsonCT, `{"name":"A","count":1,"at":"2024-01-15T10:30:00Z"}`, "does not match"},
		{"enum", "/things/x", 200, jsonCT, `{"name":"a","count":1,"kind":"c","at":"2024-01-15T10:30:00Z"}`, "not one of"},
		{"date-time", "/things/x", 200, jsonCT, `{"name":"a","count":1,"at":"yesterday"}`, "RFC 3339"},
		{"array items", "/things/x", 200, jsonCT, `{"name":"a","count":1,"tags":[1],"at":"2024-01-15T10:30:00Z"}`, "$.tags[0]"},
		{"map values", "/things/x", 200, jsonCT, `{"name":"a","count":1,"byName":{"k":{}},"at":"2024-01-15T10:30:00Z"}`, `$.byName.k: required field "at"`},
		{"default response", "/things/x", 500, jsonCT, `{"error":"boom"}`, ""},
		{"default response mismatch", "/things/x", 404, jsonCT, `{"message":"x"}`, `required field "error"`},
		{"undocumented content type", "/things/x", 200, "text/html", "<p>", "content type text/html is not documented"},
		{"not JSON", "/things/x", 200, jsonCT, "{", "not JSON"},
		{"unknown path", "/nope", 200, jsonCT, "{}", "not in the document"},
		{"undocumented status", "/either", 404, jsonCT, "{}", "status 404 is not documented"},
		{"oneOf first", "/either", 200, jsonCT, `{"exists":true,"n":1}`, ""},
		{"oneOf second", "/either", 200, jsonCT, `{"exists":false}`, ""},
		{"oneOf none", "/either", 200, jsonCT, `{"exists":false,"n":1}`, "matches 0 of the oneOf"},
		{"text", "/text", 200, "text/plain; version=0.0.4", "up 1\n", ""},
		{"query ignored", "/things/x?limit=1", 200, jsonCT, good, ""},
		{"no content", "/moved", 302, "", "", ""},
		{"body where none is documented", "/moved", 302, "text/html", "<a>moved</a>", "documented without content"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := d.CheckResponse("GET", tc.path, tc.status, tc.ct, []byte(tc.body))
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestMatchAndOperations(t *testing.T) {
	d := load(t)
	if tmpl, ok := d.Match("/things/kyc"); !ok || tmpl != "/things/{name}" {
		t.Fatalf("Match = %q %v", tmpl, ok)
	}
	if _, ok := d.Match("/things/"); ok {
		t.Fatal("an empty segment matched a parameter")
	}
	if got := strings.Join(d.Operations(), ","); got != "GET /either,GET /moved,GET /text,GET /things/{name}" {
		t.Fatalf("Operations = %s", got)
	}
}
