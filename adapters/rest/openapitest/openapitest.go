// Package openapitest checks real HTTP answers against an OpenAPI 3
// document, so that jwtcache's published API description cannot drift from
// what the handlers write.
//
// It understands the subset of OpenAPI (and JSON Schema) that jwtcache's
// document uses: paths with {parameters}, responses by status or
// "default", response $refs, and schemas with type, properties, required,
// additionalProperties, items, enum, pattern, format date-time, minimum,
// maximum, $ref, allOf and oneOf. Anything else in a schema is ignored.
//
// It is stricter than JSON Schema in one way, on purpose: an object field
// that no properties (of the schema or of any allOf part) declares is an
// error unless additionalProperties allows it. The document stays
// forward-compatible for clients (it never says additionalProperties:
// false), while the tests prove that every field the handlers write is
// documented.
package openapitest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"mime"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Doc is a loaded OpenAPI document.
type Doc struct {
	root map[string]any
}

// Load parses doc and checks that every $ref in it resolves.
func Load(doc []byte) (*Doc, error) {
	var root map[string]any
	if err := json.Unmarshal(doc, &root); err != nil {
		return nil, fmt.Errorf("openapitest: document is not JSON: %w", err)
	}
	d := &Doc{root: root}
	if v, _ := root["openapi"].(string); !strings.HasPrefix(v, "3.") {
		return nil, fmt.Errorf("openapitest: openapi version %q, want 3.x", v)
	}
	var errs []error
	walk(root, func(ref string) {
		if _, err := d.resolve(ref); err != nil {
			errs = append(errs, err)
		}
	})
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return d, nil
}

// walk calls fn with every $ref string under v.
func walk(v any, fn func(string)) {
	switch x := v.(type) {
	case map[string]any:
		if r, ok := x["$ref"].(string); ok {
			fn(r)
		}
		for _, k := range slices.Sorted(maps.Keys(x)) {
			walk(x[k], fn)
		}
	case []any:
		for _, e := range x {
			walk(e, fn)
		}
	}
}

// resolve follows a local JSON pointer reference ("#/components/...").
func (d *Doc) resolve(ref string) (map[string]any, error) {
	if !strings.HasPrefix(ref, "#/") {
		return nil, fmt.Errorf("openapitest: only local references are supported: %q", ref)
	}
	var cur any = d.root
	for _, tok := range strings.Split(ref[2:], "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("openapitest: reference %q does not resolve", ref)
		}
		if cur, ok = m[tok]; !ok {
			return nil, fmt.Errorf("openapitest: reference %q does not resolve", ref)
		}
	}
	m, ok := cur.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("openapitest: reference %q is not an object", ref)
	}
	return m, nil
}

// deref follows $refs until it reaches an object without one.
func (d *Doc) deref(m map[string]any) (map[string]any, error) {
	for range 32 {
		r, ok := m["$ref"].(string)
		if !ok {
			return m, nil
		}
		var err error
		if m, err = d.resolve(r); err != nil {
			return nil, err
		}
	}
	return nil, errors.New("openapitest: $ref chain too long")
}

// Operations lists the document's operations as "METHOD /path/{param}",
// sorted.
func (d *Doc) Operations() []string {
	paths, _ := d.root["paths"].(map[string]any)
	var ops []string
	for p, item := range paths {
		m, _ := item.(map[string]any)
		for method := range m {
			switch method {
			case "get", "put", "post", "delete", "options", "head", "patch", "trace":
				ops = append(ops, strings.ToUpper(method)+" "+p)
			}
		}
	}
	slices.Sort(ops)
	return ops
}

// Match returns the document's path template matching the concrete path
// (a {param} segment matches any one non-empty segment; a query is
// ignored), or false.
func (d *Doc) Match(path string) (string, bool) {
	path, _, _ = strings.Cut(path, "?")
	paths, _ := d.root["paths"].(map[string]any)
	segs := strings.Split(path, "/")
	for _, tmpl := range slices.Sorted(maps.Keys(paths)) {
		ts := strings.Split(tmpl, "/")
		if len(ts) != len(segs) {
			continue
		}
		ok := true
		for i := range ts {
			if strings.HasPrefix(ts[i], "{") && strings.HasSuffix(ts[i], "}") {
				ok = ok && segs[i] != ""
			} else {
				ok = ok && ts[i] == segs[i]
			}
		}
		if ok {
			return tmpl, true
		}
	}
	return "", false
}

