package ccaas

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Render does what the peer's ccaas builder does to connection.json
// before the peer reads it (Fabric v2.5.16 and v3.1.5 alike):
//
//   - builderConfig is the value of CHAINCODE_AS_A_SERVICE_BUILDER_CONFIG.
//     Empty means unset: the templates get a nil map. Anything else must
//     decode as a JSON object (ErrBuilderConfig): "null" counts as unset,
//     an array, a string or blank space does not.
//   - Address and DialTimeout, and with TLSRequired also RootCert,
//     ClientKey and ClientCert (in that order; the first failure is
//     returned), are parsed as text/template with missingkey=error and
//     executed with that map. So a key the config lacks fails
//     (ErrTemplate), a JSON number prints as Go formats a float64
//     (9999 as "9999", 1000000 as "1e+06"), a boolean as "true", null
//     as "<no value>", an object as "map[k:v]"; nested keys are reached
//     as {{.a.b}}, keys that are not identifiers with {{index . "a-b"}},
//     and only text/template's built-in functions exist.
//   - Without TLSRequired, ClientAuthRequired and the PEM fields are
//     dropped and never parsed. Domain is always dropped: the builder
//     does not know it.
//
// The result is not validated; call Validate on it.
func (c Connection) Render(builderConfig []byte) (Connection, error) {
	var cfg map[string]interface{}
	if len(builderConfig) > 0 {
		if err := json.Unmarshal(builderConfig, &cfg); err != nil {
			return Connection{}, &inputError{kind: ErrBuilderConfig, msg: "builder config (CHAINCODE_AS_A_SERVICE_BUILDER_CONFIG): want a JSON object", err: err}
		}
	}
	out := Connection{TLSRequired: c.TLSRequired}
	if c.TLSRequired {
		out.ClientAuthRequired = c.ClientAuthRequired
	}
	src, dst := c.templated(), out.templated()
	for i, f := range src {
		v, err := execute(cfg, *f.value)
		if err != nil {
			return Connection{}, &FieldError{Field: f.name, Err: fmt.Errorf("%w: %w", ErrTemplate, err)}
		}
		*dst[i].value = v
	}
	return out, nil
}

// execute renders one field as the builder's execTempl does.
func execute(cfg map[string]interface{}, s string) (string, error) {
	t, err := newTemplate(s)
	if err != nil {
		return "", err
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, cfg); err != nil {
		return "", err
	}
	return buf.String(), nil
}

// Templates returns the fields of c that the builder will fill from
// CHAINCODE_AS_A_SERVICE_BUILDER_CONFIG, by their connection.json names,
// with the template text each holds; literal fields are left out. A
// package whose per-peer fields are templates keeps its package id while
// the values (a peer's client certificate, the server's CA) change.
func (c Connection) Templates() map[string]string {
	out := map[string]string{}
	for _, f := range c.templated() {
		if lit, _ := isLiteral(*f.value); !lit {
			out[f.name] = *f.value
		}
	}
	return out
}

// TemplateField is the template that fills one field of connection.json
// from the builder config key of the same name, e.g. {{.client_cert}}.
func TemplateField(key string) string { return "{{." + key + "}}" }