// Operation returns the operation object of method on the path template.
func (d *Doc) Operation(method, tmpl string) (map[string]any, error) {
	paths, _ := d.root["paths"].(map[string]any)
	item, _ := paths[tmpl].(map[string]any)
	op, ok := item[strings.ToLower(method)].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("openapitest: no operation %s %s", method, tmpl)
	}
	return op, nil
}

// CheckResponse checks an answer to method on the concrete path: the
// document must describe the status (or have a default response), the
// content type, and, for JSON, the body, field by field. A response
// documented without content must have no body.
func (d *Doc) CheckResponse(method, path string, status int, contentType string, body []byte) error {
	tmpl, ok := d.Match(path)
	if !ok {
		return fmt.Errorf("openapitest: %s is not in the document", path)
	}
	op, err := d.Operation(method, tmpl)
	if err != nil {
		return err
	}
	return d.CheckOperationResponse(op, fmt.Sprintf("%s %s", method, tmpl), status, contentType, body)
}

// CheckOperationResponse is CheckResponse for an operation object; name
// labels the errors.
func (d *Doc) CheckOperationResponse(op map[string]any, name string, status int, contentType string, body []byte) error {
	responses, _ := op["responses"].(map[string]any)
	resp, ok := responses[strconv.Itoa(status)].(map[string]any)
	if !ok {
		if resp, ok = responses["default"].(map[string]any); !ok {
			return fmt.Errorf("openapitest: %s: status %d is not documented", name, status)
		}
	}
	resp, err := d.deref(resp)
	if err != nil {
		return err
	}
	content, _ := resp["content"].(map[string]any)
	if len(content) == 0 {
		// Documented without a body (a redirect): there must be none.
		if len(body) > 0 {
			return fmt.Errorf("openapitest: %s %d: documented without content, but the body has %d bytes", name, status, len(body))
		}
		return nil
	}
	media, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return fmt.Errorf("openapitest: %s %d: content type %q: %w", name, status, contentType, err)
	}
	mt, ok := content[media].(map[string]any)
	if !ok {
		return fmt.Errorf("openapitest: %s %d: content type %s is not documented (documented: %v)",
			name, status, media, slices.Sorted(maps.Keys(content)))
	}
	schema, _ := mt["schema"].(map[string]any)
	if media != "application/json" {
		return nil // text: nothing to check field by field
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return fmt.Errorf("openapitest: %s %d: body is not JSON: %w", name, status, err)
	}
	if dec.More() {
		return fmt.Errorf("openapitest: %s %d: trailing data after the JSON value", name, status)
	}
	if errs := d.Validate(schema, v); len(errs) > 0 {
		return fmt.Errorf("openapitest: %s %d: %w", name, status, errors.Join(errs...))
	}
	return nil
}

// Validate checks v (decoded with json.Decoder.UseNumber) against schema
// and returns every problem found, each naming its JSON path.
func (d *Doc) Validate(schema map[string]any, v any) []error {
	var errs []error
	d.validate("$", schema, v, &errs)
	return errs
}

func (d *Doc) validate(at string, schema map[string]any, v any, errs *[]error) {
	fail := func(format string, args ...any) {
		*errs = append(*errs, fmt.Errorf("%s: "+format, append([]any{at}, args...)...))
	}
	s, err := d.deref(schema)
	if err != nil {
		fail("%v", err)
		return
	}
	if one, ok := s["oneOf"].([]any); ok {
		var matched int
		var why []string
		for i, alt := range one {
			var sub []error
			m, _ := alt.(map[string]any)
			d.validate(at, m, v, &sub)
			if len(sub) == 0 {
				matched++
			} else {
				why = append(why, fmt.Sprintf("alternative %d: %v", i+1, errors.Join(sub...)))
			}
		}
		if matched != 1 {
			fail("matches %d of the oneOf alternatives, want exactly 1 (%s)", matched, strings.Join(why, "; "))
		}
		return
	}
	f, err := d.flatten(s)
	if err != nil {
		fail("%v", err)
		return
	}
	if f.typ != "" && !hasType(f.typ, v) {
		fail("is %s, want %s", jsonType(v), f.typ)
		return
	}
	if len(f.enum) > 0 && !slices.ContainsFunc(f.enum, func(e any) bool { return sameValue(e, v) }) {
		fail("%v is not one of %v", v, f.enum)
	}
	switch x := v.(type) {
	case string:
		if f.pattern != "" {
			re, err := regexp.Compile(f.pattern)
			if err != nil {
				fail("bad pattern %q in the document: %v", f.pattern, err)
			} else if !re.MatchString(x) {
				fail("%q does not match %s", x, f.pattern)
			}
		}
		if f.format == "date-time" {
			if _, err := time.Parse(time.RFC3339, x); err != nil {
				fail("%q is not an RFC 3339 date-time", x)
			}
		}
	case json.Number:
		n, err := x.Float64()
		if err != nil {
			fail("%v is not a number", x)
			break
		}
		if f.min != nil && n < *f.min {
			fail("%v is below the minimum %v", x, *f.min)
		}
		if f.max != nil && n > *f.max {
			fail("%v is above the maximum %v", x, *f.max)
		}
	case []any:
		if f.items != nil {
			for i, e := range x {
				d.validate(fmt.Sprintf("%s[%d]", at, i), f.items, e, errs)
			}
		}
	case map[string]any:
		for _, r := range f.required {
			if _, ok := x[r]; !ok {
				fail("required field %q is missing", r)
			}
		}
		for _, k := range slices.Sorted(maps.Keys(x)) {
			sub := at + "." + k
			if ps, ok := f.props[k]; ok {
				d.validate(sub, ps, x[k], errs)
				continue
			}
			switch ap := f.additional.(type) {
			case map[string]any:
				d.validate(sub, ap, x[k], errs)
			case bool:
				if !ap {
					fail("field %q is not declared", k)
				}
			default:
				fail("field %q is not declared in the document", k)
			}
		}
	}
}

// flat is a schema with its allOf parts merged: properties and required
// fields add up, the other keywords are taken from whichever part sets
// them.
type flat struct {
	typ        string
	props      map[string]map[string]any
	required   []string
	additional any // nil (absent), bool or schema
	enum       []any
	pattern    string
	format     string
	min, max   *float64
	items      map[string]any
}

func (d *Doc) flatten(s map[string]any) (flat, error) {
	f := flat{props: map[string]map[string]any{}}
	err := d.merge(&f, s, 0)
	return f, err
}

func (d *Doc) merge(f *flat, s map[string]any, depth int) error {
	if depth > 32 {
		return errors.New("allOf nested too deep")
	}
	s, err := d.deref(s)
	if err != nil {
		return err
	}
	if _, ok := s["oneOf"]; ok && depth > 0 {
		return errors.New("oneOf inside allOf is not supported")
	}
	if t, ok := s["type"].(string); ok {
		if f.typ != "" && f.typ != t {
			return fmt.Errorf("allOf parts disagree on the type: %s and %s", f.typ, t)
		}
		f.typ = t
	}
	if ps, ok := s["properties"].(map[string]any); ok {
		for k, p := range ps {
			m, _ := p.(map[string]any)
			if _, dup := f.props[k]; dup {
				return fmt.Errorf("property %q declared twice across allOf", k)
			}
			f.props[k] = m
		}
	}
	if rs, ok := s["required"].([]any); ok {
		for _, r := range rs {
			if name, ok := r.(string); ok {
				f.required = append(f.required, name)
			}
		}
	}
	if ap, ok := s["additionalProperties"]; ok {
		f.additional = ap
	}
	if e, ok := s["enum"].([]any); ok {
		f.enum = e
	}
	if p, ok := s["pattern"].(string); ok {
		f.pattern = p
	}
	if p, ok := s["format"].(string); ok {
		f.format = p
	}
	if n, ok := s["minimum"].(float64); ok {
		f.min = &n
	}
	if n, ok := s["maximum"].(float64); ok {
		f.max = &n
	}
	if it, ok := s["items"].(map[string]any); ok {
		f.items = it
	}
	if all, ok := s["allOf"].([]any); ok {
		for _, part := range all {
			m, _ := part.(map[string]any)
			if err := d.merge(f, m, depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}

func hasType(want string, v any) bool {
	switch want {
	case "object":
		_, ok := v.(map[string]any)
		return ok
	case "array":
		_, ok := v.([]any)
		return ok
	case "string":
		_, ok := v.(string)
		return ok
	case "boolean":
		_, ok := v.(bool)
		return ok
	case "number":
		_, ok := v.(json.Number)
		return ok
	case "integer":
		n, ok := v.(json.Number)
		return ok && !strings.ContainsAny(n.String(), ".eE")
	default:
		return false
	}
}

func jsonType(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case json.Number:
		if strings.ContainsAny(x.String(), ".eE") {
			return "a number"
		}
		return "an integer"
	default:
		return fmt.Sprintf("%T", v)
	}
}

// sameValue compares an enum member (decoded without UseNumber) with a
// value (decoded with it).
func sameValue(e, v any) bool {
	if n, ok := v.(json.Number); ok {
		f, err := n.Float64()
		ef, isNum := e.(float64)
		return err == nil && isNum && f == ef
	}
	return e == v
}
